"""Events end to end: a facilitator creates one, children sign up, wait, move up, get reminded, check in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from content.loaders import load_regions
from db import events, outbox
from db.events import EventDraft
from db.models import Event
from handlers.events import send_due_reminders
from tests.e2e.conftest import BotHarness

pytestmark = pytest.mark.e2e

FAC = 5001
KIDS = (5101, 5102, 5103)
START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # Wednesday 25 November, 16:00 WITA


async def make_event(bot: BotHarness, *, capacity: int = 2, title: str = "Diskusi Hak Anak") -> Event:
    await bot.user(FAC, role="facilitator")
    draft = EventDraft(
        title=title, description="Ngobrol santai soal hak anak. Bawa alat tulis.", starts_at=START,
        ends_at=START + timedelta(hours=2), venue="Aula Kelurahan Damai", kecamatan="Balikpapan Kota",
        kelurahan="Damai", capacity=capacity,
    )
    async with bot.services.db() as session:
        return await events.create_event(session, draft=draft, created_by=FAC, regions=load_regions().kecamatan,
                                         now=bot.clock.now())


def got(bot: BotHarness, uid: int, text: str) -> int:
    return sum(1 for m in bot.emu.bot_messages(uid) if text in m.plain_text)


async def test_facilitator_creates_an_event_step_by_step(bot: BotHarness) -> None:
    await bot.user(FAC, role="facilitator")
    msg = await bot.send(FAC, "/acara_baru")
    assert "judul acaranya" in msg.plain_text
    msg = await bot.send(FAC, "Diskusi Hak Anak")
    assert "Ceritakan singkat" in msg.plain_text
    msg = await bot.press(FAC, "⬅️ Kembali")  # back works at every step
    assert "judul acaranya" in msg.plain_text
    await bot.send(FAC, "Diskusi Hak Anak")
    msg = await bot.send(FAC, "Ngobrol santai soal hak anak.")
    assert "mulai" in msg.plain_text
    msg = await bot.send(FAC, "kapan-kapan")
    assert "belum bisa kubaca" in msg.plain_text
    msg = await bot.send(FAC, "22/11 16:00")  # no year and already past: next year's date is in the future
    assert "Mulai: 22-11-2027 16:00 WITA" in msg.plain_text
    await bot.press(FAC, "⬅️ Kembali")
    msg = await bot.send(FAC, "25/11 16.00")
    assert "Mulai: 25-11-2026 16:00 WITA" in msg.plain_text  # shown back in WITA to confirm
    msg = await bot.send(FAC, "15:00")
    assert "sesudah jam mulai" in msg.plain_text
    msg = await bot.send(FAC, "18:00")
    assert "25-11-2026 18:00 WITA" in msg.plain_text and "Di mana tempatnya" in msg.plain_text
    msg = await bot.send(FAC, "Aula Kelurahan Damai")
    assert "kecamatan mana" in msg.plain_text
    await bot.press(FAC, "Balikpapan Kota")
    msg = await bot.press(FAC, "Damai")
    assert "Berapa tempat" in msg.plain_text
    msg = await bot.send(FAC, "dua")
    assert "dengan angka" in msg.plain_text
    msg = await bot.send(FAC, "2")
    assert "umur berapa" in msg.plain_text
    msg = await bot.press(FAC, "✅ Di bawah 10 tahun")  # toggle one band off
    assert "▫️ Di bawah 10 tahun" in msg.button_labels()
    msg = await bot.press(FAC, "➡️ Lanjut")
    assert "Sampai kapan" in msg.plain_text
    msg = await bot.press(FAC, "⏳ Sampai acara mulai")
    assert "Periksa dulu" in msg.plain_text and "Kuota: 2 tempat" in msg.plain_text
    assert "10–12 tahun, 13–15 tahun, 16–17 tahun" in msg.plain_text
    msg = await bot.press(FAC, "✅ Simpan acara")
    assert "Acara tersimpan" in msg.plain_text and "Kode absen" in msg.plain_text

    async with bot.services.db() as session:
        [event] = await events.upcoming(session, now=bot.clock.now())
    assert (event.title, event.capacity, event.starts_at, event.created_by) == ("Diskusi Hak Anak", 2, START, FAC)
    assert event.age_bands == "10_12,13_15,16_17" and event.kelurahan == "Damai"
    assert f"start=ev_{event.id}" in msg.plain_text


async def test_child_cannot_create_events_and_pending_child_cannot_sign_up(bot: BotHarness) -> None:
    event = await make_event(bot)
    await bot.user(KIDS[0])
    msg = await bot.send(KIDS[0], "/acara_baru")
    assert "bukan untuk peranmu" in msg.plain_text
    await bot.user(KIDS[1], consented=False)
    msg = await bot.send(KIDS[1], f"/start ev_{event.id}")  # the shareable deep link opens the event
    assert "Diskusi Hak Anak" in msg.plain_text and "Sisa tempat: 2 dari 2" in msg.plain_text
    alert = await bot.press_for_alert(KIDS[1], "✅ Daftar")
    assert "orang tua atau walimu" in alert and "/start" in alert


async def test_signup_waitlist_promotion_and_places_left(bot: BotHarness) -> None:
    event = await make_event(bot, capacity=2)
    for uid in KIDS:
        await bot.user(uid)
    msg = await bot.send(KIDS[0], "/acara")
    assert "Sisa tempat: 2 dari 2" in msg.plain_text
    msg = await bot.press(KIDS[0], "✅ Daftar")
    assert "Kamu terdaftar" in msg.plain_text and "Sisa tempat: 1 dari 2" in msg.plain_text
    await bot.send(KIDS[1], f"/start ev_{event.id}")
    msg = await bot.press(KIDS[1], "✅ Daftar")
    assert "Kamu terdaftar" in msg.plain_text
    await bot.send(KIDS[2], "/acara")
    msg = await bot.press(KIDS[2], "✅ Daftar")
    assert "daftar tunggu" in msg.plain_text and "Sudah penuh" in msg.plain_text

    msg = await bot.send(KIDS[2], "/acaraku")
    assert "Diskusi Hak Anak" in msg.plain_text and "daftar tunggu" in msg.plain_text

    msg = await bot.send(KIDS[0], "/acaraku")
    msg = await bot.press(KIDS[0], "📌 Diskusi Hak Anak")
    msg = await bot.press(KIDS[0], "❌ Batal ikut")
    assert "sudah dibatalkan" in msg.plain_text
    assert await bot.deliver() == 1
    assert got(bot, KIDS[2], "Kabar baik") == 1 and got(bot, KIDS[1], "Kabar baik") == 0
    msg = await bot.send(KIDS[2], "/acaraku")
    assert "kamu dapat tempat" in msg.plain_text


async def test_reminders_reach_confirmed_people_once_across_a_restart(bot: BotHarness) -> None:
    event = await make_event(bot, capacity=2)
    for uid in KIDS:
        await bot.user(uid)
        await bot.send(uid, f"/start ev_{event.id}")
        await bot.press(uid, "✅ Daftar")
    bot.emu.block(KIDS[1])  # a child who blocked the bot is skipped, nothing crashes

    bot.clock.set(START - timedelta(hours=25))
    assert await send_due_reminders(bot.services, now=bot.clock.now()) == 0
    bot.clock.set(START - timedelta(hours=24))
    assert await send_due_reminders(bot.services, now=bot.clock.now()) == 2
    assert await send_due_reminders(bot.services, now=bot.clock.now()) == 0
    await bot.deliver()
    assert got(bot, KIDS[0], "Besok ada acara") == 1
    assert got(bot, KIDS[2], "Besok ada acara") == 0  # waitlisted: no reminder
    async with bot.services.db() as session:
        figures = await outbox.counts(session, kind="event_reminder", source_id=event.id)
    assert figures == {"sent": 1, "blocked": 1}

    await bot.restart()
    bot.clock.set(START - timedelta(hours=23))
    assert await send_due_reminders(bot.services, now=bot.clock.now()) == 0
    bot.clock.set(START - timedelta(hours=2))
    assert await send_due_reminders(bot.services, now=bot.clock.now()) == 2
    await bot.deliver()
    assert got(bot, KIDS[0], "Dua jam lagi") == 1 and got(bot, KIDS[0], "Besok ada acara") == 1


async def test_calendar_file(bot: BotHarness) -> None:
    event = await make_event(bot)
    await bot.user(KIDS[0])
    await bot.send(KIDS[0], f"/start ev_{event.id}")
    msg = await bot.press(KIDS[0], "📅 .ics (kalender)")
    assert msg.kind == "document" and msg.document_name == f"acara-{event.id}.ics"
    assert msg.document_path is not None
    ics = msg.document_path.read_text(encoding="utf-8")
    assert "BEGIN:VEVENT" in ics and "SUMMARY:Diskusi Hak Anak" in ics
    assert "DTSTART:20261125T080000Z" in ics and "DTEND:20261125T100000Z" in ics
    assert f"UID:event-{event.id}@" in ics and "LOCATION:Aula Kelurahan Damai\\, Damai\\, Balikpapan Kota" in ics


async def test_check_in_window_and_the_facilitators_figures(bot: BotHarness) -> None:
    event = await make_event(bot)
    await bot.user(KIDS[0])
    await bot.user(KIDS[1])
    await bot.send(KIDS[0], f"/start ev_{event.id}")
    await bot.press(KIDS[0], "✅ Daftar")
    code = event.checkin_code

    msg = await bot.send(KIDS[0], "/hadir")
    assert "/hadir" in msg.plain_text and "kode" in msg.plain_text
    msg = await bot.send(KIDS[0], f"/hadir {code}")
    assert "baru dibuka satu jam sebelum acara" in msg.plain_text and "25-11-2026 15:00 WITA" in msg.plain_text
    bot.clock.set(START - timedelta(minutes=30))
    msg = await bot.send(KIDS[0], "/hadir ZZZZZZ")
    assert "tidak cocok" in msg.plain_text
    msg = await bot.send(KIDS[1], f"/hadir {code}")
    assert "belum terdaftar" in msg.plain_text
    msg = await bot.send(KIDS[0], f"/checkin {code.lower()}")
    assert "sudah dicatat" in msg.plain_text
    msg = await bot.send(KIDS[0], f"/hadir {code}")
    assert "sudah tercatat hadir" in msg.plain_text
    bot.clock.set(START + timedelta(hours=2, minutes=1))
    msg = await bot.send(KIDS[1], f"/hadir {code}")
    assert "sudah selesai" in msg.plain_text

    await bot.send(FAC, "/peserta")
    msg = await bot.press(FAC, "Diskusi Hak Anak · aktif")
    assert "Dapat tempat: 1 dari 2" in msg.plain_text and "Hadir: 1" in msg.plain_text
    assert code in msg.plain_text
    msg = await bot.send(KIDS[0], "/peserta")
    assert "bukan untuk peranmu" in msg.plain_text  # a child cannot see the figures


async def test_cancelled_and_moved_events_are_told_to_sign_ups(bot: BotHarness) -> None:
    event = await make_event(bot, capacity=1)
    for uid in KIDS[:2]:
        await bot.user(uid)
        await bot.send(uid, f"/start ev_{event.id}")
        await bot.press(uid, "✅ Daftar")

    await bot.send(FAC, "/peserta")
    await bot.press(FAC, "Diskusi Hak Anak · aktif")
    msg = await bot.press(FAC, "✏️ Ubah acara")
    assert "Periksa dulu" in msg.plain_text
    await bot.press(FAC, "✏️ Waktu")
    msg = await bot.send(FAC, "26/11 09:00")
    assert "Mulai: 26-11-2026 09:00 WITA" in msg.plain_text
    msg = await bot.send(FAC, "11.00")
    assert "Periksa dulu" in msg.plain_text
    await bot.press(FAC, "✏️ Kuota")
    await bot.send(FAC, "2")
    msg = await bot.press(FAC, "✅ Simpan acara")
    assert "Perubahan tersimpan" in msg.plain_text
    await bot.deliver()
    assert got(bot, KIDS[0], "Ada perubahan") == 1 and "26-11-2026 09:00 WITA" in bot.emu.bot_messages(KIDS[0])[-1].plain_text
    assert got(bot, KIDS[1], "Kabar baik") == 1  # more places: the waitlisted child moved up

    await bot.send(FAC, "/peserta")
    await bot.press(FAC, "Diskusi Hak Anak · aktif")
    msg = await bot.press(FAC, "🗑️ Batalkan acara")
    assert "2 orang" in msg.plain_text
    msg = await bot.press(FAC, "Ya, batalkan acara ini")
    assert "dibatalkan" in msg.plain_text
    await bot.deliver()
    assert [got(bot, uid, "dibatalkan") for uid in KIDS[:2]] == [1, 1]
    await bot.user(KIDS[2])
    msg = await bot.send(KIDS[2], "/acara")
    assert "Belum ada acara" in msg.plain_text  # a cancelled event is no longer listed


async def test_english_speakers_get_english_and_their_kecamatan_first(bot: BotHarness) -> None:
    await make_event(bot, title="Diskusi Kota")
    async with bot.services.db() as session:
        draft = EventDraft(
            title="Timur Meetup", description="Games and talk.", starts_at=START + timedelta(days=1),
            ends_at=START + timedelta(days=1, hours=2), venue="Pantai Manggar", kecamatan="Balikpapan Timur",
            kelurahan=None, capacity=5,
        )
        timur = await events.create_event(session, draft=draft, created_by=FAC, regions=load_regions().kecamatan,
                                          now=bot.clock.now())
    uid = 5201
    await bot.user(uid, language="en", kecamatan="Balikpapan Timur", kelurahan="Manggar")
    msg = await bot.send(uid, "/events")
    assert "Forum Anak events" in msg.plain_text
    assert msg.plain_text.index("Timur Meetup") < msg.plain_text.index("Diskusi Kota")  # own kecamatan first
    msg = await bot.press(uid, "📌 Timur Meetup")
    assert "Places left: 5 of 5" in msg.plain_text and "Kec. Balikpapan Timur" in msg.plain_text
    msg = await bot.press(uid, "✅ Sign up")
    assert "You're signed up" in msg.plain_text and "Places left: 4 of 5" in msg.plain_text
    bot.clock.set(timur.starts_at - timedelta(hours=24))
    assert await send_due_reminders(bot.services, now=bot.clock.now()) == 1
    await bot.deliver()
    assert got(bot, uid, "Tomorrow!") == 1
    msg = await bot.send(uid, "/myevents")
    assert "Timur Meetup" in msg.plain_text and "you have a place" in msg.plain_text


async def test_erasing_an_account_gives_its_place_to_the_waitlist(bot: BotHarness) -> None:
    event = await make_event(bot, capacity=1)
    for uid in KIDS[:2]:
        await bot.user(uid)
        async with bot.services.db() as session:
            from db import users

            person = await users.get_user(session, telegram_id=uid)
            assert person is not None and event.id is not None
            await events.sign_up(session, event_id=event.id, user=person, now=bot.clock.now())
    await bot.send(KIDS[0], "/hapus_data")
    msg = await bot.press(KIDS[0], "Ya, hapus akunku")
    assert "sudah dihapus" in msg.plain_text
    assert await bot.deliver() == 1
    assert got(bot, KIDS[1], "Kabar baik") == 1
    async with bot.services.db() as session:
        assert event.id is not None
        refreshed = await events.get_event(session, event_id=event.id)
    assert refreshed is not None and refreshed.confirmed_count == 1


async def test_reminders_to_children_wait_for_the_end_of_quiet_hours(bot: BotHarness) -> None:
    early = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)  # Thursday 08:00 WITA
    await bot.user(FAC, role="facilitator")
    draft = EventDraft(title="Senam Pagi", description="Di lapangan", starts_at=early, ends_at=early + timedelta(hours=1),
                       venue="Lapangan Merdeka", kecamatan="Balikpapan Kota", kelurahan="Damai", capacity=5)
    async with bot.services.db() as session:
        event = await events.create_event(session, draft=draft, created_by=FAC, regions=load_regions().kecamatan,
                                           now=bot.clock.now())
    await bot.user(KIDS[0])
    await bot.send(KIDS[0], f"/start ev_{event.id}")
    await bot.press(KIDS[0], "✅ Daftar")
    bot.clock.set(early - timedelta(hours=2, minutes=30))  # 05:30 WITA, inside 21:00-06:00
    assert await send_due_reminders(bot.services, now=bot.clock.now()) == 1
    before = got(bot, KIDS[0], "Senam Pagi")
    await bot.deliver()
    assert got(bot, KIDS[0], "Senam Pagi") == before  # held
    bot.clock.set(early - timedelta(hours=2))  # 06:00 WITA
    await bot.deliver()
    assert got(bot, KIDS[0], "Senam Pagi") == before + 1
