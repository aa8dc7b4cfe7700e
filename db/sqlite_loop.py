"""SQLite on the event loop: short queries run where they are awaited, not in a thread.

aiosqlite sends every call (cursor, execute, fetch, close, commit) to a thread of its own and
back; an update with two short transactions makes about 25 such round trips, each a thread
wake-up and a hand-over of the GIL. Under the load benchmark (`benchmarks/updates.py`) those
round trips cost more than all the rest of the bot's work: about 12 CPU ms per update, under 5
without them. A query of this bot on its indexed SQLite file takes microseconds, less than one round
trip, so `LoopSideConnection` runs the calls directly on the event loop.

Two things must not stop the loop:
- waiting for the write lock while another connection (a transaction of this process held
  open across an await, or another process) writes. The busy timeout is 0, so SQLite answers
  "busy" at once and without effect; the writer waits on the loop, letting everyone else run,
  the lock holder too, and tries again when a transaction of this engine ends (at least every
  20 ms, for writers in other processes), for up to 10 seconds as before. Waiting on the loop,
  not in SQLite's busy handler, also keeps waiting writers from being overtaken for ever by
  new ones that find the lock free between two of the handler's sleeps.
- long work: background jobs, the delivery engine and exports run inside `off_the_loop()`,
  whose calls go to aiosqlite's thread. Each round trip there waits for the loop to come
  round, so once such work holds the write lock, the calls that only hand over what a statement
  did (a cursor, its rows, its closing) run on the loop: the lock is held for one round trip a
  statement, not four, and writers serving people wait that much less.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

import aiosqlite

BUSY_TIMEOUT_MS = 10_000  # how long a write waits for another writer before "database is locked"
LOOK_AGAIN_SECONDS = 0.02  # a waiting writer tries again at least this often
# Calls that hand over what a statement did. In a write transaction they are quick (ours read
# little after their first write), so background work need not wait for the loop to make them.
_HAND_OVER_CALLS = frozenset({"cursor", "fetchone", "fetchmany", "fetchall", "close"})
# A rollback is quick anywhere: nothing outside a write transaction (every connection's return
# to the pool), and in WAL mode only dropping what it wrote.
_ALWAYS_QUICK_CALLS = frozenset({"rollback"})

_off_the_loop: ContextVar[bool] = ContextVar("sqlite_off_the_loop", default=False)

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def off_the_loop() -> Iterator[None]:
    """Send the SQLite calls made inside (and in tasks started inside) to the thread."""
    token = _off_the_loop.set(True)
    try:
        yield
    finally:
        _off_the_loop.reset(token)


def on_the_loop() -> bool:
    """True unless inside `off_the_loop()`: SQLite calls made here run at once, without waiting."""
    return not _off_the_loop.get()


def in_background(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Decorate a coroutine function whose SQLite calls may be long: they go to the thread."""

    @functools.wraps(fn)
    async def background(*args: P.args, **kwargs: P.kwargs) -> R:
        with off_the_loop():
            return await fn(*args, **kwargs)

    return background


def _busy(exc: sqlite3.OperationalError) -> bool:
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY


class _Releases:
    """Wakes the writers of one engine that wait for SQLite's lock when a transaction ends."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None  # made when someone waits, on their loop
        self._loop: asyncio.AbstractEventLoop | None = None

    def notify(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        if self._event is None or self._loop is not loop:
            self._event, self._loop = asyncio.Event(), loop
        # A writer in another process does not tell us: after `seconds`, look again anyway.
        with suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)


def _in_transaction(connection: sqlite3.Connection) -> bool:
    try:
        return connection.in_transaction
    except sqlite3.ProgrammingError:  # closed
        return False


def _quick(call: str, *, held: bool) -> bool:
    return call in _ALWAYS_QUICK_CALLS or (held and call in _HAND_OVER_CALLS)


class LoopSideConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run on the event loop, and wait there without blocking it."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], releases: _Releases) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._releases = releases

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        connection = self._connection
        if not self._running or connection is None:
            return await super()._execute(fn, *args, **kwargs)  # aiosqlite's "Connection closed"
        deadline: float | None = None
        while True:
            held = _in_transaction(connection)
            try:
                if _off_the_loop.get() and not _quick(getattr(fn, "__name__", ""), held=held):
                    result = await super()._execute(fn, *args, **kwargs)
                else:
                    result = fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
                # "Busy" comes before a statement does anything, so it is safe to try again.
                now = asyncio.get_running_loop().time()
                deadline = deadline or now + BUSY_TIMEOUT_MS / 1000
                if now >= deadline:
                    raise
                await self._releases.wait(LOOK_AGAIN_SECONDS)
                continue
            if held and not _in_transaction(connection):
                self._releases.notify()
            return result


def loop_side_connector(path: str) -> Callable[[], Awaitable[LoopSideConnection]]:
    """An `async_creator` for SQLAlchemy: open `path` as a LoopSideConnection."""

    releases = _Releases()

    async def connect() -> LoopSideConnection:
        # Opened in the thread, used from the loop too: hence check_same_thread=False. The
        # connection is never used by two threads at once (each call is awaited before the next).
        connection = LoopSideConnection(
            functools.partial(sqlite3.connect, path, timeout=0, check_same_thread=False), releases
        )
        connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite: never block exit
        return await connection

    return connect
