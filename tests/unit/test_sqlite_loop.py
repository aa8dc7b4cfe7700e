"""SQLite calls on the event loop: short ones run there, waits and background work in the thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from db import sqlite_loop, users
from db.engine import make_engine, session_factory, upgrade_database
from db.models import User
from db.sqlite_loop import in_background, off_the_loop
from tests.helpers.databases import sqlite_url
from tests.helpers.factories import NOW


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = sqlite_url(tmp_path)
    upgrade_database(url)
    engine = make_engine(url)

    @event.listens_for(engine.sync_engine, "connect")
    def thread_function(dbapi_connection: Any, _record: Any) -> None:
        # thread(): the id of the thread that runs the query
        dbapi_connection.run_async(lambda c: c.create_function("thread", 0, threading.get_ident))

    yield engine
    await engine.dispose()


async def test_short_queries_run_on_the_loop_and_background_work_in_the_thread(engine: AsyncEngine) -> None:
    db = session_factory(engine)
    loop_thread = threading.get_ident()

    async def where_it_runs() -> int:
        async with db() as session:
            return int(await session.scalar(text("SELECT thread()")))

    assert await where_it_runs() == loop_thread
    with off_the_loop():
        assert await where_it_runs() != loop_thread
        # tasks started inside inherit it
        assert await asyncio.create_task(where_it_runs()) != loop_thread
    assert await in_background(where_it_runs)() != loop_thread
    assert await where_it_runs() == loop_thread  # and outside it is back on the loop


async def test_a_writer_waiting_for_a_lock_waits_in_the_thread_and_the_loop_goes_on(engine: AsyncEngine) -> None:
    # Transaction A writes and then waits for something else (as a handler awaiting Telegram
    # would) while holding SQLite's write lock. B's write must wait for A, not fail, and must
    # not stop the loop: were it waiting on the loop, A could never finish, and B would fail
    # with "database is locked" after the busy timeout.
    db = session_factory(engine)
    a_wrote, release_a = asyncio.Event(), asyncio.Event()
    ticks = 0

    async def a() -> None:
        async with db() as session:
            await users.start_account(session, telegram_id=1, language="id", now=NOW)
            a_wrote.set()
            await release_a.wait()

    async def b() -> None:
        await a_wrote.wait()
        async with db() as session:
            await users.start_account(session, telegram_id=2, language="en", now=NOW)

    async def clock() -> None:
        nonlocal ticks
        await a_wrote.wait()
        for _ in range(20):
            await asyncio.sleep(0.01)
            ticks += 1
        release_a.set()

    await asyncio.wait_for(asyncio.gather(a(), b(), clock()), timeout=20)
    assert ticks == 20  # the loop kept running while B waited
    async with db() as session:
        languages = {row.telegram_id: row.language for row in await session.execute(select(User.telegram_id, User.language))}
        assert languages == {1: "id", 2: "en"}


async def test_a_statement_error_is_raised_as_usual(engine: AsyncEngine) -> None:
    db = session_factory(engine)
    with pytest.raises(Exception, match="no such table"):
        async with db() as session:
            await session.execute(text("SELECT * FROM no_such_table"))
    async with db() as session:  # and the connection is fine afterwards
        assert await session.scalar(select(func.count()).select_from(User)) == 0


async def test_a_writer_outside_this_process_is_waited_for_then_given_up_on(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process (here: a plain sqlite3 connection) holds the write lock; it cannot tell us
    # when it lets go, so the writer looks again every few milliseconds, until the timeout.
    monkeypatch.setattr(sqlite_loop, "BUSY_TIMEOUT_MS", 300)
    db = session_factory(engine)
    other = sqlite3.connect(tmp_path / "test.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Exception, match="database is locked"):
            async with db() as session:
                await users.start_account(session, telegram_id=3, language="id", now=NOW)
        asyncio.get_running_loop().call_later(0.1, other.execute, "COMMIT")
        async with db() as session:
            await users.start_account(session, telegram_id=4, language="id", now=NOW)
    finally:
        other.close()
    async with db() as session:
        assert set((await session.scalars(select(User.telegram_id))).all()) == {4}


def test_waiting_writers_of_one_engine_may_come_from_different_event_loops() -> None:
    # An engine outlives an event loop (a command-line run, a test); its waits must not be
    # tied to the first loop that waited.
    releases = sqlite_loop._Releases()
    asyncio.run(releases.wait(0.01))
    asyncio.run(releases.wait(0.01))

    async def woken() -> None:
        asyncio.get_running_loop().call_later(0.01, releases.notify)
        await asyncio.wait_for(releases.wait(10), timeout=1)  # by the notice, not the 10 s

    asyncio.run(woken())


async def test_a_session_on_the_loop_ends_without_letting_other_tasks_run_first(engine: AsyncEngine) -> None:
    # SQLAlchemy's `async with session` closes in a task of its own. Under load that is a trip
    # through everything ready to run, holding the connection, twice an update.
    db = session_factory(engine)
    ran: list[str] = []

    async def other() -> None:
        ran.append("other")

    async with db(commit=False) as session:
        assert await session.scalar(text("SELECT 1")) == 1
        asyncio.get_running_loop().create_task(other())
    assert ran == []
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    await asyncio.sleep(0)
    assert ran == ["other"]


async def test_a_background_write_transaction_hands_results_over_on_the_loop(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each call made in the thread waits for the loop to come round; while a transaction holds
    # the write lock, only its statements and its commit should.
    calls: list[tuple[str, bool]] = []
    loop_thread = threading.get_ident()
    execute = sqlite_loop.LoopSideConnection._execute

    async def recorded(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        def call(*a: Any, **k: Any) -> Any:
            calls.append((fn.__name__, threading.get_ident() == loop_thread))
            return fn(*a, **k)

        call.__name__ = fn.__name__
        return await execute(self, call, *args, **kwargs)

    monkeypatch.setattr(sqlite_loop.LoopSideConnection, "_execute", recorded)
    db = session_factory(engine)
    with off_the_loop():
        async with db() as session:
            assert await session.scalar(select(func.count()).select_from(User)) == 0
            read = len(calls)
            session.add(User(telegram_id=5, language="id", created_at=NOW, last_seen_at=NOW))
            await session.flush()
            assert (await session.execute(text("UPDATE users SET language = 'en' RETURNING telegram_id"))).all() == [(5,)]
    # a read holds no lock: its calls go to the thread (a rollback is quick anywhere)
    assert all(not on_loop for name, on_loop in calls[:read] if name != "rollback")
    in_thread = [name for name, on_loop in calls[read:] if not on_loop]
    on_loop = [name for name, on_loop in calls[read:] if on_loop]
    assert in_thread == ["cursor", "execute", "execute", "commit"]  # the cursor that begins it, then SQL work
    assert set(on_loop) >= {"cursor", "fetchall", "close", "rollback"}
    async with db() as session:
        assert await session.scalar(select(User.language).where(User.telegram_id == 5)) == "en"


async def test_a_burst_of_sessions_reuses_connections(engine: AsyncEngine) -> None:
    # Writers waiting for the lock hold their connections: a burst of them must not open (and
    # then close) a connection each, which costs a thread and its set-up every time.
    db = session_factory(engine)
    opened = 0

    @event.listens_for(engine.sync_engine, "connect")
    def count(*_args: Any) -> None:
        nonlocal opened
        opened += 1

    async def hold() -> None:
        async with db(commit=False) as session:
            await session.execute(text("SELECT 1"))
            await asyncio.sleep(0.01)

    for _ in range(3):
        await asyncio.gather(*(hold() for _ in range(12)))
    assert opened == 12


async def test_one_session_after_another_gets_the_warm_connection(engine: AsyncEngine) -> None:
    # After a burst has filled the pool, an update's session takes the connection used last,
    # whose page cache is current, not the one idle longest (which re-reads changed pages).
    db = session_factory(engine)

    async def connection_id(pause: float = 0.0) -> int:
        async with db(commit=False) as session:
            await session.execute(text("SELECT 1"))
            await asyncio.sleep(pause)
            return id((await (await session.connection()).get_raw_connection()).driver_connection)

    await asyncio.gather(*(connection_id(0.01) for _ in range(5)))
    used = {await connection_id() for _ in range(4)}
    assert len(used) == 1
