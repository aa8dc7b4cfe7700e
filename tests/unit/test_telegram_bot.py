"""ForumBot's unparsed send and edit: the same message on the user's screen as PTB's own calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden
from telegram.ext import Defaults

from bot.sandbox.emulator import BotApiEmulator
from bot.telegram_bot import ForumBot
from bot.telegram_request import AiohttpRequest

TOKEN = "123456:TEST-token-for-forum-bot"
KID = 7


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[BotApiEmulator]:
    emu = BotApiEmulator(token=TOKEN, files_dir=tmp_path / "files")
    await emu.start()
    emu.add_user(KID)
    yield emu
    await emu.stop()


@pytest.fixture
async def bot(emulator: BotApiEmulator) -> AsyncIterator[ForumBot]:
    """Built as bot/app.py builds it: HTML by default, aiohttp requests."""
    async with ForumBot(TOKEN, base_url=emulator.base_url, base_file_url=emulator.base_file_url,
                        defaults=Defaults(parse_mode=ParseMode.HTML), request=AiohttpRequest()) as bot:
        yield bot


MARKUP = InlineKeyboardMarkup([[InlineKeyboardButton("Lanjut", callback_data="ob:next")]])


async def test_send_text_uses_the_default_html_and_carries_the_keyboard(
    bot: ForumBot, emulator: BotApiEmulator
) -> None:
    await bot.send_text(KID, "<b>Halo</b> &amp; selamat datang", MARKUP)
    message = emulator.bot_messages(KID)[-1]
    assert message.parse_mode == "HTML"
    assert message.plain_text == "Halo & selamat datang"
    assert message.button_labels() == ["Lanjut"]


async def test_edit_text_changes_the_message_in_place_and_can_drop_the_keyboard(
    bot: ForumBot, emulator: BotApiEmulator
) -> None:
    await bot.send_text(KID, "Soal 1", MARKUP)
    sent = emulator.bot_messages(KID)[-1]
    await bot.edit_text(KID, sent.message_id, "Sudah <i>dijawab</i>")
    edited = emulator.message(KID, sent.message_id)
    assert edited is not None and edited.edited
    assert edited.plain_text == "Sudah dijawab"
    assert edited.button_labels() == []
    assert len(emulator.bot_messages(KID)) == 1


async def test_refusals_raise_python_telegram_bots_errors(bot: ForumBot, emulator: BotApiEmulator) -> None:
    # respond() tells "not modified" and "message to edit not found" apart by these errors.
    await bot.send_text(KID, "Soal 1")
    sent = emulator.bot_messages(KID)[-1]
    with pytest.raises(BadRequest, match="(?i)not modified"):
        await bot.edit_text(KID, sent.message_id, "Soal 1")
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_text(KID, sent.message_id + 100, "Soal 2")
    emulator.block(KID)
    with pytest.raises(Forbidden):
        await bot.send_text(KID, "halo")
