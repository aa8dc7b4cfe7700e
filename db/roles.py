"""Roles given by someone else: granted by invite, by `ADMIN_IDS` or `forum-anak admin add`, and taken back.

A child's account never receives a facilitator or staff role (SPEC §3: an invite is "never
redeemable by a child account"), because those roles read children's stories.

Taking a role back (`revoke`) makes the person an ordinary account again: a parent/guardian
account (adult) unless their stored age band is a child's, which only an account that was a
consented child before it was (wrongly, before this rule) invited can have. Not "no role": the
person would then be asked "child or parent?" again, and an adult who held a staff role must not
become a child account by one tap. The role is re-read from the database on every update
(handlers.load_user), so the next command is already refused; open cases assigned to the person
go back to the queue.

Who made an admin decides whether `ADMIN_IDS` may take it back: at start, an admin whose id is no
longer listed loses the role, unless their latest admin grant is the operator's
`forum-anak admin add` (that one lasts until `forum-anak admin revoke`). The audit log is where
that grant is written, so no column is needed for it; every role change writes one entry there.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db import audit, grain, invites, users
from db.invites import GIVEN_ROLES, RoleRefused
from db.models import (
    AuditEntry,
    ConsentMethod,
    ConsentStatus,
    Delivery,
    Invite,
    Report,
    ReportStatus,
    Role,
    User,
)
from db.outbox import Status as DeliveryStatus


class Action(enum.StrEnum):
    """Audit actions of role changes; the subject is always the person's Telegram id."""

    INVITE_REDEEM = "invite.redeem"
    ADMIN_ADD = "admin.add"  # the operator's `forum-anak admin add`
    ADMIN_IDS_ADD = "admin.ids_add"  # listed in ADMIN_IDS at start
    ADMIN_IDS_REMOVE = "admin.ids_remove"  # no longer listed in ADMIN_IDS at start
    REVOKE = "role.revoke"
    CASE_UNASSIGN = "report.unassign"


_ADMIN_GRANTS = (Action.ADMIN_ADD, Action.ADMIN_IDS_ADD)
_ROLE_ACTIONS = (*_ADMIN_GRANTS, Action.INVITE_REDEEM, Action.ADMIN_IDS_REMOVE, Action.REVOKE)


@dataclass(frozen=True)
class Redeemed:
    """An invite used: the role taken and the admin who made the code (None: the command line)."""

    role: str
    invited_by: int | None


@dataclass(frozen=True)
class Revoked:
    """A role taken back."""

    user: User
    old_role: str
    new_role: str
    cases_returned: int
    admins_left: int


@dataclass(frozen=True)
class Holder:
    """One account with a given role, for the lists of `/peran` and `forum-anak admin list`."""

    telegram_id: int
    role: str
    since: str  # YYYY-MM, local month of the latest role change (or of the account)
    via: str  # invite | admin_ids | admin_add | unknown


async def grant_by_invite(session: AsyncSession, *, user: User, code: str, now: datetime) -> Redeemed:
    """Redeem an invite code for this account, set its role and audit it."""
    invite = await invites.redeem_invite(session, code=code, user=user, now=now)
    await users.set_role(session, user=user, role=invite.role)
    await audit.record(session, actor_telegram_id=user.telegram_id, action=Action.INVITE_REDEEM,
                       subject=str(user.telegram_id), detail=f"role={invite.role} invite={invite.id}", now=now)
    return Redeemed(role=invite.role, invited_by=invite.created_by_telegram_id)


async def add_admin(session: AsyncSession, *, telegram_id: int, language: str, now: datetime) -> bool:
    """Make an account an admin from the command line (audited even when it already was one)."""
    _, before, changed = await _promote(session, telegram_id=telegram_id, language=language, now=now)
    await audit.record(session, actor_telegram_id=None, action=Action.ADMIN_ADD, subject=str(telegram_id),
                       detail=f"from={before}" if changed else "already admin", now=now)
    return changed


async def sync_admins(
    session: AsyncSession, *, telegram_ids: Iterable[int], language: str, now: datetime
) -> list[User]:
    """Apply ADMIN_IDS at start: listed ids become admins, admins it made and no longer lists stop.

    Returns the accounts whose role changed (their command menus are out of date).
    """
    listed = set(telegram_ids)
    changed: list[User] = []
    for telegram_id in sorted(listed):
        user, before, promoted = await _promote(session, telegram_id=telegram_id, language=language, now=now)
        if promoted:
            changed.append(user)
            await audit.record(session, actor_telegram_id=None, action=Action.ADMIN_IDS_ADD,
                               subject=str(telegram_id), detail=f"from={before}", now=now)
    admins = (await session.execute(select(User).where(User.role == Role.ADMIN))).scalars().all()
    for admin in admins:
        if admin.telegram_id in listed or await _latest_admin_grant(session, admin.telegram_id) == Action.ADMIN_ADD:
            continue
        cases = await _take_back(session, user=admin, actor=None, now=now)
        await audit.record(session, actor_telegram_id=None, action=Action.ADMIN_IDS_REMOVE,
                           subject=str(admin.telegram_id), detail=f"to={admin.role} cases_returned={cases}", now=now)
        changed.append(admin)
    await session.flush()
    return changed


async def revoke(
    session: AsyncSession, *, telegram_id: int, actor_telegram_id: int | None, now: datetime
) -> Revoked:
    """Take a given role back; `actor_telegram_id` None is the operator's command line.

    An admin in the bot cannot revoke themselves as the last admin (nobody could give roles then);
    the command line can, and says so.
    """
    user = await users.get_user(session, telegram_id=telegram_id)
    if user is None:
        raise RoleRefused("revoke_unknown")
    if user.role not in GIVEN_ROLES:
        raise RoleRefused("revoke_nothing")
    old_role = user.role
    if old_role == Role.ADMIN and actor_telegram_id == telegram_id and await count_admins(session) <= 1:
        raise RoleRefused("revoke_last_admin")
    cases = await _take_back(session, user=user, actor=actor_telegram_id, now=now)
    await audit.record(session, actor_telegram_id=actor_telegram_id, action=Action.REVOKE, subject=str(telegram_id),
                       detail=f"from={old_role} to={user.role} cases_returned={cases}", now=now)
    return Revoked(user=user, old_role=old_role, new_role=str(user.role), cases_returned=cases,
                   admins_left=await count_admins(session))


async def count_admins(session: AsyncSession) -> int:
    """Return how many accounts are admins."""
    return int((await session.execute(select(func.count()).select_from(User).where(User.role == Role.ADMIN))).scalar_one())


async def list_holders(session: AsyncSession) -> list[Holder]:
    """Every account with a given role, admins first, then staff, then facilitators."""
    people = (await session.execute(select(User).where(User.role.in_(GIVEN_ROLES)))).scalars().all()  # type: ignore[union-attr]
    if not people:
        return []
    subjects = [str(p.telegram_id) for p in people]
    latest: dict[str, tuple[datetime, str]] = {}
    entries = await session.execute(
        select(AuditEntry.subject, AuditEntry.at, AuditEntry.action)
        .where(AuditEntry.subject.in_(subjects), AuditEntry.action.in_(_ROLE_ACTIONS))  # type: ignore[union-attr]
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    for subject, at, action in entries:
        latest[str(subject)] = (at, str(action))
    # Invites redeemed before their audit entry named the person (its subject was the role).
    used = await session.execute(
        select(Invite.used_by_telegram_id, func.max(Invite.used_at))
        .where(Invite.used_by_telegram_id.in_([p.telegram_id for p in people]))  # type: ignore[union-attr]
        .group_by(Invite.used_by_telegram_id)
    )
    redeemed = {int(who): at for who, at in used if at is not None}
    holders = []
    for person in people:
        at, action = latest.get(str(person.telegram_id), (None, ""))
        via = {Action.INVITE_REDEEM: "invite", Action.ADMIN_ADD: "admin_add",
               Action.ADMIN_IDS_ADD: "admin_ids"}.get(action, "")
        invited_at = redeemed.get(person.telegram_id)
        if not via and person.role != Role.ADMIN and invited_at is not None:
            at, via = invited_at, "invite"
        since = (at or person.created_at).astimezone(grain.zone()).strftime("%Y-%m")
        holders.append(Holder(person.telegram_id, str(person.role), since, via or "unknown"))
    order = {Role.ADMIN: 0, Role.STAFF: 1, Role.FACILITATOR: 2}
    return sorted(holders, key=lambda h: (order.get(Role(h.role), 3), h.telegram_id))


async def _promote(
    session: AsyncSession, *, telegram_id: int, language: str, now: datetime
) -> tuple[User, str | None, bool]:
    """Make this id an admin (creating its account); return it, its role before, and whether it changed."""
    user = await users.get_user(session, telegram_id=telegram_id)
    if user is None:
        user = User(telegram_id=telegram_id, language=language, created_at=grain.month(now),
                    last_seen_at=grain.day(now))
    before = user.role
    if before == Role.ADMIN:
        return user, before, False
    user.role = Role.ADMIN
    user.consent_status = ConsentStatus.NOT_REQUIRED
    user.consent_method = ConsentMethod.SELF
    session.add(user)
    await session.flush()
    return user, before, True


async def _latest_admin_grant(session: AsyncSession, telegram_id: int) -> str | None:
    """The action of the latest entry that made this person an admin, if the log has one."""
    action = (await session.execute(
        select(AuditEntry.action)
        .where(AuditEntry.subject == str(telegram_id), AuditEntry.action.in_(_ADMIN_GRANTS))  # type: ignore[union-attr]
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())  # type: ignore[union-attr]
        .limit(1)
    )).scalar_one_or_none()
    return str(action) if action is not None else None


async def _take_back(session: AsyncSession, *, user: User, actor: int | None, now: datetime) -> int:
    """Make the account an ordinary one again and put its open cases back in the queue."""
    if user.age_band in users.CHILD_AGE_BANDS:
        user.role = Role.CHILD
        if user.consent_status != ConsentStatus.GIVEN or user.consent_method == ConsentMethod.SELF:
            user.consent_status, user.consent_method, user.consent_at = ConsentStatus.PENDING, None, None
    else:
        user.role = Role.PARENT
        user.age_band = "adult"
        user.consent_status = ConsentStatus.NOT_REQUIRED
        user.consent_method = ConsentMethod.SELF
        user.consent_at = user.consent_at or grain.month(now)
    session.add(user)
    open_cases = (await session.execute(
        select(Report.id).where(Report.assigned_to == user.telegram_id, Report.status != ReportStatus.CLOSED)
    )).scalars().all()
    if open_cases:
        await session.execute(
            update(Report).where(Report.id.in_(open_cases)).values(assigned_to=None)  # type: ignore[union-attr]
            .execution_options(synchronize_session="fetch")
        )
        for report_id in open_cases:
            await audit.record(session, actor_telegram_id=actor, action=Action.CASE_UNASSIGN,
                               subject=f"report:{report_id}", detail="role revoked", now=now)
    await session.flush()
    return len(open_cases)


STAFF_ROLES = (Role.STAFF, Role.ADMIN)
# Outbox kinds that alert staff about cases: a staff chat whose last one failed is not reached.
STAFF_ALERT_KINDS = ("case_alert", "case_notice")


async def staff_recipients(session: AsyncSession, *, staff_chat: int | None, staff_chat_ok: bool = True) -> list[int]:
    """Where staff alerts go: the staff group, or privately every staff member and admin.

    Privately when no staff group is set, when the start-up check found the bot cannot reach it
    (`staff_chat_ok`), or when the last alert sent there failed (the bot was removed from the
    group later): an urgent case must never go unseen because a setting or a group changed. After
    a failure the group is still tried as well, so the first alert it takes again ends the detour.
    """
    staff = select(User.telegram_id).where(User.role.in_(STAFF_ROLES)).order_by(User.telegram_id)  # type: ignore[union-attr]
    if staff_chat is None or not staff_chat_ok:
        return list((await session.scalars(staff)).all())
    last = await session.scalar(
        select(Delivery.status)
        .where(Delivery.chat_id == staff_chat, Delivery.kind.in_(STAFF_ALERT_KINDS),  # type: ignore[attr-defined]
               Delivery.status.in_((DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.BLOCKED)))  # type: ignore[attr-defined]
        .order_by(Delivery.id.desc())  # type: ignore[union-attr]
        .limit(1)
    )
    if last not in (DeliveryStatus.FAILED, DeliveryStatus.BLOCKED):
        return [staff_chat]
    return [staff_chat, *(await session.scalars(staff)).all()]
