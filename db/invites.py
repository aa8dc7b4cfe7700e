"""One-time, expiring invite codes that grant the facilitator or staff role.

A code is checked against the account that types it before it is used up: a child's account is
refused (`may_take`), and the code stays valid for the adult it was meant for.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.codes import code_hash, random_code
from db.errors import DomainError, InvalidChoice, LinkInvalid
from db.models import Invite, Role, User
from db.users import CHILD_AGE_BANDS

INVITE_ROLES = (Role.FACILITATOR, Role.STAFF)
INVITE_TTL = timedelta(days=7)
# Roles someone else gives (invites, ADMIN_IDS, the command line), lowest first.
GIVEN_ROLES = (Role.FACILITATOR, Role.STAFF, Role.ADMIN)


class RoleRefused(DomainError):
    """A role change the rules do not allow; `code` names a template under roles/."""

    code = "join_child"


def is_child_account(user: User) -> bool:
    """Tell whether the account is a child's: its role, or an age band of a child."""
    return user.role == Role.CHILD or user.age_band in CHILD_AGE_BANDS


def may_take(user: User, role: str) -> str | None:
    """Return why this account may not take an invited role (a template code), or None."""
    if is_child_account(user):
        return "join_child"  # staff and facilitators read and reach children (SPEC §3)
    if user.role in GIVEN_ROLES and GIVEN_ROLES.index(Role(user.role)) >= GIVEN_ROLES.index(Role(role)):
        return "join_not_needed"  # a code would only lower the role; revoking is the way down
    return None


async def create_invite(
    session: AsyncSession, *, role: str, created_by: int | None, now: datetime
) -> str:
    """Create a code for a role; only its hash is stored."""
    if role not in INVITE_ROLES:
        raise InvalidChoice()
    code = random_code(groups=3, size=4)
    session.add(
        Invite(
            code_hash=code_hash(code),
            role=role,
            created_by_telegram_id=created_by,
            created_at=now,
            expires_at=now + INVITE_TTL,
        )
    )
    await session.flush()
    return code


async def redeem_invite(session: AsyncSession, *, code: str, user: User, now: datetime) -> Invite:
    """Use a code once for this account and return the invite; refused codes stay unused.

    Refused: unknown, expired or used codes, and (`may_take`) a child's account or an
    account whose role is already as high.
    """
    invite = (
        await session.execute(select(Invite).where(Invite.code_hash == code_hash(code)))
    ).scalar_one_or_none()
    if invite is None:
        raise LinkInvalid("invite_unknown")
    if invite.expires_at <= now:
        raise LinkInvalid("invite_expired")
    if invite.used_at is not None:
        raise LinkInvalid("invite_used")
    refusal = may_take(user, invite.role)
    if refusal is not None:
        raise RoleRefused(refusal)
    # One conditional UPDATE: two people pressing at once cannot both redeem it.
    result = await session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.used_at.is_(None))  # type: ignore[union-attr]
        .values(used_at=now, used_by_telegram_id=user.telegram_id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkInvalid("invite_used")
    return invite
