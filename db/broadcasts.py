"""Broadcasts: audiences, schedules, firing each occurrence once, and their figures (SPEC §7)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import and_, case, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db import scopes
from db.errors import InvalidChoice, NotAllowed
from db.models import (
    Broadcast,
    BroadcastRun,
    ConsentStatus,
    Delivery,
    EventSignup,
    Role,
    SignupStatus,
    User,
)
from db.types import UTCDateTime

if TYPE_CHECKING:
    from bot.config import QuietHours

KIND = "broadcast"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SCHEDULES = ("now", "once", "weekly")


class Status:
    """A broadcast's states, in one place (the column is a short string)."""

    SCHEDULED = "scheduled"
    WAITING = "waiting"  # a facilitator's broadcast waiting for a staff member's approval
    REJECTED = "rejected"  # staff said no: never sent
    DONE = "done"
    CANCELLED = "cancelled"  # by its author or staff, or because its author's scope no longer covers it


@dataclass(frozen=True)
class Audience:
    """Who receives a broadcast: everyone subscribed, narrowed by any of these filters."""

    roles: tuple[str, ...] = ()
    kecamatan: str | None = None
    kelurahan: str | None = None
    age_bands: tuple[str, ...] = ()
    language: str | None = None
    event_id: int | None = None  # the people signed up for (or waiting for) one event

    def to_json(self) -> str:
        """Serialise for the broadcasts table."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Audience:
        """Parse what `to_json` wrote."""
        data = json.loads(text)
        return cls(
            roles=tuple(data.get("roles", ())),
            kecamatan=data.get("kecamatan"),
            kelurahan=data.get("kelurahan"),
            age_bands=tuple(data.get("age_bands", ())),
            language=data.get("language"),
            event_id=data.get("event_id"),
        )


def _recipients(audience: Audience) -> Any:
    """The users an audience selects: registered, consented, subscribed, matching every filter."""
    conditions = [
        User.subscribed.is_(True),  # type: ignore[attr-defined]
        User.privacy_accepted_at.is_not(None),  # type: ignore[union-attr]
        User.role.is_not(None),  # type: ignore[union-attr]
        User.consent_status.in_([ConsentStatus.GIVEN, ConsentStatus.NOT_REQUIRED]),  # type: ignore[union-attr]
        or_(User.role.not_in([Role.CHILD, Role.PARENT]), User.gender.is_not(None)),  # type: ignore[union-attr]
    ]
    if audience.roles:
        conditions.append(User.role.in_(audience.roles))  # type: ignore[union-attr]
    if audience.kecamatan:
        conditions.append(User.kecamatan == audience.kecamatan)
    if audience.kelurahan:
        conditions.append(User.kelurahan == audience.kelurahan)
    if audience.age_bands:
        conditions.append(User.age_band.in_(audience.age_bands))  # type: ignore[union-attr]
    if audience.language:
        conditions.append(User.language == audience.language)
    if audience.event_id is not None:
        signed_up = select(EventSignup.user_id).where(
            EventSignup.event_id == audience.event_id,
            EventSignup.status.in_([SignupStatus.CONFIRMED, SignupStatus.WAITLISTED]),  # type: ignore[attr-defined]
        )
        conditions.append(User.id.in_(signed_up))  # type: ignore[union-attr]
    return and_(*conditions)


async def audience_size(session: AsyncSession, *, audience: Audience) -> int:
    """Count who would receive a broadcast now."""
    return int(await session.scalar(select(func.count()).select_from(User).where(_recipients(audience))) or 0)


def weekly_trigger(day: str, at: str, tz: ZoneInfo) -> CronTrigger:
    """APScheduler's cron trigger for 'every <day> at HH:MM' in the bot's time zone."""
    if day not in WEEKDAYS:
        raise InvalidChoice()
    clock = time.fromisoformat(at)
    return CronTrigger(day_of_week=day, hour=clock.hour, minute=clock.minute, timezone=tz)


def next_weekly(day: str, at: str, tz: ZoneInfo, *, after: datetime) -> datetime:
    """The first weekly occurrence strictly after a moment, in UTC."""
    fire = weekly_trigger(day, at, tz).get_next_fire_time(None, after + timedelta(seconds=1))
    assert fire is not None
    return fire.astimezone(UTC)


def quiet_end(now: datetime, quiet: QuietHours | None, tz: ZoneInfo) -> datetime | None:
    """When a message to a child may go out if `now` is inside the quiet hours, else None."""
    if quiet is None:
        return None
    local = now.astimezone(tz)
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return None
    end = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)


async def create(
    session: AsyncSession,
    *,
    author_telegram_id: int,
    text: str,
    audience: Audience,
    schedule: str,
    now: datetime,
    tz: ZoneInfo,
    run_at: datetime | None = None,
    weekly_day: str | None = None,
    weekly_time: str | None = None,
    media_kind: str | None = None,
    media_file_id: str | None = None,
    waiting: bool = False,
) -> Broadcast:
    """Save a broadcast with its first occurrence; the scheduler job fires it (once approved if `waiting`)."""
    if schedule not in SCHEDULES or not text.strip() and not media_file_id:
        raise InvalidChoice()
    if schedule == "now":
        first = now
    elif schedule == "once":
        if run_at is None or run_at <= now:
            raise InvalidChoice("time_in_past")
        first = run_at
    else:
        if weekly_day is None or weekly_time is None:
            raise InvalidChoice()
        first = next_weekly(weekly_day, weekly_time, tz, after=now)
    broadcast = Broadcast(
        author_telegram_id=author_telegram_id, text=text, media_kind=media_kind, media_file_id=media_file_id,
        audience=audience.to_json(), schedule=schedule, weekly_day=weekly_day, weekly_time=weekly_time,
        status=Status.WAITING if waiting else Status.SCHEDULED, next_run_at=first, created_at=now,
    )
    session.add(broadcast)
    await session.flush()
    return broadcast


async def fire_due(
    session: AsyncSession, *, now: datetime, tz: ZoneInfo, quiet: QuietHours | None
) -> list[int]:
    """Start every due occurrence once: a run row (unique per occurrence) and its outbox rows.

    Each occurrence is first taken by moving its broadcast on (to the next week, or to done)
    only if it is still scheduled for that occurrence: a cancel, or another scheduler, that got
    there first makes the move change nothing, and this one leaves it. One that comes after waits
    for this transaction and then finds the run to stop. Two schedulers that both got through
    would still insert the same run only once (a unique key), so each occurrence is sent once.
    """
    due = (
        await session.execute(
            select(Broadcast).where(Broadcast.status == Status.SCHEDULED, Broadcast.next_run_at <= now)  # type: ignore[operator]
        )
    ).scalars().all()
    started = []
    for broadcast in due:
        assert broadcast.id is not None and broadcast.next_run_at is not None
        occurrence = broadcast.next_run_at
        if not await _still_in_scope(session, broadcast):
            await session.execute(
                update(Broadcast).where(Broadcast.id == broadcast.id, Broadcast.status == Status.SCHEDULED)  # type: ignore[arg-type]
                .values(status=Status.CANCELLED, next_run_at=None).execution_options(synchronize_session="fetch")
            )
            continue
        if not await _move_on(session, broadcast, occurrence, now, tz):
            continue
        run_id = await _claim_occurrence(session, broadcast.id, occurrence, now)
        if run_id is not None:
            size = await _enqueue_recipients(session, broadcast, run_id, now, quiet_end(now, quiet, tz))
            await session.execute(update(BroadcastRun).where(BroadcastRun.id == run_id).values(audience_size=size))
            started.append(run_id)
    return started


async def _still_in_scope(session: AsyncSession, broadcast: Broadcast) -> bool:
    """Re-check an unapproved broadcast against its author's role and scope as they are now.

    A facilitator whose area was taken away (or whose role was revoked) after saving a weekly or
    later broadcast does not reach outside what they may reach today. A broadcast a staff member
    approved keeps its approval: staff looked at that audience and that message.
    """
    if broadcast.approved_by is not None:
        return True
    author = await session.scalar(select(User).where(User.telegram_id == broadcast.author_telegram_id))
    if author is None:  # written by an operator's script, or an erased account: checked when saved
        return True
    role = author.role
    if role in scopes.MANAGERS:
        return True
    scope = await scopes.scope_of(session, telegram_id=broadcast.author_telegram_id)
    risky = scopes.has_link_or_file(broadcast.text, broadcast.media_kind)
    return scopes.review_for(role, scope, Audience.from_json(broadcast.audience), risky=risky).verdict == scopes.Verdict.SEND


async def decide(session: AsyncSession, *, broadcast_id: int, by: User, approve: bool) -> Broadcast | None:
    """Approve or reject a waiting broadcast (staff or admin); None if another decision came first.

    One conditional UPDATE takes the broadcast out of WAITING: of two staff pressing at once only
    one changes a row, so an approved broadcast is scheduled, and enqueued, once.
    """
    if by.role not in scopes.MANAGERS:
        raise NotAllowed()
    values: dict[str, Any] = {"status": Status.SCHEDULED if approve else Status.REJECTED, "approved_by": by.telegram_id}
    if not approve:
        values["next_run_at"] = None
    changed = await session.execute(
        update(Broadcast).where(Broadcast.id == broadcast_id, Broadcast.status == Status.WAITING)  # type: ignore[arg-type]
        .values(**values).execution_options(synchronize_session="fetch")
    )
    if not changed.rowcount:  # type: ignore[attr-defined]
        return None
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is not None:
        await session.refresh(broadcast)
    return broadcast


async def _move_on(session: AsyncSession, broadcast: Broadcast, occurrence: datetime, now: datetime, tz: ZoneInfo) -> bool:
    """Schedule the occurrence after this one (or mark the broadcast done) if nobody changed it since it was read."""
    following = None
    if broadcast.schedule == "weekly" and broadcast.weekly_day and broadcast.weekly_time:
        following = next_weekly(broadcast.weekly_day, broadcast.weekly_time, tz, after=max(now, occurrence))
    moved = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast.id, Broadcast.status == Status.SCHEDULED, Broadcast.next_run_at == occurrence)  # type: ignore[arg-type]
        .values(status=Status.SCHEDULED if following else Status.DONE, next_run_at=following)
        .execution_options(synchronize_session="fetch")
    )
    return bool(moved.rowcount)  # type: ignore[attr-defined]


async def _claim_occurrence(session: AsyncSession, broadcast_id: int, occurrence: datetime, now: datetime) -> int | None:
    table = BroadcastRun.__table__  # type: ignore[attr-defined]
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(table)
        .values(broadcast_id=broadcast_id, occurrence_at=occurrence, audience_size=0, stopped=False, created_at=now)
        .on_conflict_do_nothing(index_elements=["broadcast_id", "occurrence_at"])
        .returning(table.c.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def _enqueue_recipients(
    session: AsyncSession, broadcast: Broadcast, run_id: int, now: datetime, hold_until: datetime | None
) -> int:
    # One INSERT … SELECT: the audience is resolved in the database, whatever its size.
    audience = Audience.from_json(broadcast.audience)
    when = literal(now, UTCDateTime())
    not_before = (
        case((User.role == Role.CHILD, literal(hold_until, UTCDateTime())), else_=when) if hold_until else when
    )
    source = select(
        literal(KIND), literal(run_id), User.id, User.telegram_id, literal(broadcast.text),
        literal(broadcast.media_kind), literal(broadcast.media_file_id), literal("pending"), literal(0),
        not_before, when,
    ).where(_recipients(audience))
    table = Delivery.__table__  # type: ignore[attr-defined]
    columns = ["kind", "source_id", "user_id", "chat_id", "text", "media_kind", "media_file_id", "status",
               "attempts", "not_before", "created_at"]
    await session.execute(table.insert().from_select(columns, source))
    # rowcount of INSERT … SELECT is not reliable on every driver: count in the same transaction.
    return await audience_size(session, audience=audience)


async def cancel(session: AsyncSession, *, broadcast_id: int, by: User) -> None:
    """Cancel future occurrences and stop what is still pending (author, staff or admin)."""
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise InvalidChoice()
    if broadcast.author_telegram_id != by.telegram_id and by.role not in (Role.STAFF, Role.ADMIN):
        raise NotAllowed()
    broadcast.status, broadcast.next_run_at = Status.CANCELLED, None
    session.add(broadcast)
    runs = (await session.execute(select(BroadcastRun.id).where(BroadcastRun.broadcast_id == broadcast_id))).scalars()
    run_ids = list(runs)
    if run_ids:
        table = Delivery.__table__  # type: ignore[attr-defined]
        await session.execute(
            update(table)
            .where(table.c.kind == KIND, table.c.source_id.in_(run_ids), table.c.status == "pending")
            .values(status="cancelled")
        )
        await session.execute(update(BroadcastRun).where(BroadcastRun.id.in_(run_ids)).values(stopped=True))  # type: ignore[union-attr]
    await session.flush()


@dataclass(frozen=True)
class RunFigures:
    """Delivery figures of one occurrence."""

    run_id: int
    occurrence_at: datetime
    audience: int
    sent: int
    failed: int
    blocked: int
    pending: int
    cancelled: int
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def per_second(self) -> float | None:
        """Messages per second between the first and the last send."""
        if not self.started_at or not self.finished_at or self.sent < 2:
            return None
        seconds = (self.finished_at - self.started_at).total_seconds()
        return self.sent / seconds if seconds > 0 else None


async def figures(session: AsyncSession, *, broadcast_id: int) -> list[RunFigures]:
    """Per occurrence: audience, sent, failed, blocked, pending, start, end (SQL aggregation)."""
    table = Delivery.__table__  # type: ignore[attr-defined]
    runs = (
        await session.execute(
            select(BroadcastRun).where(BroadcastRun.broadcast_id == broadcast_id).order_by(BroadcastRun.occurrence_at)
        )
    ).scalars().all()
    result = []
    for run in runs:
        counts = dict(
            (await session.execute(
                select(table.c.status, func.count()).where(table.c.kind == KIND, table.c.source_id == run.id)
                .group_by(table.c.status)
            )).all()
        )
        first, last = (await session.execute(
            select(func.min(table.c.sent_at), func.max(table.c.sent_at))
            .where(table.c.kind == KIND, table.c.source_id == run.id)
        )).one()
        assert run.id is not None
        result.append(
            RunFigures(
                run_id=run.id, occurrence_at=run.occurrence_at, audience=run.audience_size,
                sent=counts.get("sent", 0), failed=counts.get("failed", 0), blocked=counts.get("blocked", 0),
                pending=counts.get("pending", 0) + counts.get("sending", 0), cancelled=counts.get("cancelled", 0),
                started_at=_aware(first), finished_at=_aware(last),
            )
        )
    return result


def _aware(value: datetime | str | None) -> datetime | None:
    # Aggregates bypass the column type: SQLite hands back naive text.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


async def visible(session: AsyncSession, *, broadcast_id: int, user: User) -> Broadcast | None:
    """One broadcast if this user may see it (its author, staff or an admin), else None."""
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None:
        return None
    if broadcast.author_telegram_id != user.telegram_id and user.role not in (Role.STAFF, Role.ADMIN):
        return None
    return broadcast


async def recent(session: AsyncSession, *, author: User, limit: int = 10) -> list[Broadcast]:
    """Scheduled and recent broadcasts: the author's own, or all for staff and admins."""
    query = select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)  # type: ignore[union-attr]
    if author.role not in (Role.STAFF, Role.ADMIN):
        query = query.where(Broadcast.author_telegram_id == author.telegram_id)
    return list((await session.execute(query)).scalars())


async def figures_in_period(session: AsyncSession, *, start: datetime, end: datetime) -> list[RunFigures]:
    """Figures of every occurrence that started in [start, end), for the staff export."""
    ids = (
        await session.execute(
            select(BroadcastRun.broadcast_id)
            .where(BroadcastRun.occurrence_at >= start, BroadcastRun.occurrence_at < end)  # type: ignore[operator]
            .distinct()
        )
    ).scalars().all()
    result: list[RunFigures] = []
    for broadcast_id in sorted(ids):
        result += [
            run for run in await figures(session, broadcast_id=broadcast_id) if start <= run.occurrence_at < end
        ]
    return result
