"""The basic commands, refusals, and answers to anything odd."""

from __future__ import annotations

import pytest

from db import users
from handlers import MENU_ITEMS
from tests.e2e.conftest import BotHarness

pytestmark = pytest.mark.e2e

KID = 111
STAFF_USER = 222


async def test_help_shows_hotlines_and_honest_anonymity(bot: BotHarness) -> None:
    msg = await bot.send(KID, "/bantuan")
    assert "112" in msg.text and "SAPA 129" in msg.text and "08111-129-129" in msg.text
    assert "1500-771" in msg.text and "dicek terakhir" not in msg.text  # no summarised date range
    assert "dicek 2016-08 · sumber: kompas.com" in msg.text  # TePSA: its own (old) date and source
    assert "0816-2200-77" in msg.text and "healing119.id" in msg.text
    assert "akan bertindak" in msg.text  # no promise of secrecy the bot cannot keep
    msg = await bot.send(KID, "/help")
    assert "112" in msg.text


async def test_menu_depends_on_role(bot: BotHarness) -> None:
    msg = await bot.send(KID, "/menu")
    assert "belum terdaftar" in msg.text
    assert "📝 Daftar" in msg.button_labels()
    await bot.user(KID + 1)
    msg = await bot.send(KID + 1, "/menu")
    assert "Menu utama" in msg.text and "🆘 Bantuan" in msg.button_labels()


async def test_language_switch_changes_texts_and_command_menu(bot: BotHarness) -> None:
    await bot.user(KID)
    await bot.send(KID, "/bahasa")
    msg = await bot.press(KID, "🇬🇧 English")
    assert "I will speak English" in msg.text
    msg = await bot.send(KID, "/menu")
    assert "Main menu" in msg.text
    last_menu = [r for r in bot.emu.requests if r.method == "setMyCommands"][-1]
    assert "language" in str(last_menu.params) and "bahasa" not in str(last_menu.params)


async def test_mydata_and_deletedata(bot: BotHarness) -> None:
    await bot.user(KID, kecamatan="Balikpapan Selatan", kelurahan="Sepinggan")
    msg = await bot.send(KID, "/data_saya")
    assert "Balikpapan Selatan" in msg.text and "Sepinggan" in msg.text and "13–15" in msg.text
    await bot.send(KID, "/hapus_data")
    msg = await bot.press(KID, "✖️ Batal")
    assert "tidak dihapus" in msg.text
    await bot.send(KID, "/deletedata")
    msg = await bot.press(KID, "Ya, hapus akunku")
    assert "sudah dihapus" in msg.text
    async with bot.services.db() as session:
        assert await users.get_user(session, telegram_id=KID) is None
    msg = await bot.send(KID, "/mydata")
    assert "tidak menyimpan data" in msg.text


async def test_stop_and_subscribe(bot: BotHarness) -> None:
    await bot.user(KID)
    msg = await bot.send(KID, "/berhenti")
    assert "tidak akan menerima pengumuman" in msg.text
    async with bot.services.db() as session:
        assert (await users.get_user(session, telegram_id=KID)).subscribed is False  # type: ignore[union-attr]
    msg = await bot.send(KID, "/subscribe")
    assert "lagi" in msg.text
    async with bot.services.db() as session:
        assert (await users.get_user(session, telegram_id=KID)).subscribed is True  # type: ignore[union-attr]


async def test_invite_and_join(bot: BotHarness) -> None:
    bot.emu.add_user(bot.admin_id)
    msg = await bot.send(bot.admin_id, "/undang staf")
    code = msg.text.split("<code>")[1].split("</code>")[0] if "<code>" in msg.text else msg.text.split("\n")[1].strip()
    await bot.user(KID, role="parent")
    msg = await bot.send(KID, f"/gabung {code}")
    assert "staf" in msg.text
    async with bot.services.db() as session:
        assert (await users.get_user(session, telegram_id=KID)).role == "staff"  # type: ignore[union-attr]
    await bot.user(KID + 1, role="parent")
    msg = await bot.send(KID + 1, f"/join {code}")
    assert "sudah dipakai" in msg.text


async def test_roles_are_refused_politely(bot: BotHarness) -> None:
    await bot.user(KID)
    msg = await bot.send(KID, "/undang staf")
    assert "bukan untuk peranmu" in msg.text
    msg = await bot.send(KID, "/invite staff")
    assert "bukan untuk peranmu" in msg.text


@pytest.mark.parametrize(
    "text",
    ["/tidakada", "halo", "<b>not closed", "x" * 5000, "/start " + "y" * 300, "&amp; <script>", "/gabung"],
)
async def test_odd_messages_get_an_answer(bot: BotHarness, text: str) -> None:
    msg = await bot.send(KID, text)
    assert msg.text.strip()


async def test_sticker_and_photo_get_an_answer(bot: BotHarness) -> None:
    mark = bot.emu.mark()
    bot.emu.send_sticker(KID)
    msg = await bot.emu.next_bot_message(KID, after=mark)
    assert "/menu" in msg.text
    mark = bot.emu.mark()
    bot.emu.send_photo(KID)
    assert (await bot.emu.next_bot_message(KID, after=mark)).text


async def test_stale_and_forged_buttons_are_answered(bot: BotHarness) -> None:
    await bot.user(KID)
    msg = await bot.send(KID, "/menu")
    for data in ("ob:role:admin", "zz:unknown", "menu:nothing", "gd:withdraw_ok:99999:1", "pv:delete_ok:1",
                 "pv:delete_ok", "ob:kec:999", "ob:lang:fr", "ev:signup:1"):
        query_id = bot.emu.press(KID, msg.message_id, data)
        await bot.emu.wait_for(lambda q=query_id: q in bot.emu.answered_callbacks)
    async with bot.services.db() as session:
        user = await users.get_user(session, telegram_id=KID)
    assert user is not None and user.role == "child"


async def test_an_old_erase_button_does_not_erase(bot: BotHarness) -> None:
    from datetime import timedelta

    await bot.user(KID)
    await bot.send(KID, "/hapus_data")
    bot.clock.advance(timedelta(minutes=11))
    alert = await bot.press_for_alert(KID, "Ya, hapus akunku")
    assert "sudah lama" in alert
    async with bot.services.db() as session:
        assert await users.get_user(session, telegram_id=KID) is not None


async def test_blocked_user_does_not_stop_the_bot(bot: BotHarness) -> None:
    bot.emu.add_user(KID)
    bot.emu.block(KID)
    bot.emu.send_text(KID, "/start")
    await bot.emu.wait_for(lambda: any(not r.ok and r.params.get("chat_id") in (KID, str(KID)) for r in bot.emu.requests))
    msg = await bot.send(KID + 5, "/bantuan")
    assert "112" in msg.text


async def test_group_chatter_is_ignored_but_commands_answer(bot: BotHarness) -> None:
    await bot.user(KID, role="staff")
    mark = bot.emu.mark()
    bot.emu.send_text(KID, "halo semua", chat_id=bot.staff_chat_id)
    msg = await bot.send(KID, "/bantuan", chat_id=bot.staff_chat_id)
    assert "112" in msg.text
    replies = [m for m in bot.emu.bot_messages(bot.staff_chat_id) if m.message_id > mark]
    assert len(replies) == 1


async def test_command_menus_are_published_in_both_languages(bot: BotHarness) -> None:
    # Chat-scoped menus (the ADMIN_IDS admin's, published at start) are not what newcomers see.
    defaults = [r for r in bot.emu.requests if r.method == "setMyCommands" and "chat_id" not in str(r.params.get("scope"))]
    assert len(defaults) >= 2
    text = " ".join(str(r.params) for r in defaults)
    assert "bantuan" in text and "help" in text
    assert "kasus" not in text and "undang" not in text  # staff and admin commands stay hidden


async def test_every_menu_button_stops_its_spinner(bot: BotHarness) -> None:
    # Found by the fuzz test: the statistics button sent its chart but left the spinner running.
    await bot.user(STAFF_USER, role="admin")
    for item in MENU_ITEMS:
        await bot.send(STAFF_USER, "/batal")  # leave the conversation the last button started
        msg = await bot.send(STAFF_USER, "/menu")
        query_id = bot.emu.press(STAFF_USER, msg.message_id, f"menu:{item.key}")
        await bot.emu.wait_for(lambda q=query_id: q in bot.emu.answered_callbacks, what=f"an answer to {item.key}")
