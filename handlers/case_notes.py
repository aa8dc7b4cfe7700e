"""Staff write on a case: a message to the reporter (anonymous both ways) or an internal note.

Only from the case card in the staff member's private chat: a reply or note button pressed on an
old card in a group gets a pop-up (cases.in_private), never a prompt. The prompt and the
confirmation name the case, so they are sent with protect_content like the card. The
conversation is keyed by the staff member only (per_chat=False). The reply leaves through the
outbox with the sealed route; the bot sends it, never the staff account.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext
from db import crypto, limits, outbox, reports
from db.errors import DomainError
from db.models import Report
from handlers.callbacks import decode
from handlers.cases import in_private
from handlers.common import STAFF_ROLES, has_role, only_for, refuse, respond
from handlers.conversations import leave_fallbacks

WRITING = 0
PENDING_KEY = "case_write"


def _data(context: BotContext) -> dict[Any, Any]:
    return context.user_data if context.user_data is not None else {}


def _prompt(context: BotContext, number: int | None, note: bool, problem: str | None = None) -> str:
    return context.render("cases/write_prompt", number=number, note=note, limit=reports.MESSAGE_MAX, problem=problem)


async def start_write(update: Update, context: BotContext) -> int:
    """Ask for the text of a reply or a note (private chat only)."""
    assert update.callback_query is not None and update.effective_user is not None
    if not await in_private(update, context):
        return ConversationHandler.END
    press = decode(update.callback_query.data)
    note = press.action == "note"
    try:
        async with context.db() as session:
            report = (await reports.get_case(session, report_id=press.int_arg(0))).report
        if report.status == "closed":
            raise reports.ReportClosed()
        if not note and not report.follow_up:
            raise reports.NoFollowUp()
    except DomainError as exc:
        await refuse(update, context, exc.code)
        return ConversationHandler.END
    _data(context)[PENDING_KEY] = (report.id, note)
    await respond(update, context, _prompt(context, report.id, note), edit=False, protect=True)
    return WRITING


async def got_text(update: Update, context: BotContext) -> int:
    """Save the note, or save the reply and queue it for the reporter through the sealed route."""
    message = update.effective_message
    assert message is not None and message.text is not None and context.user is not None
    pending = _data(context).get(PENDING_KEY)
    if pending is None or not has_role(context, STAFF_ROLES):  # the role is re-checked at every step
        _data(context).pop(PENDING_KEY, None)
        await refuse(update, context, "not_allowed")
        return ConversationHandler.END
    report_id, note = pending
    text, now, services = message.text.strip(), context.now(), context.services
    if not text or limits.length(text) > reports.MESSAGE_MAX:
        await respond(update, context, _prompt(context, report_id, note, "too_long" if text else "required"), protect=True)
        return WRITING
    try:
        async with context.db() as session:
            report, saved = await reports.add_staff_message(
                session, report_id=report_id, staff_id=context.user.telegram_id, text=text, note=note, now=now
            )
            if not note:
                body = services.renderer.render(report.language, "reports/staff_message", report=report, text=text)
                await outbox.enqueue(session, [outbox.new_row(
                    kind="case_reply", text=body, now=now, sealed_route=_route_for(context, report, body),
                    source_id=saved.id, dedupe_key=f"case_reply:{saved.id}",
                )])
    except DomainError as exc:
        _data(context).pop(PENDING_KEY, None)
        await refuse(update, context, exc.code)
        return ConversationHandler.END
    _data(context).pop(PENDING_KEY, None)
    services.wake_delivery()
    await respond(update, context, context.render("cases/written", number=report.id, note=note), protect=True)
    return ConversationHandler.END


def _route_for(context: BotContext, report: Report, body: str) -> str:
    """The reporter's route sealed again for this one message only (db/crypto.py): a copy of it
    opens for no other text, no buttons and no other case."""
    assert report.reply_route is not None and report.id is not None
    try:
        return crypto.reseal_for_message(context.services.settings.SECRET_KEY or "", report.reply_route,
                                         report_id=report.id, kind="case_reply", text=body)
    except ValueError:  # the key changed: the outbox cannot open it either, and staff are told
        return report.reply_route


async def got_other(update: Update, context: BotContext) -> int:
    """A photo or sticker instead of the text: ask again, keep the case being written on."""
    pending = _data(context).get(PENDING_KEY)
    if pending is None:
        return ConversationHandler.END
    report_id, note = pending
    await respond(update, context, _prompt(context, report_id, note, "not_text"), protect=True)
    return WRITING


async def cancel(update: Update, context: BotContext) -> int:
    """Drop the message being written."""
    _data(context).pop(PENDING_KEY, None)
    await respond(update, context, context.render("cases/write_cancelled"))
    return ConversationHandler.END


def conversation() -> ConversationHandler[BotContext]:
    """Staff writing on a case, keyed per staff member across chats (per_chat=False)."""
    return ConversationHandler(
        entry_points=[CallbackQueryHandler(only_for(STAFF_ROLES, start_write), pattern=r"^case:(reply|note):\d+$")],
        states={WRITING: [
            MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, got_text),
            MessageHandler(filters.ChatType.PRIVATE & ~filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE,
                           got_other),
        ]},
        # Another command or button ends the writing (handlers/conversations.py).
        fallbacks=[CommandHandler(["batal", "cancel"], cancel),
                   *leave_fallbacks(lambda context: _data(context).pop(PENDING_KEY, None))],
        per_chat=False,
        allow_reentry=True,
        conversation_timeout=1800,
        name="case_write",
    )

