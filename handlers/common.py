"""Small helpers every feature handler shares: keyboards, replies, access checks."""

from __future__ import annotations

import functools
import html
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest

from bot.context import BotContext
from bot.telegram_bot import ForumBot
from db import limits
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
    protect: bool = False,
) -> None:
    """Answer an update: edit the pressed message in place, else send a new message.

    With `protect`, the answer is sent with Telegram's protect_content (no forwarding, no saving);
    a pressed message that was sent without it is then left as it is and a protected one is sent,
    because an edit keeps the protection (or its absence) of the message it edits.
    """
    bot = context.bot
    assert isinstance(bot, ForumBot)  # bot/app.py builds it
    query = update.callback_query
    if query is not None:
        await answer_query(update, context)
        message = query.message
        protected = isinstance(message, Message) and bool(message.has_protected_content)
        if edit and isinstance(message, Message) and (protected or not protect):
            try:
                await bot.edit_text(message.chat_id, message.message_id, text, markup)
                return
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    return
                if "message to edit not found" not in str(exc).lower():
                    raise
    chat = update.effective_chat
    if chat is not None:
        await bot.send_text(chat.id, text, markup, protect_content=protect)


ANSWERED_KEY = "answered_queries"
_ANSWERED_REMEMBERED = 1000  # recent press ids: the error handler gets a fresh context


def _answered(context: BotContext) -> OrderedDict[str, None]:
    answered: OrderedDict[str, None] = context.bot_data.setdefault(ANSWERED_KEY, OrderedDict())
    return answered


def query_was_answered(update: Update, context: BotContext) -> bool:
    """Tell whether this update's button press was already answered (Telegram takes one answer)."""
    query = update.callback_query
    return query is not None and (context.query_answered or query.id in _answered(context))


async def answer_query(
    update: Update, context: BotContext, text: str | None = None, *, alert: bool = False, url: str | None = None
) -> None:
    """Answer a button press once (Telegram refuses a second answer); `text` may be a template.

    `url` may only be a `t.me/<bot>?start=<payload>` link: Telegram then opens the private chat.
    """
    query = update.callback_query
    if query is None or query_was_answered(update, context):
        return
    context.query_answered = True
    answered = _answered(context)
    answered[query.id] = None
    while len(answered) > _ANSWERED_REMEMBERED:
        answered.popitem(last=False)
    try:
        await query.answer(alert_text(text) if text else None, show_alert=alert, url=url)
    except BadRequest as exc:  # too old (the bot was down for a while): nothing to do
        logger.debug("callback answer refused: %s", exc)


def alert_text(text: str) -> str:
    """A pop-up shows plain text of at most 200 characters: drop the HTML, shorten with "…"."""
    plain = html.unescape(_TAG.sub("", text)).strip()
    if utf16_length(plain) <= limits.TELEGRAM_ALERT_MAX:
        return plain
    cut = plain[: limits.TELEGRAM_ALERT_MAX]
    while utf16_length(cut) > limits.TELEGRAM_ALERT_MAX - 1:
        cut = cut[:-1]
    return cut.rstrip() + "…"


def has_role(context: BotContext, roles: frozenset[Role]) -> bool:
    """Tell whether the current user holds one of the roles."""
    return context.user is not None and context.user.role in roles


async def refuse(update: Update, context: BotContext, reason: str = "not_allowed") -> None:
    """Tell the user, kindly and briefly, that they cannot do this."""
    text = context.render(f"errors/{reason}")
    if update.callback_query is not None:
        await answer_query(update, context, text, alert=True)
        return
    await respond(update, context, text)


def only_for(roles: frozenset[Role], callback: HandlerFn) -> HandlerFn:
    """Wrap a handler so that other roles get a refusal instead."""

    async def guarded(update: Update, context: BotContext) -> Any:
        if not has_role(context, roles):
            await refuse(update, context)
            return None
        return await callback(update, context)

    functools.update_wrapper(guarded, callback)  # logs name the real handler (bot/logs.py)
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
    return [a[: limits.COMMAND_ARG_CHARS_MAX] for a in (context.args or [])[: limits.COMMAND_ARGS_MAX]]


_TAG = re.compile(r"<[^>]*>")


def utf16_length(plain: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji is often two)."""
    return limits.length(plain)


def telegram_length(text: str) -> int:
    """The length Telegram counts for an HTML message: no tags, entities decoded, UTF-16 units."""
    return utf16_length(html.unescape(_TAG.sub("", text)))


def fewest_hidden(render: Callable[[int], str], count: int, limit: int = limits.TELEGRAM_TEXT_MAX) -> tuple[str, int]:
    """Render `render(hidden)` with 0, 1, 2… of `count` items left out until it fits; return both.

    For texts that echo what people typed (case messages, a report's story, event titles): each
    item is bounded, their number is not, and Telegram refuses a message over 4096 characters.
    The caller decides which items `hidden` leaves out (the oldest messages, the latest events).
    """
    text = render(0)
    for hidden in range(1, count + 1):
        if telegram_length(text) <= limit:
            return text, hidden - 1
        text = render(hidden)
    return text, count


def newest_that_fit(render: Callable[[int], str], count: int, limit: int = limits.TELEGRAM_TEXT_MAX) -> str:
    """`fewest_hidden`, for a caller that only needs the text."""
    return fewest_hidden(render, count, limit)[0]
