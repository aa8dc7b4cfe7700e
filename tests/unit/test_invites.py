"""Invite codes: one use, expiry, only the invited roles."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db import invites
from db.codes import ALPHABET, normalize_code
from db.errors import InvalidChoice, LinkInvalid
from db.models import Invite
from tests.helpers.factories import NOW


async def test_code_is_redeemed_once(session: AsyncSession) -> None:
    code = await invites.create_invite(session, role="staff", created_by=1, now=NOW)
    assert set(normalize_code(code)) <= set(ALPHABET)
    assert await invites.redeem_invite(session, code=code.lower(), telegram_id=2, now=NOW) == "staff"
    with pytest.raises(LinkInvalid) as caught:
        await invites.redeem_invite(session, code=code, telegram_id=3, now=NOW)
    assert caught.value.code == "invite_used"


async def test_only_the_hash_is_stored(session: AsyncSession) -> None:
    code = await invites.create_invite(session, role="facilitator", created_by=1, now=NOW)
    stored = (await session.execute(select(Invite))).scalar_one()
    assert normalize_code(code) not in stored.code_hash


async def test_expired_and_unknown_codes_are_refused(session: AsyncSession) -> None:
    code = await invites.create_invite(session, role="staff", created_by=1, now=NOW)
    with pytest.raises(LinkInvalid) as caught:
        await invites.redeem_invite(session, code=code, telegram_id=2, now=NOW + timedelta(days=8))
    assert caught.value.code == "invite_expired"
    with pytest.raises(LinkInvalid) as caught:
        await invites.redeem_invite(session, code="AAAA-BBBB-CCCC", telegram_id=2, now=NOW)
    assert caught.value.code == "invite_unknown"


async def test_admin_role_cannot_be_invited(session: AsyncSession) -> None:
    with pytest.raises(InvalidChoice):
        await invites.create_invite(session, role="admin", created_by=1, now=NOW)
