"""The main menu and the deep links: every feature is one button or one link away.

The menu is the sender's own (their role, their registration), so it is shown only in a private
chat: in a group, /menu, /start and every `menu:` button get one line with a link to the private
chat instead (handlers/private_only.py decides that, before any handler here runs).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Update

from bot.context import BotContext
from db.users import is_pending_child, is_registered
from handlers.callbacks import decode, encode
from handlers.commands import Audience, level_of
from handlers.common import Button, answer_query, in_rows, keyboard, refuse, respond

Action = Callable[[Update, BotContext], Awaitable[None]]


@dataclass(frozen=True)
class MenuItem:
    """A menu button: label key, who sees it, what it does."""

    key: str
    audience: Audience
    action: Action
    for_guests: bool = False  # shown before onboarding is complete (help, report)


@dataclass(frozen=True)
class Routes:
    """Menu buttons and deep-link targets, built by `handlers.register` per Application."""

    items: dict[str, MenuItem]
    deep_links: dict[str, Action]  # a key ending in `_` matches `key<id>`


ROUTES_KEY = "routes"


def routes(context: BotContext) -> Routes:
    """Return the Application's routes."""
    value: Routes = context.application.bot_data[ROUTES_KEY]
    return value


def deep_link_target(context: BotContext, payload: str) -> Action | None:
    """Return the action of a deep-link payload, if any."""
    links = routes(context).deep_links
    if payload in links:
        return links[payload]
    for prefix, action in links.items():
        if prefix.endswith("_") and payload.startswith(prefix) and len(payload) > len(prefix):
            return action
    return None


def visible_items(context: BotContext) -> list[MenuItem]:
    """List the buttons this user may press."""
    level = level_of(context.user)
    registered = is_registered(context.user)
    return [
        item
        for item in routes(context).items.values()
        if item.audience <= level and (registered or item.for_guests)
    ]


async def show_menu(update: Update, context: BotContext) -> None:
    """Show the main menu as buttons."""
    buttons: list[Button] = [
        (context.text(f"menu.{item.key}"), encode("menu", item.key)) for item in visible_items(context)
    ]
    if is_pending_child(context.user):
        name = "menu/pending"
        buttons.append((context.text("btn.make_link"), encode("gd", "link")))
    elif is_registered(context.user):
        name = "menu/main"
    else:
        name = "menu/guest"
        buttons.append((context.text("btn.register"), encode("ob", "next")))
    await respond(update, context, context.render(name), keyboard(in_rows(buttons, 2)))


async def menu_command(update: Update, context: BotContext) -> None:
    """Handle /menu."""
    await show_menu(update, context)


async def on_button(update: Update, context: BotContext) -> None:
    """Run the action of a menu button, after checking the user may use it now."""
    assert update.callback_query is not None
    press = decode(update.callback_query.data)
    item = routes(context).items.get(press.action)
    if item is None:
        await refuse(update, context, "stale_button")
        return
    if item not in visible_items(context):
        await refuse(update, context, "not_allowed")
        return
    await item.action(update, context)
    await answer_query(update, context)  # an action that only sends a file answers no press
