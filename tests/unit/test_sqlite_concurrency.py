"""Concurrent writers on one SQLite file queue behind each other instead of failing.

With the per-chat update processor, up to 128 updates run at once and many of them write.
WAL plus busy_timeout (db/engine.py) must turn contention into waiting, never into
"database is locked".
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from db import users
from db.engine import make_engine, session_factory, upgrade_database
from db.models import User
from tests.helpers.databases import sqlite_url
from tests.helpers.factories import NOW

WRITERS = 64
ROUNDS = 8


async def test_many_concurrent_writers_never_hit_a_locked_database(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    upgrade_database(url)
    engine = make_engine(url)
    db = session_factory(engine)
    async with db() as session:
        await users.start_account(session, telegram_id=1, language="id", now=NOW)
    failures: list[BaseException] = []

    async def writer(telegram_id: int) -> None:
        for round_no in range(ROUNDS):
            try:
                async with db() as session:
                    # Read, give the other writers a turn in the middle of the transaction, write.
                    await users.get_user(session, telegram_id=1)
                    await asyncio.sleep(0)
                    language = "en" if round_no % 2 else "id"
                    user = await users.start_account(session, telegram_id=telegram_id, language=language, now=NOW)
                    await asyncio.sleep(0)
                    await users.set_subscribed(session, user=user, subscribed=bool(round_no % 2))
            except Exception as exc:  # collected, so one failure does not hide the others
                failures.append(exc)

    try:
        await asyncio.gather(*(writer(1000 + n) for n in range(WRITERS)))
        assert failures == []
        async with db() as session:
            count = await session.scalar(select(func.count()).select_from(User).where(User.telegram_id >= 1000))
            languages = set((await session.scalars(select(User.language).where(User.telegram_id >= 1000))).all())
        assert count == WRITERS
        # The last round of every writer is odd (ROUNDS is even): all of them landed.
        assert languages == {"en"}
    finally:
        await engine.dispose()
