"""`forum-anak backup PATH`: refusals are one line; a copy is complete, checked and never overwrites."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.backup import BackupError, backup_sqlite
from bot.cli import cli
from db.engine import upgrade_database


@pytest.fixture(autouse=True)
def _empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the developer's checkout


def backup(tmp_path: Path, *args: str, url: str | None = None) -> Result:
    """Run `forum-anak backup …` in-process."""
    env = {"DATABASE_URL": url or f"sqlite:///{tmp_path / 'bot.db'}", "TELEGRAM_BOT_TOKEN": None, "SECRET_KEY": None}
    return CliRunner().invoke(cli, ["backup", *args], env=env)


def rows(path: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as connection:
        return connection.execute(query).fetchall()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A migrated database with one admin in it."""
    path = tmp_path / "bot.db"
    upgrade_database(f"sqlite:///{path}")
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO users (telegram_id, language, role, subscribed, created_at, last_seen_at) "
            "VALUES (42, 'id', 'admin', 1, '2026-11-23 02:00:00', '2026-11-23 02:00:00')"
        )
    return path


def test_backup_copies_every_table_and_refuses_to_overwrite(tmp_path: Path, database: Path) -> None:
    target = tmp_path / "copies" / "bot-2026-11-23.db"
    first = backup(tmp_path, str(target))
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith(f"backed up {database} to {target}")
    assert rows(target, "PRAGMA integrity_check") == [("ok",)]
    assert rows(target, "SELECT telegram_id, role FROM users") == [(42, "admin")]
    assert rows(target, "SELECT count(*) FROM alembic_version") == rows(database, "SELECT count(*) FROM alembic_version")

    before = target.read_bytes()
    second = backup(tmp_path, str(target))
    assert second.exit_code == 1
    assert second.stderr.splitlines() == [f"forum-anak: {target} exists; use --force to replace it"]
    assert target.read_bytes() == before

    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE users SET role = 'staff'")
    forced = backup(tmp_path, str(target), "--force")
    assert forced.exit_code == 0, forced.output
    assert rows(target, "SELECT role FROM users") == [("staff",)]
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no temporary file left


def test_postgresql_points_to_pg_dump(tmp_path: Path) -> None:
    result = backup(tmp_path, "copy.db", url="postgresql+psycopg://postgres@127.0.0.1:5432/forum")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "forum-anak: backup copies a SQLite database; for PostgreSQL use pg_dump (see the README)"
    ]


def test_missing_database_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    result = backup(tmp_path, str(tmp_path / "copy.db"))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"forum-anak: no database at {tmp_path / 'bot.db'}; check DATABASE_URL"]
    assert not (tmp_path / "bot.db").exists() and not (tmp_path / "copy.db").exists()


def test_the_database_itself_is_never_the_target(database: Path) -> None:
    with pytest.raises(BackupError, match="the database itself"):
        backup_sqlite(database, database, force=True)
    assert rows(database, "PRAGMA integrity_check") == [("ok",)]


def test_progress_is_reported_for_a_big_copy(tmp_path: Path, database: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.backup.PROGRESS_EVERY", 0.0)  # report at every check, not every 2 s
    monkeypatch.setattr("bot.backup.PROGRESS_OPCODES", 1000)  # check often: this file is small
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE padding (blob TEXT)")
        connection.executemany("INSERT INTO padding VALUES (?)", [("x" * 1000,)] * 5000)
    reports: list[tuple[int, int]] = []
    backup_sqlite(database, tmp_path / "copy.db", progress=lambda done, total: reports.append((done, total)))
    assert reports, "no progress was reported"
    assert all(done <= total * 1.1 for done, total in reports)
    assert reports[-1][1] >= 5_000_000
