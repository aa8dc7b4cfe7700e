"""The retention job on a big backlog: the first run after years of use, on SQLite.

N idle accounts (a tenth of them with a quiz attempt and answers, a tenth with a place at a
coming event that has a waitlist) and M old closed cases. Prints the seconds of the notice run
(one outbox row per account), of the erasure run 30 days later (event places handed to the
waitlist, rows cascaded) and of the anonymisation, and the rate per account.

Run: .venv/bin/python benchmarks/retention.py [--users N] [--cases M]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

import bot  # noqa: E402,F401
from bot.config import load_settings  # noqa: E402
from bot.services import build_services  # noqa: E402
from db.engine import make_sync_engine, upgrade_database  # noqa: E402
from db.models import (  # noqa: E402
    Event,
    EventSignup,
    QuizAnswer,
    QuizAttempt,
    Report,
    ReportEvidence,
    ReportMessage,
    User,
)
from handlers.retention import run_retention  # noqa: E402

START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def generate(url: str, users: int, cases: int) -> None:
    """Idle accounts from START, some with quizzes and event places; cases closed soon after."""
    upgrade_database(url)
    engine = make_sync_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(User), [{
            "telegram_id": 5_000_000 + i, "language": "id", "role": "child", "age_band": "13_15",
            "kecamatan": "Balikpapan Kota", "kelurahan": "Damai", "gender": "female",
            "privacy_accepted_at": START, "consent_status": "given", "consent_method": "guardian",
            "subscribed": True, "created_at": START, "last_seen_at": START,
        } for i in range(users)])
        event_start = START + 800 * DAY
        conn.execute(insert(Event), [{
            "title": f"Acara {e}", "description": "x", "starts_at": event_start, "ends_at": event_start + DAY,
            "venue": "Aula", "kecamatan": "Balikpapan Kota", "capacity": 5, "confirmed_count": 5,
            "signup_seq": 10, "age_bands": "13_15", "signup_deadline": event_start, "created_by": 1,
            "status": "active", "checkin_code": f"C{e:05d}", "created_at": START, "updated_at": START,
        } for e in range(max(users // 100, 1))])
        signups = []
        for i in range(0, users // 10):  # 10 per event: 5 confirmed, 5 waiting
            event_id, slot = i // 10 + 1, i % 10
            signups.append({"event_id": event_id, "user_id": i + 1, "created_at": START, "position": slot + 1,
                            "status": "confirmed" if slot < 5 else "waitlisted"})
        conn.execute(insert(EventSignup), signups)
        conn.execute(insert(QuizAttempt), [{
            "user_id": i + 1, "topic": "kha", "question_ids": "a,b,c", "total": 3, "score": 2,
            "status": "completed", "started_at": START, "completed_at": START,
        } for i in range(users // 10, users // 5)])
        attempts = conn.execute(select(QuizAttempt.id)).scalars().all()
        conn.execute(insert(QuizAnswer), [{"attempt_id": a, "question_id": q, "option": 0, "correct": True,
                                           "answered_at": START} for a in attempts for q in "abc"])
        conn.execute(insert(Report), [{
            "code_hash": f"{c:064x}", "category": "bullying", "reporter_kind": "self", "urgent": False,
            "kecamatan": "Balikpapan Kota", "place": "school", "happened": "today", "description": "cerita " * 50,
            "language": "id", "follow_up": False, "status": "closed", "outcome": "resolved",
            "created_at": START, "first_response_seconds": 24 * 3600, "closed_at": START + 2 * DAY,
        } for c in range(cases)])
        reports = conn.execute(select(Report.id)).scalars().all()
        conn.execute(insert(ReportEvidence), [{"report_id": r, "file_id": "photo", "kind": "photo"} for r in reports])
        conn.execute(insert(ReportMessage), [{"report_id": r, "kind": "note", "text": "catatan", "created_at": START}
                                             for r in reports for _ in range(3)])
    engine.dispose()


async def measure(url: str, users: int) -> None:
    """Run the job as the scheduler would, twice: the notices, then the erasures."""
    services = build_services(load_settings(env_file=None, DATABASE_URL=url, QUIET_HOURS="off"))
    try:
        began = time.perf_counter()
        first = await run_retention(services, now=START + 800 * DAY - 40 * DAY)
        notice_s = time.perf_counter() - began
        began = time.perf_counter()
        second = await run_retention(services, now=START + 800 * DAY - 9 * DAY)
        erase_s = time.perf_counter() - began
        async with services.db() as session:
            left = await session.scalar(select(func.count()).select_from(User))
            promoted = await session.scalar(
                select(func.count()).select_from(EventSignup).where(EventSignup.status == "confirmed"))
    finally:
        await services.engine.dispose()
    print(f"accounts: {users}; first run: {first.notified} notices and {first.anonymised} cases anonymised "
          f"in {notice_s:.1f} s ({first.notified / notice_s:,.0f} accounts/s)")
    print(f"30 days later: {second.erased} erased in {erase_s:.1f} s ({second.erased / erase_s:,.0f} accounts/s); "
          f"{left} accounts left; {promoted} places held (the waitlisted moved up, then left too)")


def main() -> None:
    """Parse arguments, generate, measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--cases", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'retention.db'}"
        began = time.perf_counter()
        generate(url, args.users, args.cases)
        print(f"generated in {time.perf_counter() - began:.1f} s")
        asyncio.run(measure(url, args.users))


if __name__ == "__main__":
    main()
