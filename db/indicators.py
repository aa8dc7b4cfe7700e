"""Participation indicators for the KLA evaluation, computed by SQL aggregation (SPEC §8).

Each indicator is one query over one table (joined to users for the dimensions), grouped by
month (in WITA) and by a few grouping sets — the total, kecamatan, kecamatan × kelurahan, age
band, gender and role — which stand in for ROLLUP (SQLite has none). A dimension that does not
apply is empty; a total over a dimension is `ALL`. Nothing is loaded row by row into Python.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement, Select

from db.disclosure import KEYS, RecordKeys, csv_rows, record_keys
from db.indicator_cache import Cell, closed_month_cells, consecutive, is_closed
from db.models import (
    ConsentStatus,
    Delivery,
    Event,
    EventSignup,
    EventStatus,
    QuizAnswer,
    QuizAttempt,
    QuizStatus,
    Report,
    ReportStatus,
    SignupStatus,
    User,
)

ALL = "ALL"
DIMENSIONS = ("kecamatan", "kelurahan", "age_band", "gender", "role", "category")
HEADER = ("indicator", "period_start", "period_end", *DIMENSIONS, "value")
# (dimensions grouped by; the others are ALL). Never kelurahan × age × gender together:
# such cells would point at single children.
GROUPING_SETS: tuple[tuple[str, ...], ...] = (
    (),
    ("kecamatan",),
    ("kecamatan", "kelurahan"),
    ("age_band",),
    ("gender",),
    ("role",),
    ("category",),
)


@dataclass(frozen=True)
class Row:
    """One figure of the long format."""

    indicator: str
    period_start: date
    period_end: date
    values: dict[str, str]  # dimension -> value, ALL, or "" when not applicable
    value: float
    is_count: bool = True
    base: float | None = None  # for a rate: how many answers it was computed from
    key: int | None = None  # the cell key (db/disclosure.py); None when computed without SECRET_KEY
    people: float | None = None  # for a rate or a median: how many people (or reports) stand behind it

    @property
    def kind(self) -> str:
        """`count`, `rate` or `median`."""
        if self.is_count:
            return "count"
        return "median" if self.indicator.endswith("_median") else "rate"

    def as_csv(self) -> list[str]:
        """The row in HEADER order with its exact value (publish through db/disclosure.py)."""
        value = str(int(self.value)) if self.is_count else f"{self.value:.2f}"
        return [self.indicator, self.period_start.isoformat(), self.period_end.isoformat(),
                *(self.values.get(d, "") for d in DIMENSIONS), value]


@dataclass(frozen=True)
class Period:
    """Dates in WITA, both ends included, with their UTC bounds."""

    start: date
    end: date
    tz: ZoneInfo

    @property
    def utc_start(self) -> datetime:
        """The first instant of `start` in the zone, in UTC."""
        return datetime.combine(self.start, time(0), self.tz).astimezone(UTC)

    @property
    def utc_end(self) -> datetime:
        """The first instant after `end` in the zone, in UTC."""
        return datetime.combine(self.end + timedelta(days=1), time(0), self.tz).astimezone(UTC)

    def months(self) -> Iterator[Period]:
        """The calendar months the period touches, clipped to it."""
        first = self.start.replace(day=1)
        while first <= self.end:
            following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
            yield Period(max(first, self.start), min(following - timedelta(days=1), self.end), self.tz)
            first = following


FINE = ("kecamatan", "kelurahan", "age_band", "gender", "role", "category")


@dataclass(frozen=True)
class Indicator:
    """An indicator: code, plain definition, the KLA cluster it serves, how to count it.

    `source` selects the counted rows of a period (joined to users for the dimensions) and
    `timestamp` is the column that places each row in a month. A `distinct` indicator counts
    people, so its whole-period figures cannot be sums of its months and get a query of their own.
    """

    code: str
    definition: str
    cluster: str
    group: str  # the XLSX sheet it belongs to
    count: Callable[[], ColumnElement[Any]]
    source: Callable[[Period], Select[Any]]
    timestamp: Callable[[], Any]
    dimensions: tuple[str, ...] = ("kecamatan", "kelurahan", "age_band", "gender", "role")
    distinct: bool = False
    denominator: Callable[[], ColumnElement[Any]] | None = None  # set for rates (percent)
    columns: Callable[[], dict[str, Any]] = lambda: {d: getattr(User, d) for d in FINE[:5]}  # noqa: E731
    median: bool = False  # computed by `_response_medians`, not by the generic scan
    record: Callable[[], Any] = lambda: User.id  # noqa: E731  # the counted record's id: its key
    people: Callable[[], ColumnElement[Any]] | None = None  # for rates: the people behind a cell


def _report_columns() -> dict[str, Any]:
    return {"kecamatan": Report.kecamatan, "kelurahan": Report.kelurahan, "category": Report.category}


REPORT_DIMENSIONS = ("kecamatan", "kelurahan", "category")


def _registered() -> ColumnElement[bool]:
    return and_(
        User.privacy_accepted_at.is_not(None),  # type: ignore[union-attr]
        User.role.is_not(None),  # type: ignore[union-attr]
        User.consent_status.in_([ConsentStatus.GIVEN, ConsentStatus.NOT_REQUIRED]),  # type: ignore[union-attr]
    )


def _between(column: Any, period: Period) -> ColumnElement[bool]:
    # Through the last microsecond rather than before the end: a time kept to the day or the
    # month floors its bound values too (db/grain.py), and the end of a part of a month floored
    # to its month would be the month's start; its last moment floors to the right one.
    return and_(column >= period.utc_start, column <= period.utc_end - _LAST)


_LAST = timedelta(microseconds=1)


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "users_registered",
        "Accounts created in the period that completed registration (children only with a "
        "guardian's consent). The bot keeps only the month an account was made, so a period that "
        "cuts a month counts that whole month's newcomers.",
        "Kelembagaan / I Hak Sipil dan Kebebasan (indicator 6, participation)",
        "participation",
        lambda: func.count(User.id),
        lambda p: select(User).where(_registered(), _between(User.created_at, p)),
        lambda: User.created_at,
    ),
    Indicator(
        "users_active",
        "Registered users whose last activity falls in the period (the bot keeps only the day of "
        "the last activity, so earlier months are counted by later activity).",
        "Kelembagaan (indicator 6, participation)",
        "participation",
        lambda: func.count(User.id),
        lambda p: select(User).where(_registered(), _between(User.last_seen_at, p)),
        lambda: User.last_seen_at,
    ),
    Indicator(
        "broadcast_delivered",
        "Broadcast messages delivered to registered users in the period.",
        "I Hak Sipil dan Kebebasan (information for children, indicator 5 ILA as supporting evidence)",
        "broadcasts",
        lambda: func.count(Delivery.id),
        lambda p: select(Delivery).join(User, User.id == Delivery.user_id).where(
            Delivery.kind == "broadcast", Delivery.status == "sent", _between(Delivery.sent_at, p)
        ),
        lambda: Delivery.sent_at,
        record=lambda: Delivery.id,
    ),
    Indicator(
        "broadcast_failed",
        "Broadcast messages that could not be delivered in the period (failed, or the user "
        "blocked the bot).",
        "I Hak Sipil dan Kebebasan (information for children, indicator 5 ILA as supporting evidence)",
        "broadcasts",
        lambda: func.count(Delivery.id),
        lambda p: select(Delivery).join(User, User.id == Delivery.user_id).where(
            Delivery.kind == "broadcast", Delivery.status.in_(["failed", "blocked"]),  # type: ignore[attr-defined]
            _between(Delivery.created_at, p),
        ),
        lambda: Delivery.created_at,
        record=lambda: Delivery.id,
    ),
    Indicator(
        "quiz_participants",
        "Registered people who started at least one child-rights quiz in the period (each once).",
        "I Hak Sipil dan Kebebasan (information for children; supports indicator 5, ILA)",
        "quizzes",
        lambda: func.count(func.distinct(QuizAttempt.user_id)),
        lambda p: select(QuizAttempt).join(User, User.id == QuizAttempt.user_id).where(
            _between(QuizAttempt.started_at, p)
        ),
        lambda: QuizAttempt.started_at,
        distinct=True,
        record=lambda: QuizAttempt.user_id,
    ),
    Indicator(
        "quiz_completed",
        "Quizzes played to the end in the period.",
        "I Hak Sipil dan Kebebasan (supports indicator 5, ILA)",
        "quizzes",
        lambda: func.count(QuizAttempt.id),
        lambda p: select(QuizAttempt).join(User, User.id == QuizAttempt.user_id).where(
            QuizAttempt.status == QuizStatus.COMPLETED, _between(QuizAttempt.completed_at, p)
        ),
        lambda: QuizAttempt.completed_at,
        record=lambda: QuizAttempt.id,
    ),
    Indicator(
        "quiz_correct_rate",
        "Share of quiz answers given in the period that were right, in percent (hidden when "
        "computed from fewer answers than the small-cell limit).",
        "I Hak Sipil dan Kebebasan (supports indicator 5, ILA)",
        "quizzes",
        lambda: func.sum(case((QuizAnswer.correct.is_(True), 1), else_=0)),  # type: ignore[attr-defined]
        lambda p: select(QuizAnswer).join(QuizAttempt, QuizAttempt.id == QuizAnswer.attempt_id)
        .join(User, User.id == QuizAttempt.user_id).where(_between(QuizAnswer.answered_at, p)),
        lambda: QuizAnswer.answered_at,
        denominator=lambda: func.count(QuizAnswer.id),
        record=lambda: QuizAnswer.id,
        people=lambda: func.count(func.distinct(QuizAttempt.user_id)),
    ),
    Indicator(
        "reports_received",
        "Anonymous reports of bullying or violence received in the period, by where it happened "
        "and category (pranks included; see reports_not_genuine).",
        "V Perlindungan Khusus (indicator 21a: referral mechanism, Forum Anak's role in prevention)",
        "reports",
        lambda: func.count(Report.id),
        lambda p: select(Report).where(_between(Report.created_at, p)),
        lambda: Report.created_at,
        dimensions=REPORT_DIMENSIONS,
        columns=_report_columns,
        record=lambda: Report.id,
    ),
    Indicator(
        "reports_closed",
        "Reports closed in the period as resolved or referred (not counting 'not genuine').",
        "V Perlindungan Khusus (indicator 21a)",
        "reports",
        lambda: func.count(Report.id),
        lambda p: select(Report).where(
            Report.status == ReportStatus.CLOSED, Report.outcome != "not_genuine", _between(Report.closed_at, p)
        ),
        lambda: Report.closed_at,
        dimensions=REPORT_DIMENSIONS,
        columns=_report_columns,
        record=lambda: Report.id,
    ),
    Indicator(
        "reports_not_genuine",
        "Reports closed in the period as not genuine (pranks), counted apart from real cases.",
        "V Perlindungan Khusus (indicator 21a)",
        "reports",
        lambda: func.count(Report.id),
        lambda p: select(Report).where(
            Report.status == ReportStatus.CLOSED, Report.outcome == "not_genuine", _between(Report.closed_at, p)
        ),
        lambda: Report.closed_at,
        dimensions=REPORT_DIMENSIONS,
        columns=_report_columns,
        record=lambda: Report.id,
    ),
    Indicator(
        "report_first_response_hours_median",
        "Median hours from a report to the first staff action on it, for reports received in the "
        "period (by kecamatan and by category).",
        "V Perlindungan Khusus (indicator 21a: a working referral mechanism)",
        "reports",
        lambda: func.count(Report.id),
        lambda p: select(Report),
        lambda: Report.created_at,
        dimensions=REPORT_DIMENSIONS,
        columns=_report_columns,
        median=True,
        record=lambda: Report.id,
    ),
    Indicator(
        "event_signups",
        "Sign-ups for Forum Anak events made in the period and not cancelled (confirmed or on "
        "the waitlist).",
        "IV Pendidikan, Pemanfaatan Waktu Luang dan Kegiatan Budaya; Kelembagaan indicator 6",
        "events",
        lambda: func.count(EventSignup.id),
        lambda p: select(EventSignup).join(User, User.id == EventSignup.user_id).where(
            EventSignup.status != SignupStatus.CANCELLED, _between(EventSignup.created_at, p)
        ),
        lambda: EventSignup.created_at,
        record=lambda: EventSignup.id,
    ),
    Indicator(
        "event_attendance",
        "Check-ins at Forum Anak events in the period (one per person per event).",
        "IV Pendidikan, Pemanfaatan Waktu Luang dan Kegiatan Budaya; Kelembagaan indicator 6",
        "events",
        lambda: func.count(EventSignup.id),
        lambda p: select(EventSignup).join(User, User.id == EventSignup.user_id).where(
            EventSignup.attended_at.is_not(None), _between(EventSignup.attended_at, p)  # type: ignore[union-attr]
        ),
        lambda: EventSignup.attended_at,
        record=lambda: EventSignup.id,
    ),
    Indicator(
        "events_held",
        "Forum Anak events that started in the period and were not cancelled, by their place.",
        "Kelembagaan indicator 6 (Forum Anak at kota, kecamatan and kelurahan level)",
        "events",
        lambda: func.count(Event.id),
        lambda p: select(Event).where(Event.status == EventStatus.ACTIVE, _between(Event.starts_at, p)),
        lambda: Event.starts_at,
        dimensions=("kecamatan", "kelurahan"),
        columns=lambda: {"kecamatan": Event.kecamatan, "kelurahan": Event.kelurahan},
        record=lambda: Event.id,
    ),
)


def _month_key(column: Any, dialect: str, tz: ZoneInfo, moment: datetime) -> Any:
    """The calendar month of a UTC timestamp in the zone, as 'YYYY-MM', computed in SQL."""
    if dialect == "postgresql":
        return func.to_char(func.timezone(tz.key, column), "YYYY-MM")
    # SQLite has no time zones: shift by the zone's offset (WITA has no daylight saving).
    offset = moment.astimezone(tz).utcoffset() or timedelta(0)
    return func.strftime("%Y-%m", func.datetime(column, f"{int(offset.total_seconds() // 60):+d} minutes"))


def _width(indicator: Indicator) -> int:
    """How many measures a cell of the indicator carries (see `_cells`)."""
    return 4 if indicator.denominator is not None else 2


async def _cells(
    session: AsyncSession, indicator: Indicator, period: Period, *, by_month: bool, keys: RecordKeys | None
) -> list[Cell]:
    """One scan: measures at the finest grain (month, if asked, and every dimension).

    A count's cell carries (count, cell key); a rate's (numerator, answers, cell key, people).
    The cell key is the sum of the records' keys (db/disclosure.py), 0 without record keys.
    """
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    columns = indicator.columns()
    dims = [columns[d].label(d) for d in FINE if d in indicator.dimensions]
    group = list(dims)
    if by_month:
        group.insert(0, _month_key(indicator.timestamp(), dialect, period.tz, period.utc_start).label("month"))
    measures = [indicator.count().label("value")]
    if indicator.denominator is not None:
        measures.append(indicator.denominator().label("base"))
    if indicator.people is not None:
        measures.append(indicator.people().label("people"))
    if keys is not None:
        wide = keys.sql(indicator.record())
        # A person counted once is keyed once; two people with the same wide key are 1 in 2^31.
        measures.append((func.sum(func.distinct(wide)) if indicator.distinct else func.sum(wide)).label("key"))
    statement = indicator.source(period).with_only_columns(*group, *measures).group_by(*group)
    result: list[Cell] = []
    for record in (await session.execute(statement)).mappings():
        values = tuple("-" if record[d] is None else str(record[d]) for d in FINE if d in indicator.dimensions)
        key = float(int(record["key"] or 0) % KEYS) if keys is not None else 0.0
        value = float(record["value"] or 0)
        if indicator.denominator is not None:
            measured: tuple[float, ...] = (value, float(record["base"] or 0), key, float(record["people"] or 0))
        else:
            measured = (value, key)
        result.append((str(record["month"]) if by_month else "", values, measured))
    return result


async def compute(
    session: AsyncSession,
    *,
    period: Period,
    indicators: Sequence[Indicator] = INDICATORS,
    now: datetime | None = None,
    secret: str | None = None,
) -> list[Row]:
    """Every indicator for the whole period and for each month in it, with ALL totals.

    The database aggregates to the finest grain, one scan per indicator and span of months; the
    grouping sets (ALL totals) are then sums over those few thousand cells, never over rows. With
    `now`, closed months are read from (or first written to) the store of db/indicator_cache.py.
    With `secret` (SECRET_KEY) every cell carries its cell key, which protected publishing
    (db/disclosure.py) needs; without it the rows can be published exactly only.
    """
    keys = record_keys(secret) if secret else None
    keyed = keys is not None
    months = list(period.months())
    rows: list[Row] = []
    for indicator in indicators:
        if indicator.median:
            continue
        monthly = await _monthly_cells(session, indicator, months, now, keys)
        by_month: dict[str, list[Cell]] = {}
        for cell in monthly:
            by_month.setdefault(cell[0], []).append(cell)
        month_rows: list[Row] = []
        if len(months) > 1:
            for month in months:
                month_rows += _rollup(indicator, month, by_month.get(month.start.strftime("%Y-%m"), []), keyed=keyed)
        if indicator.distinct:
            whole = await _cells(session, indicator, period, by_month=False, keys=keys)
        else:
            whole = _collapse(monthly)
        whole_rows = _rollup(indicator, period, whole, keyed=keyed)
        if indicator.people is not None and month_rows:
            whole_rows = _people_at_least(whole_rows, month_rows)
        rows += whole_rows + month_rows
    if any(indicator.median for indicator in indicators):
        rows += await _response_medians(session, period, months if len(months) > 1 else [])
    return rows


def _people_at_least(whole: Sequence[Row], months: Sequence[Row]) -> list[Row]:
    """Whole-period people of a rate: the most in any one month (a sum would count a child twice).

    A lower bound, so a rate is never published with fewer people behind it than the threshold.
    """
    most: dict[tuple[str, ...], float] = {}
    for row in months:
        labels = tuple(row.values[d] for d in DIMENSIONS)
        most[labels] = max(most.get(labels, 0.0), row.people or 0.0)
    return [replace(row, people=most.get(tuple(row.values[d] for d in DIMENSIONS), 0.0)) for row in whole]


async def _monthly_cells(
    session: AsyncSession, indicator: Indicator, months: Sequence[Period], now: datetime | None,
    keys: RecordKeys | None,
) -> list[Cell]:
    """Cells by month: closed months from the store, the others scanned from the rows."""
    closed = [month for month in months if is_closed(month, now=now)]
    cells = await _closed_cells(session, indicator, closed, now, keys) if closed and now is not None else []
    for span in consecutive([month for month in months if month not in closed]):
        cells += await _cells(session, indicator, span, by_month=True, keys=keys)
    return cells


async def store_closed_months(
    scope: Callable[[], AbstractAsyncContextManager[AsyncSession]],
    *,
    period: Period,
    now: datetime,
    secret: str | None = None,
) -> None:
    """Store the closed months of a period that are not stored yet (before an export, and hourly).

    One transaction per indicator: on SQLite a writer then waits for one short insert at a time,
    never for the scans of a whole year. Months are stored with their cell keys under `secret`.
    """
    keys = record_keys(secret) if secret else None
    closed = [month for month in period.months() if is_closed(month, now=now)]
    for indicator in INDICATORS:
        if closed and not indicator.median:
            async with scope() as session:
                await _closed_cells(session, indicator, closed, now, keys, read=False)


def recent_months(now: datetime, tz: ZoneInfo, count: int = 13) -> Period:
    """The last `count` calendar months up to today (the hourly job's span)."""
    first = now.astimezone(tz).date().replace(day=1)
    for _ in range(count - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    return Period(first, now.astimezone(tz).date(), tz)


async def _closed_cells(
    session: AsyncSession, indicator: Indicator, closed: Sequence[Period], now: datetime, keys: RecordKeys | None,
    *, read: bool = True,
) -> list[Cell]:
    return await closed_month_cells(
        session,
        indicator=indicator.code,
        fingerprint=fingerprint(indicator, keyed=keys is not None),
        timezone=closed[0].tz.key,
        dimensions=[d for d in FINE if d in indicator.dimensions],
        width=_width(indicator),
        months=closed,
        scan=lambda span: _cells(session, indicator, span, by_month=True, keys=keys),
        now=now,
        read=read,
    )


def fingerprint(indicator: Indicator, *, keyed: bool = True) -> str:
    """A hash of the indicator's query: stored months of an older definition are not reused.

    Months stored with cell keys and months stored without them (no SECRET_KEY) are kept apart.
    """
    sample = Period(date(2000, 1, 1), date(2000, 1, 31), ZoneInfo("UTC"))
    statement = indicator.source(sample).with_only_columns(indicator.count(), *indicator.columns().values())
    text = f"{indicator.code}|{indicator.dimensions}|{indicator.timestamp()}|{statement}"
    if indicator.denominator is not None:
        text += f"|{indicator.denominator()}"
    if indicator.people is not None:
        text += f"|{indicator.people()}"
    text += f"|{indicator.record()}|{'cell-key/v1' if keyed else 'plain/v2'}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


async def _response_medians(session: AsyncSession, period: Period, months: Sequence[Period]) -> list[Row]:
    """`report_first_response_hours_median`: the median hours from a report to staff's first action.

    A median is not a sum of parts, so it is taken over the per-report durations of each cell;
    reports are few (hundreds a year), and only their durations and places are read. Each row
    says how many reports stand behind it (`people`): the disclosure rule needs it.
    """
    # The duration is stored, not its ends: the arrival's precise time is erased once staff act
    # (db/grain.py). Reports fall into months by their arrival hour.
    statement = select(Report.created_at, Report.first_response_seconds, Report.kecamatan, Report.category).where(
        Report.first_response_seconds.is_not(None), _between(Report.created_at, period)  # type: ignore[union-attr]
    )
    records = (await session.execute(statement)).all()
    rows: list[Row] = []
    for part in [period, *months]:
        start, end = part.utc_start, part.utc_end
        inside = [r for r in records if start <= r.created_at < end]
        groups: dict[tuple[str, str], list[float]] = {(ALL, ALL): []}
        for record in inside:
            hours = record.first_response_seconds / 3600
            for key in ((ALL, ALL), (record.kecamatan or "-", ALL), (ALL, record.category)):
                groups.setdefault(key, []).append(hours)
        for (kecamatan, category), values in sorted(groups.items()):
            labels = {d: "" for d in DIMENSIONS} | {"kecamatan": kecamatan, "kelurahan": ALL, "category": category}
            rows.append(Row("report_first_response_hours_median", part.start, part.end, labels,
                            statistics.median(values) if values else 0.0, is_count=False, base=len(values),
                            people=len(values)))
    return rows


def _collapse(cells: Sequence[Cell]) -> list[Cell]:
    """Sum cells of several months into cells of the whole period (same dimension values)."""
    sums: dict[tuple[str, ...], list[float]] = {}
    for _, values, measures in cells:
        total = sums.setdefault(values, [0.0] * len(measures))
        for i, measure in enumerate(measures):
            total[i] += measure
    return [("", values, tuple(total)) for values, total in sums.items()]


def _picker(positions: Sequence[int]) -> Callable[[tuple[str, ...]], tuple[str, ...]]:
    """A fast function taking the values at `positions` out of a cell's dimension values, as a tuple."""
    if not positions:
        return lambda values: ()
    if len(positions) == 1:
        only = positions[0]
        return lambda values: (values[only],)
    return itemgetter(*positions)  # type: ignore[return-value]


def _rollup(indicator: Indicator, period: Period, cells: Sequence[Cell], *, keyed: bool) -> list[Row]:
    """Rows of every grouping set; a total's cell key is the sum of its records' keys (mod KEYS)."""
    present = [d for d in FINE if d in indicator.dimensions]
    width = _width(indicator)
    rows = []
    for grouping in GROUPING_SETS:
        if any(d not in indicator.dimensions for d in grouping):
            continue
        pick = _picker([present.index(d) for d in grouping])
        sums: dict[tuple[str, ...], list[float]] = {}
        for _, values, measures in cells:
            total = sums.setdefault(pick(values), [0.0] * width)
            for i, measure in enumerate(measures):
                total[i] += measure
        if not grouping:
            sums.setdefault((), [0.0] * width)  # the total is written even when it is zero
        for group in sorted(sums):
            labels = {d: (ALL if d in indicator.dimensions else "") for d in DIMENSIONS}
            labels.update(zip(grouping, group, strict=True))
            measures = sums[group]
            if indicator.denominator is None:
                value, key = measures
                rows.append(Row(indicator.code, period.start, period.end, labels, value, key=int(key) % KEYS if keyed else None))
            else:  # a rate: sums of numerator and denominator, divided at the end
                value, base, key, people = measures
                rate = 100.0 * value / base if base else 0.0
                rows.append(Row(indicator.code, period.start, period.end, labels, rate, is_count=False, base=base,
                                key=int(key) % KEYS if keyed else None, people=people))
    return rows


def suppress_small_cells(rows: Sequence[Row], min_cell: int) -> list[list[str]]:
    """CSV rows as published (db/disclosure.py): the one path every output takes."""
    return csv_rows(rows, min_cell=min_cell)
