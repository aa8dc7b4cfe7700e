"""Input limits: over-long or wrong-type input gets a clear answer and loses nothing; texts that
echo what people typed stay within Telegram's 4096 characters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from telegram import Update
from telegram.ext import CallbackQueryHandler

from bot.context import BotContext
from content.loaders import load_regions
from db import events, limits, reports
from db.crypto import report_code_hash
from db.events import EventDraft
from db.models import Report
from handlers.common import alert_text, telegram_length, utf16_length
from tests.e2e.conftest import STAFF_CHAT_ID, BotHarness
from tests.e2e.test_reports import CODE, REPORTER, STAFF, case_id, walk

pytestmark = pytest.mark.e2e

CHILD, FAC = 6201, 6202
EVENT_START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)

LONG = "Tolong <segera> & cepat! " * 80  # escaping makes the HTML longer than the text


async def long_case(bot: BotHarness, *, messages: int) -> str:
    """A report whose story and staff messages are each as long as allowed."""
    await bot.user(STAFF, role="staff")
    code = await walk(bot)
    async with bot.services.db() as session:
        report = await session.scalar(select(Report).where(Report.code_hash == report_code_hash(bot.settings.SECRET_KEY or "", code)))
        assert report is not None
        report.description = LONG[: limits.REPORT_DESCRIPTION_MAX]
        for number in range(messages):
            text = f"pesan {number}: " + LONG
            await reports.add_staff_message(session, report_id=report.id, staff_id=STAFF,
                                            text=text[: limits.REPORT_MESSAGE_MAX], note=False, now=bot.clock.now())
    return code


async def test_status_with_many_long_staff_messages_shows_the_newest_that_fit(bot: BotHarness) -> None:
    code = await long_case(bot, messages=4)
    msg = await bot.send(REPORTER, f"/status {code}")
    assert code in msg.text and "pesan 3:" in msg.text  # the newest message is always there
    assert "pesan 0:" not in msg.text and "pesan lama tidak ditampilkan" in msg.text
    assert telegram_length(msg.text) <= limits.TELEGRAM_TEXT_MAX


async def test_a_case_card_with_a_long_story_and_long_messages_still_opens(bot: BotHarness) -> None:
    code = await long_case(bot, messages=5)
    number = await case_id(bot, code)
    listing = await bot.send(STAFF, "/kasus")
    card = await bot.press(STAFF, [label for label in listing.button_labels() if f"#{number} ·" in label][0])
    assert f"Kasus #{number}" in card.text and "Tolong &lt;segera&gt;" in card.text  # the story stays whole
    assert code not in card.text  # staff never see the reporter's code
    assert telegram_length(card.text) <= limits.TELEGRAM_TEXT_MAX


async def test_an_error_after_the_press_was_answered_is_told_in_the_chat_not_by_a_second_answer(
    bot: BotHarness,
) -> None:
    # A handler that fails after the press was answered (here: after the stale-button pop-up).
    async def fails(update: Update, context: BotContext) -> None:
        raise RuntimeError("a bug after answering")

    bot.app.add_handler(CallbackQueryHandler(fails), group=1)
    await bot.user(CHILD)
    menu = await bot.send(CHILD, "/menu")
    mark = bot.emu.mark()
    query = bot.emu.press(CHILD, menu.message_id, "zz:forged")
    told = await bot.emu.next_bot_message(CHILD, after=mark)
    assert "ada yang salah" in told.text
    answer = bot.emu.answered_callbacks[query]
    assert "Tombol ini sudah lama" in str(answer["text"]) and "<" not in str(answer["text"])
    # (the harness fails the test if the bot answered the press a second time)


def test_pop_up_texts_are_plain_and_at_most_200_characters() -> None:
    assert alert_text("Telepon <b>112</b> &amp; <code>SAPA 129</code>") == "Telepon 112 & SAPA 129"
    long = alert_text("🙂" * 150)
    assert long.endswith("…") and utf16_length(long) <= limits.TELEGRAM_ALERT_MAX


async def test_event_form_answers_wrong_types_and_over_long_text_and_keeps_the_answers(bot: BotHarness) -> None:
    await bot.user(FAC, role="facilitator")
    await bot.send(FAC, "/acara_baru")
    msg = await bot.send(FAC, "Diskusi Hak Anak")
    assert "Ceritakan singkat" in msg.plain_text
    mark = bot.emu.mark()
    bot.emu.send_sticker(FAC)
    msg = await bot.emu.next_bot_message(FAC, after=mark)
    assert "tulis jawabannya sebagai teks" in msg.plain_text and "Ceritakan singkat" in msg.plain_text
    msg = await bot.send(FAC, "a" * (limits.EVENT_DESCRIPTION_MAX + 1))
    assert f"Paling banyak {limits.EVENT_DESCRIPTION_MAX} huruf" in msg.plain_text
    assert f"({limits.EVENT_DESCRIPTION_MAX + 1} huruf)" in msg.plain_text
    msg = await bot.send(FAC, "Ngobrol santai soal hak anak.")
    assert "mulai" in msg.plain_text
    await bot.send(FAC, "25/11 16.00")
    await bot.send(FAC, "18:00")
    await bot.send(FAC, "Aula Kelurahan Damai")
    mark = bot.emu.mark()
    bot.emu.send_photo(FAC)  # the kecamatan is a button question
    msg = await bot.emu.next_bot_message(FAC, after=mark)
    assert "tekan salah satu tombol" in msg.plain_text and "Balikpapan Kota" in msg.button_labels()


async def test_case_note_that_is_a_photo_is_asked_again_as_text(bot: BotHarness) -> None:
    code = await long_case(bot, messages=0)
    number = await case_id(bot, code)
    listing = await bot.send(STAFF, "/kasus")
    await bot.press(STAFF, [label for label in listing.button_labels() if f"#{number} ·" in label][0])
    await bot.press(STAFF, "📝 Catatan internal")
    mark = bot.emu.mark()
    bot.emu.send_photo(STAFF)
    msg = await bot.emu.next_bot_message(STAFF, after=mark)
    assert "hanya teks" in msg.text and f"#{number}" in msg.text
    msg = await bot.send(STAFF, "x" * (limits.REPORT_MESSAGE_MAX + 1))
    assert f"Paling banyak {limits.REPORT_MESSAGE_MAX} huruf" in msg.text
    msg = await bot.send(STAFF, "Sudah telepon wali kelas.")
    assert "Catatan disimpan" in msg.text


async def test_broadcast_limit_counts_the_text_people_see_and_a_sticker_is_answered(bot: BotHarness) -> None:
    await bot.user(FAC, role="facilitator")
    await bot.user(STAFF, role="staff")
    await bot.send(STAFF, f"/wilayah {FAC} Balikpapan Kota")  # a facilitator composes only within an area
    await bot.send(FAC, "/siaran")
    await bot.press(FAC, "➕ Siaran baru")
    mark = bot.emu.mark()
    bot.emu.send_sticker(FAC)
    msg = await bot.emu.next_bot_message(FAC, after=mark)
    assert "Kirim teks, foto atau dokumen" in msg.text
    # 4000 characters, but over 4096 once "<" is escaped as "&lt;" for HTML: Telegram takes it.
    text = ("Sayang kalian <3 " * 236)[:4000]
    msg = await bot.send(FAC, text)
    assert "Jumlah penerima sekarang" in msg.text


async def test_event_list_with_long_emoji_titles_shows_the_soonest_that_fit(bot: BotHarness) -> None:
    # Events saved before lengths were counted as Telegram counts them (an emoji is one
    # character to Python, two to Telegram) can hold twice the text: eight of them at the old
    # limits make a list of about 6,000 characters.
    await bot.user(FAC, role="facilitator")
    await bot.user(CHILD)
    async with bot.services.db() as session:
        for number in range(8):
            draft = EventDraft(
                title=f"Acara {number}", description="Acara.", starts_at=EVENT_START + timedelta(days=number),
                ends_at=EVENT_START + timedelta(days=number, hours=2), venue="Aula",
                kecamatan="Balikpapan Kota", kelurahan="Damai", capacity=5,
            )
            event = await events.create_event(session, draft=draft, created_by=FAC,
                                              regions=load_regions().kecamatan, now=bot.clock.now())
            event.title = f"{number} " + "🎉" * (limits.EVENT_TITLE_MAX - 2)
            event.venue = "🏫" * limits.EVENT_VENUE_MAX
    msg = await bot.send(CHILD, "/acara")
    assert "0 🎉" in msg.text and "7 🎉" not in msg.text  # the soonest first; the rest later
    assert telegram_length(msg.text) <= limits.TELEGRAM_TEXT_MAX
    shown = msg.text.count("🎟️")
    assert len([b for b in msg.buttons() if b.callback_data and b.callback_data.startswith("ev:open:")]) == shown


async def test_lengths_are_counted_as_telegram_counts_them_so_an_emoji_story_still_reaches_the_staff(
    bot: BotHarness,
) -> None:
    await bot.user(STAFF, role="staff")
    for label in (None, "👀 Teman / aku melihatnya", "Perundungan (bullying)", "Tidak", "Balikpapan Kota",
                  "Damai", "🏫 Sekolah", "Hari ini"):
        msg = await (bot.send(REPORTER, "/lapor") if label is None else bot.press(REPORTER, label))
    assert "Ceritakan apa yang terjadi" in msg.text
    # 2000 emoji are 2000 characters to Python but 4000 to Telegram: too long for a case card.
    msg = await bot.send(REPORTER, "😢" * limits.REPORT_DESCRIPTION_MAX)
    assert f"({2 * limits.REPORT_DESCRIPTION_MAX} huruf)" in msg.text
    msg = await bot.send(REPORTER, "😢" * (limits.REPORT_DESCRIPTION_MAX // 2))
    assert "foto atau tangkapan layar" in msg.text
    await bot.press(REPORTER, "Lewati, tanpa foto")
    await bot.press(REPORTER, "Tidak usah dibalas")
    msg = await bot.press(REPORTER, "📨 Kirim laporan")
    code = CODE.search(msg.text)
    assert code is not None
    await bot.deliver()
    assert any("Kasus #" in m.text for m in bot.emu.bot_messages(STAFF_CHAT_ID))  # the short alert
    card = await bot.send(STAFF, "/kasus")
    number = await case_id(bot, code.group(0))
    card = await bot.press(STAFF, [label for label in card.button_labels() if f"#{number} ·" in label][0])
    assert "😢" * 10 in card.text and telegram_length(card.text) <= limits.TELEGRAM_TEXT_MAX
