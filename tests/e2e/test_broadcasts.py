"""Broadcasts end to end: compose, target, schedule, preview, confirm, deliver once, restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers.broadcasts import fire_due_broadcasts
from tests.e2e.conftest import BotHarness

pytestmark = pytest.mark.e2e

FAC = 3001
STAFF = 3005
TIMUR_CHILDREN = (3101, 3102)
KOTA_CHILD = 3103
TIMUR_PARENT = 3104
FRIDAY_16_WITA = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


async def people(bot: BotHarness) -> None:
    from db import scopes

    facilitator = await bot.user(FAC, role="facilitator")
    staff = await bot.user(STAFF, role="staff")
    async with bot.services.db() as session:  # FAC works in Balikpapan Timur (db/scopes.py)
        await scopes.assign(session, facilitator=facilitator, kind=scopes.AREA, value="Balikpapan Timur", by=staff,
                            today=bot.clock.now().date())
    for uid in TIMUR_CHILDREN:
        await bot.user(uid, kecamatan="Balikpapan Timur", kelurahan="Manggar")
    await bot.user(KOTA_CHILD, kecamatan="Balikpapan Kota", kelurahan="Damai")
    await bot.user(TIMUR_PARENT, role="parent", kecamatan="Balikpapan Timur", kelurahan="Lamaru")


def received(bot: BotHarness, uid: int, text: str) -> int:
    return sum(1 for m in bot.emu.bot_messages(uid) if text in m.text)


async def compose_weekly_for_timur_children(bot: BotHarness) -> None:
    msg = await bot.send(FAC, "/siaran")
    assert "Siaran" in msg.text
    msg = await bot.press(FAC, "➕ Siaran baru")
    assert "Kirim pesannya" in msg.text
    msg = await bot.send(FAC, "Kumpul Forum Anak setiap Jumat di kelurahan! <3")
    assert "Jumlah penerima sekarang: 6 orang" in msg.text  # 4 registered + the facilitator + staff
    msg = await bot.press(FAC, "🧒 Anak saja")
    assert "Jumlah penerima sekarang: 3 orang" in msg.text
    await bot.press(FAC, "📍 Kecamatan/kelurahan")
    await bot.press(FAC, "Balikpapan Timur")
    msg = await bot.press(FAC, "Seluruh kecamatan")
    assert "Jumlah penerima sekarang: 2 orang" in msg.text and "Kec. Balikpapan Timur" in msg.text
    await bot.press(FAC, "➡️ Lanjut")
    await bot.press(FAC, "🔁 Setiap minggu")
    msg = await bot.press(FAC, "Jumat")
    assert "Jam berapa" in msg.text
    mark = bot.emu.mark()
    bot.emu.send_text(FAC, "16.00")
    await bot.emu.wait_for(lambda: any("Kirim?" in m.text for m in bot.emu.bot_messages_since(mark, FAC)))
    preview = bot.emu.bot_messages_since(mark, FAC)
    assert any(m.text == "Kumpul Forum Anak setiap Jumat di kelurahan! &lt;3" for m in preview)
    confirm = [m for m in preview if "Kirim?" in m.text][0]
    assert "setiap Jumat pukul 16:00 WITA" in confirm.text and "(2 orang)" in confirm.text
    msg = await bot.press(FAC, "✅ Kirim / jadwalkan")
    assert "tersimpan" in msg.text and "27-11-2026 16:00 WITA" in msg.text


async def test_weekly_announcement_reaches_one_kecamatan_once_a_week_across_a_restart(bot: BotHarness) -> None:
    await people(bot)
    await compose_weekly_for_timur_children(bot)
    text = "Kumpul Forum Anak setiap Jumat"

    bot.clock.set(FRIDAY_16_WITA - timedelta(minutes=1))
    assert await fire_due_broadcasts(bot.services) == []
    bot.clock.set(FRIDAY_16_WITA)
    assert len(await fire_due_broadcasts(bot.services)) == 1
    assert len(await fire_due_broadcasts(bot.services)) == 0  # a second tick fires nothing
    await bot.deliver()
    assert [received(bot, uid, text) for uid in TIMUR_CHILDREN] == [1, 1]
    assert received(bot, KOTA_CHILD, text) == 0 and received(bot, TIMUR_PARENT, text) == 0

    await bot.restart()
    bot.clock.set(FRIDAY_16_WITA + timedelta(days=7))
    assert len(await fire_due_broadcasts(bot.services)) == 1
    await bot.deliver()
    assert [received(bot, uid, text) for uid in TIMUR_CHILDREN] == [2, 2]

    msg = await bot.send(FAC, "/siaran")
    assert "#1" in msg.text
    msg = await bot.press(FAC, 2)
    assert "terkirim 2" in msg.text and msg.text.count("Penerima 2") == 2


async def test_broadcast_at_night_waits_for_children_until_morning(bot: BotHarness) -> None:
    await people(bot)
    bot.clock.set(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))  # 22:00 WITA
    # City-wide: a staff member (a facilitator's city-wide broadcast waits for approval first).
    await bot.send(STAFF, "/siaran")
    await bot.press(STAFF, "➕ Siaran baru")
    await bot.send(STAFF, "Pengumuman malam")
    await bot.press(STAFF, "➡️ Lanjut")
    mark = bot.emu.mark()
    bot.emu.press_button(STAFF, "⚡ Sekarang")
    await bot.emu.wait_for(lambda: any("Kirim?" in m.text for m in bot.emu.bot_messages_since(mark, STAFF)))
    await bot.press(STAFF, "✅ Kirim / jadwalkan")
    await bot.deliver()
    assert received(bot, TIMUR_PARENT, "Pengumuman malam") == 1
    assert received(bot, KOTA_CHILD, "Pengumuman malam") == 0
    bot.clock.set(datetime(2026, 11, 23, 22, 0, tzinfo=UTC))  # 06:00 WITA
    await bot.deliver()
    assert received(bot, KOTA_CHILD, "Pengumuman malam") == 1


async def test_children_cannot_broadcast_and_cancel_works(bot: BotHarness) -> None:
    await people(bot)
    msg = await bot.send(KOTA_CHILD, "/siaran")
    assert "bukan untuk peranmu" in msg.text
    await compose_weekly_for_timur_children(bot)
    await bot.send(FAC, "/broadcast")
    await bot.press(FAC, 2)
    msg = await bot.press(FAC, "🗑️ Batalkan jadwal")
    assert "dibatalkan" in msg.text
    bot.clock.set(FRIDAY_16_WITA)
    assert await fire_due_broadcasts(bot.services) == []


async def test_facilitator_targets_the_sign_ups_of_an_event(bot: BotHarness) -> None:
    from content.loaders import load_regions
    from db import events, users
    from db.events import EventDraft

    await people(bot)
    start = FRIDAY_16_WITA
    draft = EventDraft(title="Lomba Poster", description="Bawa krayon", starts_at=start, ends_at=start + timedelta(hours=2),
                       venue="Aula", kecamatan="Balikpapan Timur", kelurahan="Manggar", capacity=10)
    async with bot.services.db() as session:
        event = await events.create_event(session, draft=draft, created_by=FAC, regions=load_regions().kecamatan,
                                          now=bot.clock.now())
        child = await users.get_user(session, telegram_id=TIMUR_CHILDREN[0])
        assert child is not None and event.id is not None
        await events.sign_up(session, event_id=event.id, user=child, now=bot.clock.now())
    await bot.send(FAC, "/siaran")
    await bot.press(FAC, "➕ Siaran baru")
    await bot.send(FAC, "Jangan lupa bawa krayon!")
    msg = await bot.press(FAC, "📅 Peserta acara")
    msg = await bot.press(FAC, 1)
    assert "Jumlah penerima sekarang: 1 orang" in msg.text and f"peserta acara #{event.id}" in msg.text
    await bot.press(FAC, "➡️ Lanjut")
    mark = bot.emu.mark()
    bot.emu.press_button(FAC, "⚡ Sekarang")
    await bot.emu.wait_for(lambda: any("Kirim?" in m.text for m in bot.emu.bot_messages_since(mark, FAC)))
    await bot.press(FAC, "✅ Kirim / jadwalkan")
    await bot.deliver()
    assert received(bot, TIMUR_CHILDREN[0], "bawa krayon") == 1
    assert received(bot, TIMUR_CHILDREN[1], "bawa krayon") == 0


async def test_another_facilitator_cannot_open_or_cancel_a_broadcast(bot: BotHarness) -> None:
    await people(bot)
    await compose_weekly_for_timur_children(bot)
    other = 3002
    await bot.user(other, role="facilitator")
    msg = await bot.send(other, "/siaran")
    for data in ("bcl:show:1", "bcl:cancel:1"):
        query = bot.emu.press(other, msg.message_id, data)
        await bot.emu.wait_for(lambda q=query: q in bot.emu.answered_callbacks)
        assert "bukan untuk peranmu" in str(bot.emu.answered_callbacks[query]["text"])
    bot.clock.set(FRIDAY_16_WITA)
    assert len(await fire_due_broadcasts(bot.services)) == 1  # still scheduled
