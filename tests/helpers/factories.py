"""Rows for tests, made through the same domain functions the bot uses."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from content.loaders import load_regions
from db import users
from db.models import Role, User

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 WITA


async def make_user(
    session: AsyncSession,
    telegram_id: int,
    *,
    role: str = Role.CHILD,
    language: str = "id",
    age_band: str | None = None,
    kecamatan: str = "Balikpapan Kota",
    kelurahan: str = "Damai",
    gender: str = "female",
    consented: bool = True,
    now: datetime = NOW,
) -> User:
    """Create a fully onboarded user (a child with guardian consent unless told otherwise)."""
    user = await users.start_account(session, telegram_id=telegram_id, language=language, now=now)
    await users.accept_privacy(session, user=user, now=now)
    if role in (Role.CHILD, Role.PARENT):
        await users.choose_role(session, user=user, role=role, now=now)
        if role == Role.CHILD and not consented:
            return user
        if role == Role.CHILD:
            await users.record_consent(session, child=user, method="guardian", now=now)
        await users.set_profile(
            session,
            user=user,
            regions=load_regions().kecamatan,
            age_band=age_band or ("13_15" if role == Role.CHILD else "adult"),
            kecamatan=kecamatan,
            kelurahan=kelurahan,
            gender=gender,
        )
    else:
        await users.set_role(session, user=user, role=role)
    return user


async def add_registered_people(
    session: AsyncSession, telegram_ids: Iterable[int], *, now: datetime, role: str = Role.PARENT
) -> None:
    """Insert many registered, subscribed people in one statement (crowds for broadcasts and sign-ups)."""
    regions = load_regions().kecamatan
    places = [(kecamatan, kelurahan) for kecamatan, names in regions.items() for kelurahan in names]
    rows = [
        {
            "telegram_id": telegram_id, "language": "id", "role": role,
            "age_band": "13_15" if role == Role.CHILD else "adult",
            "kecamatan": places[i % len(places)][0], "kelurahan": places[i % len(places)][1],
            "gender": ("female", "male")[i % 2], "privacy_accepted_at": now,
            "consent_status": "given" if role == Role.CHILD else "not_required",
            "consent_method": "guardian" if role == Role.CHILD else "self", "consent_at": now,
            "subscribed": True, "created_at": now, "last_seen_at": now,
        }
        for i, telegram_id in enumerate(telegram_ids)
    ]
    await session.execute(insert(User), rows)
