"""Accounts: onboarding order, what a pending child's row may hold, erasure, admins."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from content.loaders import load_regions
from db import audit, consent, users
from db.errors import InvalidChoice
from db.models import AuditEntry, GuardianConsent, User
from db.users import Step
from tests.helpers.factories import NOW, make_user

REGIONS = load_regions().kecamatan


async def test_onboarding_steps_follow_the_row(session: AsyncSession) -> None:
    assert users.next_step(None) == Step.LANGUAGE
    user = await users.start_account(session, telegram_id=5, language="id", now=NOW)
    assert users.next_step(user) == Step.PRIVACY
    await users.accept_privacy(session, user=user, now=NOW)
    assert users.next_step(user) == Step.ROLE
    await users.choose_role(session, user=user, role="parent", now=NOW)
    assert user.age_band == "adult"  # a parent is not asked their age
    assert users.next_step(user) == Step.KECAMATAN
    await users.set_profile(session, user=user, regions=REGIONS, kecamatan="Balikpapan Timur")
    assert users.next_step(user) == Step.KELURAHAN
    await users.set_profile(session, user=user, regions=REGIONS, kelurahan="Manggar")
    assert users.next_step(user) == Step.GENDER
    await users.set_profile(session, user=user, regions=REGIONS, gender="unspecified")
    assert users.next_step(user) == Step.DONE and users.is_registered(user)


async def test_pending_child_row_holds_no_profile(session: AsyncSession) -> None:
    child = await make_user(session, 6, consented=False)
    assert users.next_step(child) == Step.GUARDIAN
    assert users.is_pending_child(child)
    with pytest.raises(InvalidChoice):
        await users.set_profile(session, user=child, regions=REGIONS, age_band="13_15")
    stored = (await session.execute(select(User).where(User.telegram_id == 6))).scalar_one()
    assert (stored.age_band, stored.kecamatan, stored.kelurahan, stored.gender) == (None,) * 4


@pytest.mark.parametrize(
    "change",
    [
        {"age_band": "adult"},
        {"age_band": "99"},
        {"kecamatan": "Jakarta Pusat"},
        {"kelurahan": "Manggar"},  # belongs to Balikpapan Timur, not the user's kecamatan
        {"gender": "other"},
    ],
)
async def test_profile_refuses_values_outside_the_lists(session: AsyncSession, change: dict[str, str]) -> None:
    child = await make_user(session, 7)
    with pytest.raises(InvalidChoice):
        await users.set_profile(session, user=child, regions=REGIONS, **change)


async def test_changing_kecamatan_forgets_kelurahan(session: AsyncSession) -> None:
    user = await make_user(session, 8)
    await users.set_profile(session, user=user, regions=REGIONS, kecamatan="Balikpapan Utara")
    assert user.kelurahan is None and users.next_step(user) == Step.KELURAHAN


async def test_erase_removes_the_account_and_its_consent_links(session: AsyncSession) -> None:
    child = await make_user(session, 9, consented=False)
    await consent.new_link(session, child=child, now=NOW)
    await users.erase_user(session, user=child)
    assert await users.get_user(session, telegram_id=9) is None
    links = await session.scalar(select(func.count()).select_from(GuardianConsent))
    assert links == 0


async def test_ensure_admins_creates_and_promotes(session: AsyncSession) -> None:
    await make_user(session, 10, role="parent")
    changed = await users.ensure_admins(session, telegram_ids=[10, 11], language="id", now=NOW)
    assert changed == 2
    assert (await users.get_user(session, telegram_id=10)).role == "admin"  # type: ignore[union-attr]
    assert await users.ensure_admins(session, telegram_ids=[10, 11], language="id", now=NOW) == 0


async def test_touch_keeps_only_the_day(session: AsyncSession) -> None:
    # NOW is 10:00 WITA; a stored day starts at midnight WITA (16:00 UTC the day before).
    midnight_wita = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    user = await make_user(session, 12)
    assert user.last_seen_at == midnight_wita
    assert user.created_at == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # joining: the month (1 Nov WITA)
    assert not users.touch_due(user, NOW + timedelta(hours=13))  # 23:00 WITA: same day, no write
    await users.touch(session, user=user, now=NOW + timedelta(hours=14, minutes=7))  # 00:07 WITA
    assert user.last_seen_at == midnight_wita + timedelta(days=1)
    stored = await session.scalar(select(User.last_seen_at).where(User.id == user.id))
    assert stored == midnight_wita + timedelta(days=1)


async def test_erasure_keeps_official_acts_attributed_and_unnames_guardian_decisions(session: AsyncSession) -> None:
    former_staff = await make_user(session, 77, role="staff")
    await audit.record(session, actor_telegram_id=77, action="report.ack", subject="report:1", now=NOW)
    await audit.record(session, actor_telegram_id=77, action="consent.give", subject="user:9", now=NOW)
    former_staff.role = "parent"  # the role was taken back (db/roles.revoke)
    await users.erase_user(session, user=former_staff)
    entries = {e.action: e.actor_telegram_id for e in (await session.scalars(select(AuditEntry))).all()}
    assert entries == {"report.ack": 77, "consent.give": None}
