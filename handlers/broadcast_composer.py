"""`/siaran` → New: message, audience (with its size), time, preview exactly as sent, confirm.

The draft lives in the conversation only; nothing is stored until the author confirms.
A facilitator is offered only their own areas and events; what needs staff approval, or lies
outside their scope, is decided in db/scopes.py when they confirm, and the composer says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext
from db import broadcasts, limits, scopes
from db.broadcasts import WEEKDAYS, Audience
from db.errors import DomainError
from db.models import Role
from db.sqlite_loop import in_background
from db.users import CHILD_AGE_BANDS
from handlers.broadcasts import approval_rows
from handlers.callbacks import decode, encode
from handlers.common import (
    FACILITATOR_ROLES,
    Button,
    in_rows,
    keyboard,
    only_for,
    refuse,
    respond,
    telegram_length,
)

MESSAGE, AUDIENCE, WHEN, TYPED_TIME, CONFIRM = range(5)
DRAFT_KEY = "broadcast_draft"
TIME_FORMATS = ("%d-%m-%Y %H:%M", "%d/%m/%Y %H:%M", "%d-%m-%Y %H.%M", "%d/%m/%Y %H.%M")


@dataclass
class Draft:
    """What the author has chosen so far."""

    text: str = ""
    media_kind: str | None = None
    media_file_id: str | None = None
    audience: Audience = field(default_factory=Audience)
    schedule: str = "now"
    run_at: datetime | None = None
    weekly_day: str | None = None
    weekly_time: str | None = None


def _draft(context: BotContext) -> Draft:
    draft = context.user_data.get(DRAFT_KEY) if context.user_data is not None else None
    if not isinstance(draft, Draft):
        draft = Draft()
        if context.user_data is not None:
            context.user_data[DRAFT_KEY] = draft
    return draft


async def _scope(context: BotContext) -> scopes.Scope | None:
    """The author's scope, or None for staff and admins (who may reach everyone)."""
    assert context.user is not None
    if context.user.role != Role.FACILITATOR:
        return None
    async with context.db() as session:
        return await scopes.scope_of(session, telegram_id=context.user.telegram_id)


async def start(update: Update, context: BotContext) -> int:
    """Ask for the message (a facilitator with no area or event yet is told to ask staff)."""
    scope = await _scope(context)
    if scope is not None and scope.empty:
        await respond(update, context, context.render("broadcasts/no_scope"))
        return ConversationHandler.END
    if context.user_data is not None:
        context.user_data[DRAFT_KEY] = Draft()
    rows = [[(context.text("btn.cancel"), encode("bc", "cancel"))]]
    await respond(update, context, context.render("broadcasts/ask_message"), keyboard(rows))
    return MESSAGE


async def got_message(update: Update, context: BotContext) -> int:
    """Take the text, or a photo or document with its caption, formatting kept as HTML."""
    message = update.effective_message
    assert message is not None
    draft = _draft(context)
    if message.photo:
        draft.media_kind, draft.media_file_id = "photo", message.photo[-1].file_id
        draft.text = message.caption_html or ""
    elif message.document:
        draft.media_kind, draft.media_file_id = "document", message.document.file_id
        draft.text = message.caption_html or ""
    elif message.text:
        draft.media_kind = draft.media_file_id = None
        draft.text = message.text_html
    # Telegram's limits count the text people see, not the HTML that keeps its formatting.
    limit = limits.TELEGRAM_CAPTION_MAX if draft.media_kind else limits.TELEGRAM_TEXT_MAX
    if (not draft.text and not draft.media_kind) or telegram_length(draft.text) > limit:
        await respond(update, context, context.render("broadcasts/bad_message", limit=limit))
        return MESSAGE
    await _show_audience(update, context)
    return AUDIENCE


async def got_other_message(update: Update, context: BotContext) -> int:
    """A sticker, voice note or the like: say what can be sent; nothing was taken yet."""
    await respond(update, context, context.render("broadcasts/bad_message", limit=limits.TELEGRAM_TEXT_MAX))
    return MESSAGE


async def got_other_time(update: Update, context: BotContext) -> int:
    """Anything but text where a time is asked: ask again, keeping the message and audience."""
    weekly = _draft(context).schedule == "weekly"
    await respond(update, context, context.render("broadcasts/bad_time" if weekly else "broadcasts/bad_datetime"))
    return TYPED_TIME


async def _show_audience(update: Update, context: BotContext) -> None:
    draft = _draft(context)
    t = context.text
    async with context.db() as session:
        size = await broadcasts.audience_size(session, audience=draft.audience)
    rows: list[list[Button]] = [
        [(t("bc.btn.children"), encode("bc", "role", "child")), (t("bc.btn.parents"), encode("bc", "role", "parent"))],
        [(t("bc.btn.kecamatan"), encode("bc", "kec")), (t("bc.btn.age"), encode("bc", "age"))],
        [(t("bc.btn.language"), encode("bc", "lang")), (t("bc.btn.event"), encode("bc", "event"))],
        [(t("bc.btn.everyone"), encode("bc", "all"))],
        [(t("bc.btn.next"), encode("bc", "when"))],
        [(t("btn.cancel"), encode("bc", "cancel"))],
    ]
    text = context.render("broadcasts/audience", audience=draft.audience, size=size)
    await respond(update, context, text, keyboard(rows))


async def on_audience(update: Update, context: BotContext) -> int:
    """Narrow the audience by one filter, then show it again with its size."""
    assert update.callback_query is not None
    press = decode(update.callback_query.data)
    draft = _draft(context)
    regions = context.services.regions
    kecamatan = list(regions.kecamatan)
    scope = await _scope(context)
    t = context.text
    if press.action == "kec" and not press.args:
        offered = [(i, name) for i, name in enumerate(kecamatan) if scope is None or name in scope.areas
                   or scope.areas & set(regions.kelurahan_of(name))]
        buttons = [(name, encode("bc", "kec", i)) for i, name in offered]
        await respond(update, context, context.render("broadcasts/pick_kecamatan"), keyboard(in_rows(buttons, 2)))
        return AUDIENCE
    if press.action == "kec":
        name = kecamatan[press.int_arg()] if press.int_arg() < len(kecamatan) else None
        if name is None:
            await refuse(update, context, "stale_button")
            return AUDIENCE
        if scope is not None and name not in scope.areas and not scope.areas & set(regions.kelurahan_of(name)):
            await refuse(update, context, "not_allowed")  # re-checked: a forged press for another area
            return AUDIENCE
        draft.audience = replace(draft.audience, kecamatan=name, kelurahan=None)
        names = regions.kelurahan_of(name)
        whole = scope is None or name in scope.areas
        buttons = [(t("bc.btn.whole_kecamatan"), encode("bc", "kel", "all"))] if whole else []
        buttons += [(kel, encode("bc", "kel", i)) for i, kel in enumerate(names) if whole or kel in (scope.areas if scope else ())]
        await respond(update, context, context.render("broadcasts/pick_kelurahan", kecamatan=name), keyboard(in_rows(buttons, 2)))
        return AUDIENCE
    if press.action == "kel" and press.args and press.args[0] != "all":
        names = regions.kelurahan_of(draft.audience.kecamatan or "")
        if press.int_arg() < len(names):
            draft.audience = replace(draft.audience, kelurahan=names[press.int_arg()])
    elif press.action == "role":
        draft.audience = replace(draft.audience, roles=(press.args[0],) if press.args[0] in ("child", "parent") else ())
    elif press.action == "age" and not press.args:
        buttons = [(t(f"age.{band}"), encode("bc", "age", band)) for band in CHILD_AGE_BANDS]
        await respond(update, context, context.render("broadcasts/pick_age"), keyboard(in_rows(buttons, 2)))
        return AUDIENCE
    elif press.action == "age" and press.args[0] in CHILD_AGE_BANDS:
        draft.audience = replace(draft.audience, age_bands=(press.args[0],))
    elif press.action == "lang" and not press.args:
        rows = [[(t("btn.lang_id"), encode("bc", "lang", "id")), (t("btn.lang_en"), encode("bc", "lang", "en"))]]
        await respond(update, context, context.render("broadcasts/pick_language"), keyboard(rows))
        return AUDIENCE
    elif press.action == "lang" and press.args[0] in ("id", "en"):
        draft.audience = replace(draft.audience, language=press.args[0])
    elif press.action == "event" and not press.args:
        assert context.user is not None
        async with context.db() as session:
            mine = await scopes.events_for(session, user=context.user, now=context.now())
        buttons = [(f"{item.title[:40]} · {item.starts_at.astimezone(context.services.settings.tz):%d-%m}",
                    encode("bc", "event", item.id)) for item in mine]
        await respond(update, context, context.render("broadcasts/pick_event", count=len(buttons)),
                      keyboard(in_rows(buttons, 1) + [[(t("btn.back"), encode("bc", "all_back"))]]))
        return AUDIENCE
    elif press.action == "event":
        assert context.user is not None
        async with context.db() as session:
            allowed = {item.id for item in await scopes.events_for(session, user=context.user, now=context.now())}
        if press.int_arg() in allowed:  # re-checked: only events this author manages
            draft.audience = replace(draft.audience, event_id=press.int_arg())
    elif press.action == "all":
        draft.audience = Audience()
    await _show_audience(update, context)
    return AUDIENCE


async def ask_when(update: Update, context: BotContext) -> int:
    """Offer now, a date and time, or every week."""
    t = context.text
    rows = [
        [(t("bc.btn.now"), encode("bc", "now"))],
        [(t("bc.btn.once"), encode("bc", "once"))],
        [(t("bc.btn.weekly"), encode("bc", "weekly"))],
        [(t("btn.cancel"), encode("bc", "cancel"))],
    ]
    await respond(update, context, context.render("broadcasts/when"), keyboard(rows))
    return WHEN


async def on_when(update: Update, context: BotContext) -> int:
    """Take the schedule; a date or a weekly time is typed next."""
    assert update.callback_query is not None
    press = decode(update.callback_query.data)
    draft = _draft(context)
    if press.action == "now":
        draft.schedule = "now"
        return await _preview(update, context)
    if press.action == "once":
        draft.schedule = "once"
        await respond(update, context, context.render("broadcasts/ask_datetime"))
        return TYPED_TIME
    if press.action == "weekly" and not press.args:
        buttons = [(context.text(f"bc.day.{day}"), encode("bc", "weekly", day)) for day in WEEKDAYS]
        await respond(update, context, context.render("broadcasts/pick_day"), keyboard(in_rows(buttons, 4)))
        return WHEN
    if press.action == "weekly" and press.args[0] in WEEKDAYS:
        draft.schedule, draft.weekly_day = "weekly", press.args[0]
        await respond(update, context, context.render("broadcasts/ask_time"))
        return TYPED_TIME
    await refuse(update, context, "stale_button")
    return WHEN


async def got_time(update: Update, context: BotContext) -> int:
    """Parse a typed date and time (or a weekly HH:MM) in WITA."""
    message = update.effective_message
    assert message is not None and message.text is not None
    draft = _draft(context)
    typed = message.text.strip()[:40]
    tz = context.services.settings.tz
    if draft.schedule == "weekly":
        match = re.fullmatch(r"([01]?\d|2[0-3])[:.]([0-5]\d)", typed)
        if match is None:
            await respond(update, context, context.render("broadcasts/bad_time"))
            return TYPED_TIME
        draft.weekly_time = f"{int(match.group(1)):02d}:{match.group(2)}"
        return await _preview(update, context)
    for fmt in TIME_FORMATS:
        try:
            draft.run_at = datetime.strptime(typed, fmt).replace(tzinfo=tz)  # noqa: DTZ007 (WITA given)
            break
        except ValueError:
            continue
    if draft.run_at is None or draft.run_at <= context.now():
        draft.run_at = None
        await respond(update, context, context.render("broadcasts/bad_datetime"))
        return TYPED_TIME
    return await _preview(update, context)


async def _preview(update: Update, context: BotContext) -> int:
    draft = _draft(context)
    chat = update.effective_chat
    assert chat is not None
    await respond(update, context, context.render("broadcasts/preview_intro"))
    await send_as_recipients_see_it(context, chat.id, draft.text, draft.media_kind, draft.media_file_id)
    async with context.db() as session:
        size = await broadcasts.audience_size(session, audience=draft.audience)
    t = context.text
    rows = [[(t("bc.btn.confirm"), encode("bc", "ok"))], [(t("btn.cancel"), encode("bc", "cancel"))]]
    text = context.render("broadcasts/confirm", draft=draft, size=size)
    await context.bot.send_message(chat.id, text, reply_markup=keyboard(rows))
    return CONFIRM


async def send_as_recipients_see_it(
    context: BotContext, chat_id: int, text: str, media_kind: str | None, media_file_id: str | None
) -> Message:
    """Send the message with the same method and formatting the delivery engine will use."""
    if media_kind == "photo" and media_file_id:
        return await context.bot.send_photo(chat_id, media_file_id, caption=text or None)
    if media_kind == "document" and media_file_id:
        return await context.bot.send_document(chat_id, media_file_id, caption=text or None)
    return await context.bot.send_message(chat_id, text)


@in_background  # a broadcast sent now writes a delivery row per recipient
async def confirm(update: Update, context: BotContext) -> int:
    """Save the broadcast; one sent now starts at once."""
    assert context.user is not None
    draft = _draft(context)
    settings = context.services.settings
    try:
        async with context.db() as session:
            verdict = await scopes.review(session, author=context.user, audience=draft.audience, text=draft.text,
                                          media_kind=draft.media_kind)
            if verdict.verdict == scopes.Verdict.REFUSE:
                await respond(update, context, context.render("broadcasts/refused", reason=verdict.reason))
                return CONFIRM
            waiting = verdict.verdict == scopes.Verdict.WAIT
            item = await broadcasts.create(
                session, author_telegram_id=context.user.telegram_id, text=draft.text, audience=draft.audience,
                schedule=draft.schedule, now=context.now(), tz=settings.tz, run_at=draft.run_at,
                weekly_day=draft.weekly_day, weekly_time=draft.weekly_time, media_kind=draft.media_kind,
                media_file_id=draft.media_file_id, waiting=waiting,
            )
            if waiting:
                await approval_rows(context.services, session, item, author=context.user, now=context.now())
            elif draft.schedule == "now":
                await broadcasts.fire_due(session, now=context.now(), tz=settings.tz, quiet=settings.quiet_hours)
    except DomainError as exc:
        await refuse(update, context, exc.code)
        return CONFIRM
    context.services.wake_delivery()
    if context.user_data is not None:
        context.user_data.pop(DRAFT_KEY, None)
    name = "broadcasts/waiting" if waiting else "broadcasts/saved"
    await respond(update, context, context.render(name, item=item, reason=verdict.reason), _back_to_list(context))
    return ConversationHandler.END


async def cancel(update: Update, context: BotContext) -> int:
    """Drop the draft."""
    if context.user_data is not None:
        context.user_data.pop(DRAFT_KEY, None)
    await respond(update, context, context.render("broadcasts/cancelled"))
    return ConversationHandler.END


def _back_to_list(context: BotContext) -> InlineKeyboardMarkup:
    return keyboard([[(context.text("bc.btn.list"), encode("bcl", "list"))]])


def conversation() -> ConversationHandler[BotContext]:
    """The composer as one ConversationHandler (facilitators, staff and admins)."""
    guard = FACILITATOR_ROLES
    any_input = (filters.TEXT | filters.PHOTO | filters.Document.ALL) & ~filters.COMMAND & filters.ChatType.PRIVATE
    anything_else = filters.ChatType.PRIVATE & ~filters.COMMAND & filters.UpdateType.MESSAGE
    return ConversationHandler(
        entry_points=[CallbackQueryHandler(only_for(guard, start), pattern=r"^bc:new$")],
        states={
            MESSAGE: [MessageHandler(any_input, got_message), MessageHandler(anything_else, got_other_message)],
            AUDIENCE: [
                CallbackQueryHandler(ask_when, pattern=r"^bc:when$"),
                CallbackQueryHandler(on_audience, pattern=r"^bc:(role|kec|kel|age|lang|event|all)"),
            ],
            WHEN: [CallbackQueryHandler(on_when, pattern=r"^bc:(now|once|weekly)")],
            TYPED_TIME: [MessageHandler(filters.TEXT & ~filters.COMMAND, got_time),
                         MessageHandler(anything_else, got_other_time)],
            CONFIRM: [CallbackQueryHandler(only_for(guard, confirm), pattern=r"^bc:ok$")],
        },
        fallbacks=[
            CallbackQueryHandler(cancel, pattern=r"^bc:cancel$"),
            CommandHandler(["batal", "cancel"], cancel),
        ],
        conversation_timeout=900,
        name="broadcast_composer",
    )
