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
from db.models import Report, ReportEvidence, ReportMessage
from tests.e2e.conftest import STAFF_CHAT_ID, BotHarness, running_bot
from tests.helpers.clock import FakeClock
from tests.helpers.databases import postgres_database, sqlite_url

pytestmark = pytest.mark.e2e

REPORTER = 736251948
STAFF = 618273
NAME, SURNAME, USERNAME = "Zubaedah", "Kartikasari", "zubaedah_balikpapan"
CODE = re.compile(r"[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}")
STORY = "Temanku di kelas dipalak dan didorong setiap istirahat."


async def walk(
    bot: BotHarness, uid: int = REPORTER, *, danger: bool = False, follow: bool = True, photos: int = 0,
) -> str:
    """Report a bullying case at a school with buttons and one typed story; return the code."""
    if uid not in bot.emu.users:
        bot.emu.add_user(uid, first_name=NAME, last_name=SURNAME, username=USERNAME)
    msg = await bot.send(uid, "/lapor")
    assert "Siapa yang melapor" in msg.text and "✖️ Batal" in msg.button_labels()
    msg = await bot.press(uid, "👀 Teman / aku melihatnya")
    assert "Apa yang terjadi" in msg.text
    msg = await bot.press(uid, "Perundungan (bullying)")
    assert "dalam bahaya sekarang" in msg.text
    msg = await bot.press(uid, "🚨 Ya, dalam bahaya" if danger else "Tidak")
    if danger:
        assert "112" in msg.text and "129" in msg.text and not msg.buttons()

    def asked_where() -> bool:
        latest = bot.emu.latest_keyboard_message(uid)
        return latest is not None and "Di mana kejadiannya" in latest.text

    await bot.emu.wait_for(asked_where, what="the question about the place")
    msg = await bot.press(uid, "Balikpapan Kota")
    assert "Kelurahan mana" in msg.text
    msg = await bot.press(uid, "Damai")
    assert "tempat seperti apa" in msg.text
    msg = await bot.press(uid, "🏫 Sekolah")
    assert "Kapan" in msg.text
    msg = await bot.press(uid, "Hari ini")
    assert "Ceritakan apa yang terjadi" in msg.text
    msg = await bot.send(uid, STORY)
    assert "foto atau tangkapan layar" in msg.text
    for number in range(photos):
        mark = bot.emu.mark()
        bot.emu.send_photo(uid, content=f"photo {number}".encode())
        msg = await bot.emu.next_bot_message(uid, after=mark)
        assert f"Foto diterima 📎 ({number + 1})" in msg.text
    msg = await bot.press(uid, "✅ Selesai, lanjut" if photos else "Lewati, tanpa foto")
    assert "petugas bisa membalasmu" in msg.text
    msg = await bot.press(uid, "💬 Ya, petugas boleh membalas" if follow else "Tidak usah dibalas")
    assert "dibaca orang sungguhan" in msg.text and "tidak bisa berjanji" in msg.text
    assert STORY in msg.plain_text and "Perundungan (bullying)" in msg.plain_text
    msg = await bot.press(uid, "📨 Kirim laporan")
    assert "Laporanmu sudah terkirim" in msg.text
    assert "129" in msg.text and "112" in msg.text and "1500-771" in msg.text
    found = CODE.search(msg.plain_text)
    assert found, msg.text
    return found.group(0)


def staff_card(bot: BotHarness, code: str) -> ChatMessage:
    """The newest case card about a code in the staff chat."""
    cards = [m for m in bot.emu.bot_messages(STAFF_CHAT_ID) if code in m.text and m.buttons()]
    assert cards, [m.text[:80] for m in bot.emu.bot_messages(STAFF_CHAT_ID)]
    return cards[-1]


async def test_newcomer_reports_and_reads_a_staff_reply_then_answers(bot: BotHarness) -> None:
    await bot.user(STAFF, role="staff")
    code = await walk(bot)
    await bot.deliver()
    card = staff_card(bot, code)
    assert "Psikis" in card.plain_text and "Sekolah" in card.plain_text and STORY in card.plain_text
    assert "MENDESAK" not in card.text

    popup = await bot.press_for_alert(STAFF, "✉️ Balas pelapor", chat_id=STAFF_CHAT_ID)
    assert "chat pribadi" in popup
    prompt = bot.emu.last_bot_message(STAFF)
    assert prompt is not None and "pesan untuk pelapor" in prompt.text
    msg = await bot.send(STAFF, "Terima kasih sudah melapor. Kami akan ke sekolah besok.")
    assert "sedang dikirim" in msg.text
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
    assert "membalas" in notice.text and "kantin" in notice.text and code in notice.text
    msg = await bot.send(REPORTER, f"/status {code}")
    assert "kantin" in msg.text

    async with bot.services.db() as session:
        report = await session.scalar(select(Report).where(Report.code == code))
        assert report is not None and report.first_response_at == bot.clock.now()
        kinds = (await session.scalars(select(ReportMessage.kind).where(ReportMessage.report_id == report.id))).all()
    assert list(kinds) == ["staff", "reporter"]


async def test_danger_yes_shows_the_numbers_at_once_and_marks_the_case_urgent(bot: BotHarness) -> None:
    code = await walk(bot, danger=True)
    danger = [m for m in bot.emu.bot_messages(REPORTER) if "telepon sekarang juga" in m.text]
    assert danger and "112" in danger[0].text and "129" in danger[0].text
    await bot.deliver()
    card = staff_card(bot, code)
    assert card.plain_text.startswith("🚨 MENDESAK")


async def test_evidence_photos_reach_the_staff_chat_by_file_id(bot: BotHarness) -> None:
    code = await walk(bot, photos=2)
    sent = [m.file_id for m in bot.emu.messages(REPORTER) if m.kind == "photo"]
    await bot.deliver()
    forwarded = [m for m in bot.emu.bot_messages(STAFF_CHAT_ID) if m.kind == "photo"]
    assert sorted(m.file_id for m in forwarded) == sorted(sent)
    assert all(code in (m.caption or "") for m in forwarded)
    assert "2 foto" in staff_card(bot, code).plain_text
    assert not bot.emu.requests_for("getFile"), "evidence must not be downloaded"


async def test_a_reporter_who_blocked_the_bot_is_reported_as_unreachable(bot: BotHarness) -> None:
    from handlers import cases

    await bot.user(STAFF, role="staff")
    code = await walk(bot)
    await bot.deliver()
    bot.emu.block(REPORTER)
    await bot.press_for_alert(STAFF, "✉️ Balas pelapor", chat_id=STAFF_CHAT_ID)
    await bot.send(STAFF, "Apakah kamu aman sekarang?")
    await bot.deliver()
    assert await cases.tell_undelivered(bot.services, bot.clock.now()) == 1
    assert await cases.tell_undelivered(bot.services, bot.clock.now()) == 0  # told once
    mark = bot.emu.mark()
    await bot.deliver()
    notice = await bot.emu.next_bot_message(STAFF_CHAT_ID, after=mark)
    assert "tidak bisa dikirim" in notice.text and code in notice.text


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
    assert "hanya menerima foto" in msg.text
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
    await bot.deliver()
    await bot.press(STAFF, "✅ Tutup", chat_id=STAFF_CHAT_ID)
    await bot.press(STAFF, "Selesai ditangani", chat_id=STAFF_CHAT_ID)
    msg = await bot.send(REPORTER, f"/check {code}")
    assert "sudah selesai" in msg.text
    bot.clock.advance(timedelta(days=31))
    msg = await bot.send(REPORTER, f"/status {code}")
    assert "sudah lama selesai" in msg.text
    for _ in range(5):
        msg = await bot.send(REPORTER, "/status ZZZZ-ZZZZ")
        assert "tidak ditemukan" in msg.text
    msg = await bot.send(REPORTER, f"/status {code}")
    assert "Terlalu banyak kode yang salah" in msg.text  # guessing is slowed down, per person
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
    await bot.press_for_alert(STAFF, "✉️ Balas pelapor", chat_id=STAFF_CHAT_ID)
    await bot.send(STAFF, "Kamu aman sekarang?")
    await bot.deliver()
    await bot.send(REPORTER, f"/status {code}")
    await bot.press(REPORTER, "✍️ Balas petugas")
    await bot.send(REPORTER, "Iya, aku aman sekarang.")
    await bot.deliver()
    async with bot.services.engine.connect() as connection:
        counts = await scan(connection)
    assert counts["reports"] == 1 and counts["report_evidence"] == 1 and counts["report_messages"] == 2
    assert counts["deliveries"] >= 4 and counts["audit_log"] >= 1
    async with bot.services.db() as session:
        report = await session.scalar(select(Report))
        evidence = await session.scalar(select(ReportEvidence))
    assert report is not None and report.reply_route and report.urgent
    assert evidence is not None and evidence.file_id
    assert bot.services.open_route is not None and bot.services.open_route(report.reply_route) == REPORTER


async def test_the_log_never_pairs_the_reporter_id_with_the_code(
    bot: BotHarness, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.INFO)
    for name in ("bot", "db", "handlers"):
        caplog.set_level(logging.DEBUG, logger=name)
    await bot.user(STAFF, role="staff")
    code = await walk(bot, photos=1)
    await bot.deliver()
    await bot.press_for_alert(STAFF, "✉️ Balas pelapor", chat_id=STAFF_CHAT_ID)
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
