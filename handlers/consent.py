"""Guardian consent: the child's link, the guardian's answer, a facilitator's paper letter."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from bot.context import BotContext
from db import consent, outbox
from db.errors import DomainError
from db.models import User
from handlers.callbacks import decode, encode
from handlers.common import confirm_is_fresh, confirm_stamp, keyboard, refuse, respond
from handlers.privacy import erase_account

logger = logging.getLogger(__name__)


def guardian_link(context: BotContext, token: str) -> str:
    """Return the deep link a child forwards to a parent or guardian."""
    return f"https://t.me/{context.services.bot_username}?start=wali_{token}"


async def show_guardian_step(update: Update, context: BotContext) -> None:
    """Explain to a pending child why a guardian must agree, and what works meanwhile."""
    t = context.text
    rows = [
        [(t("btn.make_link"), encode("gd", "link"))],
        [(t("btn.help"), encode("menu", "help"))],
    ]
    await respond(update, context, context.render("consent/needed"), keyboard(rows))


async def on_button(update: Update, context: BotContext) -> None:
    """Handle consent buttons: new link, guardian yes/no, withdraw."""
    assert update.callback_query is not None and update.effective_user is not None
    press = decode(update.callback_query.data)
    try:
        if press.action == "link":
            await _send_new_link(update, context)
        elif press.action in ("yes", "no") and press.args:
            await _decide(update, context, press.args[0], given=press.action == "yes")
        elif press.action == "withdraw":
            stamp = confirm_stamp(context)
            rows = [[(context.text("btn.withdraw_confirm"), encode("gd", "withdraw_ok", press.int_arg(), stamp))]]
            await respond(update, context, context.render("consent/withdraw_confirm"), keyboard(rows))
        elif press.action == "withdraw_ok" and confirm_is_fresh(context, press.int_arg(1)):
            await _withdraw(update, context, press.int_arg())
        else:
            await refuse(update, context, "stale_button")
    except DomainError as exc:
        await refuse(update, context, exc.code)


async def _send_new_link(update: Update, context: BotContext) -> None:
    if context.user is None:
        await refuse(update, context, "stale_button")
        return
    async with context.db() as session:
        token = await consent.new_link(session, child=context.user, now=context.now())
    text = context.render("consent/link", link=guardian_link(context, token), code=token)
    await respond(update, context, text, edit=False)


async def open_guardian_link(update: Update, context: BotContext, token: str) -> None:
    """Show a guardian (or a facilitator) what they are agreeing to, with yes/no buttons."""
    assert update.effective_user is not None
    try:
        async with context.db() as session:
            await consent.open_link(
                session, token=token, opener=context.user, opener_telegram_id=update.effective_user.id,
                now=context.now(),
            )
    except DomainError as exc:
        await refuse(update, context, exc.code)
        return
    t = context.text
    by_facilitator = context.user is not None and context.user.role in ("facilitator", "staff", "admin")
    name = "consent/facilitator_letter" if by_facilitator else "consent/request"
    yes = t("btn.letter_confirm") if by_facilitator else t("btn.consent_yes")
    rows = [[(yes, encode("gd", "yes", token))], [(t("btn.consent_no"), encode("gd", "no", token))]]
    await respond(update, context, context.render(name), keyboard(rows))


async def consent_command(update: Update, context: BotContext) -> None:
    """Handle /izin CODE: a facilitator who holds the paper letter confirms for the child."""
    args = context.args or []
    if not args:
        await respond(update, context, context.render("consent/izin_usage"))
        return
    await open_guardian_link(update, context, args[0][:32])


async def _decide(update: Update, context: BotContext, token: str, *, given: bool) -> None:
    assert update.effective_user is not None
    renderer = context.services.renderer
    async with context.db() as session:
        decision = await consent.decide(
            session,
            token=token,
            by=context.user,
            by_telegram_id=update.effective_user.id,
            given=given,
            now=context.now(),
        )
        language = decision.child_language
        name = "consent/child_given" if given else "consent/child_declined"
        rows = [[(renderer.text(language, "btn.continue"), encode("ob", "next"))]]
        await _tell(context, session, decision.child_telegram_id, renderer.render(language, name), rows)
    context.services.wake_delivery()
    await respond(update, context, context.render("consent/given" if given else "consent/declined"))


async def _withdraw(update: Update, context: BotContext, consent_id: int) -> None:
    assert update.effective_user is not None
    renderer = context.services.renderer
    async with context.db() as session:
        async def erase(child: User) -> None:
            await erase_account(context.services, session, child, now=context.now())

        decision = await consent.withdraw(
            session, consent_id=consent_id, by_telegram_id=update.effective_user.id, now=context.now(), erase=erase
        )
        text = renderer.render(decision.child_language, "consent/child_withdrawn")
        await _tell(context, session, decision.child_telegram_id, text)
    context.services.wake_delivery()
    await respond(update, context, context.render("consent/withdrawn"))


async def _tell(
    context: BotContext,
    session: AsyncSession,
    chat_id: int,
    text: str,
    rows: list[list[tuple[str, str]]] | None = None,
) -> None:
    # Through the outbox, in the decision's transaction: the child hears of it exactly once,
    # even if the bot restarts now or the child has blocked the bot meanwhile.
    markup = keyboard(rows).to_dict() if rows else None
    row = outbox.new_row(kind="consent", text=text, now=context.now(), chat_id=chat_id, reply_markup=markup)
    await outbox.enqueue(session, [row])
