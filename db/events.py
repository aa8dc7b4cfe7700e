"""Forum Anak events: creation, sign-up without overbooking, waitlist, reminders, check-in (SPEC §6).

Capacity is a database guarantee. Every sign-up and cancellation first takes the event's row
with one UPDATE (a row lock on PostgreSQL, the write lock on SQLite, so SQLite never has to
upgrade a read transaction and fail with "database is locked"); a place is then taken with one
conditional `UPDATE … SET confirmed_count = confirmed_count + 1 WHERE confirmed_count < capacity`
in the same transaction as the sign-up row. A cancellation gives the place back and promotes the
first waitlisted person in that same transaction.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db import limits
from db.codes import normalize_code, random_code
from db.errors import DomainError, NotAllowed
from db.models import Event, EventSignup, EventStatus, Role, SignupStatus, User
from db.users import AGE_BANDS, CHILD_AGE_BANDS, is_pending_child

TITLE_MAX = limits.EVENT_TITLE_MAX  # the numbers live in db/limits.py
DESCRIPTION_MAX = limits.EVENT_DESCRIPTION_MAX
VENUE_MAX = limits.EVENT_VENUE_MAX
MAX_CAPACITY = limits.EVENT_CAPACITY_MAX
CHECKIN_OPENS_BEFORE = timedelta(hours=1)
REMINDERS: tuple[tuple[str, timedelta], ...] = (("24h", timedelta(hours=24)), ("2h", timedelta(hours=2)))
MANAGER_ROLES = frozenset({Role.STAFF, Role.ADMIN})  # besides the facilitator who created it


class SignUpResult(enum.StrEnum):
    """What a sign-up press led to."""

    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    ALREADY = "already"
    CLOSED = "closed"
    NOT_ALLOWED_AGE = "not_allowed_age"
    DEADLINE_PASSED = "deadline_passed"
    NEEDS_CONSENT = "needs_consent"


class CheckInResult(enum.StrEnum):
    """What a `/hadir CODE` led to."""

    RECORDED = "recorded"
    ALREADY = "already"
    WRONG_CODE = "wrong_code"
    NOT_SIGNED_UP = "not_signed_up"
    TOO_EARLY = "too_early"
    ENDED = "ended"


@dataclass(frozen=True)
class EventDraft:
    """The plain values of an event, before it is stored (from the bot or an import file)."""

    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    venue: str
    kecamatan: str
    kelurahan: str | None
    capacity: int
    age_bands: tuple[str, ...] = CHILD_AGE_BANDS
    signup_deadline: datetime | None = None  # None: until the start


@dataclass(frozen=True)
class Problem:
    """One invalid field of a draft; `code` is stable (templates and the importer name it)."""

    field: str
    code: str


class EventInvalid(DomainError):
    """A draft broke a rule; `problems` says which fields."""

    code = "event_invalid"

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__()
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Cancellation:
    """A sign-up given up: whether anything changed, and who moved up from the waitlist."""

    cancelled: bool
    promoted: tuple[User, ...] = ()


@dataclass(frozen=True)
class EventChange:
    """An edited event, who must be told (time or place changed) and who was promoted."""

    event: Event
    notify: tuple[User, ...]
    promoted: tuple[User, ...]


@dataclass(frozen=True)
class Attendance:
    """The figures a facilitator sees in /peserta."""

    confirmed: int
    waitlisted: int
    cancelled: int
    attended: int


@dataclass(frozen=True)
class CheckIn:
    """The outcome of a check-in and the event it was for (if the code matched one)."""

    result: CheckInResult
    event: Event | None = None


@dataclass(frozen=True)
class DueReminder:
    """A reminder claimed for sending: which one, to whom, for which event."""

    kind: str
    signup_id: int
    event: Event
    user: User


# --- validation -------------------------------------------------------------------------------


def validate(draft: EventDraft, *, regions: Mapping[str, Sequence[str]], now: datetime) -> list[Problem]:
    """Check every field of a draft; return the problems (empty when it may be saved)."""
    problems: list[Problem] = []
    for name, value, limit in (
        ("title", draft.title, TITLE_MAX),
        ("description", draft.description, DESCRIPTION_MAX),
        ("venue", draft.venue, VENUE_MAX),
    ):
        if not value.strip():
            problems.append(Problem(name, "required"))
        elif limits.length(value) > limit:
            problems.append(Problem(name, "too_long"))
    if draft.starts_at <= now:
        problems.append(Problem("start", "in_past"))
    if draft.ends_at <= draft.starts_at:
        problems.append(Problem("end", "not_after_start"))
    elif draft.ends_at - draft.starts_at > timedelta(days=7):
        problems.append(Problem("end", "too_long"))
    if draft.kecamatan not in regions:
        problems.append(Problem("kecamatan", "unknown"))
    elif draft.kelurahan is not None and draft.kelurahan not in regions[draft.kecamatan]:
        problems.append(Problem("kelurahan", "unknown"))
    if not 1 <= draft.capacity <= MAX_CAPACITY:
        problems.append(Problem("capacity", "out_of_range"))
    if not draft.age_bands or any(band not in AGE_BANDS for band in draft.age_bands):
        problems.append(Problem("age_bands", "unknown"))
    deadline = draft.signup_deadline
    if deadline is not None and deadline > draft.starts_at:
        problems.append(Problem("deadline", "after_start"))
    elif deadline is not None and deadline <= now:
        problems.append(Problem("deadline", "in_past"))
    return problems


def _clean(draft: EventDraft) -> EventDraft:
    bands = tuple(band for band in AGE_BANDS if band in draft.age_bands)  # canonical order, no repeats
    return replace(
        draft, title=draft.title.strip(), description=draft.description.strip(), venue=draft.venue.strip(),
        kelurahan=draft.kelurahan or None, age_bands=bands,
    )


# --- creating and managing --------------------------------------------------------------------


async def create_event(
    session: AsyncSession,
    *,
    draft: EventDraft,
    created_by: int,
    regions: Mapping[str, Sequence[str]],
    now: datetime,
) -> Event:
    """Store a new event with a fresh check-in code, or raise EventInvalid."""
    draft = _clean(draft)
    problems = validate(draft, regions=regions, now=now)
    if problems:
        raise EventInvalid(problems)
    event = Event(
        title=draft.title, description=draft.description, starts_at=draft.starts_at, ends_at=draft.ends_at,
        venue=draft.venue, kecamatan=draft.kecamatan, kelurahan=draft.kelurahan, capacity=draft.capacity,
        age_bands=",".join(draft.age_bands), signup_deadline=draft.signup_deadline or draft.starts_at,
        created_by=created_by, status=EventStatus.ACTIVE, checkin_code=random_code(groups=1, size=6),
        created_at=now, updated_at=now,
    )
    session.add(event)
    await session.flush()
    return event


def draft_of(event: Event) -> EventDraft:
    """Return the editable values of a stored event."""
    return EventDraft(
        title=event.title, description=event.description, starts_at=event.starts_at, ends_at=event.ends_at,
        venue=event.venue, kecamatan=event.kecamatan, kelurahan=event.kelurahan, capacity=event.capacity,
        age_bands=age_bands_of(event), signup_deadline=event.signup_deadline,
    )


def can_manage(user: User | None, event: Event) -> bool:
    """Tell whether a user may see the attendance of, edit or cancel an event."""
    if user is None:
        return False
    return user.role in MANAGER_ROLES or (user.role == Role.FACILITATOR and event.created_by == user.telegram_id)


async def _managed(session: AsyncSession, *, event_id: int, by: User) -> Event:
    event = await get_event(session, event_id=event_id)
    if event is None or not can_manage(by, event):
        raise NotAllowed()
    return event


async def update_event(
    session: AsyncSession,
    *,
    event_id: int,
    by: User,
    draft: EventDraft,
    regions: Mapping[str, Sequence[str]],
    now: datetime,
) -> EventChange:
    """Save new values; a bigger capacity promotes from the waitlist; a new time or place is told."""
    await _lock(session, event_id)
    event = await _managed(session, event_id=event_id, by=by)
    if event.status != EventStatus.ACTIVE or event.starts_at <= now:
        raise DomainError("event_closed")
    draft = _clean(draft)
    problems = validate(draft, regions=regions, now=now)
    if draft.signup_deadline == event.signup_deadline:  # an unchanged deadline may have passed
        problems = [p for p in problems if p != Problem("deadline", "in_past")]
    if draft.capacity < event.confirmed_count:
        problems.append(Problem("capacity", "below_confirmed"))
    if problems:
        raise EventInvalid(problems)
    moved = (draft.starts_at, draft.ends_at, draft.venue) != (event.starts_at, event.ends_at, event.venue)
    event.title, event.description, event.venue = draft.title, draft.description, draft.venue
    event.starts_at, event.ends_at = draft.starts_at, draft.ends_at
    event.kecamatan, event.kelurahan, event.capacity = draft.kecamatan, draft.kelurahan, draft.capacity
    event.age_bands = ",".join(draft.age_bands)
    event.signup_deadline = draft.signup_deadline or draft.starts_at
    event.updated_at = now
    session.add(event)
    await session.flush()
    promoted = await _fill_from_waitlist(session, event, now=now)
    notify = tuple(await _people(session, event_id, (SignupStatus.CONFIRMED, SignupStatus.WAITLISTED))) if moved else ()
    await session.refresh(event)
    promoted_ids = {user.id for user in promoted}
    return EventChange(event, tuple(u for u in notify if u.id not in promoted_ids), promoted)


async def cancel_event(session: AsyncSession, *, event_id: int, by: User, now: datetime) -> tuple[User, ...]:
    """Cancel an event; return everyone signed up or waitlisted, who must be told."""
    await _lock(session, event_id)
    event = await _managed(session, event_id=event_id, by=by)
    if event.status != EventStatus.ACTIVE or event.ends_at <= now:
        raise DomainError("event_closed")
    event.status = EventStatus.CANCELLED
    event.updated_at = now
    session.add(event)
    await session.flush()
    return tuple(await _people(session, event_id, (SignupStatus.CONFIRMED, SignupStatus.WAITLISTED)))


# --- reading ----------------------------------------------------------------------------------


async def get_event(session: AsyncSession, *, event_id: int) -> Event | None:
    """Return an event as it is in the database now."""
    return await session.get(Event, event_id, populate_existing=True)


def age_bands_of(event: Event) -> tuple[str, ...]:
    """Return the age bands an event is open to."""
    return tuple(band for band in event.age_bands.split(",") if band)


def places_left(event: Event) -> int:
    """Return how many confirmed places are still free."""
    return max(event.capacity - event.confirmed_count, 0)


def is_open(event: Event, *, now: datetime) -> bool:
    """Tell whether sign-up is possible now (active, before the deadline and the start)."""
    return event.status == EventStatus.ACTIVE and now <= event.signup_deadline and now < event.starts_at


async def upcoming(
    session: AsyncSession, *, now: datetime, kecamatan: str | None = None, limit: int = 8
) -> list[Event]:
    """List active events that have not ended, the user's kecamatan first, then by start."""
    order = [case((Event.kecamatan == kecamatan, 0), else_=1)] if kecamatan else []
    query = (
        select(Event)
        .where(Event.status == EventStatus.ACTIVE, Event.ends_at > now)
        .order_by(*order, Event.starts_at, Event.id)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def signup_of(session: AsyncSession, *, event_id: int, user_id: int) -> EventSignup | None:
    """Return one person's sign-up row for an event, if any."""
    query = select(EventSignup).where(EventSignup.event_id == event_id, EventSignup.user_id == user_id)
    return (await session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none()


async def my_events(session: AsyncSession, *, user: User, now: datetime) -> list[tuple[Event, EventSignup]]:
    """List the events a person is signed up or waitlisted for that have not ended."""
    query = (
        select(Event, EventSignup)
        .join(EventSignup, EventSignup.event_id == Event.id)  # type: ignore[arg-type]
        .where(
            EventSignup.user_id == user.id,
            EventSignup.status != SignupStatus.CANCELLED,
            Event.ends_at > now,
        )
        .order_by(Event.starts_at, Event.id)
    )
    return [(event, signup) for event, signup in (await session.execute(query)).all()]


async def managed_events(session: AsyncSession, *, user: User, now: datetime, limit: int = 10) -> list[Event]:
    """List events a facilitator created (every event for staff and admins), recent and coming."""
    query = select(Event).where(Event.ends_at > now - timedelta(days=30))
    if user.role not in MANAGER_ROLES:
        query = query.where(Event.created_by == user.telegram_id)
    query = query.order_by(Event.starts_at, Event.id).limit(limit)
    return list((await session.execute(query)).scalars())


async def attendance(session: AsyncSession, *, event_id: int) -> Attendance:
    """Count sign-ups by status, and check-ins."""
    query = (
        select(EventSignup.status, func.count(), func.count(EventSignup.attended_at))  # type: ignore[arg-type]
        .where(EventSignup.event_id == event_id)
        .group_by(EventSignup.status)
    )
    counts = {status: (int(n), int(came)) for status, n, came in (await session.execute(query)).all()}
    return Attendance(
        confirmed=counts.get(SignupStatus.CONFIRMED, (0, 0))[0],
        waitlisted=counts.get(SignupStatus.WAITLISTED, (0, 0))[0],
        cancelled=counts.get(SignupStatus.CANCELLED, (0, 0))[0],
        attended=sum(came for _, came in counts.values()),
    )


# --- signing up and cancelling ----------------------------------------------------------------


async def _lock(session: AsyncSession, event_id: int) -> int | None:
    """Take the event's row (write first: the lock that serialises every place change).

    Returns the next sign-up sequence number, or None when there is no such event.
    """
    table = Event.__table__  # type: ignore[attr-defined]
    statement = (
        update(table).where(table.c.id == event_id)
        .values(signup_seq=table.c.signup_seq + 1)
        .returning(table.c.signup_seq)
    )
    row = (await session.execute(statement)).first()
    return None if row is None else int(row[0])


async def _take_place(session: AsyncSession, event_id: int) -> bool:
    table = Event.__table__  # type: ignore[attr-defined]
    result = await session.execute(
        update(table)
        .where(table.c.id == event_id, table.c.confirmed_count < table.c.capacity)
        .values(confirmed_count=table.c.confirmed_count + 1)
    )
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


async def _give_back_place(session: AsyncSession, event_id: int) -> None:
    table = Event.__table__  # type: ignore[attr-defined]
    await session.execute(
        update(table)
        .where(table.c.id == event_id, table.c.confirmed_count > 0)
        .values(confirmed_count=table.c.confirmed_count - 1)
    )


async def sign_up(session: AsyncSession, *, event_id: int, user: User, now: datetime) -> SignUpResult:
    """Sign a person up: a place if one is free, else the waitlist; every rule checked here."""
    if is_pending_child(user):
        return SignUpResult.NEEDS_CONSENT
    seq = await _lock(session, event_id)
    event = await get_event(session, event_id=event_id) if seq is not None else None
    if event is None or event.status != EventStatus.ACTIVE or now >= event.starts_at:
        return SignUpResult.CLOSED
    assert user.id is not None and seq is not None
    signup = await signup_of(session, event_id=event_id, user_id=user.id)
    if signup is not None and signup.status != SignupStatus.CANCELLED:
        return SignUpResult.ALREADY
    if now > event.signup_deadline:
        return SignUpResult.DEADLINE_PASSED
    if (user.age_band or "adult") not in age_bands_of(event):
        return SignUpResult.NOT_ALLOWED_AGE
    confirmed = await _take_place(session, event_id)
    status = SignupStatus.CONFIRMED if confirmed else SignupStatus.WAITLISTED
    if signup is None:
        signup = EventSignup(event_id=event_id, user_id=user.id, status=status, position=seq, created_at=now)
    signup.status, signup.position, signup.created_at = status, seq, now  # a comeback joins at the back
    signup.confirmed_at = now if confirmed else None
    signup.cancelled_at = signup.attended_at = signup.reminded_24h_for = signup.reminded_2h_for = None
    session.add(signup)
    await session.flush()
    return SignUpResult.CONFIRMED if confirmed else SignUpResult.WAITLISTED


async def cancel_signup(session: AsyncSession, *, event_id: int, user: User, now: datetime) -> Cancellation:
    """Give up a place (or a waitlist spot); a freed place goes to the first on the waitlist."""
    if await _lock(session, event_id) is None:
        return Cancellation(cancelled=False)
    event = await get_event(session, event_id=event_id)
    assert event is not None and user.id is not None
    signup = await signup_of(session, event_id=event_id, user_id=user.id)
    if signup is None or signup.status == SignupStatus.CANCELLED:
        return Cancellation(cancelled=False)
    if event.status != EventStatus.ACTIVE or now >= event.starts_at:
        raise DomainError("event_closed")
    was_confirmed = signup.status == SignupStatus.CONFIRMED
    signup.status, signup.cancelled_at = SignupStatus.CANCELLED, now
    session.add(signup)
    await session.flush()
    promoted: tuple[User, ...] = ()
    if was_confirmed:
        await _give_back_place(session, event_id)
        promoted = await _fill_from_waitlist(session, event, now=now)
    return Cancellation(cancelled=True, promoted=promoted)


async def release_all(session: AsyncSession, *, user: User, now: datetime) -> list[tuple[Event, tuple[User, ...]]]:
    """Give up every coming place of a person (before their account is erased); return who moved up where."""
    moved: list[tuple[Event, tuple[User, ...]]] = []
    for event, _ in await my_events(session, user=user, now=now):
        if event.status != EventStatus.ACTIVE or now >= event.starts_at:
            continue
        assert event.id is not None
        outcome = await cancel_signup(session, event_id=event.id, user=user, now=now)
        if outcome.promoted:
            moved.append((event, outcome.promoted))
    return moved


async def _fill_from_waitlist(session: AsyncSession, event: Event, *, now: datetime) -> tuple[User, ...]:
    """Promote waitlisted people, first come first served, while places are free."""
    assert event.id is not None
    promoted: list[User] = []
    if event.status != EventStatus.ACTIVE or now >= event.starts_at:
        return ()
    while True:
        query = (
            select(EventSignup)
            .where(EventSignup.event_id == event.id, EventSignup.status == SignupStatus.WAITLISTED)
            .order_by(EventSignup.position, EventSignup.id)  # type: ignore[arg-type]
            .limit(1)
        )
        first = (await session.execute(query)).scalar_one_or_none()
        if first is None or not await _take_place(session, event.id):
            break
        first.status, first.confirmed_at = SignupStatus.CONFIRMED, now
        session.add(first)
        await session.flush()
        user = await session.get(User, first.user_id)
        if user is not None:
            promoted.append(user)
    return tuple(promoted)


async def _people(session: AsyncSession, event_id: int, statuses: Sequence[str]) -> list[User]:
    query = (
        select(User)
        .join(EventSignup, EventSignup.user_id == User.id)  # type: ignore[arg-type]
        .where(EventSignup.event_id == event_id, EventSignup.status.in_(statuses))  # type: ignore[attr-defined]
        .order_by(EventSignup.position)
    )
    return list((await session.execute(query)).scalars())


# --- attendance and reminders -----------------------------------------------------------------


async def check_in(session: AsyncSession, *, code: str, user: User, now: datetime) -> CheckIn:
    """Record attendance once, from an hour before the start until the end."""
    typed = normalize_code(code)
    if not typed or len(typed) > 16:
        return CheckIn(CheckInResult.WRONG_CODE)
    query = select(Event).where(Event.checkin_code == typed, Event.status == EventStatus.ACTIVE)
    event = (await session.execute(query)).scalar_one_or_none()
    if event is None:
        return CheckIn(CheckInResult.WRONG_CODE)
    if now < event.starts_at - CHECKIN_OPENS_BEFORE:
        return CheckIn(CheckInResult.TOO_EARLY, event)
    if now > event.ends_at:
        return CheckIn(CheckInResult.ENDED, event)
    assert event.id is not None and user.id is not None
    signup = await signup_of(session, event_id=event.id, user_id=user.id)
    if signup is None or signup.status != SignupStatus.CONFIRMED:
        return CheckIn(CheckInResult.NOT_SIGNED_UP, event)
    table = EventSignup.__table__  # type: ignore[attr-defined]
    result = await session.execute(
        update(table).where(table.c.id == signup.id, table.c.attended_at.is_(None)).values(attended_at=now)
    )
    recorded = int(result.rowcount or 0) == 1  # type: ignore[attr-defined]
    return CheckIn(CheckInResult.RECORDED if recorded else CheckInResult.ALREADY, event)


async def claim_due_reminders(session: AsyncSession, *, now: datetime) -> list[DueReminder]:
    """Claim the reminders due now, each with one conditional UPDATE so none is claimed twice.

    A reminder is due from its offset before the start until the next reminder's time (after a
    long outage only the latest one goes out), for people confirmed before it was due.
    """
    longest = max(offset for _, offset in REMINDERS)
    query = (
        select(EventSignup, Event, User)
        .join(Event, Event.id == EventSignup.event_id)  # type: ignore[arg-type]
        .join(User, User.id == EventSignup.user_id)  # type: ignore[arg-type]
        .where(
            Event.status == EventStatus.ACTIVE,
            EventSignup.status == SignupStatus.CONFIRMED,
            Event.starts_at > now,
            Event.starts_at <= now + longest,
        )
        .order_by(Event.starts_at, EventSignup.position)
    )
    rows = (await session.execute(query)).all()
    table = EventSignup.__table__  # type: ignore[attr-defined]
    claimed: list[DueReminder] = []
    for signup, event, user in rows:
        kind = _due_kind(event.starts_at, now)
        if kind is None:
            continue
        due_at = event.starts_at - dict(REMINDERS)[kind]
        if signup.confirmed_at is not None and signup.confirmed_at > due_at:
            continue  # they joined after it was due: the sign-up message told them the time
        column = table.c[f"reminded_{kind}_for"]
        result = await session.execute(
            update(table)
            .where(table.c.id == signup.id, (column.is_(None)) | (column != event.starts_at))
            .values({column.name: event.starts_at})
        )
        if int(result.rowcount or 0) == 1:  # type: ignore[attr-defined]
            claimed.append(DueReminder(kind, int(signup.id), event, user))
    await session.flush()
    return claimed


def _due_kind(starts_at: datetime, now: datetime) -> str | None:
    # REMINDERS are ordered from the earliest (largest offset) to the latest.
    due = None
    for kind, offset in REMINDERS:
        if now >= starts_at - offset:
            due = kind
    return due
