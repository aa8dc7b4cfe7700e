"""Migration 0010 coarsens what an older database already holds (issue 17, item 1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from db.engine import alembic_config, make_sync_engine, upgrade_database
from tests.helpers.databases import postgres_database, sqlite_url

ARRIVED = datetime(2026, 11, 24, 4, 3, 17, 123456, tzinfo=UTC)  # 12:03:17 WITA
ANSWERED = datetime(2026, 11, 24, 4, 23, 5, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database at revision 0009 (and its branches), before time grains."""
    with ExitStack() as stack:
        url = sqlite_url(tmp_path) if request.param == "sqlite" else stack.enter_context(postgres_database())
        config = alembic_config(url)
        upgrade_database(url)  # every branch to its head ...
        command.downgrade(config, "0009")  # ... then back to before this change
        yield url


def test_existing_times_are_coarsened_and_the_sla_clock_carried_over(old_database: str) -> None:
    engine = make_sync_engine(old_database)
    sqlite = engine.dialect.name == "sqlite"

    def at(moment: datetime) -> object:
        return moment.replace(tzinfo=None) if sqlite else moment

    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO users (telegram_id, language, role, subscribed, created_at, last_seen_at, privacy_accepted_at) "
            "VALUES (7, 'id', 'child', true, :t, :t, :t)"), {"t": at(ARRIVED)})
        for code, status, responded in (("AAAA-AAAA", "open", at(ANSWERED)), ("BBBB-BBBB", "new", None)):
            connection.execute(text(
                "INSERT INTO reports (code, category, reporter_kind, urgent, place, happened, description, language, "
                "follow_up, status, created_at, first_response_at, last_alerted_at) VALUES (:code, 'bullying', "
                "'self', false, 'school', 'today', 'x', 'id', false, :status, :t, :r, :t)"),
                {"code": code, "status": status, "t": at(ARRIVED), "r": responded})
        connection.execute(text("INSERT INTO report_messages (report_id, kind, text, created_at) "
                                "SELECT id, 'reporter', 'halo', :t FROM reports WHERE code = 'AAAA-AAAA'"),
                           {"t": at(ANSWERED)})
    command.upgrade(alembic_config(old_database), "0010")  # this change only (0013 hashes the codes)

    def aware(value: object) -> datetime | None:
        if value is None:
            return None
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        assert isinstance(moment, datetime)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    with engine.connect() as connection:
        created, seen, privacy = connection.execute(
            text("SELECT created_at, last_seen_at, privacy_accepted_at FROM users")).one()
        rows = connection.execute(text(
            "SELECT code, created_at, received_at, first_response_seconds, first_response_at, last_alerted_at "
            "FROM reports ORDER BY code")).all()
        message = connection.execute(text("SELECT created_at FROM report_messages")).scalar_one()
    engine.dispose()
    assert aware(seen) == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 24 Nov, midnight WITA
    assert aware(created) == aware(privacy) == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # November
    answered, waiting = rows
    assert aware(answered.created_at) == datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    assert answered.first_response_seconds == 1187 and answered.received_at is None
    assert aware(answered.first_response_at) == datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    assert answered.last_alerted_at is None
    assert aware(waiting.received_at) == ARRIVED  # still waiting: re-alerts keep their clock
    assert aware(message) == datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
