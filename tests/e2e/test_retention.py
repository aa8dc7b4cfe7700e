"""Retention as a child lives it: a notice in the chat, one press keeps the account, silence erases it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from db import grain, users
from handlers.retention import run_retention
from tests.e2e.conftest import BotHarness
from tests.helpers.factories import NOW

pytestmark = pytest.mark.e2e

DAY = timedelta(days=1)
NOTICE_AT = NOW + 700 * DAY  # default settings: 730 idle days, notice 30 days before
ERASE_AT = NOW + 730 * DAY
KEEPER, QUIET = 6101, 6102


async def has_account(bot: BotHarness, telegram_id: int) -> bool:
    async with bot.services.db() as session:
        return await users.get_user(session, telegram_id=telegram_id) is not None


async def test_the_notice_arrives_and_one_press_keeps_the_account(bot: BotHarness) -> None:
    await bot.user(KEEPER)
    await bot.user(QUIET, language="en")
    bot.clock.set(NOTICE_AT)
    assert (await run_retention(bot.services, now=bot.clock.now())).notified == 2
    assert await bot.deliver() == 2
    [notice] = bot.emu.bot_messages(KEEPER)
    assert "Akunmu akan dihapus" in notice.plain_text and "dalam 30 hari" in notice.plain_text
    assert "Your account will be erased" in bot.emu.bot_messages(QUIET)[0].plain_text

    bot.clock.advance(3 * DAY)
    answer = await bot.press(KEEPER, "✅ Tetap simpan akunku")
    assert "akunmu tidak dihapus" in answer.plain_text
    mine = await bot.send(KEEPER, "/data_saya")  # the notice is part of the stored data, and shown
    assert "Pemberitahuan terakhir sebelum dihapus karena tidak aktif: 23-10-2028" in mine.plain_text  # a day

    bot.clock.set(ERASE_AT)
    run = await run_retention(bot.services, now=bot.clock.now())
    assert (run.notified, run.erased) == (0, 1)
    assert await has_account(bot, KEEPER) and not await has_account(bot, QUIET)

    # The erased child's old button is refused, and /start begins again from the first question.
    alert = await bot.press_for_alert(QUIET, "✅ Keep my account")
    assert "no longer valid" in alert  # an erased person's Telegram language (en) still applies
    reply = await bot.send(QUIET, "/start")
    assert "choose your language" in reply.plain_text and "🇬🇧 English" in reply.button_labels()


async def test_an_update_counts_as_activity_written_at_most_once_a_day(bot: BotHarness) -> None:
    # Retention erases accounts by their last activity: a reader's update must move it.
    await bot.user(KEEPER)

    async def last_seen() -> object:
        async with bot.services.db() as session:
            user = await users.get_user(session, telegram_id=KEEPER)
            assert user is not None
            return user.last_seen_at

    first = await last_seen()
    bot.clock.advance(timedelta(hours=13))  # 23:00 WITA
    await bot.send(KEEPER, "/menu")
    assert await last_seen() == first  # the same day: no write (only the day is kept, db/grain.py)
    bot.clock.advance(timedelta(hours=2))
    await bot.send(KEEPER, "/menu")
    assert await last_seen() == grain.day(bot.clock.now()) == first + timedelta(days=1)
