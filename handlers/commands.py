"""What each command is called, who may use it, and the command menus Telegram shows."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from content.render import Renderer
from db.models import Role, User
from db.users import is_registered

logger = logging.getLogger(__name__)


class Audience(enum.IntEnum):
    """Who may use a command, from widest to narrowest."""

    ANYONE = 0
    REGISTERED = 1
    FACILITATOR = 2
    STAFF = 3
    ADMIN = 4


ROLE_LEVEL = {Role.FACILITATOR: Audience.FACILITATOR, Role.STAFF: Audience.STAFF, Role.ADMIN: Audience.ADMIN}


@dataclass(frozen=True)
class Command:
    """A command: its key (routing), Indonesian and English names, audience, menu visibility."""

    key: str
    id_name: str
    en_name: str
    audience: Audience
    listed: bool = True  # shown in Telegram's command menu


COMMANDS: tuple[Command, ...] = (
    Command("start", "start", "start", Audience.ANYONE, listed=False),
    Command("menu", "menu", "menu", Audience.ANYONE),
    Command("help", "bantuan", "help", Audience.ANYONE),
    Command("report", "lapor", "report", Audience.ANYONE),
    Command("status", "status", "check", Audience.ANYONE),
    Command("language", "bahasa", "language", Audience.ANYONE),
    Command("privacy", "privasi", "privacy", Audience.ANYONE),
    Command("mydata", "data_saya", "mydata", Audience.ANYONE, listed=False),
    Command("deletedata", "hapus_data", "deletedata", Audience.ANYONE, listed=False),
    Command("join", "gabung", "join", Audience.ANYONE, listed=False),
    Command("stop", "berhenti", "stop", Audience.REGISTERED),
    Command("subscribe", "langganan", "subscribe", Audience.REGISTERED),
    Command("consent", "izin", "consent", Audience.FACILITATOR),
    Command("broadcast", "siaran", "broadcast", Audience.FACILITATOR),
    Command("export", "ekspor", "export", Audience.STAFF),
    Command("stats", "statistik", "stats", Audience.STAFF),
    Command("cases", "kasus", "cases", Audience.STAFF),
    Command("scope", "wilayah", "scope", Audience.STAFF),
    Command("events", "acara", "events", Audience.REGISTERED),
    Command("myevents", "acaraku", "myevents", Audience.REGISTERED),
    Command("checkin", "hadir", "checkin", Audience.REGISTERED),
    Command("newevent", "acara_baru", "newevent", Audience.FACILITATOR),
    Command("attendees", "peserta", "attendees", Audience.FACILITATOR),
    Command("quiz", "kuis", "quiz", Audience.REGISTERED),
    Command("quizstats", "kuis_statistik", "quizstats", Audience.FACILITATOR),
    Command("invite", "undang", "invite", Audience.ADMIN),
    Command("roles", "peran", "roles", Audience.ADMIN),
    Command("revoke", "cabut", "revoke", Audience.ADMIN),
)


def level_of(user: User | None) -> Audience:
    """Return the widest audience a user belongs to."""
    if user is None or user.role is None:
        return Audience.ANYONE
    if user.role in ROLE_LEVEL:
        return ROLE_LEVEL[Role(user.role)]
    return Audience.REGISTERED if is_registered(user) else Audience.ANYONE


def visible_commands(renderer: Renderer, locale: str, level: Audience) -> list[BotCommand]:
    """Build the command menu of one language for users of one level."""
    commands = []
    for command in COMMANDS:
        if command.listed and command.audience <= level:
            name = command.en_name if locale == "en" else command.id_name
            commands.append(BotCommand(name, renderer.text(locale, f"cmd.{command.key}")))
    return commands


async def publish_defaults(bot: Bot, renderer: Renderer, default_locale: str) -> None:
    """Set the menus newcomers see, in each language."""
    for locale in ("id", "en"):
        commands = visible_commands(renderer, locale, Audience.ANYONE)
        language = None if locale == default_locale else locale
        await bot.set_my_commands(commands, scope=BotCommandScopeDefault(), language_code=language)


async def publish_for_user(bot: Bot, renderer: Renderer, user: User) -> None:
    """Show this user the commands of their role, in their language (one chat-scoped call)."""
    commands = visible_commands(renderer, user.language, level_of(user))
    try:
        await bot.set_my_commands(commands, scope=BotCommandScopeChat(user.telegram_id))
    except TelegramError as exc:  # a menu is a convenience; never fail the user's action on it
        logger.warning("could not set chat commands: %s", exc)
