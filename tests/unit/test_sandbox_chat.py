"""The sandbox's terminal chat: pure rendering, and a scripted session against a tiny real bot."""

from __future__ import annotations

import builtins
import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PollAnswerHandler,
    filters,
)

from bot.sandbox.chat import collapse, html_to_terminal, render_message, run_chat
from bot.sandbox.emulator import BotApiEmulator, BotEvent, ChatMessage

TOKEN = "123456:SANDBOX-TEST"
PERSONAS = {"child": 1001, "parent": 1002, "staff": 1004}
STAFF_GROUP = -100500


# ---------------------------------------------------------------------- pure rendering


@pytest.mark.parametrize(
    ("html", "terminal"),
    [
        ("<b>Menu</b> utama", "*Menu* utama"),
        ("<i>catatan</i> &amp; <code>kode</code>", "_catatan_ & `kode`"),
        ('<a href="https://example.org/?a=1&amp;b=2">situs</a>', "situs (https://example.org/?a=1&b=2)"),
        ("<tg-spoiler>rahasia</tg-spoiler>", "||rahasia||"),
        ("<blockquote>kutipan</blockquote>", "│ kutipan"),
        ("1 &lt; 2", "1 < 2"),
    ],
)
def test_html_becomes_readable_terminal_text(html: str, terminal: str) -> None:
    assert html_to_terminal(html) == terminal


def message(**fields: Any) -> ChatMessage:
    """A bot message in the private chat of 1001."""
    return ChatMessage(message_id=fields.pop("message_id", 5), chat_id=1001, from_bot=True, date=0, **fields)


def test_render_text_with_numbered_buttons() -> None:
    markup = {
        "inline_keyboard": [
            [{"text": "Ya", "callback_data": "y"}, {"text": "Tidak", "callback_data": "n"}],
            [{"text": "Situs", "url": "https://example.org"}],
        ]
    }
    lines = render_message(message(text="<b>Lanjut?</b>\nPilih satu", parse_mode="HTML", reply_markup=markup))
    assert lines == ["🤖 *Lanjut?*", "   Pilih satu", "   [1] Ya   [2] Tidak", "   [3] Situs → https://example.org"]
    edited = render_message(message(text="Sudah"), edited=True)
    assert edited[0].startswith("🤖 ✏️") and "(edited) Sudah" in edited[0]


def test_render_document_photo_and_poll() -> None:
    document = render_message(
        message(kind="document", text="Rekap", document_name="rekap.csv", document_path=Path("/tmp/files/rekap.csv"))
    )
    assert document == ["🤖 📎 rekap.csv — saved to /tmp/files/rekap.csv", "   Rekap"]
    unsaved = render_message(message(kind="document", document_name="x.ics"))
    assert unsaved == ["🤖 📎 x.ics — not saved (no files directory)"]
    photo = render_message(message(kind="photo", document_path=Path("/tmp/p.jpg")))
    assert photo == ["🤖 🖼  photo — saved to /tmp/p.jpg"]
    poll = {
        "id": "1", "question": "Hak anak ada berapa?", "type": "quiz", "is_closed": False,
        "options": [{"text": "10", "voter_count": 0}, {"text": "31", "voter_count": 2}],
    }
    assert render_message(message(kind="poll", poll=poll)) == [
        "🤖 📊 Quiz: Hak anak ada berapa?", "   [1] 10", "   [2] 31  (2)"
    ]


def test_a_message_sent_and_edited_in_one_batch_shows_once_as_new() -> None:
    first, second = message(text="a"), message(text="b", message_id=6)
    events = [
        BotEvent(1, 1001, "sent", first),
        BotEvent(2, 1001, "sent", second),
        BotEvent(3, 1001, "edited", message(text="a2")),
    ]
    collapsed = collapse(events)
    assert [(e.kind, e.message.text) for e in collapsed] == [("sent", "a2"), ("sent", "b")]
    later = collapse([BotEvent(4, 1001, "edited", message(text="a3")), BotEvent(5, 1001, "deleted", second)])
    assert [(e.kind, e.message.text) for e in later] == [("edited", "a3"), ("deleted", "b")]


# ---------------------------------------------------------------------- a scripted session


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greets with two buttons and a link."""
    assert update.effective_message is not None
    buttons = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Pilih A", callback_data="a"), InlineKeyboardButton("Pilih B", callback_data="b")],
            [InlineKeyboardButton("Situs", url="https://example.org")],
        ]
    )
    await update.effective_message.reply_text("Halo <b>teman</b>!", parse_mode="HTML", reply_markup=buttons)


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answers with a pop-up and edits the message."""
    query = update.callback_query
    assert query is not None
    await query.answer(f"Kamu memilih {query.data}")
    await query.edit_message_text(f"Pilihanmu: {str(query.data).upper()}")


async def export(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Sends a file."""
    assert update.effective_chat is not None
    await context.bot.send_document(update.effective_chat.id, b"BEGIN:VCALENDAR\n", filename="acara.ics", caption="Kalender")


async def quiz(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Sends a non-anonymous quiz."""
    assert update.effective_chat is not None
    await context.bot.send_poll(
        update.effective_chat.id, "Hak anak ada berapa?", ["10", "31"], type="quiz", correct_option_ids=[1],
        is_anonymous=False,
    )


async def answered(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Thanks for a quiz answer."""
    answer = update.poll_answer
    assert answer is not None and answer.user is not None
    await context.bot.send_message(answer.user.id, f"Jawabanmu: pilihan {answer.option_ids[0] + 1}")


async def notify(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Tells the child and the staff group something."""
    assert update.effective_message is not None
    await context.bot.send_message(PERSONAS["child"], "Orang tuamu sudah setuju.")
    await context.bot.send_message(STAFF_GROUP, "Ada izin baru.")
    await update.effective_message.reply_text("Terkirim.")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Repeats a text."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"Kamu bilang: {update.effective_message.text}")


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[BotApiEmulator]:
    """The emulator with the personas and a tiny real bot polling it."""
    emu = BotApiEmulator(token=TOKEN, files_dir=tmp_path / "files")
    await emu.start()
    for name, uid in PERSONAS.items():
        emu.add_user(uid, first_name=name.title())
    emu.add_group(STAFF_GROUP, "Staf")
    app: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder().token(TOKEN).base_url(emu.base_url).base_file_url(emu.base_file_url).build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("file", export))
    app.add_handler(CommandHandler("quiz", quiz))
    app.add_handler(CommandHandler("notify", notify))
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_handler(PollAnswerHandler(answered))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield emu
    finally:
        emu.release_pollers()
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await emu.stop()
    assert emu.unexpected_refusals() == []


async def test_a_scripted_session(emulator: BotApiEmulator, tmp_path: Path) -> None:
    out = io.StringIO()
    script = [
        "/start",
        "1",  # press "Pilih A"
        ":as parent",
        "halo",
        "/notify",
        ":as child",
        "/file",
        "/quiz",
        "2",  # answer the quiz
        "3",  # the quiz is answered: with no keyboard left, a number is a message
        ":group",
        "/start",
        ":private",
        ":who",
        ":as nobody",
        ":bogus",
        ":quit",
        "never read",
    ]
    await run_chat(emulator, PERSONAS, input_lines=script, out=out, files_dir=tmp_path / "files", group_chat_id=STAFF_GROUP)
    text = out.getvalue()
    assert "You are 'child' (Telegram id 1001)" in text
    assert "child> /start\n🤖 Halo *teman*!\n   [1] Pilih A   [2] Pilih B\n   [3] Situs → https://example.org" in text
    assert "(you pressed: Pilih A)\n🤖 ✏️  (edited) Pilihanmu: A\n   💬 pop-up: Kamu memilih a\n" in text
    assert "You are now 'parent' (Telegram id 1002)." in text
    assert "parent> halo\n🤖 Kamu bilang: halo" in text
    assert "new message for child: Orang tuamu sudah setuju.  (:as child to see it)" in text
    assert "new message for the staff group: Ada izin baru.  (:group to see it)" in text
    assert "You are now 'child' (Telegram id 1001).\n   (1 message(s) here you have not seen)\n🤖 Orang tuamu sudah setuju." in text
    saved = tmp_path / "files" / "acara.ics"
    assert saved.read_bytes() == b"BEGIN:VCALENDAR\n"
    assert f"🤖 📎 acara.ics — saved to {saved}\n   Kalender" in text
    assert "🤖 📊 Quiz: Hak anak ada berapa?\n   [1] 10\n   [2] 31" in text
    assert "(you answered: 31)\n" in text and "🤖 Jawabanmu: pilihan 2" in text
    assert "child> 3\n🤖 Kamu bilang: 3" in text
    assert "writing in the staff group chat.\n   (1 message(s) here you have not seen)\n🤖 Ada izin baru." in text
    assert "child @group> /start\n🤖 Halo *teman*!" in text
    assert "→ 'child' (Telegram id 1001)" in text and "staff group chat (id -100500)" in text
    assert "Who? Choose one of: child, parent, staff" in text
    assert "Unknown sandbox command :bogus" in text
    assert text.rstrip().endswith("Bye!") and "never read" not in text


async def test_interactive_input_reads_stdin_until_end_of_file(
    emulator: BotApiEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    typed: Iterator[str] = iter([":as staff", "/start", "9", ":help"])

    def fake_input(prompt: str = "") -> str:
        try:
            return next(typed)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr(builtins, "input", fake_input)
    out = io.StringIO()
    await run_chat(emulator, {**PERSONAS, "staff group": STAFF_GROUP}, out=out)
    text = out.getvalue()
    assert "You are now 'staff' (Telegram id 1004)." in text
    assert "🤖 Halo *teman*!" in text
    assert "(choose a button from 1 to 3)" in text
    assert ":as NAME          become someone else (child, parent, staff)" in text
    assert "talk in the staff group chat" in text
    assert text.rstrip().endswith("Bye!")
