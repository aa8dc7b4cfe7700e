"""Case management through the real Application: /kasus, card buttons, notes, referral, close,
audit, role checks on every press, and re-alerts of unacknowledged urgent cases.

Cases are worked in the staff member's private chat (the group gets only short alerts; see
tests/e2e/test_reports.py for what the group may and may not see)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from db.crypto import report_code_hash
from db.models import AuditEntry, Report
from handlers import cases
from tests.e2e.conftest import STAFF_CHAT_ID, BotHarness
from tests.e2e.test_reports import (
    REPORTER,
    STAFF,
    STORY,
    assert_nothing_private_in_the_group,
    case_id,
    group_messages,
    staff_card,
    walk,
)

pytestmark = pytest.mark.e2e

CHILD, OUTSIDER = 4321, 8765


async def stored(bot: BotHarness, code: str) -> Report:
    async with bot.services.db() as session:
        report = await session.scalar(select(Report).where(Report.code_hash == report_code_hash(bot.settings.SECRET_KEY or "", code)))
    assert report is not None
    return report


async def test_staff_work_a_case_from_the_list_to_closing(bot: BotHarness) -> None:
    await bot.user(STAFF, role="staff")
    first = await walk(bot, follow=False)
    bot.clock.advance(timedelta(minutes=5))
    urgent = await walk(bot, REPORTER + 1, danger=True)
    msg = await bot.send(STAFF, "/kasus")
    labels = msg.button_labels()
    first_id, urgent_id = (await stored(bot, first)).id, (await stored(bot, urgent)).id
    assert labels[0].startswith("🚨") and f"#{urgent_id} ·" in labels[0] and f"#{first_id} ·" in labels[1]
    assert not any(code in label for label in labels for code in (first, urgent))  # never the reporter's code
    assert "Menunggu dibaca: 2" in msg.plain_text

    msg = await bot.press(STAFF, labels[1])
    assert f"Kasus #{first_id}" in msg.text and first not in msg.text and "✉️ Balas pelapor" not in msg.button_labels()  # no follow-up chosen
    assert msg.protect_content  # the list was sent protected, so the card edited into it is too
    bot.clock.advance(timedelta(minutes=3))
    msg = await bot.press(STAFF, "🙋 Saya tangani")
    assert "Respon pertama" in msg.plain_text and "diambil untuk ditangani" in msg.plain_text
    await bot.press(STAFF, "📝 Catatan internal")
    msg = await bot.send(STAFF, "Sudah telepon wali kelas.")
    assert "Catatan disimpan" in msg.text
    msg = await bot.send(STAFF, "/kasus")
    msg = await bot.press(STAFF, [label for label in msg.button_labels() if f"#{first_id} ·" in label][0])
    assert "Sudah telepon wali kelas" in msg.plain_text and "catatan internal" in msg.plain_text
    msg = await bot.press(STAFF, "↗️ Rujuk")
    msg = await bot.press(STAFF, "UPTD PPA")
    assert "Dirujuk ke: UPTD PPA" in msg.plain_text
    msg = await bot.press(STAFF, "✅ Tutup")
    assert "Bukan laporan sungguhan" in msg.button_labels()
    msg = await bot.press(STAFF, "Dirujuk")
    assert "Selesai" in msg.plain_text and msg.button_labels() == ["📋 Daftar kasus"]

    report = await stored(bot, first)
    assert report.first_response_at is not None
    assert report.first_response_seconds == 8 * 60  # time to first response (kept as a duration, db/grain.py)
    assert (report.status, report.outcome, report.assigned_to) == ("closed", "referred", STAFF)
    async with bot.services.db() as session:
        actions = (await session.scalars(select(AuditEntry.action).where(AuditEntry.subject == f"report:{report.id}"))).all()
        actors = set((await session.scalars(select(AuditEntry.actor_telegram_id).where(
            AuditEntry.subject == f"report:{report.id}"))).all())
    assert list(actions) == ["report.view", "report.assign", "report.note", "report.view", "report.refer",
                             "report.close"] and actors == {STAFF}

    msg = await bot.send(STAFF, "/kasus")
    assert len(msg.button_labels()) == 1 and "Sudah ditutup: 0 selesai, 1 dirujuk" in msg.plain_text


async def test_not_genuine_is_counted_apart(bot: BotHarness) -> None:
    await bot.user(STAFF, role="staff")
    code = await walk(bot, follow=False)
    await bot.deliver()
    await staff_card(bot, code)
    await bot.press(STAFF, "✅ Tutup")
    await bot.press(STAFF, "Bukan laporan sungguhan")
    msg = await bot.send(STAFF, "/kasus")
    assert "1 bukan laporan sungguhan" in msg.plain_text and "Tidak ada kasus terbuka" in msg.plain_text


async def test_only_staff_may_press_case_buttons_or_list_cases(bot: BotHarness) -> None:
    await bot.user(STAFF, role="staff")
    await bot.user(CHILD)
    code = await walk(bot)
    number = await case_id(bot, code)
    await bot.deliver()
    bot.emu.add_user(OUTSIDER)
    [alert] = group_messages(bot)
    own = await bot.send(OUTSIDER, "/bantuan")
    for chat, message_id in ((STAFF_CHAT_ID, alert.message_id), (OUTSIDER, own.message_id)):
        for action in ("ack", "reply", "show"):
            query = bot.emu.press(OUTSIDER, message_id, f"case:{action}:{number}", chat_id=chat)
            await bot.emu.wait_for(lambda: query in bot.emu.answered_callbacks)  # noqa: B023 (awaited at once)
            answer = str(bot.emu.answered_callbacks[query]["text"])
            # In the group, "only in private" may answer first; either way nothing of the case.
            assert "bukan untuk peranmu" in answer or (chat == STAFF_CHAT_ID and "chat pribadi" in answer), answer
    assert [m.text for m in group_messages(bot)] == [alert.text]
    msg = await bot.send(CHILD, "/kasus")
    assert "bukan untuk peranmu" in msg.text
    assert (await stored(bot, code)).status == "new"
    await staff_card(bot, code)
    msg = await bot.press(STAFF, "👀 Terima")
    assert "Sedang ditangani" in msg.plain_text and "diterima" in msg.plain_text
    assert (await stored(bot, code)).acknowledged_at == bot.clock.now()


async def test_opening_a_case_card_is_audited_and_counted_on_the_card(bot: BotHarness) -> None:
    await bot.user(STAFF, role="staff")
    await bot.user(STAFF + 1, role="staff", language="en")
    await bot.user(OUTSIDER)
    code = await walk(bot, follow=False)
    report = await stored(bot, code)

    msg = await bot.send(STAFF, "/kasus")
    bot.clock.advance(timedelta(minutes=2))
    msg = await bot.press(STAFF, [label for label in msg.button_labels() if f"#{report.id} ·" in label][0])
    assert "Dibuka 1 kali oleh 1 petugas" in msg.plain_text
    msg = await bot.press(STAFF, "👀 Terima")
    bot.clock.advance(timedelta(hours=1))
    msg = await bot.send(STAFF + 1, "/kasus")
    msg = await bot.press(STAFF + 1, [label for label in msg.button_labels() if f"#{report.id} ·" in label][0])
    last = (bot.clock.now() + timedelta(hours=8)).strftime("%H:%M")  # shown in WITA
    assert "Opened 2 times by 2 staff, last" in msg.plain_text and last in msg.plain_text
    history = msg.plain_text.split("History", 1)[1]
    assert history.count("•") == 1 and "acknowledged" in history  # the one action, not the views

    # A refused press and a forged one for a case that does not exist leave no trace.
    own = await bot.send(OUTSIDER, "/bantuan")
    for user, message_id, report_id in ((OUTSIDER, own.message_id, report.id), (STAFF + 1, msg.message_id, report.id + 99)):
        query = bot.emu.press(user, message_id, f"case:show:{report_id}")
        await bot.emu.wait_for(lambda: query in bot.emu.answered_callbacks)  # noqa: B023 (awaited at once)
        assert bot.emu.answered_callbacks[query].get("text")  # refused with a pop-up
    async with bot.services.db() as session:
        views = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "report.view"))).all()
    assert [(v.actor_telegram_id, v.subject) for v in views] == [(STAFF, f"report:{report.id}"),
                                                                  (STAFF + 1, f"report:{report.id}")]


async def test_a_forged_reply_press_on_a_case_without_follow_up_is_refused(bot: BotHarness) -> None:
    await bot.user(STAFF, role="staff")
    code = await walk(bot, follow=False)
    card = await staff_card(bot, code)
    report = await stored(bot, code)
    query = bot.emu.press(STAFF, card.message_id, f"case:reply:{report.id}")
    await bot.emu.wait_for(lambda: query in bot.emu.answered_callbacks)
    assert "tidak dibalas" in str(bot.emu.answered_callbacks[query]["text"])


async def test_urgent_cases_are_realerted_until_someone_acknowledges(bot: BotHarness) -> None:
    await bot.user(STAFF, role="staff")
    code = await walk(bot, danger=True)
    await bot.deliver()
    before = len(bot.emu.bot_messages(STAFF_CHAT_ID))
    bot.clock.advance(timedelta(minutes=10))
    assert await cases.realert_urgent(bot.services, bot.clock.now()) == 0  # not yet 15 minutes
    bot.clock.advance(timedelta(minutes=6))
    assert await cases.realert_urgent(bot.services, bot.clock.now()) == 1
    assert await cases.realert_urgent(bot.services, bot.clock.now()) == 0  # once per interval
    await bot.deliver()
    realert = bot.emu.bot_messages(STAFF_CHAT_ID)[before:]
    assert len(realert) == 1 and "Belum ada petugas yang menerima" in realert[0].text
    assert f"Kasus #{await case_id(bot, code)}" in realert[0].text and "16 menit lalu" in realert[0].text
    assert_nothing_private_in_the_group(bot, STORY, code)
    await staff_card(bot, code)
    await bot.press(STAFF, "👀 Terima")
    bot.clock.advance(timedelta(hours=1))
    assert await cases.realert_urgent(bot.services, bot.clock.now()) == 0
    report = await stored(bot, code)
    assert report.first_response_at is not None and report.first_response_seconds == 16 * 60


async def test_a_write_button_on_an_old_card_in_the_group_opens_no_prompt(bot: BotHarness) -> None:
    await bot.user(STAFF, role="staff")
    code = await walk(bot)
    await bot.deliver()
    [alert] = group_messages(bot)
    query = bot.emu.press(STAFF, alert.message_id, f"case:note:{await case_id(bot, code)}", chat_id=STAFF_CHAT_ID)
    await bot.emu.wait_for(lambda: query in bot.emu.answered_callbacks)
    assert "chat pribadi" in str(bot.emu.answered_callbacks[query]["text"])
    assert not bot.emu.bot_messages(STAFF)  # no prompt anywhere
    msg = await bot.send(STAFF, "catatan ini tidak diminta")
    assert "Catatan disimpan" not in msg.text
