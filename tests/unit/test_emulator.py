"""The Bot API emulator, driven by the real python-telegram-bot `Bot` and `Application`."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from bot.sandbox.emulator import USER_MEDIA_KINDS, BotApiEmulator

TOKEN = "123456:TEST-TOKEN"
KID, PARENT, STRANGER = 1001, 1002, 4242
STAFF_GROUP = -100500
API_SCHEMA = Path(__file__).resolve().parents[3] / "shared/reference/telegram-bot-api/api.min.json"


def keyboard(*labels_and_data: tuple[str, str]) -> InlineKeyboardMarkup:
    """One row of callback buttons."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data) for label, data in labels_and_data]])


@pytest.fixture
async def emu(tmp_path: Path) -> AsyncIterator[BotApiEmulator]:
    """A running emulator with two known users and a group."""
    emulator = BotApiEmulator(token=TOKEN, files_dir=tmp_path / "files")
    await emulator.start()
    emulator.add_user(KID, first_name="Kid")
    emulator.add_user(PARENT, first_name="Parent")
    emulator.add_group(STAFF_GROUP, "Staff")
    yield emulator
    await emulator.stop()


@pytest.fixture
async def schema_emu() -> AsyncIterator[BotApiEmulator]:
    """A running emulator that checks every request against the official API description."""
    if not API_SCHEMA.exists():
        pytest.skip("the official api.min.json is not available")
    emulator = BotApiEmulator(token=TOKEN, api_schema=API_SCHEMA)
    await emulator.start()
    emulator.add_user(KID)
    yield emulator
    await emulator.stop()


@pytest.fixture
async def tg(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    """A real python-telegram-bot Bot talking to the emulator."""
    async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as bot:
        yield bot


async def raw_call(
    emu: BotApiEmulator, method: str, *, token: str = TOKEN, http: str = "POST", **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    """Call the emulator over plain HTTP; return the status and the JSON body."""
    url = f"http://127.0.0.1:{emu.port}/bot{token}/{method}"
    async with aiohttp.ClientSession() as session, session.request(http, url, **kwargs) as response:
        return response.status, await response.json()


async def updates(tg: Bot) -> tuple[Update, ...]:
    """Fetch and confirm the pending updates."""
    fetched = await tg.get_updates(timeout=0)
    if fetched:
        await tg.get_updates(offset=fetched[-1].update_id + 1, timeout=0)
    return fetched


# ---------------------------------------------------------------------- the server


async def test_listens_on_free_loopback_ports() -> None:
    async with BotApiEmulator() as first, BotApiEmulator() as second:
        assert first.port and second.port and first.port != second.port
        assert first.base_url == f"http://127.0.0.1:{first.port}/bot"
        assert first.base_file_url == f"http://127.0.0.1:{first.port}/file/bot"


async def test_wrong_token_is_unauthorized(emu: BotApiEmulator) -> None:
    status, body = await raw_call(emu, "getMe", token="999:WRONG")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    stranger = Bot("999:WRONG", base_url=emu.base_url)
    with pytest.raises(InvalidToken):
        await stranger.initialize()
    await stranger.shutdown()


async def test_method_names_are_case_insensitive_and_unknown_ones_refused(emu: BotApiEmulator) -> None:
    status, body = await raw_call(emu, "GETME", http="GET")
    assert status == 200 and body["result"]["username"] == "ForumAnakBot"
    status, body = await raw_call(emu, "sendTelepathy")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    assert [r.method for r in emu.requests] == ["getMe", "sendTelepathy"]
    assert [r.method for r in emu.refused] == ["sendTelepathy"]
    emu.clear_records()
    assert emu.requests == [] and emu.refused == []


async def test_json_query_and_form_bodies_are_decoded(emu: BotApiEmulator) -> None:
    status, body = await raw_call(emu, "sendMessage", json={"chat_id": str(KID), "text": "123"})
    assert status == 200 and body["result"]["text"] == "123"
    status, body = await raw_call(emu, "sendMessage", params={"chat_id": KID, "text": "007"})
    assert status == 200 and body["result"]["text"] == "007"
    markup = '{"inline_keyboard": [[{"text": "Go", "callback_data": "42"}]]}'
    status, body = await raw_call(emu, "sendMessage", data={"chat_id": str(KID), "text": "true", "reply_markup": markup})
    assert status == 200 and body["result"]["text"] == "true"
    sent = emu.requests[-1].params
    assert sent["chat_id"] == KID and sent["text"] == "true"
    assert sent["reply_markup"] == {"inline_keyboard": [[{"text": "Go", "callback_data": "42"}]]}


async def test_stop_answers_a_pending_long_poll(tg: Bot, emu: BotApiEmulator) -> None:
    poll = asyncio.create_task(tg.get_updates(timeout=30, read_timeout=40))
    await emu.wait_for(lambda: emu.waiting_pollers == 1)
    started = time.monotonic()
    await emu.stop()
    assert await poll == ()
    assert time.monotonic() - started < 5


# ---------------------------------------------------------------------- texts and formatting


async def test_text_limit_is_4096_characters_after_parsing(tg: Bot, emu: BotApiEmulator) -> None:
    await tg.send_message(KID, "x" * 4096)
    await tg.send_message(KID, "<b>" + "y" * 4096 + "</b>", parse_mode="HTML")
    await tg.send_message(KID, "&lt;" * 4096, parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await tg.send_message(KID, "x" * 4097)
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await tg.send_message(KID, "<b> </b>", parse_mode="HTML")
    assert emu.refused[0].error == "Bad Request: message is too long"
    assert not emu.refused[0].expected


async def test_sent_html_is_returned_as_text_and_entities(tg: Bot, emu: BotApiEmulator) -> None:
    message = await tg.send_message(KID, "  <b>Halo</b> &amp; 😀 <i>ya</i>\n", parse_mode="HTML")
    assert message.text == "Halo & 😀 ya"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("bold", 0, 4), ("italic", 10, 2)]
    stored = emu.last_bot_message(KID)
    assert stored is not None
    assert stored.text == "  <b>Halo</b> &amp; 😀 <i>ya</i>\n" and stored.plain_text == "Halo & 😀 ya"


@pytest.mark.parametrize("text", ["line<br>break", "<b>unclosed", "a < b", "AT&T", "<span>x</span>"])
async def test_bad_html_cannot_be_parsed(tg: Bot, emu: BotApiEmulator, text: str) -> None:
    with pytest.raises(BadRequest, match="(?i)can't parse entities"):
        await tg.send_message(KID, text, parse_mode="HTML")
    assert emu.refused[-1].error is not None and emu.refused[-1].error.startswith("Bad Request: can't parse entities: ")


async def test_caption_limit_is_1024(tg: Bot) -> None:
    await tg.send_document(KID, b"data", filename="a.txt", caption="c" * 1024)
    with pytest.raises(BadRequest, match="(?i)caption is too long"):
        await tg.send_document(KID, b"data", filename="a.txt", caption="<i>" + "c" * 1025 + "</i>", parse_mode="HTML")


# ---------------------------------------------------------------------- keyboards and callbacks


async def test_callback_data_is_limited_to_64_bytes(tg: Bot) -> None:
    await tg.send_message(KID, "ok", reply_markup=keyboard(("A", "a" * 64)))
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await tg.send_message(KID, "too long", reply_markup=keyboard(("A", "a" * 65)))
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await tg.send_message(KID, "33 characters, 66 bytes", reply_markup=keyboard(("A", "é" * 33)))


async def test_buttons_need_a_text_and_exactly_one_action(tg: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)text buttons are unallowed"):
        await tg.send_message(KID, "x", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("plain")]]))
    both = InlineKeyboardButton("both", callback_data="x", url="https://example.org")
    with pytest.raises(BadRequest, match="(?i)exactly one"):
        await tg.send_message(KID, "x", reply_markup=InlineKeyboardMarkup([[both]]))
    with pytest.raises(BadRequest, match="(?i)text must be non-empty"):
        await tg.send_message(KID, "x", reply_markup=keyboard((" ", "x")))
    with pytest.raises(BadRequest, match="(?i)BUTTON_URL_INVALID"):
        await tg.send_message(KID, "x", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("u", url="example")]]))


async def test_a_callback_query_is_answered_once(tg: Bot, emu: BotApiEmulator) -> None:
    sent = await tg.send_message(KID, "Pilih", reply_markup=keyboard(("Ya", "yes"), ("Tidak", "no")))
    query_id = emu.press_button(KID, "Tidak")
    (update,) = await updates(tg)
    assert update.callback_query is not None and update.callback_query.data == "no"
    assert update.callback_query.message is not None and update.callback_query.message.message_id == sent.message_id
    assert emu.pending_callbacks == [query_id]
    assert await tg.answer_callback_query(query_id, "Oke", show_alert=True)
    assert emu.answered_callbacks[query_id] == {"text": "Oke", "show_alert": True, "url": None}
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await tg.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await tg.answer_callback_query("12345")
    assert emu.pending_callbacks == []


async def test_press_button_by_index_and_clear_errors(tg: Bot, emu: BotApiEmulator) -> None:
    with pytest.raises(LookupError, match="no bot message with inline buttons"):
        emu.press_button(KID, 1)
    await tg.send_message(KID, "Pilih", reply_markup=keyboard(("Ya", "yes"), ("Tidak", "no")))
    emu.press_button(KID, 1)
    (update,) = await updates(tg)
    assert update.callback_query is not None and update.callback_query.data == "yes"
    with pytest.raises(LookupError, match=r"\['Ya', 'Tidak'\]"):
        emu.press_button(KID, "Mungkin")
    with pytest.raises(LookupError, match="no button number 3"):
        emu.press_button(KID, 3)
    link = InlineKeyboardMarkup([[InlineKeyboardButton("Web", url="https://example.org")]])
    await tg.send_message(KID, "Link", reply_markup=link)
    with pytest.raises(LookupError, match="opens https://example.org"):
        emu.press_button(KID, "Web")


# ---------------------------------------------------------------------- chats, blocking, flood limits


async def test_unknown_chat_and_blocked_user(tg: Bot, emu: BotApiEmulator) -> None:
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await tg.send_message(STRANGER, "hi")
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await tg.send_message(-999, "hi")
    emu.block(KID)
    with pytest.raises(Forbidden, match="(?i)bot was blocked by the user"):
        await tg.send_message(KID, "hi")
    assert emu.refused[-1].error_code == 403 and emu.refused[-1].expected
    emu.unblock(KID)
    await tg.send_message(KID, "welcome back")
    await tg.send_message(STAFF_GROUP, "to the group")
    assert [m.text for m in emu.bot_messages(STAFF_GROUP)] == ["to the group"]


async def test_injected_429_carries_retry_after(tg: Bot, emu: BotApiEmulator) -> None:
    emu.fail_next("sendMessage", 2, retry_after=3)
    for _ in range(2):
        with pytest.raises(RetryAfter) as caught:
            await tg.send_message(KID, "hi")
        assert caught.value.retry_after == dtm.timedelta(seconds=3)
    await tg.send_message(KID, "third time lucky")
    assert [r.error for r in emu.refused] == ["Too Many Requests: retry after 3"] * 2
    assert all(r.expected for r in emu.refused)


async def test_injected_server_and_network_failures(tg: Bot, emu: BotApiEmulator) -> None:
    emu.fail_next("getChat", 1, error_code=500)
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await tg.get_chat(KID)
    emu.fail_next("getChat", network=True)
    with pytest.raises(NetworkError):
        await tg.get_chat(KID)
    emu.fail_next("getChat", 1, error_code=400, description="Bad Request: something odd")
    with pytest.raises(BadRequest, match="(?i)something odd"):
        await tg.get_chat(KID)
    assert (await tg.get_chat(KID)).first_name == "Kid"


async def test_rate_limit_refuses_sends_beyond_n_per_second(tg: Bot, emu: BotApiEmulator) -> None:
    emu.set_rate_limit(2)
    await tg.send_message(KID, "1")
    await tg.send_message(PARENT, "2")
    with pytest.raises(RetryAfter) as caught:
        await tg.send_message(KID, "3")
    assert caught.value.retry_after == dtm.timedelta(seconds=1)
    assert emu.rate_limited_count == 1
    await tg.send_message(KID, "paid", allow_paid_broadcast=True)  # a real parameter, exempt from the limit
    await tg.send_chat_action(KID, "typing")  # not a send
    emu.set_rate_limit(None)
    await tg.send_message(KID, "4")
    assert emu.rate_limited_count == 1


# ---------------------------------------------------------------------- edits and deletes


async def test_edit_not_modified_and_missing_messages(tg: Bot, emu: BotApiEmulator) -> None:
    markup = keyboard(("Ya", "yes"))
    sent = await tg.send_message(KID, "<b>Soal 1</b>", parse_mode="HTML", reply_markup=markup)
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await tg.edit_message_text("<b>Soal 1</b>", KID, sent.message_id, parse_mode="HTML", reply_markup=markup)
    assert emu.refused[-1].expected  # a double press makes this happen; bots must tolerate it
    await tg.edit_message_text("<b>Soal 1</b>", KID, sent.message_id, parse_mode="HTML")  # keyboard removed
    await tg.edit_message_reply_markup(KID, sent.message_id, reply_markup=markup)
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await tg.edit_message_reply_markup(KID, sent.message_id, reply_markup=markup)
    await tg.edit_message_text("Soal 2", KID, sent.message_id)
    stored = emu.last_bot_message(KID)
    assert stored is not None and stored.text == "Soal 2" and stored.edited and stored.reply_markup is None
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await tg.edit_message_text("x", KID, 99999)
    assert await tg.delete_message(KID, sent.message_id)
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await tg.delete_message(KID, sent.message_id)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await tg.edit_message_text("x", KID, sent.message_id)
    assert emu.bot_messages(KID) == [] and emu.messages(KID)[0].deleted


async def test_a_user_message_cannot_be_edited_by_the_bot(tg: Bot, emu: BotApiEmulator) -> None:
    typed = emu.send_text(KID, "halo")
    with pytest.raises(BadRequest, match="(?i)can't be edited"):
        await tg.edit_message_text("changed", KID, typed.message_id)


# ---------------------------------------------------------------------- injected updates and long polling


async def test_commands_get_a_bot_command_entity(tg: Bot, emu: BotApiEmulator) -> None:
    emu.send_text(KID, "/start wali_abc")
    emu.send_text(KID, "/start@ForumAnakBot")
    emu.send_text(KID, "just text")
    first, second, third = await updates(tg)
    assert first.message is not None and first.message.text == "/start wali_abc"
    assert [(e.type, e.offset, e.length) for e in first.message.entities] == [("bot_command", 0, 6)]
    assert second.message is not None and second.message.entities[0].length == len("/start@ForumAnakBot")
    assert third.message is not None and third.message.entities == ()
    assert first.message.from_user is not None and first.message.from_user.first_name == "Kid"
    assert first.message.chat.type == "private" and first.message.chat.id == KID


async def test_other_kinds_of_updates(tg: Bot, emu: BotApiEmulator) -> None:
    typed = emu.send_text(PARENT, "typo")
    emu.edit_text(PARENT, typed.message_id, "fixed")
    emu.send_sticker(PARENT)
    emu.send_location(PARENT)
    photo = emu.send_photo(PARENT, caption="bukti")
    document = emu.send_document(PARENT, "surat.pdf", b"%PDF-1.4")
    _, edited, sticker, location, photo_update, document_update = await updates(tg)
    assert edited.edited_message is not None and edited.edited_message.text == "fixed"
    assert sticker.message is not None and sticker.message.sticker is not None
    assert location.message is not None and location.message.location is not None
    assert photo_update.message is not None and photo_update.message.caption == "bukti"
    assert document_update.message is not None and document_update.message.document is not None
    assert document_update.message.document.file_name == "surat.pdf"
    assert [m.kind for m in emu.messages(PARENT)] == ["text", "sticker", "location", "photo", "document"]
    assert photo.update_id == photo_update.update_id and document.file_id is not None


async def test_group_privacy_delivers_only_commands_replies_and_mentions(tg: Bot, emu: BotApiEmulator) -> None:
    chatter = emu.send_text(KID, "halo semua", chat_id=STAFF_GROUP)
    command = emu.send_text(KID, "/bantuan@ForumAnakBot", chat_id=STAFF_GROUP)
    other_bot = emu.send_text(KID, "/start@OtherBot", chat_id=STAFF_GROUP)
    mention = emu.send_text(KID, "tolong @ForumAnakBot", chat_id=STAFF_GROUP)
    assert chatter.update_id is None and other_bot.update_id is None
    delivered = await updates(tg)
    assert [u.update_id for u in delivered] == [command.update_id, mention.update_id]
    assert delivered[0].message is not None and delivered[0].message.chat.type == "supergroup"
    sent = await tg.send_message(STAFF_GROUP, "Ada yang bisa dibantu?")
    reply = emu.send_text(KID, "ya", chat_id=STAFF_GROUP, reply_to=sent.message_id)
    (update,) = await updates(tg)
    assert update.update_id == reply.update_id
    assert update.message is not None and update.message.reply_to_message is not None
    assert len(emu.messages(STAFF_GROUP)) == 6


async def test_long_poll_wakes_at_once_and_honours_offset_and_limit(tg: Bot, emu: BotApiEmulator) -> None:
    started = time.monotonic()
    assert await tg.get_updates(timeout=0) == ()
    assert time.monotonic() - started < 0.5
    asyncio.get_running_loop().call_later(0.05, emu.send_text, KID, "hi")
    started = time.monotonic()
    (first,) = await tg.get_updates(timeout=10)
    assert time.monotonic() - started < 2
    for text in ("a", "b", "c"):
        emu.send_text(KID, text)
    batch = await tg.get_updates(offset=first.update_id + 1, limit=2, timeout=0)
    assert [u.message.text for u in batch if u.message] == ["a", "b"]
    rest = await tg.get_updates(offset=batch[-1].update_id + 1, timeout=0, allowed_updates=["message"])
    assert [u.message.text for u in rest if u.message] == ["c"]
    assert emu.pending_updates == 1 and emu.is_delivered(rest[-1].update_id)
    assert await tg.get_updates(offset=rest[-1].update_id + 1, timeout=0) == ()
    assert emu.pending_updates == 0


async def test_allowed_updates_filter_what_is_delivered(tg: Bot, emu: BotApiEmulator) -> None:
    await tg.send_message(KID, "Pilih", reply_markup=keyboard(("Ya", "yes")))
    emu.press_button(KID, "Ya")
    emu.send_text(KID, "halo")
    (only,) = await tg.get_updates(timeout=0, allowed_updates=["message"])
    assert only.message is not None and only.message.text == "halo"


async def test_wait_for_times_out_with_a_helpful_message(tg: Bot, emu: BotApiEmulator) -> None:
    with pytest.raises(TimeoutError, match="the impossible not met within 0.05s"):
        await emu.wait_for(lambda: False, 0.05, what="the impossible")
    mark = emu.mark()
    with pytest.raises(BadRequest):
        await tg.send_message(KID, "x" * 5000)
    with pytest.raises(TimeoutError, match="(?s)a bot message in chat 1001 not met.*message is too long"):
        await emu.next_bot_message(KID, after=mark, timeout=0.05)


async def test_next_bot_message_returns_each_message_once(tg: Bot, emu: BotApiEmulator) -> None:
    await tg.send_message(KID, "old")
    emu.send_text(KID, "/start")
    waiting = asyncio.create_task(emu.next_bot_message(KID))
    await asyncio.sleep(0)
    first = await tg.send_message(KID, "one")
    await tg.send_message(KID, "two")
    assert (await waiting).text == "one"
    assert (await emu.next_bot_message(KID)).text == "two"
    mark = emu.mark()
    await tg.edit_message_text("one, edited", KID, first.message_id)
    edited = await emu.next_bot_message(KID, after=mark)
    assert edited.text == "one, edited" and edited.edited and edited.message_id == first.message_id
    assert [e.kind for e in emu.bot_events_since(mark)] == ["edited"]


# ---------------------------------------------------------------------- files


async def test_upload_get_file_and_download(tg: Bot, emu: BotApiEmulator, tmp_path: Path) -> None:
    content = b"kecamatan,jumlah\nBalikpapan Timur,12\n"
    sent = await tg.send_document(KID, content, filename="../rekap peserta.csv", caption="Rekap")
    assert sent.document is not None and sent.document.file_name == "../rekap peserta.csv"
    again = await tg.send_document(KID, content, filename="rekap peserta.csv")
    assert [p.name for p in emu.saved_files] == ["rekap_peserta.csv", "rekap_peserta-2.csv"]
    assert all(p.parent == tmp_path / "files" and p.read_bytes() == content for p in emu.saved_files)
    stored = emu.last_bot_message(KID)
    assert stored is not None and stored.kind == "document" and stored.document_path == emu.saved_files[1]
    file = await tg.get_file(sent.document.file_id)
    assert file.file_path is not None and file.file_size == len(content)
    assert bytes(await file.download_as_bytearray()) == content
    resent = await tg.send_document(PARENT, sent.document.file_id)
    assert resent.document is not None and resent.document.file_id == sent.document.file_id
    assert again.document is not None and again.document.file_id != sent.document.file_id
    with pytest.raises(BadRequest, match="(?i)wrong file identifier"):
        await tg.send_document(KID, "no-such-file-id")
    with pytest.raises(BadRequest, match="(?i)invalid file_id"):
        await tg.get_file("no-such-file-id")


async def test_a_users_photo_can_be_forwarded_by_file_id(tg: Bot, emu: BotApiEmulator) -> None:
    emu.send_photo(KID, caption="bukti")
    (update,) = await updates(tg)
    assert update.message is not None
    file_id = update.message.photo[-1].file_id
    sent = await tg.send_photo(STAFF_GROUP, file_id, caption="Bukti dari pelapor")
    assert sent.photo[-1].file_id == file_id
    photo = emu.last_bot_message(STAFF_GROUP)
    assert photo is not None and photo.kind == "photo" and photo.caption == "Bukti dari pelapor"
    downloaded = await (await tg.get_file(file_id)).download_as_bytearray()
    assert downloaded


async def test_media_group_copy_forward_and_misc_methods(tg: Bot, emu: BotApiEmulator) -> None:
    album = await tg.send_media_group(KID, [InputMediaPhoto(b"one", caption="1"), InputMediaPhoto(b"two")])
    assert len(album) == 2 and album[0].media_group_id == album[1].media_group_id
    with pytest.raises(BadRequest, match="(?i)wrong number of media"):
        await tg.send_media_group(KID, [InputMediaPhoto(b"one")])
    typed = emu.send_text(KID, "laporan")
    copied = await tg.copy_message(STAFF_GROUP, KID, typed.message_id)
    assert emu.message(STAFF_GROUP, copied.message_id) is not None
    forwarded = await tg.forward_message(STAFF_GROUP, KID, typed.message_id)
    assert forwarded.forward_origin is not None and forwarded.text == "laporan"
    with pytest.raises(BadRequest, match="(?i)message to copy not found"):
        await tg.copy_message(STAFF_GROUP, KID, 99999)
    assert await tg.send_chat_action(KID, "typing")
    with pytest.raises(BadRequest, match="(?i)wrong parameter action"):
        await tg.send_chat_action(KID, "dancing")
    assert await tg.set_my_commands([BotCommand("start", "Mulai"), BotCommand("bantuan", "Bantuan")], language_code="id")
    assert [c.command for c in await tg.get_my_commands(language_code="id")] == ["start", "bantuan"]
    assert emu.my_commands(language_code="id")[0] == {"command": "start", "description": "Mulai"}
    with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
        await tg.set_my_commands([BotCommand("Start-Now", "x")])
    assert await tg.delete_my_commands(language_code="id")
    assert await tg.get_my_commands(language_code="id") == ()
    assert await tg.set_my_description("Bot Forum Anak") and await tg.set_my_short_description("Halo")
    assert await tg.set_my_name("Forum Anak") and (await tg.get_my_name()).name == "Forum Anak"
    assert await tg.set_chat_menu_button()
    assert (await tg.get_chat(STAFF_GROUP)).title == "Staff"
    assert await tg.delete_webhook(drop_pending_updates=True) and await tg.log_out() and await tg.close()
    assert (await tg.get_webhook_info()).url == ""
    assert len(emu.refused) == 4  # the four refusals provoked above


# ---------------------------------------------------------------------- polls


async def test_quiz_poll_and_an_injected_answer(tg: Bot, emu: BotApiEmulator) -> None:
    message = await tg.send_poll(
        KID, "Hak anak ada berapa?", ["10", "31"], type="quiz", correct_option_ids=[1],
        explanation="Ada <b>31</b> hak anak", explanation_parse_mode="HTML", is_anonymous=False,
    )
    assert message.poll is not None and message.poll.correct_option_ids == (1,)
    assert message.poll.explanation == "Ada 31 hak anak"
    update_id = emu.answer_poll(KID, message.poll.id, [1])
    state, answer = await updates(tg)
    assert answer.update_id == update_id and answer.poll_answer is not None
    assert answer.poll_answer.option_ids == (1,) and answer.poll_answer.user is not None
    assert state.poll is not None and state.poll.options[1].voter_count == 1
    with pytest.raises(ValueError, match="already answered"):
        emu.answer_poll(KID, message.poll.id, [0])
    stopped = await tg.stop_poll(KID, message.message_id)
    assert stopped.is_closed
    with pytest.raises(ValueError, match="closed"):
        emu.answer_poll(PARENT, message.poll.id, [0])


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"question": "q" * 301, "options": ["a", "b"]}, "question length"),
        ({"question": "q", "options": ["a"]}, "at least 2"),
        ({"question": "q", "options": [str(i) for i in range(13)]}, "more than 12"),
        ({"question": "q", "options": ["a", "b" * 101]}, "options length"),
        ({"question": "q", "options": ["a", "b"], "type": "quiz", "correct_option_ids": [2]}, "correct option"),
        ({"question": "q", "options": ["a", "b"], "type": "quiz"}, "correct option"),
        (
            {"question": "q", "options": ["a", "b"], "type": "quiz", "correct_option_ids": [0], "explanation": "e" * 201},
            "explanation length",
        ),
    ],
)
async def test_invalid_polls_are_refused(tg: Bot, kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(BadRequest, match=f"(?i){reason}"):
        await tg.send_poll(KID, **kwargs)


# ---------------------------------------------------------------------- the official API description


async def test_schema_refuses_unknown_and_missing_parameters(schema_emu: BotApiEmulator) -> None:
    async with Bot(TOKEN, base_url=schema_emu.base_url) as tg:
        with pytest.raises(BadRequest, match='(?i)unknown parameter "colour"'):
            await tg.send_message(KID, "hi", api_kwargs={"colour": "red"})
        with pytest.raises(BadRequest, match='(?i)parameter "disable_notification" must be Boolean'):
            await tg.send_message(KID, "hi", api_kwargs={"disable_notification": "loudly"})
        await tg.send_document(KID, b"x", filename="x.txt")  # an uploaded InputFile satisfies "document"
    status, body = await raw_call(schema_emu, "sendMessage", data={"text": "hi"})
    assert (status, body["description"]) == (400, 'Bad Request: parameter "chat_id" is required')
    assert [r.method for r in schema_emu.refused] == ["sendMessage"] * 3


async def test_a_polling_session_passes_schema_validation(schema_emu: BotApiEmulator) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            "Halo <b>teman</b>!", parse_mode="HTML", reply_markup=keyboard(("Lanjut", "next"))
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Oke")
        await query.edit_message_text("Sudah lanjut.")

    app: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder().token(TOKEN).base_url(schema_emu.base_url).base_file_url(schema_emu.base_file_url).build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=["message", "callback_query"])
    try:
        schema_emu.send_text(KID, "/start")
        reply = await schema_emu.next_bot_message(KID)
        assert reply.plain_text == "Halo teman!" and reply.button_labels() == ["Lanjut"]
        query_id = schema_emu.press_button(KID, "Lanjut")
        edited = await schema_emu.next_bot_message(KID)
        assert edited.text == "Sudah lanjut." and edited.edited and edited.message_id == reply.message_id
        await schema_emu.wait_for(lambda: query_id in schema_emu.answered_callbacks)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    methods = {r.method for r in schema_emu.requests}
    assert {"getMe", "deleteWebhook", "getUpdates", "sendMessage", "answerCallbackQuery", "editMessageText"} <= methods
    assert schema_emu.unexpected_refusals() == []
    sent = next(r for r in schema_emu.requests if r.method == "sendMessage")
    assert sent.params["reply_markup"] == {"inline_keyboard": [[{"text": "Lanjut", "callback_data": "next"}]]}


# ---------------------------------------------------------------------- driver helpers


async def test_copied_polls_captions_and_driver_helpers(tg: Bot, emu: BotApiEmulator) -> None:
    sent = await tg.send_poll(KID, "Siap?", ["Ya", "Belum"], is_anonymous=False)
    copied = await tg.copy_message(PARENT, KID, sent.message_id)
    duplicate = emu.message(PARENT, copied.message_id)
    assert duplicate is not None and duplicate.poll is not None and sent.poll is not None
    assert duplicate.poll["id"] != sent.poll.id
    emu.answer_poll(PARENT, duplicate.poll["id"], [0])
    assert emu.poll_votes(duplicate.poll["id"]) == {PARENT: (0,)} and emu.poll_votes(sent.poll.id) == {}
    mark = emu.mark()
    photo = await tg.send_photo(KID, b"\xff\xd8 jpeg", caption="lama")
    await tg.edit_message_caption(KID, photo.message_id, caption="<b>baru</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)no text in the message"):
        await tg.edit_message_text("x", KID, photo.message_id)
    [changed] = emu.bot_messages_since(mark, KID)
    assert changed.caption == "<b>baru</b>" and changed.plain_text == "baru" and changed.edit_count == 1
    assert [e.kind for e in emu.bot_events_since(mark, KID)] == ["sent", "edited"]
    update_id = emu.inject_update("my_chat_member", {"chat": {"id": KID, "type": "private"}})
    assert emu.pending_updates >= 1 and not emu.is_delivered(update_id)
    assert [r.method for r in emu.requests_for("SENDPOLL")] == ["sendPoll"]
    emu.release_pollers()
    started = time.monotonic()
    assert await tg.get_updates(offset=update_id + 1, timeout=5) == ()  # released: answers at once
    emu.resume_pollers()
    assert time.monotonic() - started < 1 and emu.waiting_pollers == 0


# ---------------------------------------------------------------------- webhooks


class FlakyWebhook:
    """A webhook on loopback that refuses the first `refusals` POSTs with 500, then accepts."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.received: list[tuple[str | None, dict[str, Any]]] = []
        self.port = 0
        self._runner: aiohttp.web.AppRunner | None = None

    async def __aenter__(self) -> FlakyWebhook:
        app = aiohttp.web.Application()
        app.router.add_post("/hook", self.receive)
        self._runner = aiohttp.web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = aiohttp.web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def receive(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        self.received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        if self.refusals > 0:
            self.refusals -= 1
            return aiohttp.web.Response(status=500)
        return aiohttp.web.Response(status=200)


async def test_webhook_gets_updates_by_post_with_the_secret_and_retries_refusals(
    tg: Bot, emu: BotApiEmulator
) -> None:
    async with FlakyWebhook(refusals=2) as hook:
        url = f"http://127.0.0.1:{hook.port}/hook"
        assert await tg.set_webhook(url, secret_token="s3cret_-token", allowed_updates=["message"])
        first = emu.send_text(KID, "satu").update_id
        second = emu.send_text(KID, "dua").update_id
        assert first is not None and second is not None
        await emu.wait_for(lambda: emu.is_delivered(second), what="both updates accepted")
        info = await tg.get_webhook_info()
        with pytest.raises(Conflict, match="webhook is active"):
            await tg.get_updates(timeout=0)
    # Refused twice, then accepted; the second update waited for the first, as at Telegram.
    assert [(a.update_id, a.status) for a in emu.webhook_attempts] == [
        (first, 500), (first, 500), (first, 200), (second, 200)
    ]
    assert {secret for secret, _ in hook.received} == {"s3cret_-token"}
    assert [body["message"]["text"] for _, body in hook.received] == ["satu", "satu", "satu", "dua"]
    assert info.url == url and info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    assert await tg.delete_webhook()
    emu.send_text(KID, "tiga")
    assert [u.message.text for u in await updates(tg) if u.message] == ["tiga"]


async def test_a_webhook_that_is_down_gets_the_update_once_it_is_up(tg: Bot, emu: BotApiEmulator) -> None:
    async with FlakyWebhook(refusals=0) as hook:
        port = hook.port
    # Nothing listens on the port now: the update waits, then arrives when the bot is back.
    assert await tg.set_webhook(f"http://127.0.0.1:{port}/hook")
    update_id = emu.send_text(KID, "halo").update_id
    assert update_id is not None
    await emu.wait_for(lambda: any(a.status == 0 for a in emu.webhook_attempts), what="a refused connection")
    assert (await tg.get_webhook_info()).last_error_message == "Connection refused"
    hook = FlakyWebhook(refusals=0)
    hook.port = port
    app = aiohttp.web.Application()
    app.router.add_post("/hook", hook.receive)
    runner = aiohttp.web.AppRunner(app, access_log=None)
    await runner.setup()
    await aiohttp.web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await emu.wait_for(lambda: emu.is_delivered(update_id), what="the update after the bot came back")
    finally:
        await runner.cleanup()
    assert [body["message"]["text"] for _, body in hook.received] == ["halo"]


@pytest.mark.parametrize(
    ("url", "secret", "reason"),
    [
        ("http://bot.example.org/hook", None, "An HTTPS URL must be provided"),
        ("https://bot.example.org:8080/hook", None, "only on ports 80, 88, 443 or 8443"),
        ("https://bot.example.org/hook", "has space", "secret token contains unallowed characters"),
        ("https://bot.example.org/hook", "x" * 257, "secret token contains unallowed characters"),
    ],
)
async def test_set_webhook_keeps_telegrams_rules_off_loopback(
    tg: Bot, url: str, secret: str | None, reason: str
) -> None:
    with pytest.raises(BadRequest, match=f"(?i){reason}"):
        await tg.set_webhook(url, secret_token=secret)
    assert await tg.set_webhook("https://bot.example.org:8443/hook", secret_token="ok")


async def test_a_held_call_waits_until_released(tg: Bot, emu: BotApiEmulator) -> None:
    hold = emu.hold_next("sendMessage")
    sending = asyncio.create_task(tg.send_message(KID, "pelan"))
    await hold.arrived.wait()
    assert not sending.done() and emu.bot_messages(KID) == []
    hold.release()
    assert (await sending).text == "pelan"


async def test_protected_content_is_recorded_and_cannot_be_forwarded_or_copied(tg: Bot, emu: BotApiEmulator) -> None:
    card = await tg.send_message(KID, "kartu kasus", protect_content=True)
    photo = await tg.send_photo(KID, b"\xff\xd8\xff\xe0 bukti", protect_content=True)
    plain = await tg.send_message(KID, "biasa")
    assert card.has_protected_content and photo.has_protected_content and not plain.has_protected_content
    assert [m.protect_content for m in emu.bot_messages(KID)] == [True, True, False]
    for call in (tg.forward_message, tg.copy_message):
        for protected in (card, photo):
            with pytest.raises(BadRequest, match="protected content"):
                await call(PARENT, KID, protected.message_id)
    await tg.forward_message(PARENT, KID, plain.message_id)
    # A press on a protected message carries the flag, so the bot can tell (handlers.common.respond).
    emu.press(KID, card.message_id, "case:show:1")
    (press,) = await updates(tg)
    assert press.callback_query is not None and press.callback_query.message is not None
    assert press.callback_query.message.has_protected_content


async def test_users_send_videos_voice_notes_animations_and_audio(tg: Bot, emu: BotApiEmulator) -> None:
    sent = [emu.send_media(KID, kind, caption="bukti") for kind in USER_MEDIA_KINDS]
    delivered = await updates(tg)
    assert [u.update_id for u in delivered] == [m.update_id for m in sent]
    for kind, update in zip(USER_MEDIA_KINDS, delivered, strict=True):
        message = update.message
        assert message is not None and getattr(message, kind) is not None, kind
        assert not message.photo and message.document is None
        assert message.caption == (None if kind == "video_note" else "bukti")
    with pytest.raises(ValueError, match="kind must be one of"):
        emu.send_media(KID, "photo")
