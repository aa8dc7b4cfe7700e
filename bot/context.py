"""A typed CallbackContext: handlers reach services through attributes, not string keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.services import Services
from db.engine import SessionScope
from db.models import User

SERVICES_KEY = "services"


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """Context of one update; `user` is loaded once by the group -1 handler."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application, chat_id=chat_id, user_id=user_id)
        self.user: User | None = None
        self.telegram_language: str | None = None
        self.query_answered = False  # Telegram accepts one answer per button press

    @property
    def services(self) -> Services:
        """The Application's services."""
        services: Services = self.application.bot_data[SERVICES_KEY]
        return services

    @property
    def db(self) -> SessionScope:
        """Open one transaction: `async with context.db() as session:`."""
        return self.services.db

    def now(self) -> datetime:
        """Return the current UTC time."""
        return self.services.now()

    @property
    def locale(self) -> str:
        """The user's language, else their Telegram app's, else the default."""
        if self.user is not None:
            return self.user.language
        if self.telegram_language and self.telegram_language.lower().startswith("en"):
            return "en"
        return self.services.settings.DEFAULT_LOCALE

    def render(self, name: str, **values: Any) -> str:
        """Render a message template in the user's language."""
        return self.services.renderer.render(self.locale, name, user=self.user, **values)

    def text(self, key: str, **values: Any) -> str:
        """Render a short string (button label) in the user's language."""
        return self.services.renderer.text(self.locale, key, **values)
