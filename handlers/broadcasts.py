"""`/siaran`: scheduled and recent broadcasts with their figures; cancel or stop one; the ticker."""

from __future__ import annotations

import logging

from telegram import Update

from bot.context import BotContext
from bot.services import Services
from db import broadcasts
from db.broadcasts import Audience
from db.errors import DomainError
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
    if item.status == "scheduled" or sending:
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
