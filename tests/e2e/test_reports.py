"""Anonymous reports through the real Application and the emulator: the reporter's side.

Also the two proofs of SPEC §4: a scan of every cell of the database (SQLite and PostgreSQL)
finds no trace of the reporter, and the bot's log never pairs the reporter's id with the code.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.sandbox.emulator import BotApiEmulator, ChatMessage
from db import crypto
from db.crypto import report_code_hash
from db.models import AuditEntry, Report, ReportEvidence, ReportMessage
from tests.e2e.conftest import STAFF_CHAT_ID, BotHarness, running_bot
from tests.helpers.clock import FakeClock
from tests.helpers.databases import postgres_database, sqlite_url

pytestmark = pytest.mark.e2e

REPORTER = 736251948
STAFF = 618273
OUTSIDER = 8765
NAME, SURNAME, USERNAME = "Zubaedah", "Kartikasari", "zubaedah_balikpapan"
CODE = re.compile(r"[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}")
STORY = "Temanku di kelas dipalak dan didorong setiap istirahat."


BULLYING = "Perundungan (bullying)"
NO_NUDES = "Jangan pernah kirim foto atau video tubuh tanpa pakaian"


async def to_summary(
    bot: BotHarness, uid: int = REPORTER, *, danger: bool = False, follow: bool = True, photos: int = 0,
    category: str = BULLYING,
) -> ChatMessage:
    """Answer every question of a report at a school (buttons and one typed story); return the summary."""
    if uid not in bot.emu.users:
        bot.emu.add_user(uid, first_name=NAME, last_name=SURNAME, username=USERNAME)
    msg = await bot.send(uid, "/lapor")
    assert "Siapa yang melapor" in msg.text and "✖️ Batal" in msg.button_labels()
    msg = await bot.press(uid, "👀 Teman / aku melihatnya")
    assert "Apa yang terjadi" in msg.text
    msg = await bot.press(uid, category)
    assert "dalam bahaya sekarang" in msg.text
    msg = await bot.press(uid, "🚨 Ya, dalam bahaya" if danger else "Tidak")
    if danger:
        assert "112" in msg.text and "129" in msg.text and not msg.buttons()
    await asked(bot, uid, "Di mana kejadiannya")
    msg = await bot.press(uid, "Balikpapan Kota")
    assert "Kelurahan mana" in msg.text
    msg = await bot.press(uid, "Damai")
    assert "tempat seperti apa" in msg.text
    msg = await bot.press(uid, "🏫 Sekolah")
    assert "Kapan" in msg.text
    msg = await bot.press(uid, "Hari ini")
    assert "Ceritakan apa yang terjadi" in msg.text
    msg = await bot.send(uid, STORY)
    if category in ("Kekerasan seksual", "Eksploitasi"):
        assert "tidak meminta foto" in msg.text and NO_NUDES not in msg.text  # no photo step: told why
        await asked(bot, uid, "petugas bisa membalasmu")
        assert photos == 0
    else:
        assert "foto atau tangkapan layar" in msg.text and NO_NUDES in msg.text
        for number in range(photos):
            mark = bot.emu.mark()
            bot.emu.send_photo(uid, content=f"photo {number}".encode())
            msg = await bot.emu.next_bot_message(uid, after=mark)
            assert f"Foto diterima 📎 ({number + 1})" in msg.text
        msg = await bot.press(uid, "✅ Selesai, lanjut" if photos else "Lewati, tanpa foto")
        assert "petugas bisa membalasmu" in msg.text
    msg = await bot.press(uid, "💬 Ya, petugas boleh membalas" if follow else "Tidak usah dibalas")
    assert "dibaca orang sungguhan" in msg.text and "tidak bisa berjanji" in msg.text
    # Unsure children are welcome: no "only what really happened" (content review).
    assert "Tidak yakin apakah itu termasuk kekerasan? Kamu tetap boleh melapor." in msg.text
    assert "benar-benar terjadi" not in msg.text
    assert STORY in msg.plain_text and category in msg.plain_text
    return msg


async def walk(
    bot: BotHarness, uid: int = REPORTER, *, danger: bool = False, follow: bool = True, photos: int = 0,
    category: str = BULLYING,
) -> str:
    """Report a case (bullying unless said) at a school and send it; return the reporter's code."""
    await to_summary(bot, uid, danger=danger, follow=follow, photos=photos, category=category)
    return await send_report(bot, uid)


async def send_report(bot: BotHarness, uid: int = REPORTER) -> str:
    """Press Send on the summary; return the code the reporter is shown."""
    msg = await bot.press(uid, "📨 Kirim laporan")
    assert "Laporanmu sudah terkirim" in msg.text
    assert "129" in msg.text and "112" in msg.text and "1500-771" in msg.text
    found = CODE.search(msg.plain_text)
    assert found, msg.text
    return found.group(0)


async def asked(bot: BotHarness, uid: int, question: str) -> ChatMessage:
    """Wait until the newest question with buttons in a chat is the given one; return it."""
    def latest() -> ChatMessage | None:
        message = bot.emu.latest_keyboard_message(uid)
        return message if message is not None and question in message.text else None

    await bot.emu.wait_for(lambda: latest() is not None, what=f"the question {question!r}")
    found = latest()
    assert found is not None
    return found


async def case_id(bot: BotHarness, code: str) -> int:
    """The case number staff see for a reporter's code."""
    async with bot.services.db() as session:
        report = await session.scalar(select(Report).where(Report.code_hash == report_code_hash(bot.settings.SECRET_KEY or "", code)))
    assert report is not None and report.id is not None
    return report.id


async def staff_card(bot: BotHarness, code: str, staff: int = STAFF) -> ChatMessage:
    """Open a case as the group's alert does: the `case_<id>` link, in the staff member's private chat."""
    number = await case_id(bot, code)
    card = await bot.send(staff, f"/start case_{number}")
    assert f"Kasus #{number}" in card.text and card.protect_content, card.text
    assert code not in card.text  # staff see the case number, never the reporter's code
    return card


def group_messages(bot: BotHarness) -> list[ChatMessage]:
    """Everything the bot posted in the staff group."""
    return bot.emu.bot_messages(STAFF_CHAT_ID)


def assert_nothing_private_in_the_group(bot: BotHarness, *secrets: str) -> None:
    """No story, code, message or photo of a case in the staff group: only short alerts."""
    for message in group_messages(bot):
        assert message.kind == "text", "a photo in the staff group"
        for secret in secrets:
            assert secret not in message.plain_text, (secret, message.plain_text)
        assert CODE.search(message.plain_text) is None, message.plain_text  # no reporter's code at all
        assert all(button.callback_data is None for button in message.buttons())  # links only


async def test_newcomer_reports_and_reads_a_staff_reply_then_answers(bot: BotHarness) -> None:
    await bot.user(STAFF, role="staff")
    code = await walk(bot)
    await bot.deliver()
    card = await staff_card(bot, code)
    assert "Psikis" in card.plain_text and "Sekolah" in card.plain_text and STORY in card.plain_text
    assert "MENDESAK" not in card.text

    prompt = await bot.press(STAFF, "✉️ Balas pelapor")
    assert "pesan untuk pelapor" in prompt.text and prompt.protect_content
    msg = await bot.send(STAFF, "Terima kasih sudah melapor. Kami akan ke sekolah besok.")
    assert "sedang dikirim" in msg.text and msg.protect_content
    mark = bot.emu.mark()
    await bot.deliver()
    told = await bot.emu.next_bot_message(REPORTER, after=mark)
    assert "Pesan dari petugas" in told.text and "Kami akan ke sekolah besok" in told.text
    assert str(STAFF) not in told.text

    msg = await bot.send(REPORTER, f"/status {code.lower().replace('-', ' ')}")
    assert "Sedang ditangani" in msg.text and "Kami akan ke sekolah besok" in msg.text
    msg = await bot.press(REPORTER, "✍️ Balas petugas")
    assert "Tulis balasanmu" in msg.text
    msg = await bot.send(REPORTER, "Baik, terima kasih. Kejadiannya di kantin.")
    assert "sudah sampai" in msg.text
    mark = bot.emu.mark()
    await bot.deliver()
    notice = await bot.emu.next_bot_message(STAFF_CHAT_ID, after=mark)
    assert f"Kasus #{await case_id(bot, code)}: pelapor membalas" in notice.text
    assert_nothing_private_in_the_group(bot, STORY, "kantin", "sekolah besok")  # the answer is read privately
    assert "kantin" in (await staff_card(bot, code)).plain_text
    msg = await bot.send(REPORTER, f"/status {code}")
    assert "kantin" in msg.text

    async with bot.services.db() as session:
        report = await session.scalar(select(Report).where(Report.code_hash == report_code_hash(bot.settings.SECRET_KEY or "", code)))
        # The SLA clock stopped at the staff reply: a duration, its exact start erased (db/grain.py).
        assert report is not None and report.first_response_seconds == 0 and report.received_at is None
        kinds = (await session.scalars(select(ReportMessage.kind).where(ReportMessage.report_id == report.id))).all()
    assert list(kinds) == ["staff", "reporter"]


async def test_danger_yes_shows_the_numbers_at_once_and_marks_the_case_urgent(bot: BotHarness) -> None:
    code = await walk(bot, danger=True)
    danger = [m for m in bot.emu.bot_messages(REPORTER) if "telepon sekarang juga" in m.text]
    assert danger and "112" in danger[0].text and "129" in danger[0].text
    # A child in danger is told to call first, not to keep typing.
    assert "Kalau bisa, telepon dulu." in danger[0].text and "setelah kamu aman" in danger[0].text
    assert "Ayo lanjutkan" not in danger[0].text
    await bot.user(STAFF, role="staff")
    await bot.deliver()
    [alert] = group_messages(bot)
    assert alert.plain_text.startswith("🚨 MENDESAK")
    card = await staff_card(bot, code)
    assert card.plain_text.startswith("🚨 MENDESAK")


async def test_a_reporter_who_blocked_the_bot_is_reported_as_unreachable(bot: BotHarness) -> None:
    from handlers import cases

    await bot.user(STAFF, role="staff")
    code = await walk(bot)
    await bot.deliver()
    bot.emu.block(REPORTER)
    await staff_card(bot, code)
    await bot.press(STAFF, "✉️ Balas pelapor")
    await bot.send(STAFF, "Apakah kamu aman sekarang?")
    await bot.deliver()
    assert await cases.tell_undelivered(bot.services, bot.clock.now()) == 1
    assert await cases.tell_undelivered(bot.services, bot.clock.now()) == 0  # told once
    mark = bot.emu.mark()
    await bot.deliver()
    notice = await bot.emu.next_bot_message(STAFF_CHAT_ID, after=mark)
    assert "tidak bisa dikirim" in notice.text and f"Kasus #{await case_id(bot, code)}" in notice.text
    assert_nothing_private_in_the_group(bot, STORY, "aman sekarang")


# --- issue 16: no sexual images of children, nothing of a case in the staff group ------------------


async def test_a_physical_violence_report_asks_for_screenshots_and_warns_against_body_photos(bot: BotHarness) -> None:
    summary = await to_summary(bot, category="Kekerasan fisik", photos=1)
    step = [m for m in bot.emu.bot_messages(REPORTER) if "Punya foto atau tangkapan layar" in m.text][0]
    assert NO_NUDES in step.text and "walaupun itu fotomu sendiri" in step.text
    assert "petugas akan membantu" in step.text and "nama akun pelaku boleh dikirim" in step.text
    assert "Kekerasan fisik" in summary.plain_text and "Foto: 1\nBoleh dibalas" in summary.plain_text
    await send_report(bot)
    async with bot.services.db() as session:
        assert len((await session.scalars(select(ReportEvidence))).all()) == 1


@pytest.mark.parametrize("category", ["Kekerasan seksual", "Eksploitasi"])
async def test_a_sexual_violence_or_exploitation_report_has_no_photo_step_and_says_why(
    bot: BotHarness, category: str,
) -> None:
    summary = await to_summary(bot, category=category)
    assert "Foto" not in summary.plain_text  # no "Photos: 0" where photos are never asked for
    [why] = [m for m in bot.emu.bot_messages(REPORTER) if "tidak meminta foto" in m.text]
    for advice in ("Simpan pesan ancamannya", "tangkapan layar nama akunnya", "Jangan kirim foto apa pun lagi",
                   "jangan membayar", "Blokir akunnya", "orang dewasa yang kamu percaya", "SAPA 129",
                   "bukan salahmu"):
        assert advice in why.plain_text, advice
    assert not [m for m in bot.emu.bot_messages(REPORTER) if "Punya foto atau tangkapan layar" in m.text]
    # In review, "Photos" is not offered, and a forged press of it is refused.
    msg = await bot.press(REPORTER, "✏️ Ubah jawaban")
    assert "Foto" not in msg.button_labels() and "Cerita" in msg.button_labels()
    query = bot.emu.press(REPORTER, msg.message_id, "rp:fix:evidence")
    await bot.emu.wait_for(lambda: query in bot.emu.answered_callbacks)
    assert "Tombol ini sudah lama" in str(bot.emu.answered_callbacks[query]["text"])
    assert not [m for m in bot.emu.bot_messages(REPORTER) if "Punya foto atau tangkapan layar" in m.text]
    await bot.press(REPORTER, "Cerita")
    mark = bot.emu.mark()
    bot.emu.send_photo(REPORTER)  # a photo anyway: answered, never kept
    msg = await bot.emu.next_bot_message(REPORTER, after=mark)
    assert "tidak disimpan" in msg.text and "Tangkapan layar bisa dikirim" not in msg.text
    msg = await bot.press(REPORTER, "▶️ Lanjut")
    assert "Periksa laporanmu" in msg.text
    await send_report(bot)
    async with bot.services.db() as session:
        assert (await session.scalars(select(ReportEvidence))).all() == []


async def test_a_fresh_report_without_the_category_goes_back_from_the_answer_question_to_the_story(
    bot: BotHarness,
) -> None:
    bot.emu.add_user(REPORTER)
    await bot.send(REPORTER, "/lapor")
    for label in ("🙋 Aku sendiri yang mengalami", "Kekerasan seksual", "Tidak", "🤷 Tidak tahu / tidak mau bilang",
                  "📱 Online / media sosial", "Masih terus terjadi"):
        await bot.press(REPORTER, label)
    await bot.send(REPORTER, "Ada yang mengancam menyebar fotoku kalau aku tidak kirim lagi.")
    await asked(bot, REPORTER, "petugas bisa membalasmu")
    msg = await bot.press(REPORTER, "⬅️ Kembali")
    assert "Ceritakan apa yang terjadi" in msg.text


async def test_changing_the_category_to_exploitation_in_review_drops_the_photos_and_says_so(bot: BotHarness) -> None:
    await to_summary(bot, photos=2)
    await bot.press(REPORTER, "✏️ Ubah jawaban")
    await bot.press(REPORTER, "Jenis kejadian")
    told = await bot.press(REPORTER, "Eksploitasi")
    assert "2 foto yang tadi kamu kirim sudah dihapus" in told.plain_text and "tidak meminta foto" in told.plain_text
    summary = await asked(bot, REPORTER, "Periksa laporanmu")
    assert "Eksploitasi" in summary.plain_text
    await send_report(bot)
    async with bot.services.db() as session:
        report = await session.scalar(select(Report))
        assert report is not None and report.category == "exploitation"
        assert (await session.scalars(select(ReportEvidence))).all() == []


async def test_files_videos_and_voice_notes_in_the_photo_step_are_refused_kindly_and_not_kept(
    bot: BotHarness,
) -> None:
    bot.emu.add_user(REPORTER)
    await bot.send(REPORTER, "/lapor")
    for label in ("👀 Teman / aku melihatnya", "Perundungan daring (online)", "Tidak",
                  "🤷 Tidak tahu / tidak mau bilang", "📱 Online / media sosial", "Minggu ini"):
        await bot.press(REPORTER, label)
    await bot.send(REPORTER, "Ada akun yang mengejek temanku di grup kelas.")
    sends = [
        lambda: bot.emu.send_document(REPORTER, "tangkapan.jpg", b"\xff\xd8 image as a file", mime_type="image/jpeg"),
        lambda: bot.emu.send_document(REPORTER, "bukti.pdf", b"%PDF"),
        *(lambda kind=kind: bot.emu.send_media(REPORTER, kind) for kind in ("video", "video_note", "animation",
                                                                             "voice", "audio")),
        lambda: bot.emu.send_sticker(REPORTER),
    ]
    for send in sends:
        mark = bot.emu.mark()
        send()
        msg = await bot.emu.next_bot_message(REPORTER, after=mark)
        assert "aku hanya menerima <b>foto</b>" in msg.text and "tidak disimpan" in msg.text, msg.text
        assert "Punya foto atau tangkapan layar" in msg.text  # still the photo step, with its buttons
    mark = bot.emu.mark()
    photo = bot.emu.send_photo(REPORTER)
    msg = await bot.emu.next_bot_message(REPORTER, after=mark)
    assert "Foto diterima 📎 (1)" in msg.text
    await bot.press(REPORTER, "✅ Selesai, lanjut")
    await bot.press(REPORTER, "Tidak usah dibalas")
    await send_report(bot)
    async with bot.services.db() as session:
        assert [e.file_id for e in (await session.scalars(select(ReportEvidence))).all()] == [photo.file_id]


async def test_the_staff_group_gets_only_a_short_alert_without_story_code_or_photos(bot: BotHarness) -> None:
    code = await walk(bot, danger=True, photos=2)
    number = await case_id(bot, code)
    await bot.deliver()
    [alert] = group_messages(bot)
    assert f"Kasus #{number}" in alert.plain_text and "MENDESAK" in alert.plain_text
    assert "Perundungan (bullying)" in alert.plain_text and "baru saja" in alert.plain_text
    [button] = alert.buttons()
    assert button.url == f"https://t.me/{bot.emu.bot_username}?start=case_{number}"
    assert_nothing_private_in_the_group(bot, STORY, code, "Balikpapan Kota", "Damai")
    assert not bot.emu.requests_for("getFile"), "evidence must not be downloaded"


async def test_staff_open_the_case_and_its_photos_privately_protected_and_every_opening_is_audited(
    bot: BotHarness,
) -> None:
    await bot.user(STAFF, role="staff")
    await bot.user(STAFF + 1, role="staff")
    code = await walk(bot, photos=2)
    sent = [m.file_id for m in bot.emu.messages(REPORTER) if m.kind == "photo"]
    number = await case_id(bot, code)
    await bot.deliver()
    card = await staff_card(bot, code)
    assert STORY in card.plain_text and "Bukti: 2 foto" in card.plain_text and f"Kasus #{number}" in card.plain_text
    assert not [m for m in bot.emu.bot_messages(STAFF) if m.kind == "photo"]  # photos only on request

    for staff in (STAFF, STAFF, STAFF + 1):
        if staff != STAFF:
            await staff_card(bot, code, staff)
        mark = bot.emu.mark()
        bot.emu.press_button(staff, "🖼️ Lihat bukti (2 foto)")
        await bot.emu.wait_for(lambda: len([m for m in bot.emu.bot_messages_since(mark, staff)  # noqa: B023
                                            if m.kind == "photo"]) == 2)
        photos = [m for m in bot.emu.bot_messages_since(mark, staff) if m.kind == "photo"]
        assert [m.file_id for m in photos] == sent
        assert all(m.protect_content for m in photos)
        assert f"Kasus #{number}" in (photos[0].caption or "") and code not in (photos[0].caption or "")
    assert not [m for m in group_messages(bot) if m.kind == "photo"]
    assert not bot.emu.requests_for("getFile"), "evidence must not be downloaded"

    # A press by someone else and a forged one for a case that does not exist open nothing.
    await bot.user(OUTSIDER)
    own = await bot.send(OUTSIDER, "/bantuan")
    for user, message_id, report_id in ((OUTSIDER, own.message_id, number), (STAFF, card.message_id, number + 99)):
        mark = bot.emu.mark()
        query = bot.emu.press(user, message_id, f"case:evidence:{report_id}")
        await bot.emu.wait_for(lambda: query in bot.emu.answered_callbacks)  # noqa: B023 (awaited at once)
        assert bot.emu.answered_callbacks[query].get("text")  # refused with a pop-up
        assert not [m for m in bot.emu.bot_messages_since(mark) if m.kind == "photo"]
    async with bot.services.db() as session:
        opened = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "report.evidence_view"))).all()
    assert [(e.actor_telegram_id, e.subject) for e in opened] == [(STAFF, f"report:{number}")] * 2 + [
        (STAFF + 1, f"report:{number}")]
    card = await staff_card(bot, code)
    assert "membuka foto bukti" in card.plain_text  # in the case's history


async def test_a_case_link_is_refused_to_anyone_but_staff(bot: BotHarness) -> None:
    await bot.user(OUTSIDER)
    code = await walk(bot, photos=1)
    number = await case_id(bot, code)
    for user in (OUTSIDER, REPORTER, REPORTER + 5):  # a registered child, the reporter, a stranger
        msg = await bot.send(user, f"/start case_{number}")
        assert "bukan untuk peranmu" in msg.text
        assert not [m for m in bot.emu.bot_messages(user) if STORY in m.plain_text or m.kind == "photo"]
    async with bot.services.db() as session:
        assert (await session.scalars(select(AuditEntry).where(AuditEntry.subject == f"report:{number}"))).all() == []


async def test_a_case_button_pressed_in_the_group_never_shows_the_case_there(bot: BotHarness) -> None:
    await bot.user(STAFF, role="staff")
    code = await walk(bot)
    number = await case_id(bot, code)
    await bot.deliver()
    [alert] = group_messages(bot)
    for data in (f"case:show:{number}", f"case:evidence:{number}", f"case:note:{number}", "case:list",
                 f"case:close:{number}"):
        query = bot.emu.press(STAFF, alert.message_id, data, chat_id=STAFF_CHAT_ID)
        await bot.emu.wait_for(lambda: query in bot.emu.answered_callbacks)  # noqa: B023 (awaited at once)
        assert "chat pribadi" in str(bot.emu.answered_callbacks[query]["text"]), data
    msg = await bot.send(STAFF, "Catatan yang tidak diminta")
    assert "Catatan disimpan" not in msg.text  # no note prompt was opened by the group press
    assert [m.text for m in group_messages(bot)] == [alert.text] and not alert.edited
    assert_nothing_private_in_the_group(bot, STORY, code)
    async with bot.services.db() as session:
        # No case was viewed or acted on (only the start-up's ADMIN_IDS entry is there).
        assert [e.action for e in (await session.scalars(select(AuditEntry))).all() if e.action.startswith("report.")] == []


async def test_the_crisis_answer_button_starts_a_report_with_the_category_prefilled(bot: BotHarness) -> None:
    await bot.user(OUTSIDER)
    shown = await bot.send(OUTSIDER, "/bantuan")  # stands in for the crisis answer that carries the button
    mark = bot.emu.mark()
    bot.emu.press(OUTSIDER, shown.message_id, "rp:begin:sexual")
    msg = await bot.emu.next_bot_message(OUTSIDER, after=mark)
    assert "Siapa yang melapor" in msg.text and "sudah diisi: <b>Kekerasan seksual</b>" in msg.text
    assert not bot.emu.bot_messages(OUTSIDER)[-2].edited  # the answer with the help numbers stays as it was
    msg = await bot.press(OUTSIDER, "🙋 Aku sendiri yang mengalami")
    assert "dalam bahaya sekarang" in msg.text  # the category question is skipped
    msg = await bot.press(OUTSIDER, "⬅️ Kembali")
    assert "Siapa yang melapor" in msg.text
    for label in ("🙋 Aku sendiri yang mengalami", "Tidak", "🤷 Tidak tahu / tidak mau bilang",
                  "📱 Online / media sosial", "Minggu ini"):
        await bot.press(OUTSIDER, label)
    msg = await bot.send(OUTSIDER, "Ada orang yang minta fotoku dan mengancam.")
    assert "tidak meminta foto" in msg.text
    await asked(bot, OUTSIDER, "petugas bisa membalasmu")
    await bot.press(OUTSIDER, "Tidak usah dibalas")
    await send_report(bot, OUTSIDER)
    async with bot.services.db() as session:
        report = await session.scalar(select(Report))
    assert report is not None and report.category == "sexual"

    # A category that is not ours is ignored: a plain start that asks for it.
    for data in ("rp:begin:gossip", "rp:begin", "rp:begin:sexual:x"):
        mark = bot.emu.mark()
        bot.emu.press(OUTSIDER, shown.message_id, data)
        msg = await bot.emu.next_bot_message(OUTSIDER, after=mark)
        assert "Siapa yang melapor" in msg.text and "sudah diisi" not in msg.text, data
        msg = await bot.press(OUTSIDER, "🙋 Aku sendiri yang mengalami")
        assert "Apa yang terjadi" in msg.text, data


STEPS_TO_CANCEL = [
    [], ["👀 Teman / aku melihatnya"], ["👀 Teman / aku melihatnya", "Perundungan (bullying)"],
    ["👀 Teman / aku melihatnya", "Perundungan (bullying)", "Tidak"],
    ["👀 Teman / aku melihatnya", "Perundungan (bullying)", "Tidak", "Balikpapan Kota"],
    ["👀 Teman / aku melihatnya", "Perundungan (bullying)", "Tidak", "Balikpapan Kota", "Damai"],
    ["👀 Teman / aku melihatnya", "Perundungan (bullying)", "Tidak", "Balikpapan Kota", "Damai", "🏫 Sekolah"],
]
AFTER_STORY = ["Lewati, tanpa foto", "Tidak usah dibalas"]


async def test_cancel_at_every_step_keeps_nothing(bot: BotHarness) -> None:
    bot.emu.add_user(REPORTER, first_name=NAME, username=USERNAME)
    full = [*STEPS_TO_CANCEL[-1], "Hari ini"]
    walks: list[list[str]] = [*STEPS_TO_CANCEL, full, [*full, "STORY"], [*full, "STORY", AFTER_STORY[0]],
                              [*full, "STORY", *AFTER_STORY]]
    for presses in walks:
        await bot.send(REPORTER, "/lapor")
        for label in presses:
            if label == "STORY":
                await bot.send(REPORTER, STORY)
            else:
                await bot.press(REPORTER, label)
        msg = await bot.press(REPORTER, "✖️ Batal")
        assert "Laporan dibatalkan" in msg.text, presses
    await bot.send(REPORTER, "/lapor")
    msg = await bot.send(REPORTER, "/batal")
    assert "Laporan dibatalkan" in msg.text
    msg = await bot.send(REPORTER, "cerita yang tidak diminta")
    assert "Laporan" not in msg.text  # the draft is gone: the general fallback answers
    async with bot.services.db() as session:
        assert (await session.scalars(select(Report))).all() == []
    assert not bot.emu.bot_messages(STAFF_CHAT_ID)


async def test_back_change_and_kind_reasks(bot: BotHarness) -> None:
    bot.emu.add_user(REPORTER, first_name=NAME, username=USERNAME)
    await bot.send(REPORTER, "/lapor")
    for label in ["🙋 Aku sendiri yang mengalami", "Perundungan daring (online)", "Tidak"]:
        await bot.press(REPORTER, label)
    msg = await bot.send(REPORTER, "di sekolah")
    assert "Pilih salah satu tombol" in msg.text  # typed where a button is expected
    msg = await bot.press(REPORTER, "🤷 Tidak tahu / tidak mau bilang")
    assert "tempat seperti apa" in msg.text  # no kelurahan question without a kecamatan
    msg = await bot.press(REPORTER, "⬅️ Kembali")
    assert "Di mana kejadiannya" in msg.text
    await bot.press(REPORTER, "🤷 Tidak tahu / tidak mau bilang")
    await bot.press(REPORTER, "📱 Online / media sosial")
    await bot.press(REPORTER, "Masih terus terjadi")
    mark = bot.emu.mark()
    bot.emu.send_sticker(REPORTER)
    msg = await bot.emu.next_bot_message(REPORTER, after=mark)
    assert "belum bisa membaca stiker" in msg.text
    msg = await bot.send(REPORTER, "x" * 2001)
    assert "terlalu panjang (2001 huruf)" in msg.text
    msg = await bot.send(REPORTER, "Ada akun yang mengejekku di grup kelas.")
    mark = bot.emu.mark()
    bot.emu.send_document(REPORTER, "bukti.pdf", b"%PDF")
    msg = await bot.emu.next_bot_message(REPORTER, after=mark)
    assert "hanya menerima foto" in msg.plain_text and "tidak disimpan" in msg.plain_text
    await bot.press(REPORTER, "Lewati, tanpa foto")
    msg = await bot.press(REPORTER, "Tidak usah dibalas")
    assert "tidak disebut" in msg.plain_text and "Perundungan daring" in msg.plain_text
    msg = await bot.press(REPORTER, "✏️ Ubah jawaban")
    msg = await bot.press(REPORTER, "Jenis kejadian")
    msg = await bot.press(REPORTER, "Kekerasan psikis")
    assert "Periksa laporanmu" in msg.text and "Kekerasan psikis" in msg.plain_text  # straight back to the summary
    msg = await bot.press(REPORTER, "📨 Kirim laporan")
    assert "/status" in msg.text and "membaca atau membalas" not in msg.text  # no follow-up chosen
    async with bot.services.db() as session:
        report = await session.scalar(select(Report))
    assert report is not None
    assert (report.category, report.kecamatan, report.place, report.follow_up, report.reply_route) == (
        "psychological", None, "online", False, None)


async def test_wrong_unknown_and_expired_codes_for_status(bot: BotHarness) -> None:
    await bot.user(STAFF, role="staff")
    code = await walk(bot, follow=False)
    msg = await bot.send(REPORTER, "/status")
    assert "Ketik kode laporanmu" in msg.text
    msg = await bot.send(REPORTER, f"/status {code}")
    assert "menunggu dibaca" in msg.text and "tidak dibalas" in msg.text and not msg.buttons()
    await staff_card(bot, code)
    await bot.press(STAFF, "✅ Tutup")
    await bot.press(STAFF, "Selesai ditangani")
    msg = await bot.send(REPORTER, f"/check {code}")
    assert "sudah selesai" in msg.text
    bot.clock.advance(timedelta(days=31))
    msg = await bot.send(REPORTER, f"/status {code}")
    assert "sudah lama selesai" in msg.text
    for _ in range(5):
        msg = await bot.send(REPORTER, "/status ZZZZ-ZZZZ")
        assert "tidak ditemukan" in msg.text
    msg = await bot.send(REPORTER, f"/status {code}")
    assert "Sudah 5 kode salah" in msg.text  # guessing is slowed down, per person
    msg = await bot.send(REPORTER + 1, "/status ZZZZ-ZZZZ")
    assert "tidak ditemukan" in msg.text


async def test_a_few_reports_per_hour_per_person(bot: BotHarness) -> None:
    for _ in range(3):
        await walk(bot, follow=False)
    msg = await bot.send(REPORTER, "/lapor")
    assert "beberapa laporan dalam satu jam" in msg.text and "112" in msg.text
    bot.clock.advance(timedelta(hours=1))
    msg = await bot.send(REPORTER, "/lapor")
    assert "Siapa yang melapor" in msg.text


async def test_menu_button_and_deep_link_open_the_report_for_guests(bot: BotHarness) -> None:
    bot.emu.add_user(REPORTER, first_name=NAME, username=USERNAME)
    msg = await bot.send(REPORTER, "/start lapor")
    assert "Siapa yang melapor" in msg.text
    await bot.press(REPORTER, "✖️ Batal")
    msg = await bot.send(REPORTER, "/menu")
    msg = await bot.press(REPORTER, "📣 Lapor tanpa nama")
    assert "Siapa yang melapor" in msg.text
    msg = await bot.send(REPORTER, "/report")
    assert "Siapa yang melapor" in msg.text


async def test_report_in_a_group_points_to_the_private_chat(bot: BotHarness) -> None:
    await bot.user(STAFF, role="staff")
    msg = await bot.send(STAFF, "/lapor", chat_id=STAFF_CHAT_ID)
    assert "chat pribadi" in msg.text and "start=lapor" in msg.text


# --- SPEC §4 proofs: the database and the log hold no trace of the reporter -----------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
async def any_bot(
    request: pytest.FixtureRequest, emulator: BotApiEmulator, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[BotHarness]:
    """The same running bot as `bot`, on a fresh SQLite file or a fresh PostgreSQL database."""
    with ExitStack() as stack:
        url = sqlite_url(tmp_path) if request.param == "sqlite" else stack.enter_context(postgres_database())
        async with running_bot(emulator, url, clock) as harness:
            yield harness


def needles() -> set[str]:
    """Every form of the reporter's identity that must not be stored."""
    ident = str(REPORTER)
    forms = {ident, NAME.lower(), SURNAME.lower(), USERNAME.lower()}
    for algorithm in ("sha256", "md5", "sha1"):
        forms.add(hashlib.new(algorithm, ident.encode()).hexdigest())
        forms.add(hashlib.new(algorithm, REPORTER.to_bytes(8, "big")).hexdigest())
    return forms


async def scan(connection: AsyncConnection) -> dict[str, int]:
    """Read every column of every row of every table; fail on any trace; return row counts."""
    tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    counts, forms = {}, needles()
    for table in tables:
        rows = (await connection.execute(text(f'SELECT * FROM "{table}"'))).all()  # noqa: S608 (own table names)
        counts[table] = len(rows)
        for row in rows:
            for value in row:
                cell = str(value).lower()
                assert not any(form in cell for form in forms), f"{table}: a trace of the reporter in {cell[:80]!r}"
    return counts


async def test_no_trace_of_the_reporter_in_any_table(any_bot: BotHarness) -> None:
    bot = any_bot
    await bot.user(STAFF, role="staff")
    code = await walk(bot, danger=True, photos=1)
    await bot.deliver()
    await staff_card(bot, code)
    await bot.press(STAFF, "🖼️ Lihat bukti (1 foto)")
    await bot.press(STAFF, "✉️ Balas pelapor")
    await bot.send(STAFF, "Kamu aman sekarang?")
    await bot.deliver()
    await bot.send(REPORTER, f"/status {code}")
    await bot.press(REPORTER, "✍️ Balas petugas")
    await bot.send(REPORTER, "Iya, aku aman sekarang.")
    await bot.deliver()
    async with bot.services.engine.connect() as connection:
        counts = await scan(connection)
    assert counts["reports"] == 1 and counts["report_evidence"] == 1 and counts["report_messages"] == 2
    assert counts["deliveries"] >= 3 and counts["audit_log"] >= 3  # alert, reply, notice; view, evidence, reply
    async with bot.services.db() as session:
        report = await session.scalar(select(Report))
        evidence = await session.scalar(select(ReportEvidence))
    assert report is not None and report.reply_route and report.urgent
    assert evidence is not None and evidence.file_id
    secret = bot.settings.SECRET_KEY or ""
    assert crypto.open_route(secret, report.reply_route, binding=crypto.report_binding(report.id)) == REPORTER


async def test_only_the_reporter_ever_sees_the_code_and_it_is_stored_only_keyed(any_bot: BotHarness) -> None:
    # The attack of issue 17, item 2: a member of the staff group (or any staff member) takes the
    # code from an alert, /kasus or a card and reads or writes as the child with /status.
    bot = any_bot
    await bot.user(STAFF, role="staff")
    await bot.user(STAFF + 7, role="staff")
    code = await walk(bot, danger=True)
    await bot.deliver()
    await bot.send(STAFF, "/kasus")
    await staff_card(bot, code)
    await bot.press(STAFF, "✉️ Balas pelapor")
    await bot.send(STAFF, "Kamu aman sekarang?")
    await bot.press(STAFF, "📝 Catatan internal")
    await bot.send(STAFF, "Sudah telepon sekolah.")
    await bot.deliver()
    seen_by_others = [m.text + " " + str(m.reply_markup or "") + " " + (m.caption or "")
                      for chat in (STAFF_CHAT_ID, STAFF, STAFF + 7) for m in bot.emu.bot_messages(chat)]
    assert seen_by_others and not any(code in seen or code.replace("-", "") in seen for seen in seen_by_others)
    for candidate in {found for seen in seen_by_others for found in CODE.findall(seen)}:
        assert "Pesan dari petugas" not in (await bot.send(STAFF + 7, f"/status {candidate}")).text
    assert "Kamu aman sekarang?" in (await bot.send(REPORTER, f"/status {code}")).text  # the child's still works
    # In the database: neither the code nor an unkeyed hash of it, only the keyed one.
    forms = {code.lower(), code.replace("-", "").lower()}
    forms |= {hashlib.new(a, f.upper().encode()).hexdigest() for a in ("sha256", "md5", "sha1") for f in forms}
    async with bot.services.engine.connect() as connection:
        for table in await connection.run_sync(lambda sync: inspect(sync).get_table_names()):
            for row in (await connection.execute(text(f'SELECT * FROM "{table}"'))).all():  # noqa: S608
                assert not any(form in str(value).lower() for value in row for form in forms), table
    async with bot.services.db() as session:
        report = await session.scalar(select(Report))
    assert report is not None and report.code_hash == report_code_hash(bot.settings.SECRET_KEY or "", code)


async def test_the_log_never_pairs_the_reporter_id_with_the_code(
    bot: BotHarness, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO)
    for name in ("bot", "db", "handlers"):
        caplog.set_level(logging.DEBUG, logger=name)
    await bot.user(STAFF, role="staff")
    code = await walk(bot, photos=1)
    await bot.deliver()
    await staff_card(bot, code)
    await bot.press(STAFF, "🖼️ Lihat bukti (1 foto)")
    await bot.press(STAFF, "✉️ Balas pelapor")
    await bot.send(STAFF, "Halo")
    bot.emu.block(REPORTER)
    await bot.deliver()
    bot.emu.unblock(REPORTER)
    await bot.send(REPORTER, f"/status {code}")
    await bot.send(REPORTER, "/status ZZZZ-ZZZZ")
    lines = [caplog.text, *(record.getMessage() for record in caplog.records)]
    log_file = tmp_path / "bot.log"
    log_file.write_text("\n".join(lines))
    assert caplog.records, "nothing was logged: the test would prove nothing"
    paired = [line for line in log_file.read_text().splitlines() if str(REPORTER) in line and code in line]
    assert paired == []
