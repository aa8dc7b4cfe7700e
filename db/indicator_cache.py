"""Stored figures of closed months: a year's export reads thousands of cells, not millions of rows.

A month is closed `GRACE` after it ends in the bot's time zone. The first export (or the hourly
job) that needs a closed month computes its cells at the finest grain once and stores them; later
exports read them. Like closed books, a closed month's figures no longer move when the rows under
them change (an account erased by retention, a late cancellation): the numbers sent to the KLA
evaluators stay the numbers the bot shows. Open months are always computed from the rows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import IndicatorCell, IndicatorMonth

if TYPE_CHECKING:
    from db.indicators import Period

GRACE = timedelta(days=7)  # late consents, retries and check-ins settle within a week
Cell = tuple[str, tuple[str, ...], tuple[float, ...]]  # (YYYY-MM, dimension values, measures)
# A cell stores two numbers (value, base). A count has two measures (count, cell key) and stores
# them as they are; a rate has four (numerator, answers, cell key, people) and stores two in
# each column, the second shifted by SHIFT: additions of stored cells stay additions, and one
# month's cell at the finest grain never holds 2^24 answers. No migration needed.
SHIFT = float(1 << 24)
Scan = Callable[["Period"], Awaitable[list[Cell]]]  # the cells of a period, by month


def is_closed(month: Period, *, now: datetime | None) -> bool:
    """Tell whether a period is a whole calendar month that ended at least GRACE before `now`."""
    whole = month.start.day == 1 and (month.end + timedelta(days=1)).day == 1
    return now is not None and whole and month.utc_end + GRACE <= now


def consecutive(months: Sequence[Period]) -> list[Period]:
    """Join sorted months into spans of consecutive months (one scan a span)."""
    spans: list[Period] = []
    for month in months:
        if spans and spans[-1].end + timedelta(days=1) == month.start:
            spans[-1] = replace(spans[-1], end=month.end)
        else:
            spans.append(month)
    return spans


async def closed_month_cells(
    session: AsyncSession,
    *,
    indicator: str,
    fingerprint: str,
    timezone: str,
    dimensions: Sequence[str],
    width: int = 2,
    months: Sequence[Period],
    scan: Scan,
    now: datetime,
    read: bool = True,
) -> list[Cell]:
    """The cells of closed months: read the stored ones (unless `read` is false), compute and
    store the rest.

    `scan` computes the cells of a period by month; missing months are scanned a span of
    consecutive months at a time.
    """
    keys = {month.start.strftime("%Y-%m"): month for month in months}
    stored = dict(
        (await session.execute(
            select(IndicatorMonth.month, IndicatorMonth.id).where(
                IndicatorMonth.indicator == indicator,
                IndicatorMonth.timezone == timezone,
                IndicatorMonth.fingerprint == fingerprint,
                IndicatorMonth.month.in_(list(keys)),  # type: ignore[attr-defined]
            )
        )).all()
    )
    cells = await _read(session, stored, dimensions, width) if read else []
    missing = [keys[key] for key in sorted(keys) if key not in stored]
    fresh = [cell for span in consecutive(missing) for cell in await scan(span)]
    for month in missing:
        key = month.start.strftime("%Y-%m")
        mine = [cell for cell in fresh if cell[0] == key]
        await _store(session, indicator, fingerprint, timezone, key, dimensions, mine, now)
        cells += mine
    return cells


def pack(measures: tuple[float, ...]) -> tuple[float, float]:
    """The two stored numbers of a cell's measures (see SHIFT)."""
    if len(measures) == 2:
        return measures[0], measures[1]
    numerator, answers, key, people = measures
    if max(numerator, answers, people) >= SHIFT:
        raise ValueError("a stored cell holds fewer than 2^24 of anything")
    return numerator + SHIFT * key, answers + SHIFT * people


def unpack(value: float, base: float, width: int) -> tuple[float, ...]:
    """The measures of a stored cell (inverse of `pack`)."""
    if width == 2:
        return value, base
    key, numerator = divmod(value, SHIFT)
    people, answers = divmod(base, SHIFT)
    return numerator, answers, key, people


async def _read(session: AsyncSession, stored: dict[str, int], dimensions: Sequence[str], width: int) -> list[Cell]:
    if not stored:
        return []
    month_of = {month_id: key for key, month_id in stored.items()}
    columns = [getattr(IndicatorCell, d) for d in dimensions]
    records = await session.execute(
        select(IndicatorCell.month_id, *columns, IndicatorCell.value, IndicatorCell.base).where(
            IndicatorCell.month_id.in_(list(month_of))  # type: ignore[attr-defined]
        )
    )
    return [
        (month_of[record[0]], tuple(record[1:-2]), unpack(float(record[-2]), float(record[-1]), width))
        for record in records
    ]


async def _store(
    session: AsyncSession,
    indicator: str,
    fingerprint: str,
    timezone: str,
    key: str,
    dimensions: Sequence[str],
    cells: Sequence[Cell],
    now: datetime,
) -> None:
    """Store one month; if another process stored it meanwhile, keep theirs (same figures)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        upsert(IndicatorMonth)
        .values(indicator=indicator, month=key, timezone=timezone, fingerprint=fingerprint, computed_at=now)
        .on_conflict_do_nothing()
        .returning(IndicatorMonth.id)
    )
    month_id = (await session.execute(statement)).scalar_one_or_none()
    if month_id is None or not cells:
        return
    await session.execute(
        insert(IndicatorCell),
        [
            {"month_id": month_id, **dict(zip(dimensions, values, strict=True)),
             **dict(zip(("value", "base"), pack(measures), strict=True))}
            for _, values, measures in cells
        ],
    )
