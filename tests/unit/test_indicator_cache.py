"""Closed months are computed once and kept; open and partial months follow the rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db import users
from db.engine import session_factory
from db.indicators import (
    INDICATORS,
    Period,
    User,
    compute,
    fingerprint,
    recent_months,
    store_closed_months,
)
from db.models import IndicatorCell, IndicatorMonth
from tests.unit.test_indicators import WITA, data, value

NOV = Period(date(2026, 11, 1), date(2026, 11, 30), WITA)
NOV_DEC = Period(date(2026, 11, 1), date(2026, 12, 31), WITA)
AFTER_GRACE = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)  # 8 December 00:00 WITA: 7 days after November
WITHIN_GRACE = datetime(2026, 12, 7, 15, 59, tzinfo=UTC)


def csv_rows(rows):  # type: ignore[no-untyped-def]
    return sorted(tuple(row.as_csv()) for row in rows)


async def erase(session: AsyncSession, telegram_id: int) -> None:
    user = (await session.execute(select(User).where(User.telegram_id == telegram_id))).scalar_one()
    await users.erase_user(session, user=user)
    await session.flush()


async def stored_months(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(IndicatorMonth))).scalar_one()


async def test_a_closed_month_is_stored_once_with_the_same_figures(session: AsyncSession) -> None:
    await data(session)
    live = await compute(session, period=NOV_DEC)
    first = await compute(session, period=NOV_DEC, now=AFTER_GRACE)
    assert csv_rows(first) == csv_rows(live)
    # November is closed (every indicator but the median stored); December is still open.
    assert await stored_months(session) == len(INDICATORS) - 1
    assert (await session.execute(select(func.count()).select_from(IndicatorCell))).scalar_one() > 0
    again = await compute(session, period=NOV_DEC, now=AFTER_GRACE)
    assert csv_rows(again) == csv_rows(live)
    assert await stored_months(session) == len(INDICATORS) - 1


async def test_an_erased_account_no_longer_moves_a_closed_month(session: AsyncSession) -> None:
    await data(session)
    await compute(session, period=NOV, now=AFTER_GRACE)
    await erase(session, 3)  # joined and got a broadcast in November
    kept = await compute(session, period=NOV, now=AFTER_GRACE)
    assert value(kept, "users_registered", NOV.start, NOV.end) == 4
    assert value(kept, "broadcast_delivered", NOV.start, NOV.end) == 2
    live = await compute(session, period=NOV)
    assert value(live, "users_registered", NOV.start, NOV.end) == 3
    assert value(live, "broadcast_delivered", NOV.start, NOV.end) == 1


async def test_a_month_within_its_grace_week_follows_the_rows(session: AsyncSession) -> None:
    await data(session)
    await compute(session, period=NOV, now=WITHIN_GRACE)
    assert await stored_months(session) == 0
    await erase(session, 3)
    rows = await compute(session, period=NOV, now=WITHIN_GRACE)
    assert value(rows, "users_registered", NOV.start, NOV.end) == 3


async def test_a_part_of_a_month_is_never_stored(session: AsyncSession) -> None:
    await data(session)
    part = Period(date(2026, 11, 10), date(2026, 11, 30), WITA)
    rows = await compute(session, period=part, now=AFTER_GRACE)
    assert await stored_months(session) == 0
    # Joining is kept to the month (db/grain.py): a part of a month counts the whole month's
    # newcomers (the one of 1 November too), never a finer cut that could single one out.
    assert value(rows, "users_registered", part.start, part.end) == 4


async def test_a_changed_definition_is_computed_afresh(session: AsyncSession) -> None:
    await data(session)
    registered = next(i for i in INDICATORS if i.code == "users_registered")
    await compute(session, period=NOV, indicators=[registered], now=AFTER_GRACE)
    parents_only = replace(registered, source=lambda p: registered.source(p).where(User.role == "parent"))
    assert fingerprint(parents_only) != fingerprint(registered)
    rows = await compute(session, period=NOV, indicators=[parents_only], now=AFTER_GRACE)
    assert value(rows, "users_registered", NOV.start, NOV.end) == 1
    assert await stored_months(session) == 2


async def test_the_hourly_job_stores_just_the_closed_months(engine: AsyncEngine) -> None:
    scope = session_factory(engine)
    async with scope() as session:
        await data(session)
    span = recent_months(AFTER_GRACE, WITA)
    assert (span.start, span.end) == (date(2025, 12, 1), date(2026, 12, 8))
    await store_closed_months(scope, period=span, now=AFTER_GRACE)
    async with scope() as session:
        months = set((await session.execute(select(IndicatorMonth.month))).scalars())
        assert "2025-12" in months and "2026-11" in months and "2026-12" not in months
        assert await stored_months(session) == 12 * (len(INDICATORS) - 1)  # December 2025 … November 2026
    await store_closed_months(scope, period=span, now=AFTER_GRACE)  # nothing new: nothing doubled
    async with scope() as session:
        assert await stored_months(session) == 12 * (len(INDICATORS) - 1)
        await erase(session, 3)
    async with scope() as session:
        rows = await compute(session, period=NOV, now=AFTER_GRACE)
    assert value(rows, "users_registered", NOV.start, NOV.end) == 4
