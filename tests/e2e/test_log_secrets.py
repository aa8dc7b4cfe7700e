"""Issue 17, item 8: a database error never writes a story, a code or a Telegram id to the log.

The database refuses for real (a trigger that aborts the insert), so the error and its traceback
are SQLAlchemy's own; the JSON log is then read line by line.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.sandbox.emulator import BotApiEmulator
from tests.e2e.conftest import running_bot
from tests.e2e.test_json_logs import json_log  # noqa: F401 (the fixture)
from tests.e2e.test_reports import STORY, to_summary
from tests.helpers.clock import FakeClock
from tests.helpers.databases import sqlite_url

pytestmark = pytest.mark.e2e

REPORTER = 736251948
NEWCOMER = 583920174
CODE = re.compile(r"[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}")


async def test_a_failed_report_insert_logs_no_story_code_or_id(
    emulator: BotApiEmulator, tmp_path: Path, clock: FakeClock, json_log: io.StringIO  # noqa: F811
) -> None:
    async with running_bot(emulator, sqlite_url(tmp_path), clock) as bot:
        async with bot.services.engine.begin() as connection:
            for table in ("reports", "users"):
                await connection.execute(text(
                    f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                    "BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
                ))
        await to_summary(bot, REPORTER)
        assert "Maaf, ada yang salah" in await bot.press_for_alert(REPORTER, "📨 Kirim laporan")
        # A newcomer's account cannot be made either: that INSERT carries the Telegram id.
        await bot.send(NEWCOMER, "/start")
        assert "Maaf, ada yang salah" in await bot.press_for_alert(NEWCOMER, "🇮🇩 Bahasa Indonesia")

    lines = json_log.getvalue().splitlines()
    failures = [line for line in lines if "disk says no" in line]
    assert len(failures) >= 2, "the database errors were not logged: the test would prove nothing"
    for line in lines:
        json.loads(line)
        assert STORY[:20] not in line, line
        assert CODE.search(line) is None, line
        assert str(REPORTER) not in line and str(NEWCOMER) not in line, line
    assert any("parameters hidden" in line for line in failures)
