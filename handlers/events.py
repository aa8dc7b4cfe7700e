"""`/acara`, `/acaraku`, one event (also by deep link), sign-up and cancel, .ics, `/hadir`, reminders."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InputFile, Update

from bot.context import BotContext
from bot.ical import event_calendar
from bot.services import Services
from db import events, outbox
from db.broadcasts import quiet_end
from db.errors import DomainError
from db.events import SignUpResult
from db.models import Event, EventSignup, Role, SignupStatus, User
from db.users import is_pending_child, is_registered
from handlers.callbacks import BadCallback, ascii_number, decode, encode
from handlers.common import (
    Button,
    answer_query,
    command_args,
    fewest_hidden,
    keyboard,
    refuse,
    respond,
)

logger = logging.getLogger(__name__)

REFUSALS = {
    SignUpResult.ALREADY: "event_already",
    SignUpResult.CLOSED: "event_closed",
    SignUpResult.NOT_ALLOWED_AGE: "event_age",
    SignUpResult.DEADLINE_PASSED: "event_deadline",
    SignUpResult.NEEDS_CONSENT: "needs_consent",
}


def share_link(services: Services, event_id: int) -> str:
    """Return the deep link that opens one event (SPEC §6)."""
    return f"https://t.me/{services.bot_username}?start=ev_{event_id}"


def event_values(services: Services, event: Event, now: datetime) -> dict[str, Any]:
    """Values every event template receives."""
    assert event.id is not None
    return {
        "event": event, "places": events.places_left(event), "bands": events.age_bands_of(event),
        "open": events.is_open(event, now=now), "link": share_link(services, event.id),
    }


def notices(
    services: Services, people: Iterable[User], name: str, *, event: Event, kind: str, now: datetime,
    dedupe: str | None = None, not_before: datetime | None = None,
) -> list[dict[str, Any]]:
    """Build outbox rows telling people about an event, each in their own language."""
    assert event.id is not None
    rows = []
    for person in people:
        text = services.renderer.render(person.language, name, user=person, **event_values(services, event, now))
        label = services.renderer.text(person.language, "ev.btn.open")
        markup = keyboard([[(label, encode("ev", "open", event.id))]]).to_dict()
        rows.append(outbox.new_row(
            kind=kind, text=text, now=now, chat_id=person.telegram_id, user_id=person.id, reply_markup=markup,
            source_id=event.id, dedupe_key=f"{dedupe}:{person.id}" if dedupe else None, not_before=not_before,
        ))
    return rows


async def release_places(services: Services, session: AsyncSession, user: User, *, now: datetime) -> None:
    """Before an account is erased: give back its coming places and tell whoever moves up."""
    for event, people in await events.release_all(session, user=user, now=now):
        await outbox.enqueue(session, notices(services, people, "events/promoted", event=event,
                                              kind="event_promoted", now=now))


def _may_browse(context: BotContext) -> bool:
    return is_registered(context.user) or is_pending_child(context.user)


async def events_command(update: Update, context: BotContext) -> None:
    """Handle /acara: coming events, the user's kecamatan first, with places and buttons."""
    if not _may_browse(context):
        await refuse(update, context, "needs_registration")
        return
    assert context.user is not None and context.user.id is not None
    async with context.db() as session:
        items = await events.upcoming(session, now=context.now(), kecamatan=context.user.kecamatan)
        mine = {e.id: s for e, s in await events.my_events(session, user=context.user, now=context.now())}
    places = {i.id: events.places_left(i) for i in items}
    text, hidden = fewest_hidden(
        lambda hidden: context.render("events/list", items=items[: len(items) - hidden], mine=mine, places=places),
        len(items),
    )
    items = items[: len(items) - hidden]  # the soonest that fit; a button for each one shown
    t = context.text
    rows: list[list[Button]] = []
    for item in items:
        row = [(t("ev.btn.item", title=item.title[:40]), encode("ev", "open", item.id))]
        if item.id in mine and context.now() < item.starts_at:
            row.append((t("ev.btn.leave"), encode("ev", "leave", item.id)))
        elif events.is_open(item, now=context.now()):
            row.append((t("ev.btn.join"), encode("ev", "join", item.id)))
        rows.append(row)
    rows.append([(t("ev.btn.mine"), encode("ev", "mine"))])
    await respond(update, context, text, keyboard(rows))


async def my_events_command(update: Update, context: BotContext) -> None:
    """Handle /acaraku: the events the user signed up or is waitlisted for."""
    if not _may_browse(context):
        await refuse(update, context, "needs_registration")
        return
    assert context.user is not None
    async with context.db() as session:
        items = await events.my_events(session, user=context.user, now=context.now())
    text, hidden = fewest_hidden(
        lambda hidden: context.render("events/mine", items=items[: len(items) - hidden]), len(items)
    )
    items = items[: len(items) - hidden]
    t = context.text
    rows = [[(t("ev.btn.item", title=e.title[:40]), encode("ev", "open", e.id))] for e, _ in items]
    rows.append([(t("ev.btn.all"), encode("ev", "list"))])
    await respond(update, context, text, keyboard(rows))


async def show_event(update: Update, context: BotContext, event_id: int, result: str | None = None) -> None:
    """Show one event with the buttons this user may press now."""
    async with context.db() as session:
        event = await events.get_event(session, event_id=event_id)
        signup = await _signup(session, context, event_id)
    if event is None:
        await refuse(update, context, "event_closed")
        return
    now = context.now()
    t = context.text
    status = signup.status if signup is not None and signup.status != SignupStatus.CANCELLED else None
    rows: list[list[Button]] = []
    if status is not None and now < event.starts_at and event.status == "active":
        rows.append([(t("ev.btn.leave"), encode("ev", "leave", event_id))])
    elif status is None and events.is_open(event, now=now):
        rows.append([(t("ev.btn.join"), encode("ev", "join", event_id))])
    rows.append([(t("ev.btn.ics"), encode("ev", "ics", event_id)), (t("ev.btn.all"), encode("ev", "list"))])
    if events.can_manage(context.user, event):
        rows.append([(t("ev.btn.attendees"), encode("eva", "show", event_id))])
    text = context.render("events/event", status=status, result=result, **event_values(context.services, event, now))
    await respond(update, context, text, keyboard(rows))


async def _signup(session: AsyncSession, context: BotContext, event_id: int) -> EventSignup | None:
    if context.user is None or context.user.id is None:
        return None
    return await events.signup_of(session, event_id=event_id, user_id=context.user.id)


async def open_from_link(update: Update, context: BotContext) -> None:
    """Open the event of a `?start=ev_<id>` link."""
    payload = (context.args or [""])[0]
    number = ascii_number(payload.removeprefix("ev_"))
    if number is None:
        await refuse(update, context, "event_closed")
        return
    await show_event(update, context, number)


async def on_button(update: Update, context: BotContext) -> None:
    """Open, join, leave, get the .ics of an event; list all or mine (every press re-checked)."""
    assert update.callback_query is not None
    press = decode(update.callback_query.data)
    if press.action == "list":
        await events_command(update, context)
        return
    if press.action == "mine":
        await my_events_command(update, context)
        return
    try:
        event_id = press.int_arg()
    except BadCallback:
        await refuse(update, context, "stale_button")
        return
    if press.action == "open":
        await show_event(update, context, event_id)
    elif press.action == "join":
        await _join(update, context, event_id)
    elif press.action == "leave":
        await _leave(update, context, event_id)
    elif press.action == "ics":
        await send_calendar_file(update, context, event_id)
    else:
        await refuse(update, context, "stale_button")


async def _join(update: Update, context: BotContext, event_id: int) -> None:
    if not _may_browse(context):
        await refuse(update, context, "needs_registration")
        return
    assert context.user is not None
    async with context.db() as session:
        result = await events.sign_up(session, event_id=event_id, user=context.user, now=context.now())
    if result in REFUSALS:
        await refuse(update, context, REFUSALS[result])
        return
    await show_event(update, context, event_id, result=result)


async def _leave(update: Update, context: BotContext, event_id: int) -> None:
    if context.user is None:
        await refuse(update, context, "needs_registration")
        return
    now = context.now()
    try:
        async with context.db() as session:
            outcome = await events.cancel_signup(session, event_id=event_id, user=context.user, now=now)
            event = await events.get_event(session, event_id=event_id)
            if outcome.promoted and event is not None:
                rows = notices(context.services, outcome.promoted, "events/promoted", event=event,
                               kind="event_promoted", now=now)
                await outbox.enqueue(session, rows)  # same transaction as the promotion itself
    except DomainError as exc:
        await refuse(update, context, exc.code)
        return
    if outcome.promoted:
        context.services.wake_delivery()
    await show_event(update, context, event_id, result="left" if outcome.cancelled else None)


async def send_calendar_file(update: Update, context: BotContext, event_id: int) -> None:
    """Send the event as an .ics file the phone's calendar can import."""
    async with context.db() as session:
        event = await events.get_event(session, event_id=event_id)
    chat = update.effective_chat
    if event is None or chat is None:
        await refuse(update, context, "event_closed")
        return
    where = ", ".join(p for p in (event.venue, event.kelurahan, event.kecamatan) if p)
    data = event_calendar(
        event_id=event_id, title=event.title, description=event.description, venue=where,
        starts_at=event.starts_at, ends_at=event.ends_at, stamp=context.now(),
        url=share_link(context.services, event_id), domain=f"{context.services.bot_username}.t.me",
    )
    await answer_query(update, context)
    caption = context.render("events/ics_caption", event=event)
    await context.bot.send_document(chat.id, InputFile(data, filename=f"acara-{event_id}.ics"), caption=caption)


async def checkin_command(update: Update, context: BotContext) -> None:
    """Handle /hadir CODE: record attendance during the event window."""
    if not is_registered(context.user):
        await refuse(update, context, "needs_consent" if is_pending_child(context.user) else "needs_registration")
        return
    assert context.user is not None
    args = command_args(context)
    if not args:
        await respond(update, context, context.render("events/checkin_usage"))
        return
    async with context.db() as session:
        outcome = await events.check_in(session, code="".join(args), user=context.user, now=context.now())
    opens_at = outcome.event.starts_at - events.CHECKIN_OPENS_BEFORE if outcome.event else None
    text = context.render("events/checkin", result=outcome.result, event=outcome.event, opens_at=opens_at)
    await respond(update, context, text)


async def send_due_reminders(services: Services, *, now: datetime) -> int:
    """Queue the 24-hour and 2-hour reminders that are due; each goes out once (called by the job and tests)."""
    async with services.db() as session:
        due = await events.claim_due_reminders(session, now=now)
        rows = []
        quiet_until = quiet_end(now, services.settings.quiet_hours, services.settings.tz)
        for item in due:
            stamp = int(item.event.starts_at.timestamp())
            # Children are not woken during quiet hours, unless the event starts before they end.
            hold = quiet_until if quiet_until and item.user.role == Role.CHILD and quiet_until < item.event.starts_at else None
            rows += notices(services, [item.user], f"events/reminder_{item.kind}", event=item.event,
                            kind="event_reminder", now=now, dedupe=f"ev:rem:{item.kind}:{item.signup_id}:{stamp}",
                            not_before=hold)
        await outbox.enqueue(session, rows)
    if rows:
        logger.info("queued %d event reminder(s)", len(rows))
        services.wake_delivery()
    return len(rows)


async def reminder_job(context: BotContext) -> None:
    """Ticker job: queue due event reminders."""
    await send_due_reminders(context.services, now=context.now())
