"""`forum-anak sandbox`: a newcomer completes onboarding by typing in the terminal chat."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.sandbox.run import run_sandbox
from tests.helpers.databases import sqlite_url

pytestmark = pytest.mark.e2e


async def test_newcomer_onboards_by_typing(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    from db.engine import upgrade_database

    upgrade_database(url)
    settings = load_settings(env_file=None, DATABASE_URL=url)
    out = io.StringIO()
    script = [
        ":as baru",
        "/start",
        "1",  # Bahasa Indonesia
        "1",  # agree
        "2",  # parent / guardian
        "3",  # a kecamatan
        "1",  # its first kelurahan
        "3",  # prefer not to say
        ":as staf",
        "/bantuan",
        ":quit",
    ]
    await run_sandbox(settings, files_dir=tmp_path / "files", input_lines=script, out=out)
    text = out.getvalue()
    assert "Pilih bahasa" in text
    assert "Menu utama" in text
    assert "SAPA 129" in text
    assert "[1]" in text  # buttons are numbered

    from bot.services import build_services
    from db import users

    services = build_services(settings)
    async with services.db() as session:
        newcomer = await users.get_user(session, telegram_id=1000)
        staff = await users.get_user(session, telegram_id=1004)
    await services.engine.dispose()
    assert newcomer is not None and users.is_registered(newcomer) and newcomer.role == "parent"
    assert staff is not None and staff.role == "staff"
