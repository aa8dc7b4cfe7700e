"""`forum-anak sandbox`: the real bot against the loopback emulator, with a terminal chat."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from bot.app import SANDBOX_TOKEN, build_application, start_polling, stop_polling
from bot.config import Settings
from bot.sandbox.chat import run_chat
from bot.sandbox.emulator import BotApiEmulator
from bot.sandbox.personas import PERSONAS, STAFF_GROUP_ID, sandbox_secret, seed_personas
from bot.services import build_services


async def run_sandbox(
    settings: Settings,
    *,
    files_dir: Path,
    input_lines: list[str] | None = None,
    out: TextIO = sys.stdout,
) -> None:
    """Start the emulator and the bot, chat in the terminal until `:quit`, then stop both."""
    emulator = BotApiEmulator(token=SANDBOX_TOKEN, files_dir=files_dir)
    await emulator.start()
    try:
        settings = settings.model_copy(
            update={
                "TELEGRAM_BOT_TOKEN": SANDBOX_TOKEN,
                "TELEGRAM_API_BASE_URL": emulator.base_url,
                "SECRET_KEY": settings.SECRET_KEY or sandbox_secret(),
                "STAFF_CHAT_ID": settings.STAFF_CHAT_ID or STAFF_GROUP_ID,
                "ADMIN_IDS": tuple({*settings.ADMIN_IDS, *(p.telegram_id for p in PERSONAS if p.role == "admin")}),
            }
        )
        for persona in PERSONAS:
            emulator.add_user(persona.telegram_id, first_name=persona.first_name, language_code="id")
        emulator.add_group(STAFF_GROUP_ID, "Staf DP3AKB (sandbox)")
        services = build_services(settings)
        await seed_personas(services.db, kecamatan=services.regions.kecamatan)
        app = build_application(settings, services=services)
        await start_polling(app)
        try:
            personas = {p.name: p.telegram_id for p in PERSONAS}
            await run_chat(
                emulator,
                personas,
                input_lines=input_lines,
                out=out,
                files_dir=files_dir,
                group_chat_id=STAFF_GROUP_ID,
            )
        finally:
            emulator.release_pollers()
            await stop_polling(app)
    finally:
        await emulator.stop()
