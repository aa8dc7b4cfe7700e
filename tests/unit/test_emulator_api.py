"""The emulator behaves like Telegram where bots break, driven by python-telegram-bot's own Bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import ApplicationBuilder, CommandHandler

from bot.sandbox.emulator import BotApiEmulator
from tests.conftest import API_SCHEMA

TOKEN = "123456:EMULATOR-test-token"
USER = 77


@pytest.fixture
async def emu(tmp_path: Path) -> AsyncIterator[BotApiEmulator]:
    schema = API_SCHEMA if API_SCHEMA.exists() else None
    emulator = BotApiEmulator(token=TOKEN, files_dir=tmp_path / "files", api_schema=schema)
    await emulator.start()
    emulator.add_user(USER)
    yield emulator
    await emulator.stop()


@pytest.fixture
async def tg(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as bot:
        yield bot


async def test_get_me_and_a_message(tg: Bot, emu: BotApiEmulator) -> None:
    assert tg.username == "ForumAnakBot"
    sent = await tg.send_message(USER, "<b>Halo</b>", parse_mode=ParseMode.HTML)
    assert sent.message_id == 1 and emu.last_bot_message(USER).text == "<b>Halo</b>"  # type: ignore[union-attr]


async def test_length_limits_count_visible_characters(tg: Bot) -> None:
    await tg.send_message(USER, "<b>" + "x" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)too long"):
        await tg.send_message(USER, "x" * 4097)
    with pytest.raises(BadRequest, match="(?i)empty"):
        await tg.send_message(USER, "<b></b>", parse_mode=ParseMode.HTML)


async def test_bad_html_is_refused(tg: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await tg.send_message(USER, "a<br>b", parse_mode=ParseMode.HTML)
    await tg.send_message(USER, "a<br>b")  # without parse mode it is plain text


async def test_callback_data_over_64_bytes_is_refused(tg: Bot) -> None:
    ok = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="x" * 64)]])
    await tg.send_message(USER, "keyboard", reply_markup=ok)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("no", callback_data="é" * 33)]])
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await tg.send_message(USER, "keyboard", reply_markup=too_long)


async def test_blocked_user_and_unknown_chat(tg: Bot, emu: BotApiEmulator) -> None:
    emu.block(USER)
    with pytest.raises(Forbidden, match="(?i)blocked"):
        await tg.send_message(USER, "hi")
    assert emu.refused[-1].expected
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await tg.send_message(424242, "hi")
    assert not emu.refused[-1].expected


async def test_429_fault_and_rate_limit(tg: Bot, emu: BotApiEmulator) -> None:
    emu.fail_next("sendMessage", 1, retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await tg.send_message(USER, "hi")
    assert caught.value.retry_after.total_seconds() == 3
    await tg.send_message(USER, "again")
    emu.set_rate_limit(2)
    await tg.send_message(USER, "1")
    await tg.send_message(USER, "2")
    with pytest.raises(RetryAfter):
        await tg.send_message(USER, "3")
    assert emu.rate_limited_count == 1


async def test_edit_not_modified_and_missing(tg: Bot) -> None:
    sent = await tg.send_message(USER, "same")
    with pytest.raises(BadRequest, match="(?i)not modified"):
        await tg.edit_message_text("same", chat_id=USER, message_id=sent.message_id)
    await tg.edit_message_text("changed", chat_id=USER, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await tg.edit_message_text("x", chat_id=USER, message_id=999)


async def test_callback_query_is_answered_once(tg: Bot, emu: BotApiEmulator) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a:b")]])
    await tg.send_message(USER, "press", reply_markup=markup)
    query_id = emu.press_button(USER, "A")
    await tg.answer_callback_query(query_id, text="ok")
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await tg.answer_callback_query(query_id)


async def test_documents_are_saved_and_downloadable(tg: Bot, emu: BotApiEmulator) -> None:
    sent = await tg.send_document(USER, b"BEGIN:VCALENDAR", filename="acara.ics")
    assert emu.saved_files and emu.saved_files[-1].name.endswith("acara.ics")
    assert sent.document is not None
    file = await tg.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"BEGIN:VCALENDAR"


async def test_quiz_poll_and_answer(tg: Bot, emu: BotApiEmulator) -> None:
    sent = await tg.send_poll(
        USER, "Berapa?", ["satu", "dua"], type="quiz", correct_option_ids=[1], is_anonymous=False,
        explanation="dua",
    )
    assert sent.poll is not None and sent.poll.correct_option_ids == (1,)
    with pytest.raises(BadRequest):
        await tg.send_poll(USER, "?", ["x" * 101, "y"])
    emu.answer_poll(USER, sent.poll.id, [1])
    updates = await tg.get_updates(timeout=0)
    assert updates[-1].poll_answer is not None and updates[-1].poll_answer.option_ids == (1,)


async def test_unknown_method_and_parameter_are_refused(tg: Bot, emu: BotApiEmulator) -> None:
    if not API_SCHEMA.exists():
        pytest.skip("official API description not present")
    with pytest.raises(BadRequest, match="(?i)unknown parameter"):
        await tg.send_message(USER, "x", api_kwargs={"not_a_parameter": 1})
    with pytest.raises(Exception, match="(?i)Not Found"):
        await tg.do_api_request("sendTelepathy", api_kwargs={"chat_id": USER})


async def test_real_application_polls_and_answers(emu: BotApiEmulator) -> None:
    async def hello(update, context):  # type: ignore[no-untyped-def]
        await update.message.reply_text("halo!")

    app = ApplicationBuilder().token(TOKEN).base_url(emu.base_url).base_file_url(emu.base_file_url).build()
    app.add_handler(CommandHandler("start", hello))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=5)
        emu.send_text(USER, "/start")
        reply = await emu.next_bot_message(USER)
        emu.release_pollers()
        await app.updater.stop()
        await app.stop()
    assert reply.text == "halo!"
    assert not emu.refused, emu.refused
