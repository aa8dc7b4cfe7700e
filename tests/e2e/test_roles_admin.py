"""Roles an admin gives and takes back, through the real Application (issue 17, items 4 and 5)."""

from __future__ import annotations

from sqlalchemy import select

from content.loaders import load_regions
from db import crypto, reports, users
from db.models import AuditEntry, Invite, Report
from tests.e2e.conftest import BotHarness

ADULT = 7100
CHILD = 7200
STAFF = 7300
REFUSED = "bukan untuk peranmu"


async def invite_code(bot: BotHarness, role: str = "staf") -> str:
    msg = await bot.send(bot.admin_id, f"/undang {role}")
    return msg.text.split("<code>")[1].split("</code>")[0]


async def role_of(bot: BotHarness, telegram_id: int) -> str | None:
    async with bot.services.db() as session:
        user = await users.get_user(session, telegram_id=telegram_id)
    return user.role if user else None


def menu_of(bot: BotHarness, telegram_id: int) -> list[str]:
    return [c["command"] for c in bot.emu.my_commands({"type": "chat", "chat_id": telegram_id})]


async def test_a_child_is_refused_kindly_and_the_code_stays_for_the_adult(bot: BotHarness) -> None:
    bot.emu.add_user(bot.admin_id)
    code = await invite_code(bot)
    await bot.user(CHILD, role="child")
    msg = await bot.send(CHILD, f"/gabung {code}")
    assert "akun anak" in msg.text and "tidak terpakai" in msg.text
    assert await role_of(bot, CHILD) == "child"
    assert "kasus" not in menu_of(bot, CHILD)
    msg = await bot.send(CHILD, "/kasus")
    assert REFUSED in msg.text
    # The same code still works for the adult it was meant for.
    await bot.user(ADULT, role="parent")
    msg = await bot.send(ADULT, f"/join {code}")
    assert await role_of(bot, ADULT) == "staff"


async def test_a_pending_child_is_refused_too(bot: BotHarness) -> None:
    bot.emu.add_user(bot.admin_id)
    code = await invite_code(bot, "fasilitator")
    await bot.user(CHILD, role="child", consented=False)
    msg = await bot.send(CHILD, f"/gabung {code}")
    assert "akun anak" in msg.text and await role_of(bot, CHILD) == "child"


async def test_the_admin_is_told_who_used_their_code(bot: BotHarness) -> None:
    bot.emu.add_user(bot.admin_id, language_code="en")
    async with bot.services.db() as session:
        admin = await users.get_user(session, telegram_id=bot.admin_id)
        assert admin is not None
        await users.set_language(session, user=admin, language="en")
    code = await invite_code(bot, "staff")
    await bot.user(ADULT, role="parent")
    bot.emu.add_user(ADULT, first_name="Budi", last_name="Santoso", username="budi_ppa")
    mark = bot.emu.mark()
    await bot.send(ADULT, f"/gabung {code}")
    await bot.deliver()
    told = await bot.emu.next_bot_message(bot.admin_id, after=mark)
    assert "staff" in told.text and "Budi Santoso" in told.text and "@budi_ppa" in told.text
    assert str(ADULT) in told.text and f"/revoke {ADULT}" in told.text


async def test_roles_are_listed_for_the_admin_only(bot: BotHarness) -> None:
    bot.emu.add_user(bot.admin_id)
    code = await invite_code(bot)
    await bot.user(ADULT, role="parent")
    await bot.send(ADULT, f"/gabung {code}")
    await bot.user(CHILD, role="child")
    msg = await bot.send(bot.admin_id, "/peran")
    assert f"{bot.admin_id}</code> · admin · sejak 2026-11 · ADMIN_IDS" in msg.text
    assert f"{ADULT}</code> · staf · sejak 2026-11 · kode undangan" in msg.text
    assert str(CHILD) not in msg.text
    assert "peran" in menu_of(bot, bot.admin_id) and "cabut" in menu_of(bot, bot.admin_id)
    msg = await bot.send(ADULT, "/roles")
    assert REFUSED in msg.text and str(bot.admin_id) not in msg.text


async def test_a_revoked_staff_member_is_refused_at_once_and_their_case_goes_back(bot: BotHarness) -> None:
    bot.emu.add_user(bot.admin_id)
    await bot.user(STAFF, role="staff")
    async with bot.services.db() as session:
        draft = reports.ReportDraft(
            reporter_kind="witness", category="bullying", urgent=False, kecamatan="Balikpapan Kota",
            kelurahan="Damai", place="school", happened="today", description="Temanku dipalak tiap hari.",
        )
        report, _code = await reports.submit_report(
            session, draft=draft, regions=load_regions().kecamatan,
            reply_route=crypto.route_sealer(bot.settings.SECRET_KEY or "", 777),
            secret=bot.settings.SECRET_KEY or "", now=bot.clock.now(),
        )
        await reports.assign(session, report_id=report.id, staff_id=STAFF, now=bot.clock.now())  # type: ignore[arg-type]
    msg = await bot.send(STAFF, "/kasus")
    assert REFUSED not in msg.text

    msg = await bot.send(bot.admin_id, f"/cabut {STAFF}")
    assert "sudah dicabut" in msg.text and "1 kasus terbuka" in msg.text

    msg = await bot.send(STAFF, "/kasus")
    assert REFUSED in msg.text
    assert await role_of(bot, STAFF) == "parent"
    assert "kasus" not in menu_of(bot, STAFF)
    async with bot.services.db() as session:
        assert (await session.get(Report, report.id)).assigned_to is None  # type: ignore[union-attr]
        audit = (await session.execute(select(AuditEntry).where(AuditEntry.subject == str(STAFF)))).scalars().all()
    assert [(e.action, e.actor_telegram_id) for e in audit] == [("role.revoke", bot.admin_id)]


async def test_revoke_answers_for_odd_input_and_the_last_admin(bot: BotHarness) -> None:
    bot.emu.add_user(bot.admin_id)
    await bot.user(ADULT, role="parent")
    for text, expected in (("/cabut", "/cabut 123456789"), ("/cabut ²", "/cabut 123456789"),
                           ("/cabut 424242", "Tidak ada akun"), (f"/cabut {ADULT}", "tidak punya peran"),
                           (f"/cabut {bot.admin_id}", "admin terakhir")):
        msg = await bot.send(bot.admin_id, text)
        assert expected in msg.text, text
    assert await role_of(bot, bot.admin_id) == "admin"


async def test_an_admin_revoked_while_in_admin_ids_is_warned(bot: BotHarness) -> None:
    bot.emu.add_user(bot.admin_id)
    await bot.user(ADULT, role="admin")
    msg = await bot.send(ADULT, f"/revoke {bot.admin_id}")
    assert "ADMIN_IDS" in msg.text
    msg = await bot.send(bot.admin_id, "/peran")
    assert REFUSED in msg.text


async def test_an_id_removed_from_admin_ids_loses_admin_at_start(bot: BotHarness) -> None:
    bot.emu.add_user(bot.admin_id)
    msg = await bot.send(bot.admin_id, "/peran")
    assert REFUSED not in msg.text
    bot.settings = bot.settings.model_copy(update={"ADMIN_IDS": ()})
    await bot.restart()
    msg = await bot.send(bot.admin_id, "/peran")
    assert REFUSED in msg.text
    assert "peran" not in menu_of(bot, bot.admin_id)
    async with bot.services.db() as session:
        actions = (await session.execute(
            select(AuditEntry.action).where(AuditEntry.subject == str(bot.admin_id)).order_by(AuditEntry.id)
        )).scalars().all()
        assert (await session.execute(select(Invite))).first() is None
    assert list(actions) == ["admin.ids_add", "admin.ids_remove"]
