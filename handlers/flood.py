"""The flood guard: the first handler of every update, before any database work.

A user over the flood limit (db/limits.py) has further updates dropped: the first drop in a
window is answered once ("slow down"; a pop-up for a button, so its spinner stops), later
ones silently until the window ends. Safety comes first: a dropped private message with a
crisis phrase still gets the help numbers (once per window), rendered in the language of the
user's Telegram app so that no database is read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, TypeHandler, filters

from bot.context import BotContext
from bot.flood import FloodGate, Verdict
from db import limits
from handlers.common import answer_query

logger = logging.getLogger(__name__)

GROUP = -3  # before the crisis words (-2) and the user loader (-1)
GATE_KEY = "flood_gate"


def new_gate(clock: Callable[[], float] = time.monotonic) -> FloodGate:
    """The gate with the limits of db/limits.py."""
    return FloodGate(updates=limits.FLOOD_UPDATES, window=limits.FLOOD_WINDOW, clock=clock)


def handler(crisis_filter: filters.BaseFilter,
            crisis_answer: Callable[[Update, BotContext], Awaitable[None]]) -> TypeHandler[Update, BotContext, None]:
    """The guard; `crisis_filter` tells which dropped messages still need `crisis_answer`."""

    async def guard(update: Update, context: BotContext) -> None:
        sender = update.effective_user
        if sender is None:  # channel posts and polls: nobody to count
            return
        gate: FloodGate = context.bot_data[GATE_KEY]
        verdict = gate.check(sender.id)
        if verdict is Verdict.PASS:
            return
        context.telegram_language = sender.language_code  # no account lookup: it costs a query
        chat = update.effective_chat
        if crisis_filter.check_update(update) and chat is not None and gate.claim_crisis_answer(sender.id):
            logger.info("crisis words from a flooding user: answered")
            await crisis_answer(update, context)
        elif verdict is Verdict.FIRST_DROP:
            logger.info("flood limit reached: updates dropped until the window ends")
            await _slow_down(update, context)
        raise ApplicationHandlerStop

    return TypeHandler(Update, guard)


async def _slow_down(update: Update, context: BotContext) -> None:
    text = context.render("errors/slow_down")
    if update.callback_query is not None:
        await answer_query(update, context, text, alert=True)
    elif update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE and update.effective_message:
        await context.bot.send_message(update.effective_chat.id, text)
