"""One-time, expiring invite codes that grant the facilitator or staff role."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.codes import code_hash, random_code
from db.errors import InvalidChoice, LinkInvalid
from db.models import Invite, Role

INVITE_ROLES = (Role.FACILITATOR, Role.STAFF)
INVITE_TTL = timedelta(days=7)


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


async def redeem_invite(
    session: AsyncSession, *, code: str, telegram_id: int, now: datetime
) -> str:
    """Use a code once and return its role; a second use or an old code is refused."""
    invite = (
        await session.execute(select(Invite).where(Invite.code_hash == code_hash(code)))
    ).scalar_one_or_none()
    if invite is None:
        raise LinkInvalid("invite_unknown")
    if invite.expires_at <= now:
        raise LinkInvalid("invite_expired")
    # One conditional UPDATE: two people pressing at once cannot both redeem it.
    result = await session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.used_at.is_(None))  # type: ignore[union-attr]
        .values(used_at=now, used_by_telegram_id=telegram_id)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LinkInvalid("invite_used")
    return invite.role
