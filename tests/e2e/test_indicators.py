"""Staff get the indicators in the bot, the same as on the command line; others are refused."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.exports import write_csv
from db import users
from db.indicators import Period, compute
from tests.e2e.conftest import BotHarness

pytestmark = pytest.mark.e2e

STAFF, CHILD = 4001, 4002


async def test_staff_exports_csv_with_the_same_numbers_as_the_cli(bot: BotHarness, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await bot.user(STAFF, role="staff")
    for uid in range(4100, 4107):
        await bot.user(uid, kecamatan="Balikpapan Kota", kelurahan="Damai")
    msg = await bot.send(STAFF, "/ekspor")
    assert "Pilih periode" in msg.text
    await bot.press(STAFF, "📅 Bulan ini")
    mark = bot.emu.mark()
    bot.emu.press_button(STAFF, "📄 CSV")
    await bot.emu.wait_for(lambda: any(m.kind == "document" for m in bot.emu.bot_messages_since(mark, STAFF)))
    document = next(m for m in bot.emu.bot_messages_since(mark, STAFF) if m.kind == "document")
    assert document.document_path is not None or bot.emu.saved_files
    path = document.document_path or bot.emu.saved_files[-1]
    from_bot = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))

    async with bot.services.db() as session:
        rows = await compute(session, period=Period(date(2026, 11, 1), date(2026, 11, 23), ZoneInfo("Asia/Makassar")),
                             secret=bot.services.settings.SECRET_KEY)
    cli_path = tmp_path / "cli.csv"
    write_csv(rows, cli_path)
    assert from_bot == list(csv.reader(cli_path.read_text(encoding="utf-8").splitlines()))
    total = next(r for r in from_bot if r[0] == "users_registered" and r[3] == "ALL" and r[5] == "ALL")
    assert abs(int(total[-1]) - 8) <= 2  # seven children and the staff member, protected (db/disclosure.py)
    assert not any(r[-1] in ("1", "2", "3", "4") for r in from_bot)  # no small count leaves the office


async def test_staff_gets_xlsx_and_a_chart(bot: BotHarness) -> None:
    await bot.user(STAFF, role="staff")
    await bot.send(STAFF, "/export")
    await bot.press(STAFF, "📅 12 bulan terakhir")
    mark = bot.emu.mark()
    bot.emu.press_button(STAFF, "📗 XLSX")
    await bot.emu.wait_for(lambda: any(m.kind == "document" for m in bot.emu.bot_messages_since(mark, STAFF)))
    mark = bot.emu.mark()
    bot.emu.send_text(STAFF, "/statistik")
    await bot.emu.wait_for(lambda: any(m.kind == "photo" for m in bot.emu.bot_messages_since(mark, STAFF)))


async def test_others_are_refused(bot: BotHarness) -> None:
    await bot.user(CHILD)
    for command in ("/ekspor", "/statistik", "/stats"):
        msg = await bot.send(CHILD, command)
        assert "bukan untuk peranmu" in msg.text


async def _export_last_month(bot: BotHarness) -> list[list[str]]:
    await bot.send(STAFF, "/ekspor")
    await bot.press(STAFF, "📅 Bulan lalu")
    mark = bot.emu.mark()
    bot.emu.press_button(STAFF, "📄 CSV")
    await bot.emu.wait_for(lambda: any(m.kind == "document" for m in bot.emu.bot_messages_since(mark, STAFF)))
    document = next(m for m in bot.emu.bot_messages_since(mark, STAFF) if m.kind == "document")
    path = document.document_path or bot.emu.saved_files[-1]
    return list(csv.reader(path.read_text(encoding="utf-8").splitlines()))


async def test_a_closed_month_keeps_its_figures_after_an_account_is_erased(bot: BotHarness) -> None:
    await bot.user(STAFF, role="staff")
    for uid in range(4100, 4106):
        await bot.user(uid)
    bot.clock.set(datetime(2026, 12, 10, 2, 0, tzinfo=UTC))  # November closed on 8 December
    before = await _export_last_month(bot)
    await bot.send(4100, "/hapus_data")
    assert "sudah dihapus" in (await bot.press(4100, "Ya, hapus akunku")).text
    async with bot.services.db() as session:
        assert await users.get_user(session, telegram_id=4100) is None
    assert await _export_last_month(bot) == before
    total = next(r for r in before if r[0] == "users_registered" and r[3] == "ALL" and r[5] == "ALL")
    assert abs(int(total[-1]) - 7) <= 2  # protected, and the same in both exports


async def test_no_export_carries_an_evidence_file_id(bot: BotHarness) -> None:
    # A file id names the child's own message: it must never leave the bot in a file.
    import zipfile

    from sqlalchemy import select

    from db.models import ReportEvidence
    from tests.e2e.test_reports import walk

    await walk(bot, photos=1)
    async with bot.services.db() as session:
        file_ids = list((await session.scalars(select(ReportEvidence.file_id))).all())
    assert file_ids
    await bot.user(STAFF, role="staff")
    contents: list[str] = []
    for button in ("📄 CSV", "📗 XLSX"):
        await bot.send(STAFF, "/ekspor")
        await bot.press(STAFF, "📅 Bulan ini")
        mark = bot.emu.mark()
        bot.emu.press_button(STAFF, button)
        await bot.emu.wait_for(lambda since=mark: any(m.kind == "document" for m in bot.emu.bot_messages_since(since, STAFF)))
        path = bot.emu.saved_files[-1]
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as book:
                contents += [book.read(name).decode("utf-8", "replace") for name in book.namelist()]
        else:
            contents.append(path.read_text(encoding="utf-8"))
    assert len(contents) > 1
    assert not any(file_id in text for file_id in file_ids for text in contents)
