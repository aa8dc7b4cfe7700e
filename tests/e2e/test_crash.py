"""Crash safety: a real `forum-anak run` killed with SIGKILL at a seeded random point, then restarted.

Nothing may be lost, and nothing doubled beyond the in-flight bound of bot/delivery.py: outcomes
are written once per claimed batch, so at most LANES x batch_size messages were sent but not yet
recorded when the process died, and only those can go out again. `CRASH_SEED=N` replays a run. The database fixtures (`database_url`, `engine`) are the shared ones:
a SQLite file, and a fresh PostgreSQL database (required with CI=true).
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import signal
import subprocess
import time
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery import LANES, DeliveryEngine
from bot.sandbox.emulator import BotApiEmulator
from content.loaders import load_regions
from db import broadcasts, events, outbox
from db.broadcasts import Audience
from db.engine import make_engine, session_factory, upgrade_database
from db.events import EventDraft
from db.models import Delivery, Event, EventSignup, Role, SignupStatus, User
from db.types import utcnow
from tests.helpers.bot_process import BotProcess, clean_env, crash_seed, forum_anak_exe
from tests.helpers.databases import sqlite_url
from tests.helpers.factories import add_registered_people

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RATE = 200  # paid rate: batches of 20, so a few hundred messages take about two seconds
IN_FLIGHT_BOUND = LANES * DeliveryEngine.batch_for(RATE)  # 2 lanes x 20 = 40 messages


@pytest.fixture
async def bot_process(emulator: BotApiEmulator, database_url: str, tmp_path: Path) -> AsyncIterator[BotProcess]:
    """A `forum-anak run` process (not started yet), killed at tear-down if a test failed."""
    process = BotProcess(emulator, database_url, tmp_path, PAID_BROADCAST="true", BROADCAST_RATE=str(RATE))
    yield process
    await process.ensure_dead()
    unexpected = emulator.unexpected_refusals()
    assert not unexpected, f"the bot made requests Telegram would refuse: {unexpected}"


async def expire_dead_leases(engine: AsyncEngine) -> int:
    """The killed process's leases run out (30 s in production; fast-forwarded, not waited for)."""
    async with session_factory(engine)() as session:
        result = await session.execute(
            update(Delivery).where(Delivery.status == outbox.Status.SENDING)  # type: ignore[arg-type]
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def wait_until(check: Callable[[], Awaitable[bool]], *, timeout: float, what: str) -> None:
    """Poll an async condition (the database, written by another process) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.1)


async def test_killed_during_a_broadcast_every_recipient_gets_it_once_within_the_bound(
    emulator: BotApiEmulator, engine: AsyncEngine, bot_process: BotProcess
) -> None:
    seed = crash_seed()
    recipients = list(range(20_000, 20_300))
    kill_after = random.Random(seed).randrange(1, len(recipients))
    for uid in recipients:
        emulator.add_user(uid)
    now = utcnow()
    async with session_factory(engine)() as session:
        await add_registered_people(session, recipients, now=now)
        await broadcasts.create(session, author_telegram_id=1, text="<b>Pengumuman</b> Forum Anak",
                                audience=Audience(), schedule="now", now=now, tz=ZoneInfo("Asia/Makassar"))
    # the process's own scheduler would fire it within 5 s; firing it here keeps the test short
    async with session_factory(engine)() as session:
        [run_id] = await broadcasts.fire_due(session, now=now, tz=ZoneInfo("Asia/Makassar"), quiet=None)

    def delivered() -> int:
        return sum(len(emulator.bot_messages(uid)) for uid in recipients)

    await bot_process.start()
    await emulator.wait_for(lambda: delivered() >= kill_after, timeout=60, what=f"{kill_after} deliveries")
    await bot_process.kill()
    at_kill = delivered()
    reclaimed = await expire_dead_leases(engine)
    await bot_process.start()

    async def finished() -> bool:
        async with session_factory(engine)() as session:
            return await outbox.unfinished(session, kind=broadcasts.KIND) == 0

    await wait_until(finished, timeout=60, what="the end of the broadcast")
    await bot_process.stop()

    per_chat = {uid: len(emulator.bot_messages(uid)) for uid in recipients}
    missing = [uid for uid, n in per_chat.items() if n == 0]
    doubled = sum(n - 1 for n in per_chat.values() if n > 1)
    story = (f"seed {seed}: killed after {at_kill} of {len(recipients)} messages "
             f"({reclaimed} rows were in flight)")
    assert reclaimed <= IN_FLIGHT_BOUND, f"{story}; more rows in flight than two batches"
    assert not missing, f"{story}; {len(missing)} recipients never got it"
    assert doubled <= min(reclaimed, IN_FLIGHT_BOUND), f"{story}; {doubled} duplicates"
    async with session_factory(engine)() as session:
        counts = await outbox.counts(session, kind=broadcasts.KIND, source_id=run_id)
    assert counts == {"sent": len(recipients)}, f"{story}; outbox {counts}"


JOINED, WAITING = "Kamu terdaftar!", "kamu masuk daftar tunggu"


async def test_killed_during_a_burst_of_sign_ups_no_place_is_lost_or_doubled(
    emulator: BotApiEmulator, engine: AsyncEngine, bot_process: BotProcess
) -> None:
    seed = crash_seed()
    children, capacity = list(range(30_000, 30_024)), 10
    now = utcnow()
    starts = now + timedelta(days=3)
    async with session_factory(engine)() as session:
        await add_registered_people(session, children, now=now, role=Role.CHILD)
        draft = EventDraft(title="Diskusi Hak Anak", description="Ngobrol santai soal hak anak.", starts_at=starts,
                           ends_at=starts + timedelta(hours=2), venue="Aula Kelurahan Damai",
                           kecamatan="Balikpapan Kota", kelurahan="Damai", capacity=capacity)
        event = await events.create_event(session, draft=draft, created_by=1, regions=load_regions().kecamatan, now=now)
    assert event.id is not None
    for uid in children:
        emulator.add_user(uid)
    kill_after = random.Random(seed).randrange(0, len(children))

    await bot_process.start()
    for uid in children:  # everyone opens the event's link and sees its card
        emulator.send_text(uid, f"/start ev_{event.id}")
    await emulator.wait_for(lambda: all(emulator.latest_keyboard_message(uid) for uid in children), timeout=60,
                            what="every event card")
    mark = emulator.mark()

    def answer(uid: int) -> str | None:
        for item in emulator.bot_events_since(mark, uid):
            for text in (JOINED, WAITING):
                if text in item.message.plain_text:
                    return text
        return None

    for uid in children:  # the burst: everyone presses "join" at once
        emulator.press_button(uid, "✅ Daftar")
    await emulator.wait_for(lambda: sum(1 for uid in children if answer(uid)) >= kill_after, timeout=60,
                            what=f"{kill_after} answers")
    await bot_process.kill()
    at_kill = sum(1 for uid in children if answer(uid))
    await bot_process.start()  # presses it fetched but never confirmed come again
    await emulator.wait_for(lambda: emulator.pending_updates == 0, timeout=60, what="every press handled")
    await emulator.wait_quiet(0.5, timeout=30)
    story = f"seed {seed}: killed after {at_kill} of {len(children)} answers"

    async def state() -> tuple[dict[int, str], int]:
        """Sign-up status per Telegram id (one row each: a unique constraint), and the event's counter."""
        async with session_factory(engine)() as session:
            rows = (await session.execute(
                select(User.telegram_id, EventSignup.status).join(User, User.id == EventSignup.user_id)  # type: ignore[arg-type]
                .where(EventSignup.event_id == event.id)
            )).all()
            counter = await session.scalar(select(Event.confirmed_count).where(Event.id == event.id))
        return {telegram_id: status for telegram_id, status in rows}, int(counter or 0)

    statuses, counter = await state()
    confirmed = sum(1 for s in statuses.values() if s == SignupStatus.CONFIRMED)
    assert confirmed <= capacity and counter == confirmed, f"{story}; {confirmed} confirmed, counter {counter}"
    told = {uid: answer(uid) for uid in children}
    for uid, text in told.items():
        if text == JOINED:
            assert statuses.get(uid) == SignupStatus.CONFIRMED, f"{story}; {uid} was told 'joined'"
        if text == WAITING:
            assert statuses.get(uid) == SignupStatus.WAITLISTED, f"{story}; {uid} was told 'waiting'"
    if any(s == SignupStatus.WAITLISTED for s in statuses.values()):
        assert confirmed == capacity, f"{story}; a place was lost: {confirmed} confirmed while people wait"

    # Whoever got no answer (their press died with the process) presses again.
    for uid in children:
        if told[uid] is None:
            emulator.press_button(uid, 1)
    await emulator.wait_for(lambda: emulator.pending_updates == 0, timeout=60, what="every second press handled")
    await emulator.wait_quiet(0.5, timeout=30)
    await bot_process.stop()
    statuses, counter = await state()
    confirmed = sum(1 for s in statuses.values() if s == SignupStatus.CONFIRMED)
    waiting = sum(1 for s in statuses.values() if s == SignupStatus.WAITLISTED)
    assert (confirmed, waiting, counter) == (capacity, len(children) - capacity, capacity), (
        f"{story}; in the end {confirmed} confirmed, {waiting} waiting, counter {counter}"
    )



async def _a_year_of_sign_ups(url: str) -> None:
    engine = make_engine(url)
    async with session_factory(engine)() as session:  # in every kelurahan, month after month
        for month in range(12):
            joined = datetime(2026, 1, 5, tzinfo=UTC) + timedelta(days=30 * month)
            await add_registered_people(session, range(1000 + 400 * month, 1400 + 400 * month), now=joined,
                                        role=Role.CHILD if month % 2 else Role.PARENT)
    await engine.dispose()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_killed_during_an_export_leaves_no_half_written_file(tmp_path: Path, fmt: str) -> None:
    # Writing the file does not depend on the database, so SQLite alone.
    seed = crash_seed()
    url = sqlite_url(tmp_path)
    upgrade_database(url)
    asyncio.run(_a_year_of_sign_ups(url))
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    out = out_dir / f"kla-2026.{fmt}"
    env = clean_env(DATABASE_URL=url, SECRET_KEY="crash-test-secret-key-long-enough-0123456789")  # protected export
    command = [forum_anak_exe(), "export", "--from", "2026-01-01", "--to", "2026-12-31", "--format", fmt,
               "--out", str(out)]

    # Kill a few milliseconds after the first byte reaches the directory: mid-write.
    delay = random.Random(seed).uniform(0, 0.01)
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not any(out_dir.iterdir()) and process.poll() is None:
        time.sleep(0.0005)
    time.sleep(delay)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    left = out.read_bytes() if out.exists() else None

    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, f"seed {seed}: the re-run failed: {again.stderr}"
    complete = out.read_bytes()
    story = f"seed {seed}: killed {delay * 1000:.1f} ms after the export started writing"
    if fmt == "csv":
        assert complete.startswith(b"indicator,") and len(complete.splitlines()) > 1000, story
        assert left is None or left == complete, f"{story}; {out.name} was half-written ({len(left or b'')} bytes)"
    else:
        assert openpyxl.load_workbook(io.BytesIO(complete)).sheetnames[0] == "Ringkasan", story
        if left is not None:
            try:
                openpyxl.load_workbook(io.BytesIO(left))
            except (zipfile.BadZipFile, KeyError, OSError) as exc:
                raise AssertionError(f"{story}; {out.name} was half-written: {exc!r}") from None
