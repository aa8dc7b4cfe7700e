"""Roles: admins make one-time invite codes, list the roles given and take them back (db/roles.py)."""

from __future__ import annotations

import re

from telegram import Update

from bot.context import BotContext
from db import audit, invites, outbox, roles, users
from db.errors import DomainError
from db.models import Role
from handlers.commands import publish_for_user
from handlers.common import command_args, fewest_hidden, refuse, respond

_TELEGRAM_ID = re.compile(r"[0-9]{1,15}")  # ASCII digits only: "²" passes str.isdigit


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
    """Handle /gabung CODE: take the role of a valid, unused invite; its maker is told."""
    sender = update.effective_user
    assert sender is not None
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
            redeemed = await roles.grant_by_invite(session, user=context.user, code=args[0], now=now)
            if redeemed.invited_by is not None:  # an admin in the bot, not the command line
                admin = await users.get_user(session, telegram_id=redeemed.invited_by)
                text = context.services.renderer.render(
                    admin.language if admin else None, "roles/invite_used_notice", role=redeemed.role,
                    who=sender.full_name, username=sender.username, telegram_id=sender.id,
                )
                await outbox.enqueue(session, [outbox.new_row(
                    kind="role_notice", text=text, now=now, chat_id=redeemed.invited_by,
                    user_id=admin.id if admin else None,
                )])
    except invites.RoleRefused as exc:
        await respond(update, context, context.render(f"roles/{exc.code}", current=context.user.role))
        return
    except DomainError as exc:
        await refuse(update, context, exc.code)
        return
    context.services.wake_delivery()
    await publish_for_user(context.bot, context.services.renderer, context.user)
    await respond(update, context, context.render("roles/joined", role=redeemed.role))


async def roles_command(update: Update, context: BotContext) -> None:
    """Handle /peran: every facilitator, staff member and admin, with since when and how."""
    async with context.db(commit=False) as session:
        holders = await roles.list_holders(session)

    def render(hidden: int) -> str:
        shown = holders[: len(holders) - hidden]
        return context.render("roles/list", holders=shown, hidden=hidden, total=len(holders))

    text, _ = fewest_hidden(render, len(holders))
    await respond(update, context, text)


async def revoke_command(update: Update, context: BotContext) -> None:
    """Handle /cabut TELEGRAM_ID: take a given role back now; their open cases return to the queue."""
    sender = update.effective_user
    assert sender is not None
    args = command_args(context)
    if len(args) != 1 or not _TELEGRAM_ID.fullmatch(args[0]):
        await respond(update, context, context.render("roles/revoke_usage"))
        return
    try:
        async with context.db() as session:
            revoked = await roles.revoke(session, telegram_id=int(args[0]), actor_telegram_id=sender.id,
                                         now=context.now())
    except invites.RoleRefused as exc:
        await respond(update, context, context.render(f"roles/{exc.code}"))
        return
    await publish_for_user(context.bot, context.services.renderer, revoked.user)
    in_admin_ids = revoked.old_role == Role.ADMIN and revoked.user.telegram_id in context.services.settings.ADMIN_IDS
    await respond(update, context, context.render(
        "roles/revoked", telegram_id=revoked.user.telegram_id, old_role=revoked.old_role,
        new_role=revoked.new_role, cases=revoked.cases_returned, in_admin_ids=in_admin_ids,
    ))
