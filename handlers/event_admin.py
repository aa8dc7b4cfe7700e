"""Facilitators: `/acara_baru` (create or edit an event, step by step, with a preview) and `/peserta`.

The form lives in the conversation only; nothing is stored until the facilitator saves it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext
from bot.timeparse import parse_wita
from db import events, limits, outbox
from db.errors import DomainError
from db.events import EventDraft, EventInvalid
from db.users import AGE_BANDS, CHILD_AGE_BANDS
from handlers.callbacks import BadCallback, ascii_number, decode, encode
from handlers.common import (
    FACILITATOR_ROLES,
    Button,
    confirm_is_fresh,
    confirm_stamp,
    has_role,
    in_rows,
    keyboard,
    only_for,
    refuse,
    respond,
)
from handlers.events import notices, share_link

ASKING = 0
FORM_KEY = "event_form"
STEPS = ("title", "description", "start", "end", "venue", "kecamatan", "capacity", "ages", "deadline", "preview")
TEXT_LIMITS = {"title": limits.EVENT_TITLE_MAX, "description": limits.EVENT_DESCRIPTION_MAX, "venue": limits.EVENT_VENUE_MAX}


@dataclass
class EventForm:
    """The answers so far; `editing` is the id of the event being changed, if any."""

    step: str = "title"
    editing: int | None = None
    reviewing: bool = False  # after the preview, each answer returns to it
    title: str = ""
    description: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    venue: str = ""
    kecamatan: str = ""
    kelurahan: str | None = None
    capacity: int = 0
    age_bands: set[str] = field(default_factory=lambda: set(CHILD_AGE_BANDS))
    deadline: datetime | None = None

    def draft(self) -> EventDraft:
        """Return the answers as a draft for the domain to validate."""
        assert self.starts_at is not None and self.ends_at is not None
        return EventDraft(
            title=self.title, description=self.description, starts_at=self.starts_at, ends_at=self.ends_at,
            venue=self.venue, kecamatan=self.kecamatan, kelurahan=self.kelurahan, capacity=self.capacity,
            age_bands=tuple(self.age_bands), signup_deadline=self.deadline,
        )


def _form(context: BotContext) -> EventForm:
    data = context.user_data if context.user_data is not None else {}
    form = data.get(FORM_KEY)
    if not isinstance(form, EventForm):
        form = data[FORM_KEY] = EventForm()
    return form


async def start_new(update: Update, context: BotContext) -> int:
    """Handle /acara_baru: start an empty form."""
    if context.user_data is not None:
        context.user_data[FORM_KEY] = EventForm()
    return await _ask(update, context, "title")


async def start_edit(update: Update, context: BotContext) -> int:
    """Open an existing event's form at its preview (only its creator, staff or admins)."""
    assert update.callback_query is not None
    try:
        event_id = decode(update.callback_query.data).int_arg(0)
    except BadCallback:
        await refuse(update, context, "stale_button")
        return ConversationHandler.END
    async with context.db() as session:
        event = await events.get_event(session, event_id=event_id)
    if event is None or not events.can_manage(context.user, event):
        await refuse(update, context, "not_allowed")
        return ConversationHandler.END
    form = EventForm(
        editing=event_id, reviewing=True, title=event.title, description=event.description,
        starts_at=event.starts_at, ends_at=event.ends_at, venue=event.venue, kecamatan=event.kecamatan,
        kelurahan=event.kelurahan, capacity=event.capacity, age_bands=set(events.age_bands_of(event)),
        deadline=event.signup_deadline,
    )
    if context.user_data is not None:
        context.user_data[FORM_KEY] = form
    return await _ask(update, context, "preview")


async def _ask(
    update: Update, context: BotContext, step: str, problem: str | None = None, *, field_name: str | None = None,
    limit: int | None = None, length: int | None = None,
) -> int:
    form = _form(context)
    form.step = step
    t = context.text
    rows: list[list[Button]] = []
    regions = context.services.regions
    if step == "kecamatan":
        rows = in_rows([(name, encode("evn", "kec", i)) for i, name in enumerate(regions.kecamatan)], 2)
    elif step == "kelurahan":
        names = regions.kelurahan_of(form.kecamatan)
        rows = [[(t("ev.btn.whole_kecamatan"), encode("evn", "kel", "all"))]]
        rows += in_rows([(name, encode("evn", "kel", i)) for i, name in enumerate(names)], 2)
    elif step == "ages":
        marks = [(("✅ " if band in form.age_bands else "▫️ ") + t(f"age.{band}"), encode("evn", "age", band))
                 for band in AGE_BANDS]
        rows = [*in_rows(marks, 2), [(t("ev.btn.next"), encode("evn", "agesok"))]]
    elif step == "deadline":
        rows = [[(t("ev.btn.until_start"), encode("evn", "dl", "start"))]]
    elif step == "preview":
        rows = [[(t("ev.btn.save"), encode("evn", "save"))]]
        rows += in_rows([(t(f"ev.fix.{name}"), encode("evn", "fix", name))
                         for name in ("title", "description", "start", "venue", "kecamatan", "capacity", "ages", "deadline")], 2)
    first_question = (step == "title" and not form.reviewing) or (step == "preview" and form.editing is not None)
    if not first_question:
        rows.append([(t("btn.back"), encode("evn", "back"))])
    rows.append([(t("btn.cancel"), encode("evn", "cancel"))])
    bands = [b for b in AGE_BANDS if b in form.age_bands]
    values = {"form": form, "step": step, "problem": problem, "field": field_name, "bands": bands,
              "limit": limit, "length": length}
    await respond(update, context, context.render("events/ask", **values), keyboard(rows))
    return ASKING


def _next(form: EventForm, step: str) -> str:
    if form.reviewing and step not in ("start", "kecamatan"):  # a time and a place take two answers
        return "preview"
    return STEPS[STEPS.index(step) + 1] if step in STEPS else "preview"


async def got_text(update: Update, context: BotContext) -> int:
    """Take a typed answer for the current step; a wrong one repeats the question with a hint."""
    message = update.effective_message
    assert message is not None and message.text is not None
    form = _form(context)
    typed = message.text.strip()
    step, now, tz = form.step, context.now(), context.services.settings.tz
    if step in TEXT_LIMITS:
        if not typed or limits.length(typed) > TEXT_LIMITS[step]:
            problem = "too_long" if typed else "required"
            return await _ask(update, context, step, problem, limit=TEXT_LIMITS[step], length=limits.length(typed))
        setattr(form, step, typed)
    elif step in ("start", "end", "deadline"):
        default_day = form.starts_at.astimezone(tz).date() if step == "end" and form.starts_at else None
        moment = parse_wita(typed, now=now, tz=tz, default_day=default_day)
        problem = _time_problem(form, step, moment, now)
        if problem:
            return await _ask(update, context, step, problem)
        if step == "start":
            form.starts_at = moment
        elif step == "end":
            form.ends_at = moment
        else:
            form.deadline = moment
    elif step == "capacity":
        capacity = ascii_number(typed)
        if capacity is None or not 1 <= capacity <= events.MAX_CAPACITY:
            return await _ask(update, context, step, "capacity")
        form.capacity = capacity
    else:
        return await _ask(update, context, step, "use_buttons")
    return await _ask(update, context, _next(form, step))


async def got_other(update: Update, context: BotContext) -> int:
    """A photo, sticker or file instead of an answer: repeat the question, keep the form."""
    step = _form(context).step
    typed_steps = (*TEXT_LIMITS, "start", "end", "deadline", "capacity")
    return await _ask(update, context, step, "not_text" if step in typed_steps else "use_buttons")


def _time_problem(form: EventForm, step: str, moment: datetime | None, now: datetime) -> str | None:
    if moment is None:
        return "time_format"
    if moment <= now:
        return "in_past"
    if step == "end" and form.starts_at is not None and moment <= form.starts_at:
        return "not_after_start"
    if step == "deadline" and form.starts_at is not None and moment > form.starts_at:
        return "after_start"
    return None


async def on_form_button(update: Update, context: BotContext) -> int:
    """Handle the form's buttons: place, ages, deadline, back, fix a field, save."""
    assert update.callback_query is not None
    press = decode(update.callback_query.data)
    form = _form(context)
    regions = context.services.regions
    arg = press.args[0] if press.args else ""
    if press.action == "back":
        before = "kecamatan" if form.step == "kelurahan" else STEPS[max(STEPS.index(form.step) - 1, 0)]
        return await _ask(update, context, "preview" if form.reviewing and form.step != "kelurahan" else before)
    choice = ascii_number(arg)
    if press.action == "kec" and form.step == "kecamatan" and choice is not None and choice < len(regions.kecamatan):
        form.kecamatan, form.kelurahan = list(regions.kecamatan)[choice], None
        return await _ask(update, context, "kelurahan")
    if press.action == "kel" and form.step == "kelurahan":
        names = regions.kelurahan_of(form.kecamatan)
        form.kelurahan = names[choice] if choice is not None and choice < len(names) else None
        return await _ask(update, context, "preview" if form.reviewing else "capacity")
    if press.action == "age" and form.step == "ages" and arg in AGE_BANDS:
        form.age_bands ^= {arg}
        return await _ask(update, context, "ages")
    if press.action == "agesok" and form.step == "ages":
        if not form.age_bands:
            return await _ask(update, context, "ages", "no_ages")
        return await _ask(update, context, _next(form, "ages"))
    if press.action == "dl" and form.step == "deadline":
        form.deadline = None
        return await _ask(update, context, "preview")
    if press.action == "fix" and form.step == "preview" and arg in STEPS:
        form.reviewing = True
        return await _ask(update, context, arg)
    if press.action == "save" and form.step == "preview":
        return await _save(update, context, form)
    await refuse(update, context, "stale_button")
    return ASKING


async def _save(update: Update, context: BotContext, form: EventForm) -> int:
    if not has_role(context, FACILITATOR_ROLES):
        await refuse(update, context, "not_allowed")
        return ConversationHandler.END
    assert context.user is not None
    services, now = context.services, context.now()
    try:
        async with context.db() as session:
            if form.editing is None:
                event = await events.create_event(session, draft=form.draft(), created_by=context.user.telegram_id,
                                                  regions=services.regions.kecamatan, now=now)
            else:
                change = await events.update_event(session, event_id=form.editing, by=context.user,
                                                   draft=form.draft(), regions=services.regions.kecamatan, now=now)
                event = change.event
                rows = notices(services, change.notify, "events/changed", event=event, kind="event_changed", now=now)
                rows += notices(services, change.promoted, "events/promoted", event=event, kind="event_promoted", now=now)
                await outbox.enqueue(session, rows)
    except EventInvalid as exc:
        first = exc.problems[0]
        return await _ask(update, context, "preview", first.code, field_name=first.field)
    except DomainError as exc:
        await refuse(update, context, exc.code)
        return ConversationHandler.END
    services.wake_delivery()
    if context.user_data is not None:
        context.user_data.pop(FORM_KEY, None)
    assert event.id is not None
    text = context.render("events/saved", event=event, edited=form.editing is not None, link=share_link(services, event.id))
    await respond(update, context, text, keyboard([[(context.text("ev.btn.attendees"), encode("eva", "show", event.id))]]))
    return ConversationHandler.END


async def cancel(update: Update, context: BotContext) -> int:
    """Drop the form."""
    if context.user_data is not None:
        context.user_data.pop(FORM_KEY, None)
    await respond(update, context, context.render("events/form_cancelled"))
    return ConversationHandler.END


def conversation() -> ConversationHandler[BotContext]:
    """The event form as one ConversationHandler (facilitators, staff and admins)."""
    guard = FACILITATOR_ROLES
    return ConversationHandler(
        entry_points=[
            CommandHandler(["acara_baru", "newevent"], only_for(guard, start_new)),
            CallbackQueryHandler(only_for(guard, start_new), pattern=r"^eva:new$"),
            CallbackQueryHandler(only_for(guard, start_edit), pattern=r"^eva:edit:\d+$"),
        ],
        states={
            ASKING: [
                MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, got_text),
                MessageHandler(filters.ChatType.PRIVATE & ~filters.TEXT & ~filters.COMMAND & filters.UpdateType.MESSAGE,
                               got_other),
                CallbackQueryHandler(cancel, pattern=r"^evn:cancel$"),
                CallbackQueryHandler(on_form_button, pattern=r"^evn:"),
            ],
        },
        fallbacks=[CommandHandler(["batal", "cancel"], cancel)],
        allow_reentry=True,
        conversation_timeout=1800,
        name="event_form",
    )


# --- /peserta: figures, check-in code, cancel ------------------------------------------------


async def attendees_command(update: Update, context: BotContext) -> None:
    """Handle /peserta: the facilitator's events (all events for staff and admins) as buttons."""
    assert context.user is not None
    async with context.db() as session:
        items = await events.managed_events(session, user=context.user, now=context.now())
    t = context.text
    rows = [[(t("ev.btn.manage_item", title=e.title[:40], status=t(f"ev.status.{e.status}")), encode("eva", "show", e.id))]
            for e in items]
    rows.append([(t("ev.btn.new"), encode("eva", "new"))])
    await respond(update, context, context.render("events/managed", items=items), keyboard(rows))


async def on_button(update: Update, context: BotContext) -> None:
    """Show an event's figures and code, or cancel it (re-checked: creator, staff or admin)."""
    assert update.callback_query is not None and context.user is not None
    press = decode(update.callback_query.data)
    if press.action == "list":
        await attendees_command(update, context)
        return
    event_id, now, t = press.int_arg(), context.now(), context.text
    async with context.db() as session:
        event = await events.get_event(session, event_id=event_id)
        figures = await events.attendance(session, event_id=event_id)
    if event is None or not events.can_manage(context.user, event):
        await refuse(update, context, "not_allowed")
        return
    back = (t("ev.btn.managed"), encode("eva", "list"))
    if press.action == "cancel":
        sure = [[(t("ev.btn.cancel_confirm"), encode("eva", "cancelok", event_id, confirm_stamp(context)))], [back]]
        affected = figures.confirmed + figures.waitlisted
        await respond(update, context, context.render("events/cancel_confirm", event=event, affected=affected),
                      keyboard(sure))
        return
    if press.action == "cancelok":
        await _cancel_event(update, context, event_id, fresh=confirm_is_fresh(context, press.int_arg(1)))
        return
    rows: list[list[Button]] = []
    if event.status == "active" and now < event.starts_at:
        rows.append([(t("ev.btn.edit"), encode("eva", "edit", event_id))])
    if event.status == "active" and now < event.ends_at:
        rows.append([(t("ev.btn.cancel_event"), encode("eva", "cancel", event_id))])
    rows.append([back])
    text = context.render("events/attendees", event=event, figures=figures, link=share_link(context.services, event_id))
    await respond(update, context, text, keyboard(rows))


async def _cancel_event(update: Update, context: BotContext, event_id: int, *, fresh: bool) -> None:
    assert context.user is not None
    if not fresh:
        await refuse(update, context, "stale_button")
        return
    now = context.now()
    try:
        async with context.db() as session:
            told = await events.cancel_event(session, event_id=event_id, by=context.user, now=now)
            event = await events.get_event(session, event_id=event_id)
            assert event is not None
            await outbox.cancel_pending(session, kind="event_reminder", source_id=event_id)
            await outbox.enqueue(session, notices(context.services, told, "events/cancelled_notice", event=event,
                                                  kind="event_cancelled", now=now))
    except DomainError as exc:
        await refuse(update, context, exc.code)
        return
    context.services.wake_delivery()
    rows = [[(context.text("ev.btn.managed"), encode("eva", "list"))]]
    await respond(update, context, context.render("events/event_cancelled", event=event, told=len(told)), keyboard(rows))
