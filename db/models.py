"""The tables. Collect nothing about a child beyond SPEC §1: no names, phones, schools, birth dates."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from db.grain import PersonDay, PersonMonth, ReportHour
from db.types import UTCDateTime


class Role(enum.StrEnum):
    """Who a user is to the bot; staff and facilitators come from invites."""

    CHILD = "child"
    PARENT = "parent"
    FACILITATOR = "facilitator"
    STAFF = "staff"
    ADMIN = "admin"


class ConsentStatus(enum.StrEnum):
    """Guardian consent of a child's account (UU 27/2022 Art. 25)."""

    PENDING = "pending"
    GIVEN = "given"
    NOT_REQUIRED = "not_required"


class ConsentMethod(enum.StrEnum):
    """How consent was obtained."""

    SELF = "self"
    GUARDIAN = "guardian"
    FACILITATOR_LETTER = "facilitator_letter"


class LinkStatus(enum.StrEnum):
    """State of one guardian-consent link."""

    PENDING = "pending"
    GIVEN = "given"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


def _dt(nullable: bool = True) -> Column:  # type: ignore[type-arg]
    return Column(UTCDateTime(), nullable=nullable)


def _day(nullable: bool = True) -> Column:  # type: ignore[type-arg]
    """A time about a person, kept to the local day (db/grain.py)."""
    return Column(PersonDay(), nullable=nullable)


def _month(nullable: bool = True) -> Column:  # type: ignore[type-arg]
    """When a person joined, kept to the local month (db/grain.py)."""
    return Column(PersonMonth(), nullable=nullable)


def _hour(nullable: bool = True) -> Column:  # type: ignore[type-arg]
    """A time on the report side that the reporter's action sets, kept to the hour (db/grain.py)."""
    return Column(ReportHour(), nullable=nullable)


class User(SQLModel, table=True):
    """One Telegram user; a pending child's row holds only id, language, role and state."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, unique=True, nullable=False))
    language: str = Field(max_length=2)
    role: str | None = Field(default=None, max_length=16)
    age_band: str | None = Field(default=None, max_length=8)
    kecamatan: str | None = Field(default=None, max_length=40)
    kelurahan: str | None = Field(default=None, max_length=40)
    gender: str | None = Field(default=None, max_length=12)
    privacy_accepted_at: datetime | None = Field(default=None, sa_column=_month())
    consent_status: str | None = Field(default=None, max_length=16)
    consent_method: str | None = Field(default=None, max_length=24)
    consent_at: datetime | None = Field(default=None, sa_column=_month())
    subscribed: bool = Field(default=True)
    # Joining is kept to the month, activity to the day (db/grain.py): neither lines up with a report.
    created_at: datetime = Field(sa_column=_month(nullable=False))
    last_seen_at: datetime = Field(sa_column=_day(nullable=False))
    # When the "use the bot or your account is erased" notice was queued; a notice older than
    # `last_seen_at` belongs to an inactivity the user has since ended (db/retention.py).
    erasure_notice_at: datetime | None = Field(default=None, sa_column=_day())


class GuardianConsent(SQLModel, table=True):
    """A single-use, expiring link a guardian opens to consent for a child."""

    __tablename__ = "guardian_consents"

    id: int | None = Field(default=None, primary_key=True)
    child_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    status: str = Field(default=LinkStatus.PENDING, max_length=16)
    method: str | None = Field(default=None, max_length=24)
    decided_by_telegram_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    # When a child asked and a guardian answered is part of joining: months; the expiry a day
    # (db/grain.py).
    created_at: datetime = Field(sa_column=_month(nullable=False))
    expires_at: datetime = Field(sa_column=_day(nullable=False))
    decided_at: datetime | None = Field(default=None, sa_column=_month())


class Invite(SQLModel, table=True):
    """A one-time, expiring code that grants the facilitator or staff role."""

    __tablename__ = "invites"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    role: str = Field(max_length=16)
    created_by_telegram_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    created_at: datetime = Field(sa_column=_dt(nullable=False))
    expires_at: datetime = Field(sa_column=_dt(nullable=False))
    used_by_telegram_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    used_at: datetime | None = Field(default=None, sa_column=_dt())


class AuditEntry(SQLModel, table=True):
    """Who did what and when: staff, facilitator, admin and operator actions."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=_dt(nullable=False))
    actor_telegram_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    action: str = Field(max_length=48)
    subject: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, max_length=500)


class Delivery(SQLModel, table=True):
    """One message the bot sends unprompted, to one chat: the outbox of the delivery engine.

    A reporter's chat is never stored in the clear: `sealed_route` holds it encrypted and is
    erased once the message is out (SPEC §4).
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "status", "not_before"),
        # Covers the indicator scans (kind, outcome, month, person) without touching the rows.
        Index("ix_deliveries_report", "kind", "status", "sent_at", "user_id"),
        # Erasing an account cascades here; without it every erasure scans the whole outbox.
        Index("ix_deliveries_user", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=24)
    source_id: int | None = Field(default=None)  # the broadcast, event or case it belongs to
    user_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"))
    )
    chat_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    sealed_route: str | None = Field(default=None, max_length=400)
    text: str = Field(max_length=4096)
    reply_markup: str | None = Field(default=None, max_length=4000)
    media_kind: str | None = Field(default=None, max_length=12)
    media_file_id: str | None = Field(default=None, max_length=200)
    dedupe_key: str | None = Field(default=None, sa_column=Column(String(120), unique=True))
    status: str = Field(default="pending", max_length=12)
    attempts: int = Field(default=0)
    not_before: datetime = Field(sa_column=_dt(nullable=False))
    lease_until: datetime | None = Field(default=None, sa_column=_dt())
    created_at: datetime = Field(sa_column=_dt(nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=_dt())
    error: str | None = Field(default=None, max_length=200)


class Broadcast(SQLModel, table=True):
    """An announcement: its message, audience filters and schedule (SPEC §7)."""

    __tablename__ = "broadcasts"

    id: int | None = Field(default=None, primary_key=True)
    author_telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    text: str = Field(max_length=4096)
    media_kind: str | None = Field(default=None, max_length=12)
    media_file_id: str | None = Field(default=None, max_length=200)
    audience: str = Field(max_length=500)  # JSON of the filters, see db/broadcasts.Audience
    schedule: str = Field(max_length=12)  # now | once | weekly
    weekly_day: str | None = Field(default=None, max_length=3)  # mon … sun
    weekly_time: str | None = Field(default=None, max_length=5)  # HH:MM in the bot's time zone
    status: str = Field(default="scheduled", max_length=12)  # db/broadcasts.Status
    next_run_at: datetime | None = Field(default=None, sa_column=_dt())
    created_at: datetime = Field(sa_column=_dt(nullable=False))
    # Staff who let a facilitator's wide or link-carrying broadcast out (db/scopes.py).
    approved_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class FacilitatorScope(SQLModel, table=True):
    """One area (kecamatan or kelurahan) or event a facilitator may broadcast to (db/scopes.py)."""

    __tablename__ = "facilitator_scopes"
    __table_args__ = (UniqueConstraint("facilitator_telegram_id", "kind", "value"),)

    id: int | None = Field(default=None, primary_key=True)
    facilitator_telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    kind: str = Field(max_length=8)  # area | event
    value: str = Field(max_length=120)  # a kecamatan or kelurahan name, or an event id
    assigned_by: int = Field(sa_column=Column(BigInteger, nullable=False))
    assigned_on: date = Field(sa_column=Column(Date, nullable=False))  # a day, never finer


class BroadcastRun(SQLModel, table=True):
    """One occurrence of a broadcast; unique per occurrence, so two schedulers fire it once."""

    __tablename__ = "broadcast_runs"
    __table_args__ = (UniqueConstraint("broadcast_id", "occurrence_at"),)

    id: int | None = Field(default=None, primary_key=True)
    broadcast_id: int = Field(
        sa_column=Column(Integer, ForeignKey("broadcasts.id", ondelete="CASCADE"), nullable=False)
    )
    occurrence_at: datetime = Field(sa_column=_dt(nullable=False))
    audience_size: int = Field(default=0)
    stopped: bool = Field(default=False)
    created_at: datetime = Field(sa_column=_dt(nullable=False))


class EventStatus(enum.StrEnum):
    """Whether an event still takes place."""

    ACTIVE = "active"
    CANCELLED = "cancelled"


class SignupStatus(enum.StrEnum):
    """Where one person stands for one event."""

    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


class Event(SQLModel, table=True):
    """A Forum Anak event (SPEC §6); `confirmed_count` is the place counter guarded by one UPDATE."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_starts_at", "starts_at"),)

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=120)
    description: str = Field(max_length=1000)
    starts_at: datetime = Field(sa_column=_dt(nullable=False))
    ends_at: datetime = Field(sa_column=_dt(nullable=False))
    venue: str = Field(max_length=200)
    kecamatan: str = Field(max_length=40)
    kelurahan: str | None = Field(default=None, max_length=40)
    capacity: int
    confirmed_count: int = Field(default=0)
    signup_seq: int = Field(default=0)  # bumped by every sign-up: takes the row lock, orders the waitlist
    age_bands: str = Field(max_length=60)  # comma-separated bands from db/users.AGE_BANDS
    signup_deadline: datetime = Field(sa_column=_dt(nullable=False))
    created_by: int = Field(sa_column=Column(BigInteger, nullable=False))  # facilitator's Telegram id
    status: str = Field(default=EventStatus.ACTIVE, max_length=12)
    checkin_code: str = Field(sa_column=Column(String(16), unique=True, nullable=False))
    created_at: datetime = Field(sa_column=_dt(nullable=False))
    updated_at: datetime = Field(sa_column=_dt(nullable=False))


class EventSignup(SQLModel, table=True):
    """One person's place (or waitlist spot) at one event; erased with the account."""

    __tablename__ = "event_signups"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id"),
        Index("ix_event_signups_user", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(
        sa_column=Column(Integer, ForeignKey("events.id", ondelete="CASCADE"), nullable=False)
    )
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    status: str = Field(max_length=12)
    position: int  # order of sign-up; the waitlist is served lowest first
    # Days (db/grain.py); the order of sign-ups is `position`, not the time.
    created_at: datetime = Field(sa_column=_day(nullable=False))
    confirmed_at: datetime | None = Field(default=None, sa_column=_day())
    cancelled_at: datetime | None = Field(default=None, sa_column=_day())
    attended_at: datetime | None = Field(default=None, sa_column=_day())
    # The start time each reminder was queued for: claimed with a conditional UPDATE, so a
    # reminder goes out once per start time (again only if the event is moved).
    reminded_24h_for: datetime | None = Field(default=None, sa_column=_dt())
    reminded_2h_for: datetime | None = Field(default=None, sa_column=_dt())


class QuizStatus(enum.StrEnum):
    """Where one quiz attempt stands."""

    ACTIVE = "active"
    COMPLETED = "completed"
    ABANDONED = "abandoned"  # the player chose to start again


class QuizAttempt(SQLModel, table=True):
    """One quiz a registered player started: its questions in order, score once completed.

    Guests (unregistered users, pending children) never get a row (SPEC §1). Kelurahan, age
    band and gender come through `user_id`; the row is erased with the account.
    """

    __tablename__ = "quiz_attempts"
    __table_args__ = (
        Index("ix_quiz_attempts_user", "user_id", "status"),
        Index("ix_quiz_attempts_completed", "status", "completed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    topic: str = Field(max_length=20)  # a topic key of the bank, or "mixed"
    question_ids: str = Field(max_length=400)  # comma-separated, in the order they are asked
    total: int
    score: int = Field(default=0)  # correct answers, written when the quiz is completed
    status: str = Field(default=QuizStatus.ACTIVE, max_length=12)
    started_at: datetime = Field(sa_column=_day(nullable=False))  # days (db/grain.py)
    completed_at: datetime | None = Field(default=None, sa_column=_day())


class QuizAnswer(SQLModel, table=True):
    """One answer to one question of an attempt; unique, so a second press never counts."""

    __tablename__ = "quiz_answers"
    __table_args__ = (
        UniqueConstraint("attempt_id", "question_id"),
        Index("ix_quiz_answers_question", "question_id", "correct"),
    )

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(
        sa_column=Column(Integer, ForeignKey("quiz_attempts.id", ondelete="CASCADE"), nullable=False)
    )
    question_id: str = Field(max_length=24)
    option: int
    correct: bool
    answered_at: datetime = Field(sa_column=_day(nullable=False))


class ReportStatus(enum.StrEnum):
    """Where an anonymous report stands (SPEC §4)."""

    NEW = "new"  # nobody on the staff has acted yet
    OPEN = "open"  # acknowledged, being handled
    CLOSED = "closed"


class Report(SQLModel, table=True):
    """An anonymous report (a case). No column names, points to or hashes the reporter (SPEC §4).

    `reply_route` is the reporter's chat sealed with a key derived from SECRET_KEY (db/crypto.py),
    present only when the reporter asked for follow-up; it is opened in memory to deliver.
    """

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_open", "status", "urgent", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # The reporter's code only as a keyed hash (db/crypto.report_code_hash): staff see the id.
    code_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    category: str = Field(max_length=24)
    reporter_kind: str = Field(max_length=12)
    urgent: bool = Field(default=False)
    kecamatan: str | None = Field(default=None, max_length=40)
    kelurahan: str | None = Field(default=None, max_length=40)
    place: str = Field(max_length=12)
    happened: str = Field(max_length=12)
    description: str = Field(max_length=2000)
    language: str = Field(max_length=2)
    follow_up: bool = Field(default=False)
    reply_route: str | None = Field(default=None, max_length=200)
    status: str = Field(default=ReportStatus.NEW, max_length=8)
    outcome: str | None = Field(default=None, max_length=12)
    referred_to: str | None = Field(default=None, max_length=12)
    assigned_to: int | None = Field(default=None, sa_column=Column(BigInteger))  # a staff member's Telegram id
    # Hours, never finer (db/grain.py): the arrival must not line up with anyone's activity.
    created_at: datetime = Field(sa_column=_hour(nullable=False))
    # Staff's SLA clock: the precise arrival, kept only until staff first act on the case, when
    # it becomes `first_response_seconds` and is erased (db/reports.py).
    received_at: datetime | None = Field(default=None, sa_column=_dt())
    first_response_seconds: int | None = Field(default=None)
    acknowledged_at: datetime | None = Field(default=None, sa_column=_hour())
    first_response_at: datetime | None = Field(default=None, sa_column=_hour())
    closed_at: datetime | None = Field(default=None, sa_column=_dt())
    last_alerted_at: datetime | None = Field(default=None, sa_column=_dt())
    # Set when retention stripped the case of its text, evidence and messages (db/retention.py).
    anonymised_at: datetime | None = Field(default=None, sa_column=_dt())


class ReportEvidence(SQLModel, table=True):
    """A photo or screenshot sent with a report: Telegram's file id only, never the file."""

    __tablename__ = "report_evidence"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(
        sa_column=Column(Integer, ForeignKey("reports.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    file_id: str = Field(max_length=200)
    kind: str = Field(default="photo", max_length=12)


class ReportMessage(SQLModel, table=True):
    """A message on a case: staff to reporter, reporter to staff, or a staff-only note."""

    __tablename__ = "report_messages"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(
        sa_column=Column(Integer, ForeignKey("reports.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    kind: str = Field(max_length=10)  # staff | reporter | note
    staff_telegram_id: int | None = Field(default=None, sa_column=Column(BigInteger))  # staff author only
    text: str = Field(max_length=2000)
    created_at: datetime = Field(sa_column=_dt(nullable=False))
    undelivered_told_at: datetime | None = Field(default=None, sa_column=_dt())


class IndicatorMonth(SQLModel, table=True):
    """A closed calendar month of one indicator whose figures are stored (db/indicator_cache.py).

    The fingerprint is a hash of the indicator's query: a new definition is computed afresh.
    """

    __tablename__ = "indicator_months"
    __table_args__ = (UniqueConstraint("indicator", "month", "timezone", "fingerprint"),)

    id: int | None = Field(default=None, primary_key=True)
    indicator: str = Field(max_length=40)
    month: str = Field(max_length=7)  # YYYY-MM in `timezone`
    timezone: str = Field(max_length=40)
    fingerprint: str = Field(max_length=16)
    computed_at: datetime = Field(sa_column=_dt(nullable=False))


class IndicatorCell(SQLModel, table=True):
    """One stored figure of a closed month at the finest grain: counts, never a person."""

    __tablename__ = "indicator_cells"

    id: int | None = Field(default=None, primary_key=True)
    month_id: int = Field(
        sa_column=Column(Integer, ForeignKey("indicator_months.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    kecamatan: str | None = Field(default=None, max_length=40)
    kelurahan: str | None = Field(default=None, max_length=40)
    age_band: str | None = Field(default=None, max_length=12)
    gender: str | None = Field(default=None, max_length=12)
    role: str | None = Field(default=None, max_length=12)
    category: str | None = Field(default=None, max_length=24)
    value: float
    base: float = Field(default=0.0)
