"""Help at once: a message that speaks of danger, self-harm or abuse gets the answer that fits.

Which kind, if any, is decided by content/safety (reviewed phrases and lexicon, matched in
children's own spelling); this module only answers. It sits in its own early group, so it sees
every private text and caption (new or edited) in every flow, and it never stops the update: the
flow the user is in still gets the message afterwards. The flood gate calls `answer_for` too, so a
crisis message from a flooding user is still answered (once per window).

- danger: 112 first, then SAPA 129; self-harm: healing119.id, SAPA 129 and its WhatsApp, 112;
  abuse: "it is not your fault", SAPA 129, UPTD PPA, and a button that starts an anonymous report
  with the category prefilled (`rp:begin:<category>`, handled by the report flow);
- in a group (privacy mode shows the bot only commands, replies and mentions): only the general
  numbers, never quoting or naming the sender, never a question; the staff chat gets nothing;
- abuse told inside the report flow (the description step) gets no second answer: the report is
  the answer. Danger and self-harm are answered in every flow.

The child's words are neither stored nor logged: the log says only which kind was answered.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType
from telegram.ext import MessageHandler, filters

from bot.context import BotContext
from content.safety import CrisisDetector, CrisisKind, CrisisMatch, load_detector
from db import users
from handlers.callbacks import encode
from handlers.common import keyboard

logger = logging.getLogger(__name__)

GROUP = -2  # before the user loader (-1) and every feature (0); handlers in other groups still run
REPORT_FLOW_KEY = "report_side_handlers"  # bot_data: the report conversations (handlers/__init__.py)
Answer = Callable[[Update, BotContext], Awaitable[None]]


def _text(message: Message | None) -> str:
    return (message.text or message.caption or "") if message is not None else ""


class CrisisFilter(filters.MessageFilter):
    """Matches a message whose text or caption needs a crisis answer."""

    def __init__(self, detector: CrisisDetector) -> None:
        super().__init__(name="CrisisFilter")
        self.detector = detector

    def filter(self, message: Message) -> bool:
        """Check the text or the caption."""
        return self.detector.detect(_text(message)) is not None


def help_filter(detector: CrisisDetector) -> filters.BaseFilter:
    """Private messages (new or edited) whose text or caption needs a crisis answer."""
    return filters.ChatType.PRIVATE & filters.UpdateType.MESSAGES & CrisisFilter(detector)


def _report_button(context: BotContext, match: CrisisMatch) -> InlineKeyboardMarkup:
    data = encode("rp", "begin", match.category) if match.category else encode("rp", "begin")
    return keyboard([[(context.text("safety.btn.report"), data)]])


async def _send(update: Update, context: BotContext, match: CrisisMatch) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    markup = _report_button(context, match) if match.kind is CrisisKind.ABUSE else None
    logger.info("crisis answer sent: %s", match.kind)
    await context.bot.send_message(chat.id, context.render(f"safety/{match.kind}"), reply_markup=markup)


def answer_for(detector: CrisisDetector) -> Answer:
    """The answer to a private crisis message, in the language already known to the context."""

    async def answer(update: Update, context: BotContext) -> None:
        match = detector.detect(_text(update.effective_message))
        if match is not None:
            await _send(update, context, match)

    return answer


def _in_report_flow(update: Update, context: BotContext) -> bool:
    # The handlers that take a report's steps (registered by handlers/__init__.py under this key).
    reporting = context.application.bot_data.get(REPORT_FLOW_KEY, ())
    return any(handler.check_update(update) for handler in reporting)


def _on_message(detector: CrisisDetector) -> Answer:
    async def on_crisis_message(update: Update, context: BotContext) -> None:
        chat, sender = update.effective_chat, update.effective_user
        match = detector.detect(_text(update.effective_message))
        if chat is None or match is None:
            return
        if chat.type != ChatType.PRIVATE:
            if chat.id == context.services.settings.STAFF_CHAT_ID:
                return  # staff speak of cases there; the help numbers are not for them
            logger.info("crisis answer sent: group")
            await context.bot.send_message(chat.id, context.render("safety/group"))
            return
        if match.kind is CrisisKind.ABUSE and _in_report_flow(update, context):
            # The child is telling it in a report already: that flow is the answer (its numbers come
            # at the end), so no second answer and no second "report" button. Danger and self-harm
            # are answered in every flow.
            logger.info("crisis words inside a report: the report flow answers")
            return
        if sender is not None:
            context.telegram_language = sender.language_code
            async with context.db(commit=False) as session:  # the user loader has not run yet in this group
                context.user = await users.get_user(session, telegram_id=sender.id)
        await _send(update, context, match)

    return on_crisis_message


def handler(detector: CrisisDetector | None = None) -> MessageHandler[BotContext, None]:
    """The crisis handler for private and group messages (register it in GROUP)."""
    detector = detector or load_detector()
    chats = filters.ChatType.PRIVATE | filters.ChatType.GROUPS
    return MessageHandler(chats & filters.UpdateType.MESSAGES & CrisisFilter(detector), _on_message(detector))
