"""Conversations end where users expect (issue 17, item 10).

A conversation that waits for free text (the reporter's answer to staff, a staff reply or note)
would otherwise take whatever comes next: a child who pressed "Answer staff", then typed /lapor,
saw their new report's story sent to staff as an answer. So another command, or a button of
anything else, ends such a conversation first, and the command or button is then handled as if
no conversation had been open (`/lapor` starts the report).

How: each of these conversations has `leave_fallbacks(...)` as its last fallbacks, and the user
loader (group -1, before every feature) asks them with PTB's public `check_update` whether an
update would be taken by one of them; if so it lets that conversation handle it (which ends it)
and the update goes on to group 0 as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from telegram import Update
from telegram.ext import CallbackQueryHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext

LEAVABLE_KEY = "leavable_conversations"


class _Leave(MessageHandler[BotContext, int]):
    """A command that ends the conversation (it is then handled normally)."""


class _LeaveButton(CallbackQueryHandler[BotContext, int]):
    """A press of another flow's button that ends the conversation."""


def leave_fallbacks(forget: Callable[[BotContext], None]) -> list[Any]:
    """The last fallbacks of a free-text conversation: any other command or button ends it."""

    async def leave(_update: Update, context: BotContext) -> int:
        forget(context)  # the half-written answer or note is dropped, silently: the user moved on
        return ConversationHandler.END

    return [_Leave(filters.COMMAND, leave), _LeaveButton(leave)]


async def end_left(update: Update, context: BotContext) -> None:
    """End every leavable conversation this update leaves (called by the user loader)."""
    conversations: Sequence[ConversationHandler[BotContext]] = context.application.bot_data.get(LEAVABLE_KEY, ())
    for conversation in conversations:
        check = conversation.check_update(update)
        if check is not None and isinstance(check[2], _Leave | _LeaveButton):
            await conversation.handle_update(update, context.application, check, context)
