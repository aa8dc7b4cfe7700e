"""Guardian consent for a child's account (UU 27/2022 Art. 25, SPEC §1)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import audit, grain
from db.codes import code_hash, random_code
from db.errors import LinkInvalid, NotAllowed
from db.models import ConsentMethod, ConsentStatus, GuardianConsent, LinkStatus, Role, User
from db.users import CHILD_AGE_BANDS, erase_user, record_consent

LINK_TTL = timedelta(days=7)


@dataclass(frozen=True)
class PendingLink:
    """A link a guardian has opened but not yet answered."""

    consent_id: int
    child_telegram_id: int
    child_language: str


@dataclass(frozen=True)
class Decision:
    """The outcome of a guardian's or facilitator's answer."""

    child_telegram_id: int
    child_language: str
    given: bool


async def new_link(session: AsyncSession, *, child: User, now: datetime) -> str:
    """Create a fresh single-use link token for a pending child, replacing older ones."""
    if child.role != Role.CHILD or child.consent_status == ConsentStatus.GIVEN or child.id is None:
        raise NotAllowed()
    await session.execute(
        delete(GuardianConsent).where(
            GuardianConsent.child_id == child.id, GuardianConsent.status == LinkStatus.PENDING
        )
    )
    # Typable (a facilitator may enter it with /izin) and fit for a deep link: 60 random bits,
    # single use and expiring, so guessing is hopeless.
    token = random_code(groups=3, size=4)
    session.add(
        GuardianConsent(
            child_id=child.id,
            token_hash=code_hash(token),
            created_at=now,
            expires_at=grain.next_day(now + LINK_TTL),  # stored as a day: at least the full TTL
        )
    )
    await session.flush()
    return token


async def _pending(session: AsyncSession, token: str, now: datetime) -> tuple[GuardianConsent, User]:
    row = (
        await session.execute(
            select(GuardianConsent, User)
            .join(User, User.id == GuardianConsent.child_id)
            .where(GuardianConsent.token_hash == code_hash(token))
        )
    ).first()
    if row is None:
        raise LinkInvalid("link_unknown")
    link, child = row
    if link.status != LinkStatus.PENDING:
        raise LinkInvalid("link_used")
    if link.expires_at <= now:
        raise LinkInvalid("link_expired")
    return link, child


DECIDERS = (Role.PARENT, Role.FACILITATOR, Role.STAFF, Role.ADMIN)
LETTER_ROLES = (Role.FACILITATOR, Role.STAFF, Role.ADMIN)


def _check_decider(child: User, by: User | None, by_telegram_id: int) -> None:
    """Only a registered parent/guardian (or a facilitator with the paper letter) decides.

    A child account, or someone without an account, could otherwise consent for another child
    and then erase that child by withdrawing it (issue 17, item 6). The age band is checked too:
    an account that said it is a child is a child, whatever role it holds.
    """
    if child.telegram_id == by_telegram_id:
        raise NotAllowed("self_consent")
    if by is None or by.role not in DECIDERS or by.privacy_accepted_at is None or by.age_band in CHILD_AGE_BANDS:
        raise NotAllowed("guardian_only")


async def open_link(
    session: AsyncSession, *, token: str, opener: User | None, opener_telegram_id: int, now: datetime
) -> PendingLink:
    """Check a link a guardian (or facilitator) opened; children, guests and the child itself may not."""
    link, child = await _pending(session, token, now)
    _check_decider(child, opener, opener_telegram_id)
    assert link.id is not None
    return PendingLink(link.id, child.telegram_id, child.language)


async def decide(
    session: AsyncSession,
    *,
    token: str,
    by: User | None,
    by_telegram_id: int,
    given: bool,
    now: datetime,
) -> Decision:
    """Record a guardian's (or a facilitator's, with the paper letter) answer to a link."""
    link, child = await _pending(session, token, now)
    _check_decider(child, by, by_telegram_id)
    by_facilitator = by is not None and by.role in LETTER_ROLES
    link.status = LinkStatus.GIVEN if given else LinkStatus.DECLINED
    link.method = ConsentMethod.FACILITATOR_LETTER if by_facilitator else ConsentMethod.GUARDIAN
    link.decided_by_telegram_id = by_telegram_id
    link.decided_at = now
    session.add(link)
    if given:
        await record_consent(session, child=child, method=link.method, now=now)
    await audit.record(session, actor_telegram_id=by_telegram_id, now=now, subject=f"user:{child.id}",
                       action=("consent.letter" if by_facilitator else "consent.give") if given else "consent.decline")
    await session.flush()
    return Decision(child.telegram_id, child.language, given)


async def given_by(session: AsyncSession, *, telegram_id: int) -> list[GuardianConsent]:
    """List the consents this guardian gave that are still in force."""
    result = await session.execute(
        select(GuardianConsent)
        .where(
            GuardianConsent.decided_by_telegram_id == telegram_id,
            GuardianConsent.status == LinkStatus.GIVEN,
            GuardianConsent.method == ConsentMethod.GUARDIAN,
        )
        .order_by(GuardianConsent.decided_at)
    )
    return list(result.scalars())


async def withdraw(
    session: AsyncSession,
    *,
    consent_id: int,
    by_telegram_id: int,
    now: datetime,
    erase: Callable[[User], Awaitable[None]] | None = None,
) -> Decision:
    """Withdraw a consent the caller gave: the child's account is erased (SPEC §1).

    `erase` is the caller's account-erasure path (the bot's also gives event places back),
    run in the same transaction; without it the account row alone is deleted.
    """
    row = (
        await session.execute(
            select(GuardianConsent, User)
            .join(User, User.id == GuardianConsent.child_id)
            .where(GuardianConsent.id == consent_id)
        )
    ).first()
    if row is None or row[0].decided_by_telegram_id != by_telegram_id:
        raise NotAllowed()
    link, child = row
    if link.status != LinkStatus.GIVEN:
        raise LinkInvalid("link_used")
    decision = Decision(child.telegram_id, child.language, False)
    # The audit names the guardian and the erased account's number, never the child's Telegram id.
    await audit.record(session, actor_telegram_id=by_telegram_id, now=now, subject=f"user:{child.id}",
                       action="consent.withdraw")
    if erase is None:
        await erase_user(session, user=child)
    else:
        await erase(child)
    return decision
