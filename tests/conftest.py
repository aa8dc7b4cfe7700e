"""Shared fixtures: a migrated database per test, on SQLite and (when available) PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import bot  # noqa: F401  (sets PTB_TIMEDELTA before telegram is imported)
from db.engine import make_engine, session_factory, upgrade_database
from tests.helpers.databases import postgres_database, sqlite_url

SHARED = Path(__file__).resolve().parents[2] / "shared"
API_SCHEMA = SHARED / "reference" / "telegram-bot-api" / "api.min.json"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
        upgrade_database(url)
        yield url
        return
    with postgres_database() as url:
        upgrade_database(url)
        yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The async engine of the test database."""
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """One session in one transaction, committed at the end like the bot's."""
    async with session_factory(engine)() as session:
        yield session
