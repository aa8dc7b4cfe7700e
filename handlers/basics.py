"""Help, language, subscription, and the answers to anything unexpected."""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from db import users
from db.errors import DomainError
from handlers.callbacks import decode, encode
from handlers.commands import publish_for_user
from handlers.common import answer_query, keyboard, refuse, respond


async def help_command(update: Update, context: BotContext) -> None:
    """Handle /bantuan: what the bot does, hotlines, how anonymity works."""
    await respond(update, context, context.render("help/help"), edit=False)


async def language_command(update: Update, context: BotContext) -> None:
    """Handle /bahasa: offer Indonesian and English."""
    t = context.text
    rows = [[(t("btn.lang_id"), encode("lang", "set", "id")), (t("btn.lang_en"), encode("lang", "set", "en"))]]
    await respond(update, context, context.render("basics/language"), keyboard(rows))


async def on_language_button(update: Update, context: BotContext) -> None:
    """Switch language; a newcomer's choice starts onboarding."""
    assert update.callback_query is not None and update.effective_user is not None
    language = decode(update.callback_query.data).args[0] if decode(update.callback_query.data).args else ""
    if context.user is None:  # no account yet: remember nothing, just answer in that language
        context.telegram_language = language if language in users.LANGUAGES else None
        await respond(update, context, context.render("basics/language_set"))
        return
    try:
        async with context.db() as session:
            await users.set_language(session, user=context.user, language=language)
    except DomainError:
        await refuse(update, context, "stale_button")
        return
    await publish_for_user(context.bot, context.services.renderer, context.user)
    await respond(update, context, context.render("basics/language_set"))


async def _set_subscription(update: Update, context: BotContext, subscribed: bool) -> None:
    if not users.is_registered(context.user):
        await refuse(update, context, "needs_registration")
        return
    assert context.user is not None
    async with context.db() as session:
        await users.set_subscribed(session, user=context.user, subscribed=subscribed)
    await respond(update, context, context.render("basics/subscribed" if subscribed else "basics/unsubscribed"))


async def stop_command(update: Update, context: BotContext) -> None:
    """Handle /berhenti: no more announcements."""
    await _set_subscription(update, context, False)


async def subscribe_command(update: Update, context: BotContext) -> None:
    """Handle /langganan: announcements again."""
    await _set_subscription(update, context, True)


async def unknown_command(update: Update, context: BotContext) -> None:
    """Answer a command the bot does not know."""
    await respond(update, context, context.render("basics/unknown_command"))


async def fallback_message(update: Update, context: BotContext) -> None:
    """Answer any private message no feature took: text, stickers, photos, anything."""
    await respond(update, context, context.render("basics/fallback"))


async def stale_button(update: Update, context: BotContext) -> None:
    """Answer a button from an old message, another bot version or a forged client."""
    await answer_query(update, context, context.render("errors/stale_button"), alert=True)
