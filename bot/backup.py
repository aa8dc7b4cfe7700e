"""`forum-anak backup PATH`: a consistent copy of the SQLite database while the bot runs.

`VACUUM INTO` rather than the page-by-page backup API: it copies inside one read transaction,
so the copy is the database as of one moment, and in WAL mode the bot keeps writing meanwhile.
The backup API copying a few pages at a time (the only way it can report progress) starts again
from the first page whenever another connection writes, and the bot writes on every update, so
a large file might never finish. Progress comes from SQLite's progress handler instead.
The copy is written to a temporary file beside PATH, checked, flushed to disk and renamed, so
PATH is never a half-written file. It is private like `.env` (0600, a new directory 0700): SQLite
creates the copy with the process umask, usually world-readable, so it is made inside a private
temporary directory and tightened before it is moved into place.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ProgressFn = Callable[[int, int], None]  # (bytes written so far, expected bytes)
PROGRESS_EVERY = 2.0  # seconds between two progress reports
PROGRESS_OPCODES = 100_000  # SQLite calls the progress handler every this many VM steps
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


class BackupError(Exception):
    """The backup could not be made; the message is one line for the operator."""


@dataclass(frozen=True)
class BackupResult:
    """What was written."""

    path: Path
    size: int
    tables: int


def backup_sqlite(
    source: Path, target: Path, *, force: bool = False, progress: ProgressFn | None = None
) -> BackupResult:
    """Copy `source` to `target` through a temporary file and an atomic rename."""
    if target.exists() and not force:
        raise BackupError(f"{target} exists; use --force to replace it")
    if target.exists() and target.resolve() == source.resolve():
        raise BackupError(f"{target} is the database itself; choose another path")
    if not target.parent.exists():
        target.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    # mkdtemp makes a 0700 directory: nobody else can open the copy while SQLite writes it.
    private = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    temporary = private / target.name  # VACUUM INTO refuses to write over an existing file
    try:
        _vacuum_into(source, temporary, progress)
        tables = _check(temporary)
        temporary.chmod(PRIVATE_FILE)
        _fsync(temporary)
        if target.exists() and not force:  # created meanwhile by someone else: never overwrite
            raise BackupError(f"{target} exists; use --force to replace it")
        os.replace(temporary, target)
        with contextlib.suppress(OSError):  # some file systems cannot sync a directory
            _fsync(target.parent)
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return BackupResult(path=target, size=target.stat().st_size, tables=tables)


def _open(source: Path) -> sqlite3.Connection:
    try:
        # mode=rw: never create an empty database where the real one is missing.
        connection = sqlite3.connect(f"file:{source}?mode=rw", uri=True, timeout=30)
    except sqlite3.OperationalError as exc:
        raise BackupError(f"cannot open the database {source}: {exc}") from None
    connection.execute("PRAGMA busy_timeout=30000")
    return connection


def _used_bytes(connection: sqlite3.Connection) -> int:
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    free = connection.execute("PRAGMA freelist_count").fetchone()[0]
    size = connection.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def _vacuum_into(source: Path, temporary: Path, progress: ProgressFn | None) -> None:
    with contextlib.closing(_open(source)) as connection:
        if progress is not None:
            total = _used_bytes(connection)
            last = time.monotonic()

            def report() -> int:
                nonlocal last
                if time.monotonic() - last >= PROGRESS_EVERY:
                    last = time.monotonic()
                    with contextlib.suppress(OSError):
                        progress(temporary.stat().st_size, total)
                return 0  # 0 = carry on

            connection.set_progress_handler(report, PROGRESS_OPCODES)
        try:
            connection.execute("VACUUM INTO ?", (str(temporary),))
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"cannot copy {source}: {exc}") from None


def _check(copy: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{copy}?mode=ro", uri=True)) as connection:
        verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise BackupError(f"the copy failed its integrity check: {verdict}")
        return int(connection.execute("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").fetchone()[0])


def _fsync(path: Path) -> None:
    # The rename must not reach the disk before the data it points to.
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if path.is_dir() else os.O_RDONLY
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
