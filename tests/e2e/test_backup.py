"""`forum-anak backup` while the real bot runs and a writer commits: the copy is one consistent moment."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from bot.sandbox.emulator import BotApiEmulator
from db.engine import make_engine, session_factory, upgrade_database
from db.types import utcnow
from tests.helpers.bot_process import BotProcess, clean_env, forum_anak_exe
from tests.helpers.databases import sqlite_url
from tests.helpers.factories import add_registered_people

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


class PairWriter(threading.Thread):
    """Commits transactions of two audit rows each (`N:a`, `N:b`), numbered 1, 2, … until stopped."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.committed = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            while not self.stopping.is_set():
                number = self.committed + 1
                connection.execute("BEGIN IMMEDIATE")
                for half in ("a", "b"):
                    connection.execute(
                        "INSERT INTO audit_log (at, action, subject) VALUES (?, 'backup.test', ?)",
                        (utcnow().isoformat(), f"{number}:{half}"),
                    )
                connection.execute("COMMIT")
                self.committed = number
                self.stopping.wait(0.002)  # leave the bot (and the GIL) some room
        finally:
            connection.close()


async def test_backup_while_the_bot_runs_is_a_consistent_prefix(emulator: BotApiEmulator, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    upgrade_database(url)
    engine = make_engine(url)
    async with session_factory(engine)() as session:  # enough rows that the copy takes a while
        await add_registered_people(session, range(100_000, 130_000), now=utcnow())
    await engine.dispose()
    database = tmp_path / "test.db"
    target = tmp_path / "backups" / "forum_anak.db"

    bot = BotProcess(emulator, url, tmp_path)
    writer = PairWriter(database)
    try:
        await bot.start()
        writer.start()
        for uid in range(501, 511):  # people talk to the bot meanwhile: it writes too
            emulator.send_text(uid, "/start")
        before = writer.committed
        process = await asyncio.create_subprocess_exec(
            forum_anak_exe(), "backup", str(target), cwd=tmp_path, env=clean_env(DATABASE_URL=url),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        after = writer.committed
        await emulator.wait_for(lambda: all(emulator.bot_messages(uid) for uid in range(501, 511)), timeout=30)
        writer.stopping.set()
        await asyncio.to_thread(writer.join, 30)
        await bot.stop()
    finally:
        writer.stopping.set()
        await bot.ensure_dead()
    assert process.returncode == 0, err.decode()
    assert out.decode().startswith(f"backed up {database} to {target}")
    assert after > before, "the writer committed nothing during the backup; the test proves nothing"

    with sqlite3.connect(f"file:{target}?mode=ro", uri=True) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        subjects = [row[0] for row in copy.execute("SELECT subject FROM audit_log WHERE action = 'backup.test'")]
        people = copy.execute("SELECT count(*) FROM users WHERE telegram_id >= 100000").fetchone()[0]
    numbers = sorted({int(subject.split(":")[0]) for subject in subjects})
    assert len(subjects) == 2 * len(numbers), "a transaction is in the copy by halves"
    assert numbers == list(range(1, len(numbers) + 1)), "the copy skips a committed transaction"
    assert before <= len(numbers) <= after, f"the copy holds {len(numbers)} transactions, not {before}..{after}"
    assert people == 30_000
