"""Broadcast throughput of the delivery engine against the emulator on loopback (issue 6).

(a) 3,000 recipients at the default 30/s with the emulator enforcing 30 messages per second:
    achieved rate as a share of 30, and the 429s the bot provoked.
(b) 20,000 recipients in paid mode (1000/s) with no emulator limit: rate as a share of 1000,
    peak memory, and CPU seconds of the bot process per 1,000 messages.
(c) (b)'s set-up killed (SIGKILL) half-way and restarted: missing and duplicated recipients.

Run: .venv/bin/python benchmarks/broadcast.py [a|b|c ...] [--backend bulk|ptb]
It prints figures and asserts nothing; tests check correctness.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from telegram import Bot  # noqa: E402
from telegram.request import HTTPXRequest  # noqa: E402

import bot  # noqa: E402,F401  (PTB_TIMEDELTA)
from bot.bulk_sender import BulkSender  # noqa: E402
from bot.delivery import DeliveryEngine, telegram_sender  # noqa: E402
from db import broadcasts, outbox  # noqa: E402
from db.broadcasts import Audience  # noqa: E402
from db.engine import make_engine, make_sync_engine, session_factory, upgrade_database  # noqa: E402
from db.models import User  # noqa: E402
from db.types import utcnow  # noqa: E402

TOKEN = "123456:BENCHMARK-token"
FIRST_USER = 10_000
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def start_emulator(users: int, rate_limit: float | None) -> tuple[subprocess.Popen[str], int]:
    """Run the emulator in its own process; return it and its port."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "emulator_process.py"), str(users), str(rate_limit or 0)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


def stop_emulator(process: subprocess.Popen[str]) -> dict[str, int]:
    """Close the emulator's stdin and read its statistics."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.close()
    stats = json.loads(process.stdout.readline())
    process.wait(timeout=30)
    return stats


def prepare_database(url: str, recipients: int) -> None:
    """N subscribed parents and one broadcast to all of them, fired: N outbox rows."""
    upgrade_database(url)
    engine = make_sync_engine(url)
    rows = [
        {"telegram_id": FIRST_USER + i, "language": "id", "role": "parent", "age_band": "adult",
         "kecamatan": "Balikpapan Kota", "kelurahan": "Damai", "gender": "unspecified",
         "privacy_accepted_at": NOW, "consent_status": "not_required", "consent_method": "self",
         "subscribed": True, "created_at": NOW, "last_seen_at": NOW}
        for i in range(recipients)
    ]
    with engine.begin() as connection:
        connection.execute(User.__table__.insert(), rows)  # type: ignore[attr-defined]
    engine.dispose()

    async def fire() -> None:
        async_engine = make_engine(url)
        async with session_factory(async_engine)() as session:
            await broadcasts.create(session, author_telegram_id=1, text="<b>Pengumuman</b> Forum Anak",
                                    audience=Audience(), schedule="now", now=NOW, tz=ZoneInfo("Asia/Makassar"))
            await broadcasts.fire_due(session, now=NOW, tz=ZoneInfo("Asia/Makassar"), quiet=None)
        await async_engine.dispose()

    asyncio.run(fire())


async def deliver(
    url: str, port: int, *, rate: float, paid: bool, backend: str, wait_for_leases: bool = False
) -> tuple[int, float, float]:
    """Run the engine until the outbox is empty.

    Returns (messages, seconds from the first to the last message sent, CPU seconds).
    """
    base_url = f"http://127.0.0.1:{port}/bot"
    telegram = Bot(TOKEN, base_url=base_url, request=HTTPXRequest(connection_pool_size=64))
    bulk = BulkSender(base_url=base_url, token=TOKEN, paid=paid)
    sender = bulk if backend == "bulk" else telegram_sender(telegram, paid=paid)
    stamps: list[float] = []

    async def send(item, chat_id):  # type: ignore[no-untyped-def]
        await sender(item, chat_id)
        stamps.append(time.perf_counter())

    engine = make_engine(url)
    # The real clock: leases must expire for a restarted sender to take over (scenario c).
    delivery = DeliveryEngine(db=session_factory(engine), send=send, clock=utcnow, rate=rate)
    cpu = time.process_time()
    sent = await delivery.drain(max_batches=100_000)
    while wait_for_leases:  # rows a killed sender had claimed come back when their lease ends
        async with session_factory(engine)() as session:
            if not await outbox.unfinished(session, kind="broadcast"):
                break
        await asyncio.sleep(0.5)
        sent += await delivery.drain(max_batches=100_000)
    cpu = time.process_time() - cpu
    wall = (stamps[-1] - stamps[0]) * len(stamps) / max(1, len(stamps) - 1) if stamps else 0.0
    await bulk.close()
    await telegram.shutdown()
    await engine.dispose()
    return sent, wall, cpu


def scenario_a(backend: str) -> None:
    """3,000 recipients at 30/s against an emulator enforcing 30/s."""
    recipients = 3000
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/a.db"
        prepare_database(url, recipients)
        emulator, port = start_emulator(recipients, 30)
        sent, wall, _ = asyncio.run(deliver(url, port, rate=30, paid=False, backend=backend))
        stats = stop_emulator(emulator)
    rate = stats["sent"] / wall
    print(f"(a) {stats['sent']} of {recipients} delivered over {wall:.1f} s: {rate:.2f} msg/s = "
          f"{rate / 30:.1%} of 30/s; 429 provoked: {stats['rate_limited']}")


def scenario_b(backend: str) -> None:
    """20,000 recipients in paid mode, no emulator limit."""
    recipients = 20_000
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/b.db"
        prepare_database(url, recipients)
        emulator, port = start_emulator(recipients, None)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        sent, wall, cpu = asyncio.run(deliver(url, port, rate=1000, paid=True, backend=backend))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        stats = stop_emulator(emulator)
    rate = stats["sent"] / wall
    print(f"(b) {stats['sent']} of {recipients} delivered over {wall:.1f} s: {rate:.0f} msg/s = {rate / 1000:.1%} "
          f"of 1000/s; bot CPU {cpu / sent * 1000:.2f} s per 1,000 messages; peak memory {peak / 1024:.0f} MiB "
          f"(before sending {before / 1024:.0f} MiB); missing {stats['missing']}, duplicated {stats['duplicated']}; "
          f"emulator CPU {stats['emulator_cpu_seconds']} s")


WORKER = """
import asyncio, sys
sys.path.insert(0, {root!r})
from benchmarks.broadcast import deliver
asyncio.run(deliver({url!r}, {port}, rate=1000, paid=True, backend={backend!r}, wait_for_leases=True))
"""


def scenario_c(backend: str) -> None:
    """Kill the sender half-way with SIGKILL, start it again, count missing and duplicated."""
    recipients = 20_000
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/c.db"
        prepare_database(url, recipients)
        emulator, port = start_emulator(recipients, None)
        code = WORKER.format(root=str(ROOT), url=url, port=port, backend=backend)
        first = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
        time.sleep(10)  # about half of the 20,000 at 1000/s
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        second = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False)
        stats = stop_emulator(emulator)
    print(f"(c) killed after 10 s and restarted (exit {second.returncode}): delivered {stats['sent']} for "
          f"{recipients} recipients; missing {stats['missing']}, duplicated {stats['duplicated']} "
          f"(at most the rows claimed and not yet recorded at the kill may repeat: 2 lanes x "
          f"{DeliveryEngine.batch_for(1000)})")


def main() -> None:
    """Run the chosen scenarios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", default=["a", "b", "c"], choices=["a", "b", "c"])
    parser.add_argument("--backend", choices=["bulk", "ptb"], default="bulk",
                        help="bulk: the engine's lean sender (production); ptb: python-telegram-bot's Bot")
    args = parser.parse_args()
    print(f"broadcast benchmark, backend {args.backend}, {os.cpu_count()} cores")
    for name in args.scenarios:
        {"a": scenario_a, "b": scenario_b, "c": scenario_c}[name](args.backend)


if __name__ == "__main__":
    main()
