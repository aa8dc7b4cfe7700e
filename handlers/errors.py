"""The one global error handler: log with traceback, and still answer the user kindly."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError

from bot.context import BotContext
from bot.logs import update_fields
from handlers import basics
from handlers.callbacks import BadCallback
from handlers.common import answer_query, query_was_answered

logger = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    """Log the failure (no message text, no ids) and tell the user something went wrong."""
    error = context.error
    if isinstance(error, BadCallback):  # forged or from an old version of the bot
        await basics.stale_button(update, context) if isinstance(update, Update) else None
        return
    if isinstance(error, Forbidden):  # the user blocked the bot: nobody to tell
        logger.info("user unreachable: %s", error)
        return
    logger.error("handler failed: %s", type(error).__name__, exc_info=error, extra=update_fields(update))
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    private = update.effective_chat.type == "private"
    pressed = update.callback_query is not None and not query_was_answered(update, context)
    if not private and not pressed:  # in a group, only the person who pressed is told
        return
    try:
        text = context.render("errors/generic")
        if pressed:
            await answer_query(update, context, text, alert=True)
        else:
            await context.bot.send_message(update.effective_chat.id, text)
    except TelegramError as exc:
        logger.warning("could not tell the user about the error: %s", exc)
    except Exception:  # rendering itself failed: fall back to nothing rather than loop
        logger.exception("error handler could not render its message")
