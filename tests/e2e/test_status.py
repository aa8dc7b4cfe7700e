"""`/status`: the rightful reporter is never locked out by typos, and the answer step never takes
another flow's text (issue 17, items 10 and 13)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from db.models import ReportMessage
from tests.e2e.conftest import STAFF_CHAT_ID, BotHarness
from tests.e2e.test_reports import REPORTER, STAFF, STORY, send_report, staff_card, to_summary, walk

pytestmark = pytest.mark.e2e


async def test_typos_cost_nothing_and_the_refusal_says_when_to_try_again(bot: BotHarness) -> None:
    code = await walk(bot, follow=False)
    bot.clock.advance(timedelta(minutes=20))  # 10:20 WITA
    for typo in ("halo", "1234", "kodeku apa ya", "ABCD-EF2", "ABCD-EFI1", "ABCDEF23X", "/status"):
        msg = await bot.send(REPORTER, f"/status {typo}")
        assert "belum seperti kode laporan" in msg.text and "tidak dihitung" in msg.text, (typo, msg.text)
    msg = await bot.send(REPORTER, f"/status {code.lower()}")  # after seven typos: still opens
    assert "menunggu dibaca" in msg.text
    for _ in range(5):  # codes that could be real but are not: these are guesses
        assert "tidak ditemukan" in (await bot.send(REPORTER, "/status ZZZZ-ZZZZ")).text
    msg = await bot.send(REPORTER, f"/status {code}")
    assert "Sudah 5 kode salah" in msg.text and "11.00 WITA" in msg.text, msg.text
    assert "belum seperti kode" in (await bot.send(REPORTER, "/status halo")).text  # still explained
    bot.clock.advance(timedelta(minutes=40))  # 11:00 WITA: as promised
    assert "menunggu dibaca" in (await bot.send(REPORTER, f"/status {code}")).text


async def test_a_new_report_started_from_the_answer_step_goes_to_the_report_not_to_staff(bot: BotHarness) -> None:
    await bot.user(STAFF, role="staff")
    code = await walk(bot)
    await bot.deliver()
    await staff_card(bot, code)
    await bot.press(STAFF, "✉️ Balas pelapor")
    await bot.send(STAFF, "Terima kasih, kami sudah membaca.")
    await bot.deliver()
    await bot.send(REPORTER, f"/status {code}")
    msg = await bot.press(REPORTER, "✍️ Balas petugas")
    assert "Tulis balasanmu" in msg.text
    # The child changes their mind and reports something new instead: /lapor, then every answer.
    mark = bot.emu.mark()
    await to_summary(bot, REPORTER)  # sends /lapor and types STORY on the way
    second = await send_report(bot, REPORTER)
    assert second != code
    await bot.deliver()
    async with bot.services.db() as session:
        kinds = (await session.scalars(select(ReportMessage.kind))).all()
    assert list(kinds) == ["staff"]  # nothing went to staff as the reporter's answer
    assert not [m for m in bot.emu.bot_messages_since(mark, REPORTER) if "sudah sampai" in m.text]
    notices = [m.text for m in bot.emu.bot_messages_since(mark, STAFF_CHAT_ID)]
    assert not [text for text in notices if "membalas" in text], notices
    assert all(STORY not in text for text in notices)
    # And plain text after the new report is no answer either.
    msg = await bot.send(REPORTER, "terima kasih")
    assert "sudah sampai" not in msg.text


async def test_a_staff_member_writing_a_reply_who_types_a_command_is_not_quoted_to_the_reporter(
    bot: BotHarness,
) -> None:
    await bot.user(STAFF, role="staff")
    code = await walk(bot)
    await bot.deliver()
    await staff_card(bot, code)
    await bot.press(STAFF, "✉️ Balas pelapor")
    msg = await bot.send(STAFF, "/kasus")  # the command is handled, and the reply step is over
    assert "Balas" not in msg.text or "/kasus" not in msg.text
    await bot.send(STAFF, "catatan pribadi untuk diriku sendiri")
    async with bot.services.db() as session:
        assert (await session.scalars(select(ReportMessage))).all() == []
