"""Engines, sessions and migrations; nothing is built at import time."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from db.sqlite_loop import BUSY_TIMEOUT_MS, loop_side_connector, on_the_loop

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class SessionScope(Protocol):
    """`async with db() as session:` one transaction, committed at the end unless an error left it."""

    def __call__(self, *, commit: bool = True) -> AbstractAsyncContextManager[AsyncSession]: ...


def async_url(url: str) -> str:
    """Map a plain SQLAlchemy URL to its asyncio driver (aiosqlite, psycopg)."""
    url = re.sub(r"^sqlite(\+\w+)?://", "sqlite+aiosqlite://", url)
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg://", url)


def sync_url(url: str) -> str:
    """Map a URL to a synchronous driver, used by migrations and the CLI."""
    url = re.sub(r"^sqlite(\+\w+)?://", "sqlite://", url)
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg://", url)


PRIVATE_FILE = 0o600  # like .env: the database holds Telegram ids and case stories
PRIVATE_DIR = 0o700


def _prepare_sqlite_dir(url: str) -> None:
    """Make the database's directory (0700) and the file itself (0600) before SQLite does.

    SQLite would create the file with the process umask, usually world-readable, and gives its
    -wal and -shm files the database file's own mode; an existing file is left as it is.
    """
    match = re.match(r"sqlite(\+\w+)?:///([^?]+)", url)
    if not match or match.group(2) in (":memory:", ""):
        return
    path = Path(match.group(2))
    if not path.parent.exists():
        path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, busy_timeout: int = BUSY_TIMEOUT_MS) -> None:
    # WAL lets readers run beside the one writer; foreign keys are off by default in SQLite;
    # busy_timeout makes concurrent writers queue instead of failing at once (0 for a
    # LoopSideConnection, which waits on the event loop instead, see db/sqlite_loop.py).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={busy_timeout}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _loop_side(url: URL) -> bool:
    """Whether an engine for this URL runs SQLite on the event loop (a plain SQLite file)."""
    return url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") and not url.query


# A database error's message carries the statement's parameters by default: a story, a report
# code, a Telegram id would then reach the log with its traceback. Never (SPEC §4).
NO_PARAMETERS_IN_ERRORS = {"hide_parameters": True}


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the async engine for a database URL, with SQLite tuned for the bot."""
    _prepare_sqlite_dir(url)
    kwargs = NO_PARAMETERS_IN_ERRORS | kwargs
    parsed = make_url(async_url(url))
    if _loop_side(parsed):
        kwargs.setdefault("async_creator", loop_side_connector(parsed.database))
        # Connections stay open (a new one costs a thread and its set-up); writers that wait
        # for the lock, and background work in the thread, hold theirs meanwhile.
        kwargs.setdefault("pool_size", 20)
        kwargs.setdefault("max_overflow", 40)
        # The most recently used connection is handed out first: its page cache is the warmest
        # (first-in-first-out went round all 20, re-reading pages another connection had
        # changed; last-in-first-out made 72 % fewer page reads in the load benchmark).
        kwargs.setdefault("pool_use_lifo", True)
        engine = create_async_engine(parsed, **kwargs)
        event.listen(engine.sync_engine, "connect", functools.partial(_sqlite_pragmas, busy_timeout=0))
        return engine
    engine = create_async_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def make_sync_engine(url: str, **kwargs: Any) -> Engine:
    """Create a synchronous engine (migrations, backup, benchmarks)."""
    _prepare_sqlite_dir(url)
    kwargs = NO_PARAMETERS_IN_ERRORS | kwargs
    engine = create_engine(sync_url(url), **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: AsyncEngine) -> SessionScope:
    """Return `session_scope()`: one transaction, committed on success, rolled back on error.

    `commit=False` is for reads: nothing is committed (a write would be rolled back), which
    saves the commit on the one read every update makes (`handlers.load_user`).
    """
    maker = async_sessionmaker(engine, expire_on_commit=False)
    loop_side = _loop_side(engine.url)

    @asynccontextmanager
    async def session_scope(*, commit: bool = True) -> AsyncIterator[AsyncSession]:
        # The transaction begins with the first statement; closing without a commit (an
        # exception, or a read) rolls it back.
        session = maker()
        try:
            yield session
            if commit:
                await session.commit()
        finally:
            if loop_side and on_the_loop():
                # SQLite on the loop closes without waiting, so no cancel can cut the close
                # short. `async with session` would close in a task of its own: under load a
                # trip through the whole ready queue, holding the connection, twice an update.
                await session.close()
            else:
                async with session:  # SQLAlchemy's close, finished even if we are cancelled
                    pass

    return session_scope


def alembic_config(url: str) -> Config:
    """Build the Alembic configuration from the package, without an alembic.ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


def upgrade_database(url: str) -> None:
    """Apply every migration up to the newest (all feature branches)."""
    _prepare_sqlite_dir(url)
    command.upgrade(alembic_config(url), "heads")
