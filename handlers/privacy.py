"""What the bot keeps, a copy of one's data, erasure, and consents a guardian gave."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from bot.context import BotContext
from bot.services import Services
from db import consent, users
from db.models import User
from handlers.callbacks import decode, encode
from handlers.common import Button, confirm_is_fresh, confirm_stamp, keyboard, refuse, respond
from handlers.events import release_places


async def erase_account(services: Services, session: AsyncSession, user: User, *, now: datetime) -> None:
    """Erase an account: the one path for /hapus_data, withdrawn consent and retention.

    Coming event places go back to the waitlist first (whoever moves up is told through the
    outbox); then the row goes, and with it, by foreign-key cascade, everything linked to it.
    """
    await release_places(services, session, user, now=now)
    await users.erase_user(session, user=user)


async def privacy_command(update: Update, context: BotContext) -> None:
    """Handle /privasi: the notice, plus withdraw buttons for consents this user gave."""
    assert update.effective_user is not None
    t = context.text
    async with context.db() as session:
        given = await consent.given_by(session, telegram_id=update.effective_user.id)
    rows: list[list[Button]] = [[(t("btn.mydata"), encode("pv", "mydata"))]]
    if context.user is not None:
        rows.append([(t("btn.deletedata"), encode("pv", "delete"))])
    for number, item in enumerate(given, start=1):
        rows.append([(t("btn.withdraw", number=number), encode("gd", "withdraw", item.id))])
    keep_days = context.services.settings.RETENTION_INACTIVE_DAYS
    await respond(update, context, context.render("privacy/notice", consents=given, keep_days=keep_days), keyboard(rows))


async def mydata_command(update: Update, context: BotContext) -> None:
    """Handle /data_saya: every stored field of the account, what is linked to it, and consents decided."""
    assert update.effective_user is not None
    async with context.db(commit=False) as session:
        decided = await consent.given_by(session, telegram_id=update.effective_user.id)
        linked = await users.linked_rows(session, user=context.user) if context.user is not None else None
    text = context.render("privacy/mydata", linked=linked, consents=decided)
    await respond(update, context, text, edit=False)


async def deletedata_command(update: Update, context: BotContext) -> None:
    """Handle /hapus_data: ask for confirmation first."""
    if context.user is None:
        await respond(update, context, context.render("privacy/nothing_stored"))
        return
    t = context.text
    rows = [
        [(t("btn.delete_confirm"), encode("pv", "delete_ok", confirm_stamp(context)))],
        [(t("btn.cancel"), encode("pv", "keep"))],
    ]
    await respond(update, context, context.render("privacy/delete_confirm"), keyboard(rows))


async def on_button(update: Update, context: BotContext) -> None:
    """Handle privacy buttons."""
    assert update.callback_query is not None
    press = decode(update.callback_query.data)
    action = press.action
    if action == "mydata":
        await mydata_command(update, context)
    elif action == "delete":
        await deletedata_command(update, context)
    elif action == "keep" and context.user is not None:  # also the button of the erasure notice
        await respond(update, context, context.render("privacy/kept"))
    elif action == "delete_ok" and context.user is not None and confirm_is_fresh(context, press.int_arg()):
        async with context.db() as session:
            await erase_account(context.services, session, context.user, now=context.now())
        context.services.wake_delivery()
        context.user = None
        await respond(update, context, context.render("privacy/deleted"))
    else:
        await refuse(update, context, "stale_button")
