"""Indicator export at scale (issue 7): 100,000 users, 1,000,000 activity rows over a year.

Prints seconds for the full-year CSV and XLSX export, the ratio to a naive version that loads
rows through the ORM and counts in Python, and peak memory at two data sizes (flat means the
work is done in the database). Activity rows are broadcast deliveries for now; quiz answers,
sign-ups, attendance and reports join as their indicators land.

Run: .venv/bin/python benchmarks/indicators.py [--users N] [--rows N]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

import bot  # noqa: E402,F401
from bot.exports import write_csv, write_xlsx  # noqa: E402
from content.loaders import load_regions  # noqa: E402
from db.engine import make_engine, make_sync_engine, session_factory, upgrade_database  # noqa: E402
from db.indicators import Period, compute  # noqa: E402
from db.models import Delivery, User  # noqa: E402

WITA = ZoneInfo("Asia/Makassar")
YEAR_START = datetime(2025, 12, 31, 16, 0, tzinfo=UTC)  # 1 January 2026, 00:00 WITA
PERIOD = Period(date(2026, 1, 1), date(2026, 12, 31), WITA)


def generate(url: str, users: int, rows: int) -> None:
    """Users spread over the 34 kelurahan and the year; deliveries spread over the year."""
    upgrade_database(url)
    regions = [(k, kel) for k, kels in load_regions().kecamatan.items() for kel in kels]
    rng = random.Random(7)
    engine = make_sync_engine(url)
    user_rows = []
    for i in range(users):
        kecamatan, kelurahan = regions[i % len(regions)]
        moment = YEAR_START + timedelta(seconds=rng.randrange(365 * 86400))
        child = rng.random() < 0.8
        user_rows.append({
            "telegram_id": 1_000_000 + i, "language": "id", "role": "child" if child else "parent",
            "age_band": rng.choice(("u10", "10_12", "13_15", "16_17")) if child else "adult",
            "kecamatan": kecamatan, "kelurahan": kelurahan, "gender": rng.choice(("female", "male", "unspecified")),
            "privacy_accepted_at": moment, "consent_status": "given" if child else "not_required",
            "consent_method": "guardian" if child else "self", "subscribed": True,
            "created_at": moment, "last_seen_at": moment + timedelta(days=rng.randrange(30)),
        })
    with engine.begin() as connection:
        connection.execute(User.__table__.insert(), user_rows)  # type: ignore[attr-defined]
    batch = []
    with engine.begin() as connection:
        for i in range(rows):
            moment = YEAR_START + timedelta(seconds=rng.randrange(365 * 86400))
            sent = rng.random() < 0.97
            batch.append({
                "kind": "broadcast", "source_id": 1 + i // 20_000, "user_id": 1 + rng.randrange(users),
                "chat_id": 0, "text": "x", "status": "sent" if sent else "failed", "attempts": 1,
                "not_before": moment, "created_at": moment, "sent_at": moment if sent else None,
            })
            if len(batch) == 50_000:
                connection.execute(Delivery.__table__.insert(), batch)  # type: ignore[attr-defined]
                batch = []
        if batch:
            connection.execute(Delivery.__table__.insert(), batch)  # type: ignore[attr-defined]
    engine.dispose()


async def fast(url: str) -> list:  # type: ignore[type-arg]
    """The production path: SQL aggregation."""
    engine = make_engine(url)
    async with session_factory(engine)() as session:
        rows = await compute(session, period=PERIOD)
    await engine.dispose()
    return rows


async def naive(url: str) -> int:
    """Load every row through the ORM and count in Python (what the benchmark compares against)."""
    engine = make_engine(url)
    counts: Counter[tuple[str, ...]] = Counter()
    async with session_factory(engine)() as session:
        users = (await session.execute(select(User))).scalars().all()
        for user in users:
            if PERIOD.utc_start <= user.created_at < PERIOD.utc_end:
                month = user.created_at.astimezone(WITA).strftime("%Y-%m")
                counts[("users_registered", month, user.kecamatan or "", user.kelurahan or "")] += 1
        by_id = {user.id: user for user in users}
        stream = await session.stream(select(Delivery))
        async for (delivery,) in stream:
            user = by_id.get(delivery.user_id)
            if user is None or delivery.sent_at is None:
                continue
            month = delivery.sent_at.astimezone(WITA).strftime("%Y-%m")
            counts[("broadcast_delivered", month, user.kecamatan or "", user.kelurahan or "")] += 1
    await engine.dispose()
    return len(counts)


def peak_mib() -> float:
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Generate, time, compare."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        started = time.perf_counter()
        generate(url, args.users, args.rows)
        print(f"generated {args.users:,} users and {args.rows:,} activity rows in {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        rows = asyncio.run(fast(url))
        write_csv(rows, Path(tmp) / "year.csv")
        csv_seconds = time.perf_counter() - started
        print(f"full-year CSV export: {csv_seconds:.2f} s ({len(rows):,} figures), peak memory {peak_mib():.0f} MiB")

        started = time.perf_counter()
        rows = asyncio.run(fast(url))
        write_xlsx(rows, Path(tmp) / "year.xlsx")
        print(f"full-year XLSX export: {time.perf_counter() - started:.2f} s")

        if not args.skip_naive:
            started = time.perf_counter()
            asyncio.run(naive(url))
            naive_seconds = time.perf_counter() - started
            print(f"naive ORM version (two indicators only): {naive_seconds:.1f} s; "
                  f"SQL aggregation is {naive_seconds / csv_seconds:.0f}x faster")


if __name__ == "__main__":
    main()
