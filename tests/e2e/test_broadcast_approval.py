"""A facilitator's reach end to end: scope set by staff with /wilayah, refusals that say why,
staff approval of wide or link-carrying broadcasts, and staff broadcasts that go out directly."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import STAFF_CHAT_ID, BotHarness

pytestmark = pytest.mark.e2e

FAC, STAFF = 3201, 3202
TIMUR_CHILD, KOTA_CHILD = 3301, 3302
CONFIRM = "✅ Kirim / jadwalkan"


async def people(bot: BotHarness) -> None:
    await bot.user(FAC, role="facilitator")
    await bot.user(STAFF, role="staff")
    await bot.user(TIMUR_CHILD, kecamatan="Balikpapan Timur", kelurahan="Manggar")
    await bot.user(KOTA_CHILD, kecamatan="Balikpapan Kota", kelurahan="Damai")


def received(bot: BotHarness, uid: int, text: str) -> int:
    return sum(1 for m in bot.emu.bot_messages(uid) if text in m.text)


async def compose(bot: BotHarness, author: int, text: str, kecamatan: str | None) -> str:
    """Write a message to one kecamatan (or everyone), send it now; return the bot's answer."""
    await bot.send(author, "/siaran")
    await bot.press(author, "➕ Siaran baru")
    await bot.send(author, text)
    if kecamatan:
        await bot.press(author, "📍 Kecamatan/kelurahan")
        await bot.press(author, kecamatan)
        await bot.press(author, "Seluruh kecamatan")
    await bot.press(author, "➡️ Lanjut")
    mark = bot.emu.mark()
    bot.emu.press_button(author, "⚡ Sekarang")
    await bot.emu.wait_for(lambda: any("Kirim?" in m.text for m in bot.emu.bot_messages_since(mark, author)))
    return (await bot.press(author, CONFIRM)).text


async def assign_timur(bot: BotHarness) -> None:
    msg = await bot.send(STAFF, f"/wilayah {FAC} balikpapan timur")
    assert "Ditambahkan" in msg.text and "Balikpapan Timur" in msg.text


async def test_a_facilitator_without_scope_is_told_to_ask_staff(bot: BotHarness) -> None:
    await people(bot)
    await bot.send(FAC, "/siaran")
    msg = await bot.press(FAC, "➕ Siaran baru")
    assert "Minta petugas" in msg.text
    msg = await bot.send(FAC, f"/wilayah {FAC} Balikpapan Timur")  # not theirs to give
    assert "Ditambahkan" not in msg.text


async def test_a_facilitator_cannot_target_the_city_or_another_kecamatan(bot: BotHarness) -> None:
    await people(bot)
    await assign_timur(bot)
    await bot.send(FAC, "/siaran")
    await bot.press(FAC, "➕ Siaran baru")
    await bot.send(FAC, "Halo Forum Anak")
    msg = await bot.press(FAC, "📍 Kecamatan/kelurahan")
    labels = [button["text"] for row in (msg.reply_markup or {})["inline_keyboard"] for button in row]
    assert labels == ["Balikpapan Timur"]  # only their own kecamatan is offered
    # A forged press for Balikpapan Kota is refused (re-checked on the server).
    from content.loaders import load_regions

    kota = list(load_regions().kecamatan).index("Balikpapan Kota")
    query = bot.emu.press(FAC, msg.message_id, f"bc:kec:{kota}")
    await bot.emu.wait_for(lambda: query in bot.emu.answered_callbacks)
    assert "bukan untuk peranmu" in str(bot.emu.answered_callbacks[query]["text"])
    bot.emu.press(FAC, msg.message_id, "bc:when")

    def offers_now() -> bool:
        latest = bot.emu.latest_keyboard_message(FAC)
        return latest is not None and "⚡ Sekarang" in [b.label for b in latest.buttons()]

    await bot.emu.wait_for(offers_now)
    mark = bot.emu.mark()
    bot.emu.press_button(FAC, "⚡ Sekarang")
    await bot.emu.wait_for(lambda: any("Kirim?" in m.text for m in bot.emu.bot_messages_since(mark, FAC)))
    msg = await bot.press(FAC, CONFIRM)
    assert "menunggu persetujuan" in msg.text  # Kota did not stick: the audience is still everyone
    # The whole city waits for staff instead of going out.
    answer = await compose(bot, FAC, "Halo seluruh kota", None)
    assert "menunggu persetujuan" in answer and "seluruh kota" in answer
    await bot.deliver()
    assert received(bot, KOTA_CHILD, "Halo") == 0 and received(bot, TIMUR_CHILD, "Halo") == 0


async def test_a_link_to_children_waits_and_is_sent_after_staff_approve(bot: BotHarness) -> None:
    await people(bot)
    await assign_timur(bot)
    answer = await compose(bot, FAC, "Daftar lomba di https://contoh.id/lomba", "Balikpapan Timur")
    assert "menunggu persetujuan" in answer and "tautan" in answer
    await bot.deliver()
    assert received(bot, TIMUR_CHILD, "contoh.id") == 0
    notice = [m for m in bot.emu.bot_messages(STAFF_CHAT_ID) if "menunggu persetujuan" in m.text]
    assert len(notice) == 1 and "Balikpapan Timur" in notice[0].text
    msg = await bot.press(STAFF, "✅ Setujui", chat_id=STAFF_CHAT_ID)
    assert "disetujui" in msg.text
    # A second press (another staff member, late) changes nothing and sends nothing twice.
    query = bot.emu.press(STAFF, notice[0].message_id, "bca:ok:1", chat_id=STAFF_CHAT_ID)
    await bot.emu.wait_for(lambda: query in bot.emu.answered_callbacks)
    await bot.deliver()
    assert received(bot, TIMUR_CHILD, "contoh.id") == 1 and received(bot, KOTA_CHILD, "contoh.id") == 0
    assert received(bot, FAC, "sudah disetujui") == 1


async def test_a_rejected_broadcast_is_never_sent_and_the_facilitator_is_told(bot: BotHarness) -> None:
    await people(bot)
    await assign_timur(bot)
    answer = await compose(bot, FAC, "Gabung grup t.me/grupku", "Balikpapan Timur")
    assert "menunggu persetujuan" in answer
    await bot.deliver()
    msg = await bot.press(STAFF, "❌ Tolak", chat_id=STAFF_CHAT_ID)
    assert "ditolak" in msg.text
    await bot.deliver()
    assert received(bot, TIMUR_CHILD, "grupku") == 0
    assert received(bot, FAC, "tidak disetujui") == 1


async def test_only_staff_may_approve(bot: BotHarness) -> None:
    await people(bot)
    await assign_timur(bot)
    await compose(bot, FAC, "Link https://contoh.id", "Balikpapan Timur")
    await bot.deliver()
    notice = [m for m in bot.emu.bot_messages(STAFF_CHAT_ID) if "menunggu persetujuan" in m.text][0]
    query = bot.emu.press(FAC, notice.message_id, "bca:ok:1", chat_id=STAFF_CHAT_ID)
    await bot.emu.wait_for(lambda: query in bot.emu.answered_callbacks)
    await bot.deliver()
    assert received(bot, TIMUR_CHILD, "contoh.id") == 0


async def test_a_staff_broadcast_goes_out_directly(bot: BotHarness) -> None:
    await people(bot)
    answer = await compose(bot, STAFF, "Info kota https://contoh.id", None)
    assert "tersimpan" in answer and "menunggu" not in answer
    await bot.deliver()
    assert received(bot, KOTA_CHILD, "contoh.id") == 1 and received(bot, TIMUR_CHILD, "contoh.id") == 1
