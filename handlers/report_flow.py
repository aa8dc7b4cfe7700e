"""The reporter's conversation: `/lapor`, the menu button, the `lapor` deep link and the crisis
answer's button `rp:begin[:category]` (SPEC §4).

One question at a time, buttons for every fixed choice, a way back and a way out at each step.
The draft lives in this conversation's memory only: it is dropped on submit, on cancel and when
the conversation times out. Nothing here logs the sender's id.

Evidence is photos only (screenshots), never for sexual violence or exploitation: a child may
otherwise send a sexual image of themselves as "proof". Anything else sent in the photo step is
refused kindly and not kept; a photo sent where none is taken is not kept either.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import asdict, fields
from typing import Any

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.context import BotContext
from db import crypto, limits, outbox, reports
from db.errors import DomainError
from handlers import cases
from handlers.callbacks import BadCallback, decode, encode
from handlers.common import answer_query, keyboard, refuse, respond
from handlers.report_steps import (
    CHOICES,
    FIELDS,
    Draft,
    after,
    before,
    buttons,
    fixable,
    takes_photos,
)

logger = logging.getLogger(__name__)

ASKING = 0
DRAFT_KEY = "report_draft"
SECRET_KEY_FALLBACK = "ephemeral_secret"
REPORTS_PER_HOUR = 3
TIMEOUT_SECONDS = 1800


def secret_of(context: BotContext) -> str:
    """SECRET_KEY, or (sandbox without one) a per-process key that dies with the process."""
    secret = context.services.settings.SECRET_KEY
    if secret:
        return secret
    value: str = context.application.bot_data.setdefault(SECRET_KEY_FALLBACK, secrets.token_urlsafe(32))
    return value


def hourly_limit(context: BotContext, name: str, per_hour: int) -> reports.HourlyLimit:
    """An in-memory abuse brake of the Application, keyed by an HMAC of the user id, never the id."""
    key = f"hourly_limit:{name}"
    limit: reports.HourlyLimit | None = context.application.bot_data.get(key)
    if limit is None:
        limit = reports.HourlyLimit(secret=secret_of(context), purpose=f"{crypto.RATE_PURPOSE}:{name}", limit=per_hour)
        context.application.bot_data[key] = limit
    return limit


def report_limit(context: BotContext) -> reports.HourlyLimit:
    """A few reports per person per hour."""
    return hourly_limit(context, "submit", REPORTS_PER_HOUR)


def conversation_data(context: BotContext) -> dict[Any, Any]:
    """The in-memory conversation store (drafts are never written to the database)."""
    return context.user_data if context.user_data is not None else {}


def _draft(context: BotContext) -> Draft:
    draft = conversation_data(context).get(DRAFT_KEY)
    if not isinstance(draft, Draft):
        draft = conversation_data(context)[DRAFT_KEY] = Draft()
    return draft


def _drop(context: BotContext) -> None:
    conversation_data(context).pop(DRAFT_KEY, None)


async def start_report(update: Update, context: BotContext, *, category: str = "", below: bool = False) -> int:
    """Start a new report (any unfinished draft is dropped); `below`: in a new message under the press."""
    _drop(context)
    sender = update.effective_user
    if sender is not None and not report_limit(context).allowed(sender.id, context.now()):
        await refuse(update, context, "report_limit")
        return ConversationHandler.END
    if category in reports.CATEGORIES:
        draft = _draft(context)
        draft.category, draft.category_preset = category, True
    if below:
        await answer_query(update, context)
    return await ask(update, context, "reporter", new_message=below)


async def begin_from_button(update: Update, context: BotContext) -> int:
    """Start a report from the crisis answer's button, which stays readable above the question.

    The category in `rp:begin:<category>` is only a suggestion from a button: it is used when it
    is one of ours, and ignored otherwise (a plain start).
    """
    assert update.callback_query is not None  # a group's press never gets here (handlers/private_only.py)
    try:
        args = decode(update.callback_query.data).args
    except BadCallback:
        args = ()
    category = args[0] if len(args) == 1 and args[0] in reports.CATEGORIES else ""
    return await start_report(update, context, category=category, below=True)


async def ask(update: Update, context: BotContext, step: str, problem: str | None = None,
              *, new_message: bool = False, **values: Any) -> int:
    """Ask one question (or show the summary) with its buttons, Back and Cancel."""
    draft = _draft(context)
    if step in ("follow", "confirm") and not takes_photos(draft) and (draft.dropped_photos or not draft.told_no_photos):
        # Why there is no photo step, and what to do instead; it stays readable above the question.
        await respond(update, context, context.render("reports/no_photos", dropped=draft.dropped_photos))
        draft.told_no_photos, draft.dropped_photos, new_message = True, 0, True
    draft.step = step
    rows = buttons(context, draft, step)
    if step != "reporter":
        rows.append([(context.text("btn.back"), encode("rp", "back"))])
    rows.append([(context.text("btn.cancel"), encode("rp", "cancel"))])
    name = "reports/fix" if step == "fix" else "reports/ask"
    limit = reports.EVIDENCE_MAX if step == "evidence" else reports.DESCRIPTION_MAX
    text = context.render(name, step=step, draft=draft, problem=problem, limit=limit, photos=takes_photos(draft),
                          **values)
    if new_message and update.effective_chat is not None:
        await context.bot.send_message(update.effective_chat.id, text, reply_markup=keyboard(rows))
    else:
        await respond(update, context, text, keyboard(rows))
    return ASKING


async def on_button(update: Update, context: BotContext) -> int:
    """Take a button answer for the current step; a button of another step is stale."""
    assert update.callback_query is not None
    press = decode(update.callback_query.data)
    draft = _draft(context)
    arg = press.args[0] if press.args else ""
    step, action = draft.step, press.action
    if action == "cancel":
        return await cancel(update, context)
    if action == "back":
        return await ask(update, context, before(draft))
    if action in CHOICES and step == action and arg in CHOICES[action]:
        setattr(draft, FIELDS[action], arg)
        if not takes_photos(draft) and draft.evidence:  # changed in review to sexual violence or exploitation
            draft.dropped_photos, draft.evidence = len(draft.evidence), []
        return await ask(update, context, after(draft, step))
    if action == "danger" and step == "danger" and arg in ("yes", "no"):
        draft.urgent = arg == "yes"
        if draft.urgent:  # the numbers first, where they stay visible; then the next question
            await respond(update, context, context.render("reports/danger"))
            return await ask(update, context, after(draft, step), new_message=True)
        return await ask(update, context, after(draft, step))
    if action == "kec" and step == "kecamatan":
        return await _pick_kecamatan(update, context, draft, arg)
    if action == "kel" and step == "kelurahan":
        names = context.services.regions.kelurahan_of(draft.kecamatan or "")
        draft.kelurahan = names[int(arg)] if arg.isdigit() and int(arg) < len(names) else None
        return await ask(update, context, "confirm" if draft.reviewing else "place")
    if action == "desc" and step == "description" and draft.description:
        return await ask(update, context, after(draft, step))
    if action == "photos" and step == "evidence":
        return await ask(update, context, after(draft, step))
    if action == "follow" and step == "follow" and arg in ("yes", "no"):
        draft.follow_up = arg == "yes"
        return await ask(update, context, "confirm")
    if action == "edit" and step == "confirm":
        return await ask(update, context, "fix")
    if action == "fix" and step == "fix" and arg in fixable(draft):
        draft.reviewing = True
        return await ask(update, context, arg)
    if action == "send" and step == "confirm":
        return await _submit(update, context, draft)
    await refuse(update, context, "stale_button")
    return ASKING


async def _pick_kecamatan(update: Update, context: BotContext, draft: Draft, arg: str) -> int:
    names = list(context.services.regions.kecamatan)
    if arg == "none":
        draft.kecamatan = draft.kelurahan = None
    elif arg.isdigit() and int(arg) < len(names):
        draft.kecamatan, draft.kelurahan = names[int(arg)], None
    else:
        await refuse(update, context, "stale_button")
        return ASKING
    return await ask(update, context, after(draft, "kecamatan"))


async def got_text(update: Update, context: BotContext) -> int:
    """Take the description (the only typed answer); elsewhere, point to the buttons."""
    message = update.effective_message
    assert message is not None and message.text is not None
    draft = _draft(context)
    if draft.step != "description":
        problem = "not_photo" if draft.step == "evidence" else "use_buttons"
        return await ask(update, context, draft.step, problem)
    typed = message.text.strip()
    if not typed:
        return await ask(update, context, "description", "required")
    if limits.length(typed) > reports.DESCRIPTION_MAX:
        return await ask(update, context, "description", "too_long", length=limits.length(typed))
    draft.description = typed
    return await ask(update, context, after(draft, "description"))


async def got_other(update: Update, context: BotContext) -> int:
    """Take evidence photos (file ids only, nothing downloaded); re-ask kindly for anything else.

    Only the photo step keeps anything, and only photos: a document (an image sent as a file
    too), video, video note, animation, voice note or sticker is answered and not kept.
    """
    message = update.effective_message
    assert message is not None
    draft = _draft(context)
    if draft.step == "evidence" and message.photo and takes_photos(draft):
        if len(draft.evidence) >= reports.EVIDENCE_MAX:
            return await ask(update, context, "evidence", "photo_limit")
        draft.evidence.append(message.photo[-1].file_id)  # the largest size
        return await ask(update, context, "evidence", "photo_added")
    if draft.step == "evidence":
        return await ask(update, context, "evidence", "photos_only")
    if message.photo and not takes_photos(draft):
        return await ask(update, context, draft.step, "photo_not_kept")
    return await ask(update, context, draft.step, "not_text" if draft.step == "description" else "use_buttons")


async def _submit(update: Update, context: BotContext, draft: Draft) -> int:
    services, now, sender = context.services, context.now(), update.effective_user
    chat = update.effective_chat
    assert sender is not None and chat is not None
    limit = report_limit(context)
    if not limit.allowed(sender.id, now):
        _drop(context)
        await refuse(update, context, "report_limit")
        return ConversationHandler.END
    answers = {f.name for f in fields(reports.ReportDraft)} - {"evidence", "language"}
    values = {k: v for k, v in asdict(draft).items() if k in answers}
    final = reports.ReportDraft(**values, evidence=tuple(draft.evidence), language=context.locale)
    sealed = crypto.route_sealer(secret_of(context), chat.id) if draft.follow_up and services.settings.SECRET_KEY else None
    try:
        async with context.db() as session:
            report, code = await reports.submit_report(session, draft=final, regions=services.regions.kecamatan,
                                                       reply_route=sealed, secret=secret_of(context), now=now)
            evidence = list(final.evidence)
            await outbox.enqueue(session, await cases.alert_rows(services, session, report, now=now))
    except DomainError as exc:
        await refuse(update, context, exc.code)
        return await ask(update, context, "confirm", new_message=True)
    limit.hit(sender.id, now)
    _drop(context)
    services.wake_delivery()
    logger.info("report received (urgent=%s, evidence=%d)", report.urgent, len(evidence))
    text = context.render("reports/submitted", code=code, follow_up=report.follow_up)
    await respond(update, context, text)
    return ConversationHandler.END


async def cancel(update: Update, context: BotContext) -> int:
    """Drop the draft: nothing was stored, nothing is kept."""
    _drop(context)
    await respond(update, context, context.render("reports/cancelled"))
    return ConversationHandler.END


async def timed_out(update: object, context: BotContext) -> None:
    """Drop a draft left alone for too long and say so."""
    _drop(context)
    if isinstance(update, Update) and update.effective_chat is not None:
        await context.bot.send_message(update.effective_chat.id, context.render("reports/timed_out"))


def conversation() -> ConversationHandler[BotContext]:
    """The report conversation, keyed per user and chat, in memory only."""
    private = filters.ChatType.PRIVATE
    return ConversationHandler(
        entry_points=[
            CommandHandler(["lapor", "report"], start_report, filters=private),
            CommandHandler("start", start_report, filters=private & filters.Regex(r"^/start\s+lapor\s*$")),
            CallbackQueryHandler(start_report, pattern=r"^menu:report$"),
            CallbackQueryHandler(begin_from_button, pattern=r"^rp:begin(:|$)"),
        ],
        states={
            ASKING: [
                CallbackQueryHandler(on_button, pattern=r"^rp:"),
                MessageHandler(private & filters.TEXT & ~filters.COMMAND, got_text),
                MessageHandler(private & ~filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE, got_other),
            ],
            ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
        },
        fallbacks=[CommandHandler(["batal", "cancel"], cancel)],
        allow_reentry=True,
        conversation_timeout=TIMEOUT_SECONDS,
        name="report",
    )
