"""The outbox: every message sent unprompted is a row, claimed atomically, sent once."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Delivery, User

MAX_ATTEMPTS = 5
# Long enough for one batch to go out (a tenth of a second's worth at any rate), short enough
# that a restarted sender takes over a crashed one's rows quickly.
DEFAULT_LEASE = timedelta(seconds=30)


class Status(enum.StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"
    CANCELLED = "cancelled"


class Result(enum.StrEnum):
    """What happened when one delivery was attempted."""

    SENT = "sent"
    BLOCKED = "blocked"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class Outgoing:
    """A claimed delivery, ready to send."""

    id: int
    kind: str
    chat_id: int | None
    sealed_route: str | None
    text: str
    reply_markup: dict[str, Any] | None
    media_kind: str | None
    media_file_id: str | None
    attempts: int


@dataclass(frozen=True)
class Outcome:
    """The result of one attempt; `retry_at` for RETRY, `error` for RETRY and FAILED."""

    delivery_id: int
    result: Result
    error: str | None = None
    retry_at: datetime | None = None


def new_row(
    *,
    kind: str,
    text: str,
    now: datetime,
    chat_id: int | None = None,
    user_id: int | None = None,
    sealed_route: str | None = None,
    reply_markup: dict[str, Any] | None = None,
    media_kind: str | None = None,
    media_file_id: str | None = None,
    source_id: int | None = None,
    dedupe_key: str | None = None,
    not_before: datetime | None = None,
) -> dict[str, Any]:
    """Build the values of one delivery row (a plain dict, for bulk inserts)."""
    if chat_id is None and sealed_route is None:
        raise ValueError("a delivery needs a chat_id or a sealed_route")
    return {
        "kind": kind,
        "text": text,
        "chat_id": chat_id,
        "user_id": user_id,
        "sealed_route": sealed_route,
        "reply_markup": json.dumps(reply_markup) if reply_markup else None,
        "media_kind": media_kind,
        "media_file_id": media_file_id,
        "source_id": source_id,
        "dedupe_key": dedupe_key,
        "status": Status.PENDING,
        "attempts": 0,
        "not_before": not_before or now,
        "created_at": now,
    }


async def enqueue(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert deliveries in one statement; a row whose dedupe_key exists already is skipped."""
    if not rows:
        return
    table = Delivery.__table__  # type: ignore[attr-defined]
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"])
    await session.execute(statement, list(rows))
    await session.flush()


async def claim_batch(
    session: AsyncSession, *, now: datetime, limit: int, lease: timedelta = DEFAULT_LEASE
) -> list[Outgoing]:
    """Claim due deliveries with one conditional UPDATE, so two workers never take the same row.

    A row whose lease ran out (its worker died mid-send) is due again: that is the only way a
    message can go out twice, bounded by what was in flight at the crash.
    """
    table = Delivery.__table__  # type: ignore[attr-defined]
    due = (
        select(table.c.id)
        .where(
            or_(
                and_(table.c.status == Status.PENDING, table.c.not_before <= now),
                and_(table.c.status == Status.SENDING, table.c.lease_until < now),
            )
        )
        .order_by(table.c.id)
        .limit(limit)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)  # a second worker skips, never waits
    statement = (
        update(table)
        .where(table.c.id.in_(due.scalar_subquery()))
        .values(status=Status.SENDING, lease_until=now + lease, attempts=table.c.attempts + 1)
        .returning(
            table.c.id, table.c.kind, table.c.chat_id, table.c.sealed_route, table.c.text,
            table.c.reply_markup, table.c.media_kind, table.c.media_file_id, table.c.attempts,
        )
    )
    rows = (await session.execute(statement)).all()
    return sorted(
        (
            Outgoing(
                id=row.id, kind=row.kind, chat_id=row.chat_id, sealed_route=row.sealed_route,
                text=row.text, reply_markup=json.loads(row.reply_markup) if row.reply_markup else None,
                media_kind=row.media_kind, media_file_id=row.media_file_id, attempts=row.attempts,
            )
            for row in rows
        ),
        key=lambda item: item.id,
    )


async def record_outcomes(
    session: AsyncSession, *, outcomes: Iterable[Outcome], now: datetime, lease_until: datetime | None = None
) -> None:
    """Write what happened to each attempted delivery; a blocked user is unsubscribed.

    Only rows still being sent, and with `lease_until` only those still under that claim's
    lease, are written: a row another sender took over after the lease ran out is theirs.
    """
    groups: dict[Result, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.result, []).append(outcome)
    table = Delivery.__table__  # type: ignore[attr-defined]
    ours = table.c.status == Status.SENDING
    if lease_until is not None:
        ours = and_(ours, table.c.lease_until == lease_until)
    if sent := groups.get(Result.SENT):
        await session.execute(
            update(table)
            .where(table.c.id.in_([o.delivery_id for o in sent]), ours)
            .values(status=Status.SENT, sent_at=now, lease_until=None, sealed_route=None)
        )
    if blocked := groups.get(Result.BLOCKED):
        ids = [o.delivery_id for o in blocked]
        await session.execute(
            update(table).where(table.c.id.in_(ids), ours)
            .values(status=Status.BLOCKED, lease_until=None, sealed_route=None, error="blocked by the user")
        )
        user_ids = select(table.c.user_id).where(table.c.id.in_(ids), table.c.user_id.is_not(None))
        await session.execute(
            update(User).where(User.id.in_(user_ids)).values(subscribed=False)  # type: ignore[union-attr]
        )
    for outcome in groups.get(Result.RETRY, []):
        values: dict[str, Any] = {"lease_until": None, "error": (outcome.error or "")[:200]}
        attempts = await session.scalar(select(table.c.attempts).where(table.c.id == outcome.delivery_id))
        if attempts is not None and attempts >= MAX_ATTEMPTS:
            values |= {"status": Status.FAILED, "sealed_route": None}
        else:
            values |= {"status": Status.PENDING, "not_before": outcome.retry_at or now}
        await session.execute(update(table).where(table.c.id == outcome.delivery_id, ours).values(**values))
    if failed := groups.get(Result.FAILED):
        for outcome in failed:
            await session.execute(
                update(table).where(table.c.id == outcome.delivery_id, ours)
                .values(status=Status.FAILED, lease_until=None, sealed_route=None, error=(outcome.error or "")[:200])
            )
    await session.flush()


def backoff(attempts: int) -> timedelta:
    """Wait before retry number `attempts`: 2, 4, 8 … seconds, at most five minutes."""
    return timedelta(seconds=min(2 ** max(attempts, 1), 300))


async def counts(session: AsyncSession, *, kind: str, source_id: int | None = None) -> dict[str, int]:
    """Count deliveries of one kind (and source) by status."""
    table = Delivery.__table__  # type: ignore[attr-defined]
    query = select(table.c.status, func.count()).where(table.c.kind == kind).group_by(table.c.status)
    if source_id is not None:
        query = query.where(table.c.source_id == source_id)
    return {status: int(n) for status, n in (await session.execute(query)).all()}


async def unfinished(session: AsyncSession, *, kind: str) -> int:
    """Count deliveries of a kind that are still pending or being sent."""
    table = Delivery.__table__  # type: ignore[attr-defined]
    query = select(func.count()).where(
        table.c.kind == kind, table.c.status.in_([Status.PENDING, Status.SENDING])
    )
    return int(await session.scalar(query) or 0)


async def cancel_pending(session: AsyncSession, *, kind: str, source_id: int) -> int:
    """Cancel what has not gone out yet (a stopped broadcast, a cancelled event)."""
    table = Delivery.__table__  # type: ignore[attr-defined]
    result = await session.execute(
        update(table)
        .where(table.c.kind == kind, table.c.source_id == source_id, table.c.status == Status.PENDING)
        .values(status=Status.CANCELLED, sealed_route=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
