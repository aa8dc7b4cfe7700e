"""Roles: admins create one-time invite codes; facilitators and staff redeem them."""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from db import audit, invites, users
from db.errors import DomainError
from handlers.commands import publish_for_user
from handlers.common import command_args, refuse, respond


async def invite_command(update: Update, context: BotContext) -> None:
    """Handle /undang ROLE (admins only; the guard is applied by the routing table)."""
    assert update.effective_user is not None
    args = command_args(context)
    role = args[0].lower() if args else ""
    role = {"fasilitator": "facilitator", "staf": "staff"}.get(role, role)
    if role not in invites.INVITE_ROLES:
        await respond(update, context, context.render("roles/invite_usage"))
        return
    now = context.now()
    async with context.db() as session:
        code = await invites.create_invite(session, role=role, created_by=update.effective_user.id, now=now)
        await audit.record(
            session, actor_telegram_id=update.effective_user.id, action="invite.create", subject=role, now=now
        )
    text = context.render(
        "roles/invite_created", code=code, role=role, expires=now + invites.INVITE_TTL
    )
    await respond(update, context, text)


async def join_command(update: Update, context: BotContext) -> None:
    """Handle /gabung CODE: take the role of a valid, unused invite."""
    assert update.effective_user is not None
    args = command_args(context)
    if not args:
        await respond(update, context, context.render("roles/join_usage"))
        return
    if context.user is None or context.user.privacy_accepted_at is None:
        await refuse(update, context, "needs_registration")
        return
    now = context.now()
    try:
        async with context.db() as session:
            role = await invites.redeem_invite(session, code=args[0], telegram_id=update.effective_user.id, now=now)
            await users.set_role(session, user=context.user, role=role)
            await audit.record(
                session, actor_telegram_id=update.effective_user.id, action="invite.redeem", subject=role, now=now
            )
    except DomainError as exc:
        await refuse(update, context, exc.code)
        return
    await publish_for_user(context.bot, context.services.renderer, context.user)
    await respond(update, context, context.render("roles/joined", role=role))
