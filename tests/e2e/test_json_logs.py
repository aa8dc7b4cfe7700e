"""LOG_FORMAT=json: one object per line, useful fields, and nothing personal (bot/logs.py)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logs import configure_logging
from bot.sandbox.emulator import BotApiEmulator
from tests.e2e.conftest import TOKEN
from tests.e2e.test_reports import NAME, STAFF, STORY, SURNAME, USERNAME, staff_card, walk
from tests.e2e.test_webhook import SECRET_KEY, webhook_bot
from tests.helpers.clock import FakeClock
from tests.helpers.databases import sqlite_url

pytestmark = pytest.mark.e2e

PARENT = 583920174
PARENT_NAME, PARENT_USERNAME = "Rahmawati", "rahma_bpp"
REPORTER = 736251948


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The root logger as `forum-anak run` sets it up with LOG_FORMAT=json, written to a buffer."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("json")
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        logging.captureWarnings(False)
        root.handlers[:], level = saved
        root.setLevel(level)


async def test_a_session_in_json_logs_parses_and_holds_nothing_personal(
    emulator: BotApiEmulator, tmp_path: Path, clock: FakeClock, json_log: io.StringIO
) -> None:
    async with webhook_bot(emulator, sqlite_url(tmp_path), clock) as bot:
        # A parent onboards, in English, with a name and a username on their Telegram account.
        emulator.add_user(PARENT, first_name=PARENT_NAME, username=PARENT_USERNAME, language_code="en")
        await bot.send(PARENT, "/start")
        await bot.press(PARENT, "🇬🇧 English")
        await bot.press(PARENT, "✅ I agree")
        await bot.press(PARENT, "👪 Parent / guardian")
        await bot.press(PARENT, "Balikpapan Utara")
        await bot.press(PARENT, "Batu Ampar")
        assert "Main menu" in (await bot.press(PARENT, "Female")).text
        # A child reports anonymously with a photo; staff are alerted and answer; the child reads it.
        await bot.user(STAFF, role="staff")
        code = await walk(bot, REPORTER, photos=1)
        await bot.deliver()
        await bot.send(STAFF, "/kasus", chat_id=bot.staff_chat_id)  # in the group: only a pointer
        await staff_card(bot, code)
        await bot.press(STAFF, "✉️ Balas pelapor")
        await bot.send(STAFF, "Terima kasih, kami datang besok.")
        await bot.deliver()
        await bot.send(REPORTER, f"/status {code}")
        await bot.send(REPORTER, "kata sandi rahasia aku")  # free text outside any flow

    lines = json_log.getvalue().splitlines()
    assert len(lines) > 20, lines
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= entry.keys(), entry
    handled = [e for e in entries if e["message"] == "update handled"]
    assert len(handled) >= 20
    for entry in handled:
        assert isinstance(entry["update_id"], int) and entry["duration_ms"] >= 0
        assert entry["handler"].startswith("handlers.") and entry["update_type"] in ("message", "callback_query")
    assert {e["chat_type"] for e in handled} == {"private", "supergroup"}
    assert "handlers.case_notes.start_write" in {e["handler"] for e in handled}  # named through its guard
    received = [e for e in entries if e["message"].startswith("report received")]
    assert len(received) == 1 and "update_id" in received[0] and "handler" in received[0]

    personal = [
        NAME, SURNAME, USERNAME, PARENT_NAME, PARENT_USERNAME, STORY, code, code.replace("-", ""),
        "Terima kasih, kami datang besok", "kata sandi rahasia", str(PARENT), str(REPORTER), str(STAFF),
        TOKEN, SECRET_KEY,
    ]
    # Every field but the timestamp, whose microseconds could match a 6-digit id by chance.
    texts = [json.dumps({k: v for k, v in e.items() if k != "time"}, ensure_ascii=False).lower() for e in entries]
    leaks = [(word, text) for text in texts for word in personal if word.lower() in text]
    assert leaks == []
