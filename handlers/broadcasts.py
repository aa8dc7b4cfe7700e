"""`/siaran`: scheduled and recent broadcasts with their figures; cancel or stop one; the ticker;
staff approval of a facilitator's broadcast that waits (db/scopes.py decides which wait)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from bot.context import BotContext
from bot.services import Services
from db import broadcasts, outbox, roles
from db.broadcasts import Audience
from db.errors import DomainError
from db.models import Broadcast, User
from handlers.callbacks import decode, encode
from handlers.common import Button, keyboard, refuse, respond

logger = logging.getLogger(__name__)


async def broadcast_command(update: Update, context: BotContext) -> None:
    """Handle /siaran: the author's broadcasts (all of them for staff) and a New button."""
    assert context.user is not None
    async with context.db() as session:
        items = await broadcasts.recent(session, author=context.user)
    t = context.text
    rows: list[list[Button]] = [[(t("bc.btn.new"), encode("bc", "new"))]]
    rows += [[(t("bc.btn.item", id=item.id, status=t(f"bc.status.{item.status}")), encode("bcl", "show", item.id))]
             for item in items]
    audiences = {item.id: Audience.from_json(item.audience) for item in items}
    await respond(update, context, context.render("broadcasts/list", items=items, audiences=audiences), keyboard(rows))


async def on_button(update: Update, context: BotContext) -> None:
    """Show one broadcast's figures, or cancel it (re-checked: author, staff or admin)."""
    assert update.callback_query is not None and context.user is not None
    press = decode(update.callback_query.data)
    if press.action == "list":
        await broadcast_command(update, context)
        return
    broadcast_id = press.int_arg()
    try:
        async with context.db() as session:
            if press.action == "cancel":
                await broadcasts.cancel(session, broadcast_id=broadcast_id, by=context.user)
            item = await broadcasts.visible(session, broadcast_id=broadcast_id, user=context.user)
            if item is None:
                raise DomainError("not_allowed")
            runs = await broadcasts.figures(session, broadcast_id=broadcast_id)
    except DomainError as exc:
        await refuse(update, context, exc.code)
        return
    t = context.text
    rows: list[list[Button]] = []
    sending = any(run.pending for run in runs)
    if item.status in (broadcasts.Status.SCHEDULED, broadcasts.Status.WAITING) or sending:
        label = "bc.btn.stop" if sending else "bc.btn.cancel_scheduled"
        rows.append([(t(label), encode("bcl", "cancel", broadcast_id))])
    rows.append([(t("bc.btn.list"), encode("bcl", "list"))])
    text = context.render("broadcasts/figures", item=item, runs=runs, audience=Audience.from_json(item.audience))
    await respond(update, context, text, keyboard(rows))


async def fire_due_broadcasts(services: Services) -> list[int]:
    """Start every broadcast occurrence that is due (called by the ticker, and by tests)."""
    settings = services.settings
    async with services.db() as session:
        started = await broadcasts.fire_due(
            session, now=services.now(), tz=settings.tz, quiet=settings.quiet_hours
        )
    if started:
        logger.info("started %d broadcast occurrence(s)", len(started))
        services.wake_delivery()
    return started


async def fire_job(context: BotContext) -> None:
    """Ticker job: fire due broadcasts."""
    await fire_due_broadcasts(context.services)


async def approval_rows(services: Services, session: AsyncSession, item: Broadcast, *, author: User, now: datetime) -> None:
    """Ask staff to approve a waiting broadcast: its preview and a notice with Approve / Reject.

    The staff chat gets it when STAFF_CHAT_ID is set; otherwise every staff member and admin
    privately. The buttons are re-checked on the server (staff role, still waiting).
    """
    assert item.id is not None
    chats = await roles.staff_recipients(session, staff_chat=services.settings.STAFF_CHAT_ID,
                                         staff_chat_ok=services.staff_chat_ok)
    locale = services.settings.DEFAULT_LOCALE
    renderer = services.renderer
    text = renderer.render(locale, "broadcasts/approval_notice", item=item, author=author,
                           audience=Audience.from_json(item.audience),
                           reason=_reason(item))
    markup = keyboard([[(renderer.text(locale, "bc.btn.approve"), encode("bca", "ok", item.id)),
                        (renderer.text(locale, "bc.btn.reject"), encode("bca", "no", item.id))]]).to_dict()
    rows = []
    for target in chats:
        rows.append(outbox.new_row(kind="broadcast_preview", text=item.text, now=now, chat_id=target,
                                   media_kind=item.media_kind, media_file_id=item.media_file_id, source_id=item.id,
                                   dedupe_key=f"bc_preview:{item.id}:{target}"))
        rows.append(outbox.new_row(kind="broadcast_approval", text=text, now=now, chat_id=target, reply_markup=markup,
                                   source_id=item.id, dedupe_key=f"bc_approval:{item.id}:{target}"))
    await outbox.enqueue(session, rows)
    services.wake_delivery()


def _reason(item: Broadcast) -> str:
    """Why it waits, for the staff notice (the composer told the author the same)."""
    audience = Audience.from_json(item.audience)
    if audience.event_id is None and not audience.kecamatan and not audience.kelurahan:
        return "wide"
    return "link_to_children"


async def on_approval(update: Update, context: BotContext) -> None:
    """Approve or reject a waiting broadcast (staff; the first decision wins) and tell its author."""
    assert update.callback_query is not None and context.user is not None
    press = decode(update.callback_query.data)
    approve = press.action == "ok"
    settings = context.services.settings
    now = context.now()
    try:
        async with context.db() as session:
            item = await broadcasts.decide(session, broadcast_id=press.int_arg(), by=context.user, approve=approve)
            if item is None:
                raise DomainError("stale_button")
            if approve:
                await broadcasts.fire_due(session, now=now, tz=settings.tz, quiet=settings.quiet_hours)
            author = await session.scalar(select(User).where(User.telegram_id == item.author_telegram_id))
            if author is not None:
                text = context.services.renderer.render(author.language, "broadcasts/decided", item=item, approved=approve)
                await outbox.enqueue(session, [outbox.new_row(
                    kind="broadcast_decision", text=text, now=now, chat_id=author.telegram_id, source_id=item.id,
                    dedupe_key=f"bc_decision:{item.id}")])
    except DomainError as exc:
        await refuse(update, context, exc.code)
        return
    context.services.wake_delivery()
    await respond(update, context, context.render("broadcasts/decision_done", item=item, approved=approve))
