"""The long-lived objects every handler needs, built once per Application."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from content.loaders import HelpService, Regions, load_help_services, load_regions
from content.render import Renderer
from db import grain
from db.crypto import route_opener
from db.engine import SessionScope, make_engine, session_factory
from db.types import utcnow

if TYPE_CHECKING:
    from bot.delivery import DeliveryEngine


@dataclass
class Services:
    """Settings, database, content and the clock; passed in, never imported as globals."""

    settings: Settings
    engine: AsyncEngine
    db: SessionScope
    renderer: Renderer
    regions: Regions
    help_services: tuple[HelpService, ...]
    clock: Callable[[], datetime] = utcnow
    bot_username: str = "ForumAnakBot"
    delivery: DeliveryEngine | None = None
    open_route: Callable[[str, str], int] | None = None  # decrypts a sealed reporter route (SPEC §4)
    staff_chat_ok: bool = True  # False when the start-up check could not reach STAFF_CHAT_ID

    def now(self) -> datetime:
        """Return the current UTC time from the injected clock."""
        return self.clock()

    def wake_delivery(self) -> None:
        """Tell the delivery engine that new outbox rows are waiting."""
        if self.delivery is not None:
            self.delivery.wake()


def build_services(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Services:
    """Load content (failing fast on a broken file) and open the database engine."""
    regions = load_regions()
    help_services = load_help_services()
    renderer = Renderer(
        tz=settings.tz,
        default_locale=settings.DEFAULT_LOCALE,
        globals_={"help_services": help_services, "regions": regions},
    )
    engine = engine or make_engine(settings.DATABASE_URL)
    grain.set_zone(settings.tz)  # a stored day of a person's activity is a local day
    return Services(
        settings=settings,
        engine=engine,
        db=session_factory(engine),
        renderer=renderer,
        regions=regions,
        help_services=help_services,
        clock=clock,
        # Reporters' reply routes open only in memory, at delivery (SPEC §4; db/crypto.py).
        open_route=route_opener(settings.SECRET_KEY) if settings.SECRET_KEY else None,
    )
