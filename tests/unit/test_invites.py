"""Invite codes: one use, expiry, only the invited roles, never for a child's account."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db import invites, roles, users
from db.codes import ALPHABET, normalize_code
from db.errors import InvalidChoice, LinkInvalid
from db.models import AuditEntry, Invite, User
from tests.helpers.factories import NOW, make_user


async def adult(session: AsyncSession, telegram_id: int) -> User:
    return await make_user(session, telegram_id, role="parent", now=NOW)


async def test_code_is_redeemed_once(session: AsyncSession) -> None:
    code = await invites.create_invite(session, role="staff", created_by=1, now=NOW)
    assert set(normalize_code(code)) <= set(ALPHABET)
    invite = await invites.redeem_invite(session, code=code.lower(), user=await adult(session, 2), now=NOW)
    assert invite.role == "staff" and invite.created_by_telegram_id == 1
    with pytest.raises(LinkInvalid) as caught:
        await invites.redeem_invite(session, code=code, user=await adult(session, 3), now=NOW)
    assert caught.value.code == "invite_used"


async def test_only_the_hash_is_stored(session: AsyncSession) -> None:
    code = await invites.create_invite(session, role="facilitator", created_by=1, now=NOW)
    stored = (await session.execute(select(Invite))).scalar_one()
    assert normalize_code(code) not in stored.code_hash


async def test_expired_and_unknown_codes_are_refused(session: AsyncSession) -> None:
    code = await invites.create_invite(session, role="staff", created_by=1, now=NOW)
    person = await adult(session, 2)
    with pytest.raises(LinkInvalid) as caught:
        await invites.redeem_invite(session, code=code, user=person, now=NOW + timedelta(days=8))
    assert caught.value.code == "invite_expired"
    with pytest.raises(LinkInvalid) as caught:
        await invites.redeem_invite(session, code="AAAA-BBBB-CCCC", user=person, now=NOW)
    assert caught.value.code == "invite_unknown"


async def test_admin_role_cannot_be_invited(session: AsyncSession) -> None:
    with pytest.raises(InvalidChoice):
        await invites.create_invite(session, role="admin", created_by=1, now=NOW)


@pytest.mark.parametrize("role", ["staff", "facilitator"])
@pytest.mark.parametrize("consented", [True, False])
async def test_a_child_account_cannot_take_a_code_and_the_code_stays_good(
    session: AsyncSession, role: str, consented: bool
) -> None:
    code = await invites.create_invite(session, role=role, created_by=1, now=NOW)
    child = await make_user(session, 20, role="child", consented=consented, now=NOW)
    with pytest.raises(invites.RoleRefused) as caught:
        await roles.grant_by_invite(session, user=child, code=code, now=NOW)
    assert caught.value.code == "join_child"
    assert (await users.get_user(session, telegram_id=20)).role == "child"  # type: ignore[union-attr]
    assert (await session.execute(select(Invite))).scalar_one().used_at is None
    redeemed = await roles.grant_by_invite(session, user=await adult(session, 21), code=code, now=NOW)
    assert redeemed == roles.Redeemed(role=role, invited_by=1)


async def test_a_child_age_band_is_a_child_whatever_the_role_says(session: AsyncSession) -> None:
    # An account left from before this rule: a consented child made staff, then revoked.
    person = await adult(session, 22)
    person.age_band = "16_17"
    assert invites.may_take(person, "facilitator") == "join_child"
    with pytest.raises(InvalidChoice):  # the domain's last line, below the kind refusal
        await users.set_role(session, user=person, role="staff")


async def test_a_code_never_lowers_a_role(session: AsyncSession) -> None:
    staff = await make_user(session, 30, role="staff", now=NOW)
    code = await invites.create_invite(session, role="facilitator", created_by=1, now=NOW)
    with pytest.raises(invites.RoleRefused) as caught:
        await roles.grant_by_invite(session, user=staff, code=code, now=NOW)
    assert caught.value.code == "join_not_needed"
    facilitator = await make_user(session, 31, role="facilitator", now=NOW)
    upgrade = await invites.create_invite(session, role="staff", created_by=1, now=NOW)
    assert (await roles.grant_by_invite(session, user=facilitator, code=upgrade, now=NOW)).role == "staff"


async def test_a_redeemed_code_is_audited_with_the_person(session: AsyncSession) -> None:
    code = await invites.create_invite(session, role="staff", created_by=1, now=NOW)
    await roles.grant_by_invite(session, user=await adult(session, 40), code=code, now=NOW)
    entry = (await session.execute(select(AuditEntry).where(AuditEntry.action == "invite.redeem"))).scalar_one()
    assert entry.actor_telegram_id == 40 and entry.subject == "40" and "role=staff" in (entry.detail or "")
