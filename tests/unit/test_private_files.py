"""Issue 17, item 12: the SQLite file, its WAL and every backup are private (0600) like `.env`,
and directories made for them are 0700, whatever the process umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.backup import backup_sqlite
from db.engine import make_engine, upgrade_database


@pytest.fixture(autouse=True)
def _open_umask() -> Iterator[None]:
    """The usual umask of a server (022): files would be world-readable."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_database_its_wal_and_its_directory_are_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "bot.db"
    upgrade_database(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    async with engine.begin() as connection:  # the bot's own connection writes the WAL
        await connection.execute(text("CREATE TABLE probe (x INTEGER)"))
    wal = path.with_name("bot.db-wal")
    assert mode(path.parent) == 0o700 and mode(path) == 0o600
    assert wal.exists() and mode(wal) == 0o600
    await engine.dispose()


def test_a_backup_is_private_and_nothing_is_left_beside_it(tmp_path: Path) -> None:
    source = tmp_path / "bot.db"
    upgrade_database(f"sqlite:///{source}")
    target = tmp_path / "backups" / "bot-2026-11-23.db"
    backup_sqlite(source, target)
    assert mode(target.parent) == 0o700 and mode(target) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["bot-2026-11-23.db"]
    again = tmp_path / "bot-copy.db"  # into an existing directory: the file is still private
    backup_sqlite(source, again)
    assert mode(again) == 0o600
