"""Indicator export at scale (issue 7): 100,000 users, 1,000,000 activity rows over a year.

Activity rows are broadcast deliveries, quiz answers, sign-ups, attendance and reports (see MIX).
Prints seconds for the full-year CSV and XLSX export — the first one, which computes and stores
the closed months, and every later one — the ratio to a naive version that loads rows through
the ORM and counts in Python, and the exporting process's peak memory at a tenth of the size and
at full size (flat means the work is done in the database).

Run: .venv/bin/python benchmarks/indicators.py [--users N] [--rows N]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

import bot  # noqa: E402,F401
from bot.exports import write_csv, write_xlsx  # noqa: E402
from content.loaders import load_regions  # noqa: E402
from db.engine import make_engine, make_sync_engine, session_factory, upgrade_database  # noqa: E402
from db.indicators import Period, compute  # noqa: E402
from db.models import Delivery, Event, EventSignup, QuizAnswer, QuizAttempt, Report, User  # noqa: E402

WITA = ZoneInfo("Asia/Makassar")
YEAR_START = datetime(2025, 12, 31, 16, 0, tzinfo=UTC)  # 1 January 2026, 00:00 WITA
PERIOD = Period(date(2026, 1, 1), date(2026, 12, 31), WITA)
NOW = datetime(2027, 1, 15, 2, 0, tzinfo=UTC)  # mid-January 2027: every month of 2026 has closed


# The 1,000,000 activity rows, by kind: a city where broadcasts dominate (every announcement
# reaches every subscriber), quizzes come next, and events and reports are bounded by places and
# by how often children are hurt. Quiz attempts are counted apart (about 1 per 7 answers).
MIX = {"deliveries": 0.70, "quiz_answers": 0.21, "signups": 0.05, "attendance": 0.035, "reports": 0.005}


def _moment(rng: random.Random) -> datetime:
    return YEAR_START + timedelta(seconds=rng.randrange(365 * 86400))


def _insert(engine: Any, table: Any, rows: Iterator[dict[str, Any]]) -> None:
    """Insert in batches of 50,000 in one transaction."""
    with engine.begin() as connection:
        for batch in iter(lambda: list(itertools.islice(rows, 50_000)), []):
            connection.execute(table.insert(), batch)


def generate(url: str, users: int, rows: int) -> dict[str, int]:
    """Users over the 34 kelurahan and the year, and `rows` activity rows of every kind."""
    upgrade_database(url)
    regions = [(k, kel) for k, kels in load_regions().kecamatan.items() for kel in kels]
    rng = random.Random(7)
    engine = make_sync_engine(url)
    counts = {kind: int(rows * share) for kind, share in MIX.items()}

    def user_rows() -> Iterator[dict[str, Any]]:
        for i in range(users):
            kecamatan, kelurahan = regions[i % len(regions)]
            moment, child = _moment(rng), rng.random() < 0.8
            yield {
                "telegram_id": 1_000_000 + i, "language": "id", "role": "child" if child else "parent",
                "age_band": rng.choice(("u10", "10_12", "13_15", "16_17")) if child else "adult",
                "kecamatan": kecamatan, "kelurahan": kelurahan,
                "gender": rng.choice(("female", "male", "unspecified")), "privacy_accepted_at": moment,
                "consent_status": "given" if child else "not_required",
                "consent_method": "guardian" if child else "self", "subscribed": True,
                "created_at": moment, "last_seen_at": moment + timedelta(days=rng.randrange(30)),
            }

    def deliveries() -> Iterator[dict[str, Any]]:
        for i in range(counts["deliveries"]):
            moment, sent = _moment(rng), rng.random() < 0.97
            yield {
                "kind": "broadcast", "source_id": 1 + i // 20_000, "user_id": 1 + rng.randrange(users),
                "chat_id": 0, "text": "x", "status": "sent" if sent else "failed", "attempts": 1,
                "not_before": moment, "created_at": moment, "sent_at": moment if sent else None,
            }

    attempts = counts["quiz_answers"] // 7

    def quiz_attempts() -> Iterator[dict[str, Any]]:
        for _ in range(attempts):
            moment = _moment(rng)
            yield {"user_id": 1 + rng.randrange(users), "topic": "mixed", "question_ids": "q", "total": 7,
                   "score": 4, "status": "completed", "started_at": moment,
                   "completed_at": moment + timedelta(minutes=3)}

    def quiz_answers() -> Iterator[dict[str, Any]]:
        for i in range(counts["quiz_answers"]):
            yield {"attempt_id": 1 + i % attempts, "question_id": f"q{i % 7}", "option": 0,
                   "correct": rng.random() < 0.7, "answered_at": _moment(rng)}

    events = 400

    def event_rows() -> Iterator[dict[str, Any]]:
        for i in range(events):
            kecamatan, kelurahan = regions[i % len(regions)]
            moment = _moment(rng)
            yield {"title": f"Acara {i}", "description": "-", "starts_at": moment,
                   "ends_at": moment + timedelta(hours=2), "venue": "Aula", "kecamatan": kecamatan,
                   "kelurahan": kelurahan, "capacity": 1000, "age_bands": "13_15", "signup_deadline": moment,
                   "created_by": 1, "status": "active", "checkin_code": f"C{i:06d}",
                   "created_at": moment - timedelta(days=14), "updated_at": moment}

    def signups() -> Iterator[dict[str, Any]]:
        for i in range(counts["signups"]):
            moment = _moment(rng)
            attended = i < counts["attendance"]
            yield {"event_id": 1 + i % events, "user_id": 1 + (i * 7919) % users, "status": "confirmed",
                   "position": i, "created_at": moment, "confirmed_at": moment,
                   "attended_at": moment + timedelta(days=7) if attended else None}

    def reports() -> Iterator[dict[str, Any]]:
        for i in range(counts["reports"]):
            kecamatan, kelurahan = regions[rng.randrange(len(regions))]
            moment = _moment(rng)
            closed = rng.random() < 0.8
            yield {"code_hash": f"{i:064x}", "category": rng.choice(("bullying", "online", "physical")),
                   "reporter_kind": "child", "kecamatan": kecamatan, "kelurahan": kelurahan, "place": "school",
                   "happened": "week", "description": "-", "language": "id",
                   "status": "closed" if closed else "new", "outcome": "resolved" if closed else None,
                   "created_at": moment, "first_response_seconds": 3600 * rng.randrange(1, 72),
                   "closed_at": moment + timedelta(days=5) if closed else None}

    for table, source in ((User, user_rows()), (Delivery, deliveries()), (QuizAttempt, quiz_attempts()),
                          (QuizAnswer, quiz_answers()), (Event, event_rows()), (EventSignup, signups()),
                          (Report, reports())):
        _insert(engine, table.__table__, source)  # type: ignore[attr-defined]
    engine.dispose()
    return counts


SECRET = "benchmark-secret-key-that-is-long-enough-0123456789"


async def export(url: str, folder: Path, fmt: str) -> float:
    """The production path (SQL aggregation with cell keys, closed months stored, protected
    publishing at min-cell 5): seconds for one export."""
    started = time.perf_counter()
    engine = make_engine(url)
    async with session_factory(engine)() as session:
        rows = await compute(session, period=PERIOD, now=NOW, secret=SECRET)
    await engine.dispose()
    (write_csv if fmt == "csv" else write_xlsx)(rows, folder / f"year.{fmt}", min_cell=5)
    return time.perf_counter() - started


async def accuracy(url: str) -> dict[str, float]:
    """The cost of protection: mean |exact − published| over published counts, and shares."""
    from db import disclosure

    engine = make_engine(url)
    async with session_factory(engine)() as session:
        rows = await compute(session, period=PERIOD, now=NOW, secret=SECRET)
    await engine.dispose()
    error, published = disclosure.mean_absolute_error(rows, min_cell=5)
    shown = disclosure.publish_all(rows, min_cell=5)
    counts = [(row, figure) for row, figure in zip(rows, shown, strict=True) if row.is_count and row.value > 0]
    hidden = sum(1 for _, figure in counts if figure.number is None)
    exact = sum(1 for row, figure in counts if figure.number == row.value)
    totals = [abs(row.value - (figure.number or 0)) / row.value for row, figure in counts
              if figure.number is not None and all(v in ("ALL", "") for v in row.values.values())]
    return {"mae": error, "published": published, "hidden": hidden, "nonzero": len(counts),
            "exact_share": exact / max(1, published), "total_rel": max(totals, default=0.0)}


async def naive(url: str) -> int:
    """Load every row through the ORM and count in Python by month, kecamatan and kelurahan.

    Fewer dimensions than the real export, so the comparison flatters the naive version.
    """
    engine = make_engine(url)
    counts: Counter[tuple[str, ...]] = Counter()

    def count(code: str, moment: datetime | None, user: User | None) -> None:
        if user is not None and moment is not None and PERIOD.utc_start <= moment < PERIOD.utc_end:
            month = moment.astimezone(WITA).strftime("%Y-%m")
            counts[(code, month, user.kecamatan or "", user.kelurahan or "")] += 1

    async with session_factory(engine)() as session:
        users = (await session.execute(select(User))).scalars().all()
        by_id = {user.id: user for user in users}
        for user in users:
            count("users_registered", user.created_at, user)
            count("users_active", user.last_seen_at, user)
        attempts = (await session.execute(select(QuizAttempt))).scalars().all()
        attempt_user = {attempt.id: by_id.get(attempt.user_id) for attempt in attempts}
        for attempt in attempts:
            count("quiz_completed", attempt.completed_at, by_id.get(attempt.user_id))
        for model, fields in ((Delivery, ("sent_at",)), (QuizAnswer, ("answered_at",)),
                              (EventSignup, ("created_at", "attended_at"))):
            async for (row,) in await session.stream(select(model)):
                owner = attempt_user.get(row.attempt_id) if model is QuizAnswer else by_id.get(row.user_id)
                for field in fields:
                    count(f"{model.__tablename__}.{field}", getattr(row, field), owner)
        for report in (await session.execute(select(Report))).scalars():
            count("reports_received", report.created_at, User(kecamatan=report.kecamatan, kelurahan=report.kelurahan))
    await engine.dispose()
    return len(counts)


def peak_mib() -> float:
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(url: str) -> None:
    """In a fresh process (so peak memory is the export's): cold CSV, warm CSV, warm XLSX."""
    with tempfile.TemporaryDirectory() as tmp:
        cold = asyncio.run(export(url, Path(tmp), "csv"))
        warm = asyncio.run(export(url, Path(tmp), "csv"))
        xlsx = asyncio.run(export(url, Path(tmp), "xlsx"))
    peak = peak_mib()
    print(json.dumps({"cold": cold, "warm": warm, "xlsx": xlsx, "peak_mib": peak} | asyncio.run(accuracy(url))))


def main() -> None:
    """Generate two sizes, time the exports in a fresh process each, compare with the naive way."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for users, rows in ((args.users // 10, args.rows // 10), (args.users, args.rows)):
            url = f"sqlite:///{tmp}/bench-{rows}.db"
            started = time.perf_counter()
            counts = generate(url, users, rows)
            print(f"\n{users:,} users and {rows:,} activity rows ({', '.join(f'{k} {v:,}' for k, v in counts.items())})"
                  f", generated in {time.perf_counter() - started:.0f} s")
            child = subprocess.run([sys.executable, __file__, "--measure", url], capture_output=True, text=True,
                                   check=True)
            figures = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"  full-year CSV, first export (computes and stores the 12 closed months): {figures['cold']:.2f} s")
            print(f"  full-year CSV, every later export:  {figures['warm']:.2f} s")
            print(f"  full-year XLSX, every later export: {figures['xlsx']:.2f} s")
            print(f"  peak memory of the exporting process: {figures['peak_mib']:.0f} MiB")
            print(f"  protection (min-cell 5): mean |exact - published| {figures['mae']:.2f} over "
                  f"{figures['published']:,.0f} published counts ({figures['exact_share']:.0%} exact); "
                  f"{figures['hidden']:,.0f} of {figures['nonzero']:,.0f} non-zero counts shown as <5; "
                  f"largest relative change of a total {figures['total_rel']:.2%}")
        if not args.skip_naive:
            started = time.perf_counter()
            asyncio.run(naive(url))
            naive_seconds = time.perf_counter() - started
            print(f"\nnaive ORM version (rows loaded and counted in Python): {naive_seconds:.1f} s; "
                  f"the export is {naive_seconds / figures['cold']:.0f}x faster on first use and "
                  f"{naive_seconds / figures['warm']:.0f}x faster later")


if __name__ == "__main__":
    main()
