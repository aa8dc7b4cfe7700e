"""python-telegram-bot on the aiohttp request layer, and ForumBot's unparsed send and edit: the same calls,
answers and errors as with HTTPX and PTB's own methods."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, TimedOut
from telegram.ext import Defaults

from bot.sandbox.emulator import BotApiEmulator
from bot.telegram_bot import ForumBot
from bot.telegram_request import AiohttpRequest

TOKEN = "123456:TEST-token-for-requests"


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[BotApiEmulator]:
    """The emulator, with one user the bot may write to."""
    emu = BotApiEmulator(token=TOKEN, files_dir=tmp_path / "files")
    await emu.start()
    emu.add_user(7)
    yield emu
    await emu.stop()


@pytest.fixture
async def bot(emulator: BotApiEmulator) -> AsyncIterator[Bot]:
    """A PTB Bot whose requests go through AiohttpRequest."""
    async with Bot(TOKEN, base_url=emulator.base_url, base_file_url=emulator.base_file_url,
                   request=AiohttpRequest(), get_updates_request=AiohttpRequest(connections=1)) as bot:
        yield bot


async def test_messages_buttons_and_edits_arrive_as_sent(bot: Bot, emulator: BotApiEmulator) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Lanjut", callback_data="ob:next")]])
    sent = await bot.send_message(7, "<b>Halo</b> &amp; selamat datang", parse_mode="HTML", reply_markup=markup)
    await bot.edit_message_text("Sudah <i>diubah</i>", chat_id=7, message_id=sent.message_id, parse_mode="HTML")
    message = emulator.bot_messages(7)[-1]
    assert sent.text == "Halo & selamat datang"
    assert message.plain_text == "Sudah diubah"
    assert emulator.bot_events_since(0, 7)[0].message.button_labels() == ["Lanjut"]


async def test_a_file_is_uploaded_with_its_name_and_content(bot: Bot, emulator: BotApiEmulator) -> None:
    content = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    await bot.send_document(7, InputFile(content, filename="acara-1.ics"), caption="Kalender")
    message = emulator.bot_messages(7)[-1]
    assert message.document_name == "acara-1.ics"
    assert message.caption == "Kalender"
    assert message.document_path is not None and message.document_path.read_bytes() == content


async def test_updates_are_fetched_by_long_polling(bot: Bot, emulator: BotApiEmulator) -> None:
    emulator.send_text(7, "/start")
    updates = await bot.get_updates(timeout=5)
    assert [u.effective_message.text for u in updates if u.effective_message] == ["/start"]


async def test_refusals_raise_python_telegram_bots_errors(bot: Bot, emulator: BotApiEmulator) -> None:
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await bot.send_message(7, "<b>not closed", parse_mode="HTML")
    emulator.block(7)
    with pytest.raises(Forbidden):
        await bot.send_message(7, "halo")


async def test_a_call_is_one_json_body_with_its_values_as_they_are() -> None:
    # What Telegram reads: nested objects as objects, numbers and booleans as themselves.
    seen: list[tuple[str, object]] = []

    async def answer(request: web.Request) -> web.Response:
        if request.match_info["method"] == "getMe":
            return web.json_response({"ok": True, "result": {"id": 123456, "is_bot": True, "first_name": "Bot",
                                                             "username": "forum_anak_bot"}})
        seen.append((request.content_type, await request.json()))
        return web.json_response({"ok": True, "result": {"message_id": 5, "date": 0, "text": "Halo",
                                                         "chat": {"id": 7, "type": "private"}}})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Lanjut", callback_data="ob:next")]])
    try:
        async with Bot(TOKEN, base_url=f"http://127.0.0.1:{port}/bot", request=AiohttpRequest(),
                       get_updates_request=AiohttpRequest(connections=1)) as bot:
            sent = await bot.send_message(7, "Halo \"kamu\" & aku", reply_markup=markup, disable_notification=True)
    finally:
        await runner.cleanup()
    assert sent.message_id == 5
    assert seen == [("application/json", {
        "chat_id": 7, "text": 'Halo "kamu" & aku', "disable_notification": True,
        "reply_markup": {"inline_keyboard": [[{"text": "Lanjut", "callback_data": "ob:next"}]]},
    })]


async def test_spaced_requests_start_no_closer_than_the_spacing(emulator: BotApiEmulator) -> None:
    # getUpdates is spaced so that a busy bot fetches several updates per call (bot/app.py).
    request = AiohttpRequest(spacing=0.3)
    await request.initialize()
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        for _ in range(3):
            await request.post(f"{emulator.base_url}{TOKEN}/getMe")
        assert loop.time() - started >= 0.6  # three starts, two gaps
    finally:
        await request.shutdown()


async def test_a_silent_server_times_out() -> None:
    async def never_answers(_request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response()

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", never_answers)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        request = AiohttpRequest(read_timeout=0.2)
        await request.initialize()
        with pytest.raises(TimedOut):
            await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
        await request.shutdown()
    finally:
        await runner.cleanup()


async def test_no_server_is_a_network_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError):
            await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
    finally:
        await request.shutdown()


@pytest.fixture
async def forum_bot(emulator: BotApiEmulator) -> AsyncIterator[ForumBot]:
    """ForumBot built as bot/app.py builds it: HTML by default, aiohttp requests."""
    async with ForumBot(TOKEN, base_url=emulator.base_url, base_file_url=emulator.base_file_url,
                        defaults=Defaults(parse_mode=ParseMode.HTML), request=AiohttpRequest()) as bot:
        yield bot


# ForumBot's unparsed send and edit: the same message on the user's screen as PTB's own calls.
MARKUP = InlineKeyboardMarkup([[InlineKeyboardButton("Lanjut", callback_data="ob:next")]])


async def test_send_text_uses_the_default_html_and_carries_the_keyboard(
    forum_bot: ForumBot, emulator: BotApiEmulator
) -> None:
    await forum_bot.send_text(7, "<b>Halo</b> &amp; selamat datang", MARKUP)
    message = emulator.bot_messages(7)[-1]
    assert message.parse_mode == "HTML"
    assert message.plain_text == "Halo & selamat datang"
    assert message.button_labels() == ["Lanjut"]


async def test_edit_text_changes_the_message_in_place_and_can_drop_the_keyboard(
    forum_bot: ForumBot, emulator: BotApiEmulator
) -> None:
    await forum_bot.send_text(7, "Soal 1", MARKUP)
    sent = emulator.bot_messages(7)[-1]
    await forum_bot.edit_text(7, sent.message_id, "Sudah <i>dijawab</i>")
    edited = emulator.message(7, sent.message_id)
    assert edited is not None and edited.edited
    assert edited.plain_text == "Sudah dijawab"
    assert edited.button_labels() == []
    assert len(emulator.bot_messages(7)) == 1


async def test_forum_bots_refusals_raise_python_telegram_bots_errors(
    forum_bot: ForumBot, emulator: BotApiEmulator
) -> None:
    # respond() tells "not modified" and "message to edit not found" apart by these errors.
    await forum_bot.send_text(7, "Soal 1")
    sent = emulator.bot_messages(7)[-1]
    with pytest.raises(BadRequest, match="(?i)not modified"):
        await forum_bot.edit_text(7, sent.message_id, "Soal 1")
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await forum_bot.edit_text(7, sent.message_id + 100, "Soal 2")
    emulator.block(7)
    with pytest.raises(Forbidden):
        await forum_bot.send_text(7, "halo")
