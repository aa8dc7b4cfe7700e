"""Guardian consent links: single use, expiring, never by the child, withdrawal erases."""

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db import consent, grain, users
from db.errors import LinkInvalid, NotAllowed
from db.models import AuditEntry, User
from tests.helpers.factories import NOW, make_user


async def parent(session: AsyncSession, telegram_id: int = 30) -> User:
    """A registered parent/guardian account (made once, then found again)."""
    return await users.get_user(session, telegram_id=telegram_id) or await make_user(session, telegram_id, role="parent")


async def test_guardian_gives_consent_once(session: AsyncSession) -> None:
    child = await make_user(session, 20, consented=False)
    token = await consent.new_link(session, child=child, now=NOW)
    await consent.open_link(session, token=token, opener=await parent(session), opener_telegram_id=30, now=NOW)
    decision = await consent.decide(session, token=token, by=await parent(session), by_telegram_id=30, given=True, now=NOW)
    assert decision.given and decision.child_telegram_id == 20
    assert child.consent_status == "given" and child.consent_method == "guardian"
    with pytest.raises(LinkInvalid) as caught:
        await consent.decide(session, token=token, by=await parent(session, 31), by_telegram_id=31, given=True, now=NOW)
    assert caught.value.code == "link_used"


async def test_child_cannot_consent_for_itself(session: AsyncSession) -> None:
    child = await make_user(session, 21, consented=False)
    token = await consent.new_link(session, child=child, now=NOW)
    with pytest.raises(NotAllowed) as caught:
        await consent.decide(session, token=token, by=child, by_telegram_id=21, given=True, now=NOW)
    assert caught.value.code == "self_consent"
    assert users.is_pending_child(child)


async def test_link_expires_after_seven_days(session: AsyncSession) -> None:
    child = await make_user(session, 22, consented=False)
    token = await consent.new_link(session, child=child, now=NOW)
    # The expiry is kept as a day (db/grain.py): the link works to the end of the seventh day.
    await consent.open_link(session, token=token, opener=await parent(session), opener_telegram_id=30, now=NOW + consent.LINK_TTL + timedelta(hours=1))
    later = grain.next_day(NOW + consent.LINK_TTL)
    with pytest.raises(LinkInvalid) as caught:
        await consent.open_link(session, token=token, opener=await parent(session), opener_telegram_id=30, now=later)
    assert caught.value.code == "link_expired"


async def test_new_link_replaces_the_old_one(session: AsyncSession) -> None:
    child = await make_user(session, 23, consented=False)
    old = await consent.new_link(session, child=child, now=NOW)
    await consent.new_link(session, child=child, now=NOW)
    with pytest.raises(LinkInvalid):
        await consent.open_link(session, token=old, opener=await parent(session), opener_telegram_id=30, now=NOW)


async def test_typed_code_matches_the_link_token(session: AsyncSession) -> None:
    child = await make_user(session, 24, consented=False)
    token = await consent.new_link(session, child=child, now=NOW)
    typed = token.lower().replace("-", " ")
    await consent.open_link(session, token=typed, opener=await parent(session), opener_telegram_id=30, now=NOW)


async def test_facilitator_letter_is_recorded_as_such(session: AsyncSession) -> None:
    child = await make_user(session, 25, consented=False)
    facilitator = await make_user(session, 40, role="facilitator")
    token = await consent.new_link(session, child=child, now=NOW)
    await consent.decide(session, token=token, by=facilitator, by_telegram_id=40, given=True, now=NOW)
    assert child.consent_method == "facilitator_letter"


async def test_decline_keeps_the_child_pending(session: AsyncSession) -> None:
    child = await make_user(session, 26, consented=False)
    token = await consent.new_link(session, child=child, now=NOW)
    decision = await consent.decide(session, token=token, by=await parent(session), by_telegram_id=30, given=False, now=NOW)
    assert not decision.given and users.is_pending_child(child)


async def test_withdrawal_erases_the_child_and_only_the_guardian_may(session: AsyncSession) -> None:
    child = await make_user(session, 27, consented=False)
    token = await consent.new_link(session, child=child, now=NOW)
    await consent.decide(session, token=token, by=await parent(session), by_telegram_id=30, given=True, now=NOW)
    [given] = await consent.given_by(session, telegram_id=30)
    assert given.id is not None
    with pytest.raises(NotAllowed):
        await consent.withdraw(session, consent_id=given.id, by_telegram_id=31, now=NOW)
    await consent.withdraw(session, consent_id=given.id, by_telegram_id=30, now=NOW)
    assert await users.get_user(session, telegram_id=27) is None
    assert await consent.given_by(session, telegram_id=30) == []


@pytest.mark.parametrize("who", ["child", "guest", "child_posing_as_parent"])
async def test_a_child_or_a_guest_cannot_decide_for_another_child(session: AsyncSession, who: str) -> None:
    # The attack: a registered child (or anyone without an account) consents for another child,
    # then erases that child by withdrawing the consent.
    target = await make_user(session, 50, consented=False)
    token = await consent.new_link(session, child=target, now=NOW)
    by: User | None = None
    if who == "child":
        by = await make_user(session, 51)
    elif who == "child_posing_as_parent":  # an account that said it is a child, whatever its role now
        by = await make_user(session, 51)
        by.role = "parent"
    for call in (consent.open_link(session, token=token, opener=by, opener_telegram_id=51, now=NOW),
                 consent.decide(session, token=token, by=by, by_telegram_id=51, given=True, now=NOW)):
        with pytest.raises(NotAllowed) as caught:
            await call
        assert caught.value.code == "guardian_only"
    assert users.is_pending_child(target) and await consent.given_by(session, telegram_id=51) == []


async def test_a_guardians_decisions_name_them_in_the_audit(session: AsyncSession) -> None:
    child = await make_user(session, 60, consented=False)
    token = await consent.new_link(session, child=child, now=NOW)
    await consent.decide(session, token=token, by=await parent(session, 61), by_telegram_id=61, given=True, now=NOW)
    [given] = await consent.given_by(session, telegram_id=61)
    assert given.id is not None
    entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert [(e.actor_telegram_id, e.action, e.subject) for e in entries] == [(61, "consent.give", f"user:{child.id}")]
    await consent.withdraw(session, consent_id=given.id, by_telegram_id=61, now=NOW)
    entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    # The withdrawal erased the child: the entries keep the guardian, no longer the child's number.
    assert [(e.actor_telegram_id, e.action, e.subject) for e in entries] == [
        (61, "consent.give", None), (61, "consent.withdraw", None)]
