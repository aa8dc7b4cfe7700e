"""Urgent reports reach staff even without a staff group (issue 17, item 3): privately, short.

With no STAFF_CHAT_ID, with a group the bot is not in at start, or one it was removed from
later, the short alert goes to every staff member and admin in their private chat, and
`forum-anak run` warns at start.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.sandbox.emulator import BotApiEmulator
from tests.e2e.conftest import ADMIN_ID, STAFF_CHAT_ID, BotHarness, running_bot
from tests.e2e.test_reports import REPORTER, STAFF, STORY, walk
from tests.helpers.clock import FakeClock
from tests.helpers.databases import sqlite_url

pytestmark = pytest.mark.e2e

URGENT = "MENDESAK · Kasus #"


@pytest.fixture
async def no_group_bot(emulator: BotApiEmulator, tmp_path: Path, clock: FakeClock) -> AsyncIterator[BotHarness]:
    async with running_bot(emulator, sqlite_url(tmp_path), clock, STAFF_CHAT_ID=None) as harness:
        yield harness


def private_alerts(bot: BotHarness, uid: int) -> list[str]:
    return [m.text for m in bot.emu.bot_messages(uid) if "Kasus #" in m.text and m.reply_markup]


def assert_short(bot: BotHarness, texts: list[str]) -> None:
    assert texts and all(STORY not in text and "dipalak" not in text for text in texts)


async def test_without_a_staff_group_urgent_alerts_reach_every_staff_member_and_admin_privately(
    no_group_bot: BotHarness, caplog: pytest.LogCaptureFixture,
) -> None:
    bot = no_group_bot
    await bot.user(STAFF, role="staff")
    bot.emu.add_user(ADMIN_ID, first_name="Admin")  # the admin of ADMIN_IDS, who started the bot once
    await walk(bot, danger=True)
    await bot.deliver()
    for person in (STAFF, ADMIN_ID):
        [alert] = [text for text in private_alerts(bot, person) if URGENT in text]
        assert_short(bot, [alert])
    assert bot.emu.bot_messages(STAFF_CHAT_ID) == []


async def test_run_warns_at_start_when_no_staff_group_is_set(
    emulator: BotApiEmulator, tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    async with running_bot(emulator, sqlite_url(tmp_path), clock, STAFF_CHAT_ID=None):
        pass
    assert any("STAFF_CHAT_ID is not set" in r.getMessage() for r in caplog.records)


async def test_a_group_the_bot_is_not_in_at_start_is_warned_about_and_alerts_go_privately(
    emulator: BotApiEmulator, tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    emulator.kick_bot(STAFF_CHAT_ID)
    async with running_bot(emulator, sqlite_url(tmp_path), clock) as bot:
        assert any("cannot be reached" in r.getMessage() for r in caplog.records)
        await bot.user(STAFF, role="staff")
        bot.emu.add_user(ADMIN_ID, first_name="Admin")
        await walk(bot, danger=True)
        await bot.deliver()
        assert [text for text in private_alerts(bot, STAFF) if URGENT in text]
        assert not bot.emu.requests_for("sendMessage") or all(
            r.params.get("chat_id") != STAFF_CHAT_ID for r in bot.emu.requests_for("sendMessage"))


async def test_removed_from_the_group_later_the_next_alert_goes_privately(bot: BotHarness) -> None:
    await bot.user(STAFF, role="staff")
    bot.emu.add_user(ADMIN_ID, first_name="Admin")
    await walk(bot)
    await bot.deliver()
    assert [m for m in bot.emu.bot_messages(STAFF_CHAT_ID) if "Kasus #1" in m.text]
    bot.emu.kick_bot(STAFF_CHAT_ID)
    await walk(bot, danger=True)  # its alert to the group fails ...
    await bot.deliver()
    assert not private_alerts(bot, STAFF)
    await walk(bot, danger=True)  # ... so the next one goes to staff privately (and the group is tried)
    await bot.deliver()
    assert [text for text in private_alerts(bot, STAFF) if "Kasus #3" in text]
    bot.emu.add_group(STAFF_CHAT_ID, "Staf DP3AKB")  # the bot is added back
    await walk(bot, REPORTER + 1, danger=True)  # (another reporter: 3 reports an hour each)
    await bot.deliver()
    assert [m for m in bot.emu.bot_messages(STAFF_CHAT_ID) if "Kasus #4" in m.text]
    await walk(bot, REPORTER + 1, danger=True)  # the group took an alert again: the detour ends
    await bot.deliver()
    assert [m for m in bot.emu.bot_messages(STAFF_CHAT_ID) if "Kasus #5" in m.text]
    assert not [text for text in private_alerts(bot, STAFF) if "Kasus #5" in text]
