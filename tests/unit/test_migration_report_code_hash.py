"""Migration 0013 keeps old report codes working while storing them only as keyed hashes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from db.crypto import report_code_hash
from db.engine import alembic_config, make_sync_engine, upgrade_database
from tests.helpers.databases import postgres_database, sqlite_url

SECRET = "migration-secret-that-is-long-enough-0123456789"
CODES = ("K7QM-3XPA", "ZZ2Z-9ABC")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def old_database(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database at revision 0012 holding two reports with plain codes."""
    monkeypatch.chdir(tmp_path)  # no .env of the developer's is read
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with ExitStack() as stack:
        url = sqlite_url(tmp_path) if request.param == "sqlite" else stack.enter_context(postgres_database())
        upgrade_database(url)
        command.downgrade(alembic_config(url), "0012")
        engine = make_sync_engine(url)
        with engine.begin() as connection:
            for code in CODES:
                connection.execute(text(
                    "INSERT INTO reports (code, category, reporter_kind, urgent, place, happened, description, "
                    "language, follow_up, status, created_at, last_alerted_at) VALUES (:code, 'bullying', 'self', "
                    "false, 'school', 'today', 'x', 'id', false, 'new', :t, :t)"), {"code": code, "t": "2026-11-24 04:00:00"})
        engine.dispose()
        yield url


def test_old_codes_become_keyed_hashes_and_the_plain_codes_are_gone(
    old_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY", SECRET)
    upgrade_database(old_database)
    engine = make_sync_engine(old_database)
    assert "code" not in {c["name"] for c in inspect(engine).get_columns("reports")}
    with engine.connect() as connection:
        stored = set(connection.execute(text("SELECT code_hash FROM reports")).scalars())
        dump = " ".join(str(v) for row in connection.execute(text("SELECT * FROM reports")) for v in row)
    engine.dispose()
    assert stored == {report_code_hash(SECRET, code) for code in CODES}
    assert not any(code in dump or code.replace("-", "") in dump for code in CODES)


def test_without_secret_key_the_upgrade_stops_with_one_line_and_changes_nothing(old_database: str) -> None:
    with pytest.raises(RuntimeError, match="SECRET_KEY is needed"):
        upgrade_database(old_database)
    engine = make_sync_engine(old_database)
    with engine.connect() as connection:
        assert set(connection.execute(text("SELECT code FROM reports")).scalars()) == set(CODES)
    engine.dispose()
