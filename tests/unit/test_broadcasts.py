"""Broadcasts: audience rules, quiet hours, weekly schedules, one firing per occurrence, figures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.config import QuietHours
from db import broadcasts, outbox, users
from db.broadcasts import Audience
from db.engine import session_factory
from db.models import Broadcast, Delivery
from tests.helpers.factories import NOW, make_user

WITA = ZoneInfo("Asia/Makassar")
QUIET = QuietHours(time(21, 0), time(6, 0))


async def population(session: AsyncSession) -> None:
    """Six users of known kinds."""
    await make_user(session, 1, kecamatan="Balikpapan Kota", kelurahan="Damai", age_band="10_12")
    await make_user(session, 2, kecamatan="Balikpapan Kota", kelurahan="Prapatan", age_band="16_17", language="en")
    await make_user(session, 3, kecamatan="Balikpapan Timur", kelurahan="Manggar", age_band="13_15")
    await make_user(session, 4, role="parent", kecamatan="Balikpapan Timur", kelurahan="Lamaru")
    await make_user(session, 5, consented=False)  # a pending child: never a recipient
    await make_user(session, 6, role="staff")  # the author: staff need no approval (db/scopes.py)
    unsubscribed = await make_user(session, 7, kecamatan="Balikpapan Kota", kelurahan="Damai")
    unsubscribed.subscribed = False


@pytest.mark.parametrize(
    ("audience", "expected"),
    [
        (Audience(), 5),
        (Audience(roles=("child",)), 3),
        (Audience(kecamatan="Balikpapan Kota"), 2),
        (Audience(kecamatan="Balikpapan Timur", kelurahan="Manggar"), 1),
        (Audience(age_bands=("10_12", "13_15")), 2),
        (Audience(language="en"), 1),
        (Audience(roles=("child",), kecamatan="Balikpapan Timur"), 1),
    ],
)
async def test_audience_selection(session: AsyncSession, audience: Audience, expected: int) -> None:
    await population(session)
    assert await broadcasts.audience_size(session, audience=audience) == expected


def test_quiet_end() -> None:
    at_22 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 22:00 WITA
    assert broadcasts.quiet_end(at_22, QUIET, WITA) == datetime(2026, 11, 23, 22, 0, tzinfo=UTC)  # 06:00 WITA
    at_03 = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)  # 03:00 WITA next day
    assert broadcasts.quiet_end(at_03, QUIET, WITA) == datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
    assert broadcasts.quiet_end(NOW, QUIET, WITA) is None  # 10:00 WITA
    assert broadcasts.quiet_end(at_22, None, WITA) is None


async def test_children_wait_for_the_end_of_quiet_hours(session: AsyncSession) -> None:
    await population(session)
    at_22 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    await broadcasts.create(session, author_telegram_id=6, text="Halo", audience=Audience(), schedule="now", now=at_22, tz=WITA)
    await broadcasts.fire_due(session, now=at_22, tz=WITA, quiet=QUIET)
    ready_now = await outbox.claim_batch(session, now=at_22, limit=100)
    assert sorted(item.chat_id for item in ready_now) == [4, 6]  # the parent and the staff member
    sent = [outbox.Outcome(item.id, outbox.Result.SENT) for item in ready_now]
    await outbox.record_outcomes(session, outcomes=sent, now=at_22)
    morning = await outbox.claim_batch(session, now=datetime(2026, 11, 23, 22, 0, tzinfo=UTC), limit=100)
    assert sorted(item.chat_id for item in morning) == [1, 2, 3]


async def test_weekly_broadcast_fires_once_per_week(session: AsyncSession) -> None:
    await population(session)
    weekly = await broadcasts.create(
        session, author_telegram_id=6, text="Jumat ceria", audience=Audience(kecamatan="Balikpapan Kota"),
        schedule="weekly", weekly_day="fri", weekly_time="16:00", now=NOW, tz=WITA,
    )
    friday = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)  # Friday 16:00 WITA
    assert weekly.next_run_at == friday
    assert await broadcasts.fire_due(session, now=friday - timedelta(minutes=1), tz=WITA, quiet=QUIET) == []
    assert len(await broadcasts.fire_due(session, now=friday, tz=WITA, quiet=QUIET)) == 1
    assert await broadcasts.fire_due(session, now=friday + timedelta(minutes=5), tz=WITA, quiet=QUIET) == []
    assert weekly.next_run_at == friday + timedelta(days=7)
    assert len(await broadcasts.fire_due(session, now=friday + timedelta(days=7), tz=WITA, quiet=QUIET)) == 1
    total = await session.scalar(select(func.count()).select_from(Delivery))
    assert total == 4  # two recipients, two weeks


async def test_two_schedulers_fire_an_occurrence_once(engine: AsyncEngine) -> None:
    scope = session_factory(engine)
    async with scope() as session:
        await population(session)
        await broadcasts.create(session, author_telegram_id=6, text="Sekali saja", audience=Audience(),
                                schedule="now", now=NOW, tz=WITA)

    async def tick() -> list[int]:
        async with scope() as session:
            return await broadcasts.fire_due(session, now=NOW, tz=WITA, quiet=None)

    results = await asyncio.gather(tick(), tick(), return_exceptions=True)
    fired = [r for r in results if isinstance(r, list)]
    assert sum(len(r) for r in fired) == 1
    async with scope() as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 5


@pytest.mark.parametrize("step", ["_move_on", "_claim_occurrence"])
async def test_a_cancel_pressed_while_the_occurrence_fires_stops_it(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    # Another process's cancel lands after the scheduler has read the due broadcast: before it
    # takes the occurrence (_move_on), or after (_claim_occurrence). Before the fix the second
    # failed on SQLite and PostgreSQL alike: the cancel found no run to stop and committed, and
    # the scheduler then enqueued everyone and wrote "done" over "cancelled".
    scope = session_factory(engine)
    async with scope() as session:
        await population(session)
        item = await broadcasts.create(session, author_telegram_id=6, text="Batal", audience=Audience(),
                                       schedule="now", now=NOW, tz=WITA)
        staff = await make_user(session, 60, role="staff")
    assert item.id is not None
    original = getattr(broadcasts, step)
    cancelling: list[asyncio.Task[None]] = []

    async def cancel() -> None:
        async with scope() as session:
            await broadcasts.cancel(session, broadcast_id=item.id, by=staff)

    async def step_while_cancelling(*args: Any) -> Any:
        cancelling.append(asyncio.create_task(cancel()))
        await asyncio.sleep(0.3)  # time enough for the cancel to commit, unless it has to wait
        return await original(*args)

    monkeypatch.setattr(broadcasts, step, step_while_cancelling)
    async with scope() as session:
        await broadcasts.fire_due(session, now=NOW, tz=WITA, quiet=None)
    await cancelling[0]
    async with scope() as session:
        broadcast = await session.get(Broadcast, item.id)
        pending = await session.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "pending"))
    assert broadcast is not None and broadcast.status == "cancelled"
    assert pending == 0


async def test_cancel_stops_pending_and_figures_count(session: AsyncSession) -> None:
    await population(session)
    item = await broadcasts.create(session, author_telegram_id=6, text="x", audience=Audience(), schedule="now", now=NOW, tz=WITA)
    [run_id] = await broadcasts.fire_due(session, now=NOW, tz=WITA, quiet=None)
    claimed = await outbox.claim_batch(session, now=NOW, limit=2)
    await outbox.record_outcomes(
        session, outcomes=[outbox.Outcome(claimed[0].id, outbox.Result.SENT), outbox.Outcome(claimed[1].id, outbox.Result.BLOCKED)],
        now=NOW + timedelta(seconds=1),
    )
    author = await make_user(session, 60, role="staff")
    assert item.id is not None
    await broadcasts.cancel(session, broadcast_id=item.id, by=author)
    [figures] = await broadcasts.figures(session, broadcast_id=item.id)
    assert (figures.run_id, figures.audience, figures.sent, figures.blocked, figures.pending, figures.cancelled) == (
        run_id, 5, 1, 1, 0, 3,
    )


async def test_only_author_or_staff_may_cancel(session: AsyncSession) -> None:
    item = await broadcasts.create(session, author_telegram_id=6, text="x", audience=Audience(), schedule="once",
                                   run_at=NOW + timedelta(days=1), now=NOW, tz=WITA)
    other = await make_user(session, 61, role="facilitator")
    assert item.id is not None
    with pytest.raises(broadcasts.NotAllowed):
        await broadcasts.cancel(session, broadcast_id=item.id, by=other)


async def test_audience_of_one_events_sign_ups(session: AsyncSession) -> None:
    from content.loaders import load_regions
    from db import events
    from db.events import EventDraft

    await population(session)
    start = NOW + timedelta(days=3)
    draft = EventDraft(title="Diskusi", description="Ngobrol", starts_at=start, ends_at=start + timedelta(hours=2),
                       venue="Aula", kecamatan="Balikpapan Kota", kelurahan="Damai", capacity=1)
    event = await events.create_event(session, draft=draft, created_by=6, regions=load_regions().kecamatan, now=NOW)
    assert event.id is not None
    for telegram_id in (1, 3):  # one confirmed, one waitlisted
        person = await users.get_user(session, telegram_id=telegram_id)
        assert person is not None
        await events.sign_up(session, event_id=event.id, user=person, now=NOW)
    assert await broadcasts.audience_size(session, audience=Audience(event_id=event.id)) == 2
    assert await broadcasts.audience_size(session, audience=Audience(event_id=event.id, kecamatan="Balikpapan Kota")) == 1
