"""Small helpers every feature handler shares: keyboards, replies, access checks."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest

from bot.context import BotContext
from db.models import Role

logger = logging.getLogger(__name__)

Button = tuple[str, str]  # (label, callback data)
HandlerFn = Callable[[Update, BotContext], Awaitable[Any]]

FACILITATOR_ROLES = frozenset({Role.FACILITATOR, Role.STAFF, Role.ADMIN})
STAFF_ROLES = frozenset({Role.STAFF, Role.ADMIN})
ADMIN_ROLES = frozenset({Role.ADMIN})


def keyboard(rows: Iterable[Sequence[Button]]) -> InlineKeyboardMarkup:
    """Build an inline keyboard from rows of (label, callback data)."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def in_rows(buttons: Sequence[Button], per_row: int) -> list[list[Button]]:
    """Split buttons into rows of at most `per_row`."""
    return [list(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]


async def respond(
    update: Update,
    context: BotContext,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    edit: bool = True,
) -> Message | None:
    """Answer an update: edit the pressed message in place, else send a new message."""
    query = update.callback_query
    if query is not None:
        await answer_query(update, context)
        if edit and query.message is not None and isinstance(query.message, Message):
            try:
                result = await query.message.edit_text(text, reply_markup=markup)
                return result if isinstance(result, Message) else None
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    return None
                if "message to edit not found" not in str(exc).lower():
                    raise
    chat = update.effective_chat
    if chat is None:
        return None
    return await context.bot.send_message(chat.id, text, reply_markup=markup)


async def answer_query(
    update: Update, context: BotContext, text: str | None = None, *, alert: bool = False
) -> None:
    """Answer a button press once per update (Telegram refuses a second answer)."""
    query = update.callback_query
    if query is None or context.query_answered:
        return
    context.query_answered = True
    try:
        await query.answer(text, show_alert=alert)
    except BadRequest as exc:  # too old (the bot was down for a while): nothing to do
        logger.debug("callback answer refused: %s", exc)


def has_role(context: BotContext, roles: frozenset[Role]) -> bool:
    """Tell whether the current user holds one of the roles."""
    return context.user is not None and context.user.role in roles


async def refuse(update: Update, context: BotContext, reason: str = "not_allowed") -> None:
    """Tell the user, kindly and briefly, that they cannot do this."""
    text = context.render(f"errors/{reason}")
    if update.callback_query is not None:
        await answer_query(update, context, text[:190], alert=True)
        return
    await respond(update, context, text)


def only_for(roles: frozenset[Role], callback: HandlerFn) -> HandlerFn:
    """Wrap a handler so that other roles get a refusal instead."""

    async def guarded(update: Update, context: BotContext) -> Any:
        if not has_role(context, roles):
            await refuse(update, context)
            return None
        return await callback(update, context)

    guarded.__name__ = getattr(callback, "__name__", "guarded")
    return guarded


CONFIRM_WINDOW_SECONDS = 600


def confirm_stamp(context: BotContext) -> int:
    """A timestamp for an irreversible button, so that an old or replayed press is refused."""
    return int(context.now().timestamp())


def confirm_is_fresh(context: BotContext, stamp: int) -> bool:
    """Tell whether a confirmation button was shown within the last ten minutes."""
    age = context.now().timestamp() - stamp
    return 0 <= age <= CONFIRM_WINDOW_SECONDS


def command_args(context: BotContext) -> list[str]:
    """Return the arguments after a command, bounded so odd input stays cheap."""
    return [a[:64] for a in (context.args or [])[:5]]
