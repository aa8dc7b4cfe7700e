"""The real Application, built by `build_application`, talking HTTP to the Bot API emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.app import BotApplication, build_application, start_polling, stop_polling
from bot.config import Settings, load_settings
from bot.sandbox.emulator import BotApiEmulator, ChatMessage
from bot.services import Services, build_services
from db.engine import upgrade_database
from db.models import User
from handlers import flood
from tests.conftest import API_SCHEMA
from tests.helpers.clock import FakeClock, ManualMonotonic
from tests.helpers.databases import sqlite_url
from tests.helpers.factories import NOW, make_user

STAFF_CHAT_ID = -100500
ADMIN_ID = 9000
TOKEN = "123456:TEST-token-for-e2e"
# The harness types and presses like a quick person: one second per action on the flood gate's
# clock. Updates injected straight into the emulator take no time, so a test can flood.
HUMAN_PACE_SECONDS = 1.0


class BotHarness:
    """Drives the running bot like a person: type, press, read the answer."""

    def __init__(self, emu: BotApiEmulator, app: BotApplication, services: Services, clock: FakeClock):
        self.emu = emu
        self.app = app
        self.services = services
        self.settings: Settings = services.settings
        self.clock = clock
        self.staff_chat_id = STAFF_CHAT_ID
        self.admin_id = ADMIN_ID
        self.flood_clock = ManualMonotonic()
        self.pace_flood_gate()

    def pace_flood_gate(self) -> None:
        """Give the running bot a flood gate on the harness's clock (the limits stay the real ones)."""
        self.app.bot_data[flood.GATE_KEY] = flood.new_gate(clock=self.flood_clock)

    async def send(self, user_id: int, text: str, **kwargs: Any) -> ChatMessage:
        """Send a text as a user and return the bot's next message in that chat."""
        self.emu.add_user(user_id) if user_id not in self.emu.users else None
        self.flood_clock.advance(HUMAN_PACE_SECONDS)
        mark = self.emu.mark()
        self.emu.send_text(user_id, text, **kwargs)
        return await self.emu.next_bot_message(kwargs.get("chat_id", user_id), after=mark)

    async def press(self, user_id: int, label: str | int, *, chat_id: int | None = None) -> ChatMessage:
        """Press a button of the latest keyboard in the chat; return the new or edited message."""
        self.flood_clock.advance(HUMAN_PACE_SECONDS)
        mark = self.emu.mark()
        self.emu.press_button(user_id, label, chat_id=chat_id)
        return await self.emu.next_bot_message(chat_id or user_id, after=mark)

    async def restart(self) -> None:
        """Stop the bot and start a new process-like instance on the same database."""
        self.emu.release_pollers()
        await stop_polling(self.app)
        self.emu.resume_pollers()
        self.services = build_services(self.settings, clock=self.clock.now)
        self.app = build_application(self.settings, services=self.services, run_jobs=False)
        self.pace_flood_gate()
        await start_polling(self.app, timeout=1)

    async def deliver(self) -> int:
        """Send everything due in the outbox now (the engine does not run by itself in tests)."""
        assert self.services.delivery is not None
        return await self.services.delivery.drain()

    async def press_for_alert(self, user_id: int, label: str | int, *, chat_id: int | None = None) -> str:
        """Press a button that is answered with a pop-up only; return the pop-up text."""
        self.flood_clock.advance(HUMAN_PACE_SECONDS)
        query_id = self.emu.press_button(user_id, label, chat_id=chat_id)
        await self.emu.wait_for(lambda: query_id in self.emu.answered_callbacks)
        return str(self.emu.answered_callbacks[query_id]["text"] or "")

    async def user(self, telegram_id: int, **kwargs: Any) -> User:
        """Create a ready account through the factory (skipping the onboarding screens)."""
        self.emu.add_user(telegram_id, language_code=kwargs.get("language", "id"))
        async with self.services.db() as session:
            return await make_user(session, telegram_id, now=self.clock.now(), **kwargs)


@pytest.fixture
def clock() -> FakeClock:
    """The bot's clock, starting at 10:00 WITA on 23 November 2026."""
    return FakeClock(NOW)


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[BotApiEmulator]:
    """The Bot API emulator on a free loopback port, checking requests against the official API."""
    schema = API_SCHEMA if API_SCHEMA.exists() else None
    emu = BotApiEmulator(token=TOKEN, files_dir=tmp_path / "files", api_schema=schema)
    await emu.start()
    emu.add_group(STAFF_CHAT_ID, "Staf DP3AKB")
    yield emu
    await emu.stop()


@asynccontextmanager
async def running_bot(
    emulator: BotApiEmulator, url: str, clock: FakeClock, **overrides: object
) -> AsyncIterator[BotHarness]:
    """Migrate `url`, run the bot against the emulator, stop it; fail if it made a refused request."""
    upgrade_database(url)
    values: dict[str, object] = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": emulator.base_url,
        "DATABASE_URL": url,
        "SECRET_KEY": "e2e-secret-key-that-is-long-enough-0123456789",
        "ADMIN_IDS": (ADMIN_ID,),
        "STAFF_CHAT_ID": STAFF_CHAT_ID,
    }
    settings = load_settings(env_file=None, **{**values, **overrides})
    services = build_services(settings, clock=clock.now)
    app = build_application(settings, services=services, run_jobs=False)
    await start_polling(app, timeout=1)
    harness = BotHarness(emulator, app, services, clock)
    try:
        yield harness
    finally:
        emulator.release_pollers()
        await stop_polling(harness.app)
    unexpected = emulator.unexpected_refusals()
    assert not unexpected, f"the bot made requests Telegram would refuse: {unexpected}"


@pytest.fixture
async def bot(emulator: BotApiEmulator, tmp_path: Path, clock: FakeClock) -> AsyncIterator[BotHarness]:
    """A running bot on a fresh SQLite file."""
    async with running_bot(emulator, sqlite_url(tmp_path), clock) as harness:
        yield harness
