"""`forum-anak admin list | revoke | add`: roles from the operator's command line (issue 17, items 4-5)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlalchemy import select

from bot.sandbox.emulator import BotApiEmulator
from content.loaders import load_regions
from db import crypto, reports, users
from db.engine import make_engine, session_factory, upgrade_database
from db.models import AuditEntry, Report
from tests.helpers.databases import sqlite_url
from tests.helpers.factories import NOW, make_user
from tests.unit.test_cli import forum_anak

TOKEN = "123456:TEST-token-for-cli"


async def seed(url: str, *people: tuple[int, str], case_for: int | None = None) -> int | None:
    """Accounts with roles, and optionally an open case assigned to one of them."""
    engine = make_engine(url)
    try:
        async with session_factory(engine)() as session:
            for telegram_id, role in people:
                await make_user(session, telegram_id, role=role, now=NOW)
            if case_for is None:
                return None
            draft = reports.ReportDraft(
                reporter_kind="witness", category="bullying", urgent=False, kecamatan="Balikpapan Kota",
                kelurahan="Damai", place="school", happened="today", description="Temanku dipalak.",
            )
            report, _code = await reports.submit_report(session, draft=draft, regions=load_regions().kecamatan,
                                                        reply_route=crypto.route_sealer("k" * 40, 777),
                                                        secret="k" * 40, now=NOW)
            await reports.assign(session, report_id=report.id, staff_id=case_for, now=NOW)  # type: ignore[arg-type]
            await session.commit()
            return report.id
    finally:
        await engine.dispose()


async def read(url: str, telegram_id: int, report_id: int | None = None) -> tuple[str | None, int | None, list[str]]:
    engine = make_engine(url)
    try:
        async with session_factory(engine)() as session:
            user = await users.get_user(session, telegram_id=telegram_id)
            report = await session.get(Report, report_id) if report_id else None
            actions = (await session.execute(
                select(AuditEntry.action).where(AuditEntry.subject == str(telegram_id)).order_by(AuditEntry.id)
            )).scalars().all()
            return (user.role if user else None, report.assigned_to if report else None, list(actions))
    finally:
        await engine.dispose()


def test_list_prints_every_given_role_and_nobody_else(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    assert forum_anak(tmp_path, "admin", "list").stdout.strip() == "no facilitators, staff or admins"
    asyncio.run(seed(url, (501, "staff"), (502, "facilitator"), (503, "child"), (504, "parent")))
    assert forum_anak(tmp_path, "admin", "add", "500").returncode == 0
    result = forum_anak(tmp_path, "admin", "list")
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.strip().splitlines()]
    assert lines[0] == ["TELEGRAM_ID", "ROLE", "SINCE", "VIA"]
    assert lines[1][:2] == ["500", "admin"] and lines[1][3:] == ["admin", "add"]
    assert [line[:3] for line in lines[2:]] == [["501", "staff", "2026-11"], ["502", "facilitator", "2026-11"]]


def test_revoke_takes_the_role_and_returns_the_case(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    upgrade_database(url)
    case = asyncio.run(seed(url, (501, "staff"), case_for=501))
    result = forum_anak(tmp_path, "admin", "revoke", "501")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "501: staff role taken back; now a parent/guardian account; 1 open case(s) back in the queue"
    )
    assert "TELEGRAM_BOT_TOKEN is not set" in result.stderr  # the menu note, one line
    assert asyncio.run(read(url, 501, case)) == ("parent", None, ["role.revoke"])
    assert "501" not in forum_anak(tmp_path, "admin", "list").stdout


def test_revoke_refusals_are_one_line(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    upgrade_database(url)
    asyncio.run(seed(url, (504, "parent")))
    for telegram_id, message in (("999", "no account with Telegram id 999"),
                                 ("504", "504 holds no facilitator, staff or admin role")):
        result = forum_anak(tmp_path, "admin", "revoke", telegram_id)
        assert result.returncode == 1 and result.stderr.strip().startswith(f"forum-anak: {message}")
        assert len(result.stderr.strip().splitlines()) == 1
    assert forum_anak(tmp_path, "admin", "revoke", "abc").returncode == 2


def test_revoking_an_admin_from_admin_ids_and_the_last_admin_warns(tmp_path: Path) -> None:
    assert forum_anak(tmp_path, "admin", "add", "500").returncode == 0
    result = forum_anak(tmp_path, "admin", "revoke", "500", ADMIN_IDS="500")
    assert result.returncode == 0
    assert "still in ADMIN_IDS" in result.stderr and "no admin is left" in result.stderr
    url = sqlite_url(tmp_path)
    assert asyncio.run(read(url, 500)) == ("parent", None, ["admin.add", "role.revoke"])


async def test_revoke_republishes_the_command_menu(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    await asyncio.to_thread(upgrade_database, url)
    await seed(url, (501, "staff"))
    emu = BotApiEmulator(token=TOKEN, files_dir=tmp_path / "files")
    await emu.start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SECRET_", "DATABASE_"))}
        env.update(DATABASE_URL=url, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=emu.base_url)
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "forum-anak"), "admin", "revoke", "501", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
        assert process.returncode == 0, err.decode()
        assert err.decode() == ""  # no menu note: it was published
        menu = [c["command"] for c in emu.my_commands({"type": "chat", "chat_id": 501}, "")]
        assert menu and "kasus" not in menu and "bantuan" in menu
    finally:
        await emu.stop()
