"""`/status CODE` (`/check`): a report's status and staff messages, and the reporter's answer.

The code is the only key: whoever holds it may read the case's messages (never staff notes)
and, if the reporter chose follow-up, answer. Wrong codes are counted per person per hour
(keyed HMAC, in memory) so codes cannot be guessed in bulk.
"""

from __future__ import annotations

from datetime import timedelta

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext
from db import grain, limits, outbox, reports
from db.errors import DomainError
from handlers.callbacks import decode, encode
from handlers.cases import staff_notice_row
from handlers.common import answer_query, command_args, keyboard, newest_that_fit, refuse, respond
from handlers.conversations import leave_fallbacks
from handlers.report_flow import conversation_data, hourly_limit, secret_of

ANSWERING = 0
ANSWER_KEY = "report_answer"
# Why 5 per person per clock hour keeps guessing infeasible: a code is 8 characters of 32, about
# 1.1 * 10^12 codes, of which a few hundred are open at a time. One account gets 5 * 24 = 120
# guesses a day; even 10,000 accounts (Telegram's anti-spam makes that costly) make 1.2 million
# a day, a chance of about one in a thousand per day of hitting any open case with 1,000 open.
# Only well-formed codes count (`_open`): what cannot be a code is no guess, and costs nothing,
# so a child who types "halo" or "1234" is never locked out of their own code.
WRONG_CODES_PER_HOUR = 5


def _limit(context: BotContext) -> reports.HourlyLimit:
    return hourly_limit(context, "status", WRONG_CODES_PER_HOUR)


async def _open(update: Update, context: BotContext, code: str) -> reports.CaseDetail | None:
    """Open a case by code for its reporter, counting wrong guesses; refuse on any problem."""
    assert update.effective_user is not None
    limit, now = _limit(context), context.now()
    if reports.normalize_report_code(code) is None:  # cannot be a code: not a guess, costs nothing
        await refuse(update, context, "report_code_format")
        return None
    if not limit.allowed(update.effective_user.id, now):
        # The count is per clock hour (reports.HourlyLimit): say when the next one starts.
        text = context.render("errors/status_limit", until=grain.hour(now) + timedelta(hours=1))
        if update.callback_query is not None:
            await answer_query(update, context, text, alert=True)
        else:
            await respond(update, context, text)
        return None
    try:
        async with context.db() as session:
            return await reports.open_for_reporter(session, code=code, secret=secret_of(context), now=now)
    except DomainError as exc:
        if isinstance(exc, reports.ReportUnknown):
            limit.hit(update.effective_user.id, now)
        await refuse(update, context, exc.code)
        return None


async def status_command(update: Update, context: BotContext) -> None:
    """Handle /status CODE (private chats only: handlers/private_only.py answers groups)."""
    args = command_args(context)
    if not args:
        await respond(update, context, context.render("reports/status_usage"))
        return
    detail = await _open(update, context, " ".join(args))
    if detail is None:
        return
    report = detail.report
    code = reports.normalize_report_code(" ".join(args))  # the reporter's own, as typed (not stored)
    rows = []
    if report.follow_up and report.status != "closed":
        rows.append([(context.text("rep.btn.answer"), encode("rps", "answer", code))])
    messages = detail.messages
    text = newest_that_fit(
        lambda hidden: context.render("reports/status", report=report, code=code, messages=messages[hidden:],
                                      hidden=hidden),
        len(messages),
    )
    await respond(update, context, text, keyboard(rows) if rows else None)


async def start_answer(update: Update, context: BotContext) -> int:
    """Ask the reporter for their answer (re-checked: code, follow-up, still open)."""
    assert update.callback_query is not None
    press = decode(update.callback_query.data)
    detail = await _open(update, context, press.args[0] if press.args else "")
    if detail is None:
        return ConversationHandler.END
    report = detail.report
    if not report.follow_up or report.status == "closed":
        await refuse(update, context, "report_closed" if report.follow_up else "report_no_follow_up")
        return ConversationHandler.END
    code = reports.normalize_report_code(press.args[0])
    conversation_data(context)[ANSWER_KEY] = code
    await respond(update, context, _ask_text(context, code), edit=False)
    return ANSWERING


def _ask_text(context: BotContext, code: str, problem: str | None = None) -> str:
    return context.render("reports/answer_ask", code=code, limit=reports.MESSAGE_MAX, problem=problem)


async def got_answer(update: Update, context: BotContext) -> int:
    """Add the answer to the case as a message from the reporter and tell the staff chat."""
    message = update.effective_message
    assert message is not None
    code = conversation_data(context).get(ANSWER_KEY)
    if code is None:
        return ConversationHandler.END
    text = (message.text or "").strip()
    if not text or limits.length(text) > reports.MESSAGE_MAX:
        await respond(update, context, _ask_text(context, code, "too_long" if text else "required"))
        return ANSWERING
    now, services = context.now(), context.services
    try:
        async with context.db() as session:
            secret = secret_of(context)
            report = await reports.add_reporter_message(session, code=code, secret=secret, text=text, now=now)
            count = len((await reports.open_for_reporter(session, code=code, secret=secret, now=now)).messages)
            await outbox.enqueue(session, await staff_notice_row(  # staff hear that, not what
                services, session, report, "cases/reporter_answered", now=now, dedupe=f"case_answer:{report.id}:{count}",
            ))
    except DomainError as exc:
        conversation_data(context).pop(ANSWER_KEY, None)
        await refuse(update, context, exc.code)
        return ConversationHandler.END
    conversation_data(context).pop(ANSWER_KEY, None)
    services.wake_delivery()
    await respond(update, context, context.render("reports/answer_sent", code=code))
    return ConversationHandler.END


def _forget(context: BotContext) -> None:
    conversation_data(context).pop(ANSWER_KEY, None)


async def cancel(update: Update, context: BotContext) -> int:
    """Drop the answer being written."""
    _forget(context)
    await respond(update, context, context.render("reports/answer_cancelled"))
    return ConversationHandler.END


def conversation() -> ConversationHandler[BotContext]:
    """The reporter's answer to staff, keyed per user and chat, in memory only."""
    private = filters.ChatType.PRIVATE
    return ConversationHandler(
        entry_points=[CallbackQueryHandler(start_answer, pattern=r"^rps:answer:")],
        states={ANSWERING: [MessageHandler(private & ~filters.COMMAND & filters.UpdateType.MESSAGE, got_answer)]},
        # Another command or button ends the answer, so it never takes another flow's text.
        fallbacks=[CommandHandler(["batal", "cancel"], cancel), *leave_fallbacks(_forget)],
        allow_reentry=True,
        conversation_timeout=1800,
        name="report_answer",
    )
