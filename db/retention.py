"""Data retention (UU 27/2022 Art. 16, 43-44): erase idle accounts, strip old closed cases.

Four rules; the periods of the first three are settings (bot/config.py, `RETENTION_*`):

- An account nobody has used for `inactive_days` is erased, but only after a notice queued at
  least `notice_days` earlier; any update from the user moves `last_seen_at` past the notice,
  which cancels it. Only accounts people made themselves (child, parent, or onboarding never
  finished) are erased this way; invited roles are not (see `ERASABLE_ROLES`).
- A closed case's evidence photos (their Telegram file ids) go `evidence_days` after closing:
  a file id names the child's own message, so it is kept only while staff may still need to
  look (a reopened question, a referral); nothing else of the case changes then.
- A case closed more than `closed_case_days` ago loses everything that could tell a story or
  lead to a person (text, evidence file ids, messages and notes, the assigned staff member,
  the outbox copies of all these). What the KLA indicators count stays: category, place,
  dates, status and outcome.
- A message to a person's private chat that is not linked to an account (a consent notice,
  sent after the child's account was erased, say) is deleted `UNLINKED_MESSAGE_DAYS` after it
  was queued, once it went out or failed.

Claims are conditional UPDATEs, so two bot processes running the daily job do not notify twice.
The erasure itself is the caller's (the handlers' one account-erasure path gives event places
back to the waitlist first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from db.models import Delivery, Report, ReportEvidence, ReportMessage, ReportStatus, Role, User
from db.outbox import Status

# Accounts people create themselves. Facilitators, staff and admins hold a role an admin gave
# them, answer for what they did under it (audit log, events, broadcasts name them), keep no
# profile, and may be needed once a year (Hari Anak Nasional): they leave with /hapus_data or
# when the operator removes them, never silently.
ERASABLE_ROLES = (Role.CHILD, Role.PARENT)
# Outbox kinds that copy a case to the staff chat, by report id (handlers/cases.py) ...
CASE_DELIVERY_KINDS = ("case_alert", "case_evidence", "case_notice")
# ... and the staff reply to the reporter, by message id (handlers/case_notes.py).
CASE_REPLY_KIND = "case_reply"
UNLINKED_MESSAGE_DAYS = 30
_FINISHED = (Status.SENT, Status.FAILED, Status.BLOCKED, Status.CANCELLED)


@dataclass(frozen=True)
class RetentionPolicy:
    """How long data is kept, in days."""

    inactive_days: int
    notice_days: int
    closed_case_days: int
    evidence_days: int = 30

    @property
    def inactive(self) -> timedelta:
        """Idle time after which an account is erased."""
        return timedelta(days=self.inactive_days)

    @property
    def notice(self) -> timedelta:
        """How long before the erasure the user is told."""
        return timedelta(days=self.notice_days)

    @property
    def evidence(self) -> timedelta:
        """Time after closing when a case's evidence file ids are deleted."""
        return timedelta(days=self.evidence_days)

    @property
    def closed_case(self) -> timedelta:
        """Time after closing when a case is anonymised."""
        return timedelta(days=self.closed_case_days)


def _erasable() -> ColumnElement[bool]:
    return or_(User.role.is_(None), User.role.in_(ERASABLE_ROLES))  # type: ignore[union-attr]


# Both times are days (db/grain.py). A notice goes only to someone idle for months, so activity
# on the notice's own day came after it: a last activity on or after that day cancels it.
def _notice_current() -> ColumnElement[bool]:
    """The notice was given after the last activity, so it still stands."""
    return and_(User.erasure_notice_at.is_not(None), User.erasure_notice_at > User.last_seen_at)  # type: ignore[union-attr,operator]


def _needs_notice() -> ColumnElement[bool]:
    return or_(User.erasure_notice_at.is_(None), User.erasure_notice_at <= User.last_seen_at)  # type: ignore[union-attr,operator]


async def claim_notices(
    session: AsyncSession, *, policy: RetentionPolicy, now: datetime, limit: int = 200
) -> list[User]:
    """Claim idle accounts that reach the erasure age within `notice_days`, each once per idle spell.

    One conditional UPDATE … RETURNING per batch (SKIP LOCKED on PostgreSQL), so two processes
    running the job never notify the same person twice.
    """
    warn_from = now - (policy.inactive - policy.notice)
    due = (
        select(User.id)
        .where(_erasable(), User.last_seen_at <= warn_from, _needs_notice())
        .order_by(User.id)  # type: ignore[arg-type]
        .limit(limit)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(User)
        .where(User.id.in_(due.scalar_subquery()), _needs_notice())  # type: ignore[union-attr]
        .values(erasure_notice_at=now)
        .returning(User)
        .execution_options(synchronize_session=False)
    )
    claimed = list((await session.scalars(statement)).all())
    return sorted(claimed, key=lambda user: user.id or 0)


def erasure_date(user: User, policy: RetentionPolicy) -> datetime:
    """When a notified account is erased if its owner does nothing."""
    assert user.erasure_notice_at is not None
    return max(user.last_seen_at + policy.inactive, user.erasure_notice_at + policy.notice)


async def due_for_erasure(
    session: AsyncSession, *, policy: RetentionPolicy, now: datetime, limit: int = 200
) -> list[User]:
    """List idle accounts whose notice is at least `notice_days` old and still stands."""
    query = (
        select(User)
        .where(
            _erasable(),
            _notice_current(),
            User.last_seen_at <= now - policy.inactive,
            User.erasure_notice_at <= now - policy.notice,  # type: ignore[operator]
        )
        .order_by(User.id)  # type: ignore[arg-type]
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def drop_closed_case_evidence(session: AsyncSession, *, policy: RetentionPolicy, now: datetime) -> int:
    """Delete the evidence of cases closed more than `evidence_days` ago; return how many photos."""
    closed = select(Report.id).where(
        Report.status == ReportStatus.CLOSED, Report.closed_at <= now - policy.evidence,  # type: ignore[operator]
    )
    result = await session.execute(delete(ReportEvidence).where(ReportEvidence.report_id.in_(closed)))  # type: ignore[attr-defined]
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def anonymise_closed_cases(session: AsyncSession, *, policy: RetentionPolicy, now: datetime) -> int:
    """Strip cases closed more than `closed_case_days` ago; return how many were anonymised."""
    claimed = (
        await session.execute(
            update(Report)
            .where(
                Report.status == ReportStatus.CLOSED,
                Report.closed_at <= now - policy.closed_case,  # type: ignore[operator]
                Report.anonymised_at.is_(None),  # type: ignore[union-attr]
            )
            .values(anonymised_at=now, description="", reply_route=None, assigned_to=None)
            .returning(Report.id)
        )
    ).scalars().all()
    if not claimed:
        return 0
    ids = list(claimed)
    deliveries = Delivery.__table__  # type: ignore[attr-defined]
    messages = select(ReportMessage.id).where(ReportMessage.report_id.in_(ids))  # type: ignore[attr-defined]
    await session.execute(
        delete(deliveries).where(
            or_(
                and_(deliveries.c.kind.in_(CASE_DELIVERY_KINDS), deliveries.c.source_id.in_(ids)),
                and_(deliveries.c.kind == CASE_REPLY_KIND, deliveries.c.source_id.in_(messages)),
            )
        )
    )
    await session.execute(delete(ReportMessage).where(ReportMessage.report_id.in_(ids)))  # type: ignore[attr-defined]
    await session.execute(delete(ReportEvidence).where(ReportEvidence.report_id.in_(ids)))  # type: ignore[attr-defined]
    await session.flush()
    return len(ids)


async def purge_unlinked_messages(session: AsyncSession, *, now: datetime) -> int:
    """Delete finished messages to private chats that no account links to; return how many."""
    deliveries = Delivery.__table__  # type: ignore[attr-defined]
    result = await session.execute(
        delete(deliveries).where(
            deliveries.c.user_id.is_(None),
            deliveries.c.chat_id > 0,  # a person's private chat; groups (the staff chat) are negative
            deliveries.c.status.in_(_FINISHED),
            deliveries.c.created_at <= now - timedelta(days=UNLINKED_MESSAGE_DAYS),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
