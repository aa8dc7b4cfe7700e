"""The one global error handler: log with traceback, and still answer the user kindly."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError

from bot.context import BotContext
from handlers import basics
from handlers.callbacks import BadCallback
from handlers.common import answer_query

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
    logger.error("handler failed: %s", type(error).__name__, exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if update.effective_chat.type != "private" and update.callback_query is None:
        return
    try:
        text = context.render("errors/generic")
        if update.callback_query is not None and not context.query_answered:
            await answer_query(update, context, text[:190], alert=True)
        else:
            await context.bot.send_message(update.effective_chat.id, text)
    except TelegramError as exc:
        logger.warning("could not tell the user about the error: %s", exc)
    except Exception:  # rendering itself failed: fall back to nothing rather than loop
        logger.exception("error handler could not render its message")
