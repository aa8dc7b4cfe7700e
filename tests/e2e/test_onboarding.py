"""Onboarding through the real Application and the emulator: children, guardians, facilitators."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from bot.sandbox.emulator import BotApiEmulator
from db import users
from tests.e2e.conftest import BotHarness, running_bot
from tests.helpers.clock import FakeClock
from tests.helpers.databases import postgres_database, sqlite_url

pytestmark = pytest.mark.e2e

CHILD, GUARDIAN, FACILITATOR = 101, 201, 301


def token_of(text: str) -> str:
    """Pull the consent code out of the link message."""
    match = re.search(r"start=wali_([A-Z0-9-]+)", text)
    assert match, text
    return match.group(1)


async def child_until_link(bot: BotHarness, uid: int = CHILD) -> str:
    """Walk a new child from /start to the guardian link; return the code."""
    msg = await bot.send(uid, "/start")
    assert "Pilih bahasa" in msg.text
    msg = await bot.press(uid, "🇮🇩 Bahasa Indonesia")
    assert "tidak</b> menyimpan nama" in msg.text or "tidak menyimpan nama" in msg.text
    msg = await bot.press(uid, "✅ Saya setuju")
    assert "Kamu siapa" in msg.text
    msg = await bot.press(uid, "🧒 Aku anak (di bawah 18)")
    assert "izin orang tua atau wali" in msg.text
    msg = await bot.press(uid, "🔗 Buat link untuk orang tua")
    return token_of(msg.text)


async def stored(bot: BotHarness, uid: int):  # type: ignore[no-untyped-def]
    async with bot.services.db() as session:
        return await users.get_user(session, telegram_id=uid)


async def test_child_with_guardian_consent_completes_onboarding(bot: BotHarness) -> None:
    await bot.user(GUARDIAN, role="parent")  # only a parent/guardian account decides (issue 17, item 6)
    code = await child_until_link(bot)
    pending = await stored(bot, CHILD)
    assert pending.consent_status == "pending"
    assert (pending.age_band, pending.kecamatan, pending.gender) == (None, None, None)

    msg = await bot.send(GUARDIAN, f"/start wali_{code}")
    assert "Yang tidak disimpan" in msg.text and "Pasal 25" in msg.text
    mark = bot.emu.mark()
    msg = await bot.press(GUARDIAN, "✅ Saya setuju")
    assert "Izin sudah tercatat" in msg.text
    await bot.deliver()
    told = await bot.emu.next_bot_message(CHILD, after=mark)
    assert "sudah setuju" in told.text

    msg = await bot.press(CHILD, "▶️ Lanjut")
    assert "umurmu" in msg.text
    msg = await bot.press(CHILD, "13–15 tahun")
    assert "kecamatan" in msg.text
    msg = await bot.press(CHILD, "Balikpapan Timur")
    assert "Kecamatan Balikpapan Timur" in msg.text
    msg = await bot.press(CHILD, "Manggar")
    assert "perempuan atau laki-laki" in msg.text
    msg = await bot.press(CHILD, "Tidak ingin menjawab")
    assert "Menu utama" in msg.text

    child = await stored(bot, CHILD)
    assert (child.role, child.age_band, child.kecamatan, child.kelurahan, child.gender) == (
        "child", "13_15", "Balikpapan Timur", "Manggar", "unspecified"
    )
    assert child.consent_status == "given" and child.consent_method == "guardian"
    scoped = [r for r in bot.emu.requests if r.method == "setMyCommands" and f'"chat_id": {CHILD}' in str(r.params).replace("'", '"')]
    assert scoped, "the child's command menu was not set"


async def test_guardian_declines_and_child_stays_pending(bot: BotHarness) -> None:
    await bot.user(GUARDIAN, role="parent")  # only a parent/guardian account decides (issue 17, item 6)
    code = await child_until_link(bot)
    await bot.send(GUARDIAN, f"/start wali_{code}")
    mark = bot.emu.mark()
    msg = await bot.press(GUARDIAN, "❌ Tidak setuju")
    assert "izin tidak diberikan" in msg.text
    await bot.deliver()
    told = await bot.emu.next_bot_message(CHILD, after=mark)
    assert "belum setuju" in told.text
    assert users.is_pending_child(await stored(bot, CHILD))
    msg = await bot.send(CHILD, "/berhenti")
    assert "daftar dulu" in msg.text


async def test_guardian_withdraws_consent_and_the_child_is_erased(bot: BotHarness) -> None:
    await bot.user(GUARDIAN, role="parent")  # only a parent/guardian account decides (issue 17, item 6)
    code = await child_until_link(bot)
    await bot.send(GUARDIAN, f"/start wali_{code}")
    await bot.press(GUARDIAN, "✅ Saya setuju")
    await bot.deliver()
    msg = await bot.send(GUARDIAN, "/privasi")
    assert "izin untuk 1 anak" in msg.text
    msg = await bot.press(GUARDIAN, "Tarik izin untuk anak 1")
    assert "dihapus" in msg.text
    mark = bot.emu.mark()
    msg = await bot.press(GUARDIAN, "Ya, tarik izin dan hapus akun anak")
    assert "akun anak sudah dihapus" in msg.text
    await bot.deliver()
    told = await bot.emu.next_bot_message(CHILD, after=mark)
    assert "menarik izinnya" in told.text
    assert await stored(bot, CHILD) is None


async def test_facilitator_confirms_with_paper_letter(bot: BotHarness) -> None:
    await bot.user(FACILITATOR, role="facilitator")
    code = await child_until_link(bot)
    msg = await bot.send(FACILITATOR, f"/izin {code.lower()}")
    assert "surat izin" in msg.text
    await bot.press(FACILITATOR, "📝 Saya memegang surat izinnya")
    child = await stored(bot, CHILD)
    assert child.consent_status == "given" and child.consent_method == "facilitator_letter"


async def test_child_cannot_use_its_own_link_and_codes_are_single_use(bot: BotHarness) -> None:
    await bot.user(GUARDIAN, role="parent")  # only a parent/guardian account decides (issue 17, item 6)
    await bot.user(GUARDIAN + 1, role="parent")
    code = await child_until_link(bot)
    msg = await bot.send(CHILD, f"/start wali_{code}")
    assert "bukan untukmu" in msg.text
    await bot.send(GUARDIAN, f"/start wali_{code}")
    await bot.press(GUARDIAN, "✅ Saya setuju")
    msg = await bot.send(GUARDIAN + 1, f"/start wali_{code}")
    assert "sudah dipakai" in msg.text
    msg = await bot.send(GUARDIAN + 1, "/start wali_ZZZZ-ZZZZ-ZZZZ")
    assert "tidak dikenal" in msg.text


async def test_child_who_blocked_the_bot_does_not_stop_the_guardian(bot: BotHarness) -> None:
    await bot.user(GUARDIAN, role="parent")  # only a parent/guardian account decides (issue 17, item 6)
    code = await child_until_link(bot)
    bot.emu.block(CHILD)
    await bot.send(GUARDIAN, f"/start wali_{code}")
    msg = await bot.press(GUARDIAN, "✅ Saya setuju")
    assert "Izin sudah tercatat" in msg.text
    await bot.deliver()
    assert (await stored(bot, CHILD)).consent_status == "given"


async def test_non_facilitator_cannot_use_izin(bot: BotHarness) -> None:
    await bot.user(GUARDIAN, role="parent")
    msg = await bot.send(GUARDIAN, "/izin ABCD-EFGH-JKLM")
    assert "bukan untuk peranmu" in msg.text


async def test_parent_onboards_in_english_without_consent_step(bot: BotHarness) -> None:
    uid = 401
    await bot.send(uid, "/start")
    msg = await bot.press(uid, "🇬🇧 English")
    assert "Before we start" in msg.text
    msg = await bot.press(uid, "✅ I agree")
    msg = await bot.press(uid, "👪 Parent / guardian")
    assert "Which kecamatan" in msg.text
    await bot.press(uid, "Balikpapan Utara")
    await bot.press(uid, "Batu Ampar")
    msg = await bot.press(uid, "Female")
    assert "Main menu" in msg.text
    parent = await stored(bot, uid)
    assert (parent.role, parent.age_band, parent.language) == ("parent", "adult", "en")


async def test_declining_privacy_keeps_nothing(bot: BotHarness) -> None:
    await bot.send(501, "/start")
    await bot.press(501, "🇮🇩 Bahasa Indonesia")
    msg = await bot.press(501, "❌ Tidak setuju")
    assert "tidak menyimpan apa pun" in msg.text
    assert await stored(bot, 501) is None


async def test_back_from_kelurahan_returns_to_kecamatan(bot: BotHarness) -> None:
    uid = 601
    await bot.send(uid, "/start")
    await bot.press(uid, "🇮🇩 Bahasa Indonesia")
    await bot.press(uid, "✅ Saya setuju")
    await bot.press(uid, "👪 Orang tua / wali")
    await bot.press(uid, "Balikpapan Barat")
    msg = await bot.press(uid, "⬅️ Kembali")
    assert "kecamatan mana" in msg.text
    assert (await stored(bot, uid)).kecamatan is None


async def test_another_child_or_a_guest_cannot_consent_and_then_erase_a_child(bot: BotHarness) -> None:
    # Issue 17, item 6: a registered child opens a classmate's consent link, "agrees", then
    # withdraws the consent, which erases the classmate. Only a parent/guardian account decides.
    other = CHILD + 50
    await bot.user(other)  # a registered child with consent of her own
    code = await child_until_link(bot)
    msg = await bot.send(other, f"/start wali_{code}")
    assert "orang tua atau wali" in msg.text and "Saya setuju" not in msg.button_labels()
    forged = bot.emu.press(other, msg.message_id, f"gd:yes:{code}")
    await bot.emu.wait_for(lambda: forged in bot.emu.answered_callbacks)
    assert (await stored(bot, CHILD)).consent_status == "pending"
    # A guest (no account) is told how to decide: register as a parent/guardian first.
    msg = await bot.send(GUARDIAN, f"/start wali_{code}")
    assert "pilih \"Orang tua/wali\"" in msg.text and "Saya setuju" not in msg.button_labels()
    await bot.user(GUARDIAN, role="parent")
    await bot.send(GUARDIAN, f"/start wali_{code}")
    msg = await bot.press(GUARDIAN, "✅ Saya setuju")
    assert "Izin sudah tercatat" in msg.text


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
async def any_bot(
    request: pytest.FixtureRequest, emulator: BotApiEmulator, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[BotHarness]:
    with ExitStack() as stack:
        url = sqlite_url(tmp_path) if request.param == "sqlite" else stack.enter_context(postgres_database())
        async with running_bot(emulator, url, clock) as harness:
            yield harness


async def test_an_erased_guardian_leaves_no_trace_and_mydata_says_exactly_what_is_kept(any_bot: BotHarness) -> None:
    # Issue 17, item 11: erasure left the parent's id in the consent row, so /data_saya said
    # nothing was kept while /privasi still offered to withdraw a consent.
    bot = any_bot
    await bot.user(GUARDIAN, role="parent")
    code = await child_until_link(bot)
    await bot.send(GUARDIAN, f"/start wali_{code}")
    await bot.press(GUARDIAN, "✅ Saya setuju")
    await bot.deliver()
    mine = await bot.send(GUARDIAN, "/data_saya")
    assert "Izin yang kamu berikan sebagai orang tua/wali" in mine.text and "Anak 1" in mine.text
    assert "Pendaftaran acara: 0" in mine.text and "Kuis dimainkan: 0" in mine.text
    await bot.send(GUARDIAN, "/hapus_data")
    await bot.press(GUARDIAN, "Ya, hapus akunku")
    await bot.deliver()
    async with bot.services.engine.connect() as connection:
        for table in await connection.run_sync(lambda sync: inspect(sync).get_table_names()):
            for row in (await connection.execute(text(f'SELECT * FROM "{table}"'))).all():  # noqa: S608
                assert str(GUARDIAN) not in [str(value) for value in row], f"{table} still names the guardian: {row}"
    assert (await stored(bot, CHILD)).consent_status == "given"  # the child's consent stands
    msg = await bot.send(GUARDIAN, "/data_saya")
    assert "tidak menyimpan data apa pun" in msg.text
    msg = await bot.send(GUARDIAN, "/privasi")
    assert not [label for label in msg.button_labels() if "Tarik izin" in label]
