"""The simulated people of the sandbox, created in its database on first start."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from db import users
from db.engine import SessionScope
from db.models import ConsentMethod, Role
from db.types import utcnow

STAFF_GROUP_ID = -100500


@dataclass(frozen=True)
class Persona:
    """A simulated Telegram user and the account the sandbox gives them."""

    name: str
    telegram_id: int
    role: str | None  # None: a newcomer who onboards by typing
    first_name: str


PERSONAS = (
    Persona("baru", 1000, None, "Pengguna Baru"),
    Persona("anak", 1001, Role.CHILD, "Anak"),
    Persona("ortu", 1002, Role.PARENT, "Orang Tua"),
    Persona("fasilitator", 1003, Role.FACILITATOR, "Fasilitator"),
    Persona("staf", 1004, Role.STAFF, "Staf DP3AKB"),
    Persona("admin", 1005, Role.ADMIN, "Admin"),
)


def sandbox_secret() -> str:
    """A throw-away SECRET_KEY for a sandbox run without one."""
    return secrets.token_urlsafe(48)


async def seed_personas(db: SessionScope, *, kecamatan: dict[str, tuple[str, ...]]) -> None:
    """Give every persona with a role a complete account, once."""
    async with db() as session:
        for persona in PERSONAS:
            if persona.role is not None:
                await _ensure(session, persona, kecamatan)


async def _ensure(session: AsyncSession, persona: Persona, kecamatan: dict[str, tuple[str, ...]]) -> None:
    if await users.get_user(session, telegram_id=persona.telegram_id) is not None:
        return
    now = utcnow()
    user = await users.start_account(session, telegram_id=persona.telegram_id, language="id", now=now)
    await users.accept_privacy(session, user=user, now=now)
    if persona.role not in (Role.CHILD, Role.PARENT):
        await users.set_role(session, user=user, role=persona.role or "")
        return
    await users.choose_role(session, user=user, role=persona.role, now=now)
    if persona.role == Role.CHILD:  # the sandbox child's guardian agreed on paper
        await users.record_consent(session, child=user, method=ConsentMethod.FACILITATOR_LETTER, now=now)
    first_kecamatan = next(iter(kecamatan))
    await users.set_profile(
        session,
        user=user,
        regions=kecamatan,
        age_band="13_15" if persona.role == Role.CHILD else None,
        kecamatan=first_kecamatan,
        kelurahan=kecamatan[first_kecamatan][0],
        gender="unspecified",
    )
