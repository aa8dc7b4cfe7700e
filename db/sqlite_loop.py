"""SQLite on the event loop: short queries run where they are awaited, not in a thread.

aiosqlite sends every call (cursor, execute, fetch, close, commit) to a thread of its own and
back; an update with two short transactions makes about 25 such round trips, each a thread
wake-up and a hand-over of the GIL. Under the load benchmark (`benchmarks/updates.py`) those
round trips cost more than all the rest of the bot's work: 12.2 CPU ms per update, 5.3 without
them. A query of this bot on its indexed SQLite file takes microseconds, less than one round
trip, so `LoopSideConnection` runs the calls directly on the event loop.

Two kinds of work must not stop the loop, and still go to aiosqlite's thread:
- waiting for a lock: another connection (a transaction of this process held open across an
  await, or another process) is writing. On the loop the busy timeout is 0, so SQLite answers
  "busy" at once and without effect; the call is repeated in the thread with the usual
  timeout, while the loop serves everyone else, the lock holder too.
- long work: background jobs, the delivery engine and exports run inside `off_the_loop()`.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar

import aiosqlite

BUSY_TIMEOUT_MS = 10_000  # in the thread: how long a write waits for another writer

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


def in_background(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Decorate a coroutine function whose SQLite calls may be long: they go to the thread."""

    @functools.wraps(fn)
    async def background(*args: P.args, **kwargs: P.kwargs) -> R:
        with off_the_loop():
            return await fn(*args, **kwargs)

    return background


def _busy(exc: sqlite3.OperationalError) -> bool:
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY


class LoopSideConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run on the event loop unless they would wait."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if _off_the_loop.get() or not self._running or self._connection is None:
            return await super()._execute(self._waiting, fn, *args, **kwargs)
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
        # "Busy" comes before a statement does anything, so running it again is safe.
        return await super()._execute(self._waiting, fn, *args, **kwargs)

    def _waiting(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """In the thread: run one call with the busy timeout, then set it back to 0 for the loop."""
        connection = self._connection
        assert connection is not None
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        try:
            return fn(*args, **kwargs)
        finally:
            with suppress(sqlite3.ProgrammingError):  # unless fn closed the connection
                connection.execute("PRAGMA busy_timeout=0")


def loop_side_connector(path: str) -> Callable[[], Awaitable[LoopSideConnection]]:
    """An `async_creator` for SQLAlchemy: open `path` as a LoopSideConnection."""

    async def connect() -> LoopSideConnection:
        # Opened in the thread, used from the loop too: hence check_same_thread=False. The
        # connection is never used by two threads at once (each call is awaited before the next).
        connection = LoopSideConnection(
            functools.partial(sqlite3.connect, path, timeout=0, check_same_thread=False), iter_chunk_size=64
        )
        connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite: never block exit
        return await connection

    return connect
