"""Accounts: onboarding state, profile, roles, subscription and erasure."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db import grain
from db.errors import InvalidChoice
from db.models import (
    AuditEntry,
    ConsentMethod,
    ConsentStatus,
    Delivery,
    EventSignup,
    FacilitatorScope,
    GuardianConsent,
    Invite,
    QuizAnswer,
    QuizAttempt,
    Role,
    User,
)

LANGUAGES = ("id", "en")
CHILD_AGE_BANDS = ("u10", "10_12", "13_15", "16_17")
AGE_BANDS = (*CHILD_AGE_BANDS, "adult")
GENDERS = ("female", "male", "unspecified")
SELF_ROLES = (Role.CHILD, Role.PARENT)


class Step(enum.StrEnum):
    """The next onboarding question; derived from the row, so it survives restarts."""

    LANGUAGE = "language"
    PRIVACY = "privacy"
    ROLE = "role"
    GUARDIAN = "guardian"
    AGE = "age"
    KECAMATAN = "kecamatan"
    KELURAHAN = "kelurahan"
    GENDER = "gender"
    DONE = "done"


def next_step(user: User | None) -> Step:
    """Return what onboarding still needs from this user."""
    if user is None:
        return Step.LANGUAGE
    if user.privacy_accepted_at is None:
        return Step.PRIVACY
    if user.role is None:
        return Step.ROLE
    if user.role not in SELF_ROLES:
        return Step.DONE  # facilitators, staff and admins are not profiled
    if user.role == Role.CHILD and user.consent_status != ConsentStatus.GIVEN:
        return Step.GUARDIAN
    if user.age_band is None:
        return Step.AGE
    if user.kecamatan is None:
        return Step.KECAMATAN
    if user.kelurahan is None:
        return Step.KELURAHAN
    if user.gender is None:
        return Step.GENDER
    return Step.DONE


def is_registered(user: User | None) -> bool:
    """Tell whether onboarding is complete (a pending child is not registered)."""
    return next_step(user) == Step.DONE


def is_pending_child(user: User | None) -> bool:
    """Tell whether this is a child still waiting for guardian consent."""
    return (
        user is not None
        and user.role == Role.CHILD
        and user.consent_status != ConsentStatus.GIVEN
    )


# Built once: run for every update, it skips SQLAlchemy's statement building and cache-key work
# (about a quarter of the query's CPU).
_BY_TELEGRAM_ID = select(User).where(User.telegram_id == bindparam("telegram_id"))


async def get_user(session: AsyncSession, *, telegram_id: int) -> User | None:
    """Return the account of a Telegram user, if any."""
    return (await session.execute(_BY_TELEGRAM_ID, {"telegram_id": telegram_id})).scalar_one_or_none()


async def start_account(
    session: AsyncSession, *, telegram_id: int, language: str, now: datetime
) -> User:
    """Create the account with its language, or change the language of an existing one."""
    if language not in LANGUAGES:
        raise InvalidChoice()
    user = await get_user(session, telegram_id=telegram_id)
    if user is None:
        # What the columns store anyway (db/grain.py); the object in hand agrees.
        user = User(telegram_id=telegram_id, language=language, created_at=grain.month(now),
                    last_seen_at=grain.day(now))
        session.add(user)
    else:
        user.language = language
    await session.flush()
    return user


async def accept_privacy(session: AsyncSession, *, user: User, now: datetime) -> None:
    """Record that the user read and accepted the privacy notice."""
    user.privacy_accepted_at = grain.month(now)
    session.add(user)
    await session.flush()


async def choose_role(session: AsyncSession, *, user: User, role: str, now: datetime) -> None:
    """Set a self-declared role; a child's account becomes pending until a guardian consents."""
    if role not in SELF_ROLES or user.role is not None:
        raise InvalidChoice()
    user.role = role
    if role == Role.CHILD:
        user.consent_status = ConsentStatus.PENDING
    else:
        user.consent_status = ConsentStatus.NOT_REQUIRED
        user.consent_method = ConsentMethod.SELF
        user.consent_at = grain.month(now)
        user.age_band = "adult"
    session.add(user)
    await session.flush()


async def record_consent(session: AsyncSession, *, child: User, method: str, now: datetime) -> None:
    """Mark a child's account as consented by a guardian or a facilitator's paper letter."""
    child.consent_status = ConsentStatus.GIVEN
    child.consent_method = method
    child.consent_at = grain.month(now)
    session.add(child)
    await session.flush()


async def set_profile(
    session: AsyncSession,
    *,
    user: User,
    regions: dict[str, tuple[str, ...]],
    age_band: str | None = None,
    kecamatan: str | None = None,
    kelurahan: str | None = None,
    gender: str | None = None,
) -> None:
    """Set one or more profile answers after checking each against the allowed values."""
    if user.role not in SELF_ROLES or (user.role == Role.CHILD and user.consent_status != "given"):
        raise InvalidChoice()  # a pending child's row holds nothing but its state (SPEC §1)
    if age_band is not None:
        allowed = CHILD_AGE_BANDS if user.role == Role.CHILD else ("adult",)
        if age_band not in allowed:
            raise InvalidChoice()
        user.age_band = age_band
    if kecamatan is not None:
        if kecamatan not in regions:
            raise InvalidChoice()
        if kecamatan != user.kecamatan:
            user.kelurahan = None
        user.kecamatan = kecamatan
    if kelurahan is not None:
        if user.kecamatan is None or kelurahan not in regions.get(user.kecamatan, ()):
            raise InvalidChoice()
        user.kelurahan = kelurahan
    if gender is not None:
        if gender not in GENDERS:
            raise InvalidChoice()
        user.gender = gender
    session.add(user)
    await session.flush()


async def clear_location(session: AsyncSession, *, user: User) -> None:
    """Forget kecamatan and kelurahan so that they are asked again."""
    user.kecamatan = user.kelurahan = None
    session.add(user)
    await session.flush()


async def set_language(session: AsyncSession, *, user: User, language: str) -> None:
    """Switch the language of the bot for this user."""
    if language not in LANGUAGES:
        raise InvalidChoice()
    user.language = language
    session.add(user)
    await session.flush()


async def set_subscribed(session: AsyncSession, *, user: User, subscribed: bool) -> None:
    """Start or stop announcements for this user."""
    user.subscribed = subscribed
    session.add(user)
    await session.flush()


async def set_role(session: AsyncSession, *, user: User, role: str) -> None:
    """Grant a role (invites and admin commands); profile answers of adults are kept.

    A child's account (its role or its age band) never gets a role that reads or reaches other
    children's data; db/invites.py refuses such a code kindly before it gets here.
    """
    if role not in tuple(Role):
        raise InvalidChoice()
    if role not in SELF_ROLES and (user.role == Role.CHILD or user.age_band in CHILD_AGE_BANDS):
        raise InvalidChoice()
    user.role = role
    if user.consent_status is None or user.consent_status == ConsentStatus.PENDING:
        user.consent_status = ConsentStatus.NOT_REQUIRED
        user.consent_method = ConsentMethod.SELF
    session.add(user)
    await session.flush()


async def erase_user(session: AsyncSession, *, user: User) -> None:
    """Delete the account and everything linked to it, and unname the person everywhere else.

    Rows with a foreign key go by cascade. Rows that name the person by Telegram id are
    anonymised (issue 17, item 11): the consents they decided as a guardian keep the child's
    consent but no longer name them; invites, scopes and messages queued to their chat without an
    account link lose the id or go. The audit log keeps a guardian's consent decisions without
    who made them; what a facilitator, staff member or admin did under their role (audit entries,
    case assignments, events and broadcasts they authored) stays attributed, also after the role
    was taken back: those are records of official acts, kept for accountability (README).
    """
    telegram_id = user.telegram_id
    await session.execute(update(GuardianConsent).where(GuardianConsent.decided_by_telegram_id == telegram_id)
                          .values(decided_by_telegram_id=None))
    await session.execute(update(Invite).where(Invite.used_by_telegram_id == telegram_id).values(used_by_telegram_id=None))
    await session.execute(update(Invite).where(Invite.created_by_telegram_id == telegram_id)
                          .values(created_by_telegram_id=None))
    await session.execute(delete(FacilitatorScope).where(FacilitatorScope.facilitator_telegram_id == telegram_id))
    await session.execute(delete(Delivery).where(Delivery.chat_id == telegram_id, Delivery.user_id.is_(None)))  # type: ignore[union-attr]
    # What a person decided as a guardian stays, not who; what anyone did under an invited role
    # (a former staff member now holds a parent account) stays attributed.
    await session.execute(update(AuditEntry).where(AuditEntry.actor_telegram_id == telegram_id,
                                                   AuditEntry.action.startswith("consent."))  # type: ignore[union-attr]
                          .values(actor_telegram_id=None, detail="by an erased account"))
    await session.execute(update(AuditEntry).where(AuditEntry.subject == f"user:{user.id}").values(subject=None))
    # No in-session sync: evaluating the criteria against every loaded User made erasing a
    # batch of accounts quadratic; nothing uses the erased object afterwards.
    await session.execute(
        delete(User).where(User.id == user.id).execution_options(synchronize_session=False)
    )
    await session.flush()


async def ensure_admins(
    session: AsyncSession, *, telegram_ids: Iterable[int], language: str, now: datetime
) -> int:
    """Apply ADMIN_IDS at start (db/roles.sync_admins, audited); return how many accounts changed.

    Listed ids become admins; an admin that ADMIN_IDS made and no longer lists loses the role
    (one the operator added with `forum-anak admin add` keeps it until `admin revoke`).
    """
    from db.roles import sync_admins  # db.roles builds on this module

    return len(await sync_admins(session, telegram_ids=telegram_ids, language=language, now=now))


def touch_due(user: User, now: datetime) -> bool:
    """Tell whether `touch` would write: activity is recorded as a day, so once a day at most."""
    return grain.day(now) > user.last_seen_at


async def touch(session: AsyncSession, *, user: User, now: datetime) -> None:
    """Record the day of the user's activity (db/grain.py), written at most once a day.

    The caller never touches for an update of the report or /status flows (handlers.load_user):
    a report action writes nothing about the person.
    """
    if touch_due(user, now):
        user.last_seen_at = grain.day(now)
        session.add(user)
        await session.flush()


@dataclass(frozen=True)
class Linked:
    """How many rows beyond the account row are stored about a person (for /data_saya)."""

    signups: int
    quiz_attempts: int
    quiz_answers: int


async def linked_rows(session: AsyncSession, *, user: User) -> Linked:
    """Count the event sign-ups and quiz rows linked to an account (erased with it)."""
    async def count(statement: Select[tuple[int]]) -> int:
        return int(await session.scalar(statement) or 0)

    attempts = select(QuizAttempt.id).where(QuizAttempt.user_id == user.id)
    return Linked(
        signups=await count(select(func.count()).select_from(EventSignup).where(EventSignup.user_id == user.id)),
        quiz_attempts=await count(select(func.count()).select_from(QuizAttempt).where(QuizAttempt.user_id == user.id)),
        quiz_answers=await count(select(func.count()).select_from(QuizAnswer)
                                 .where(QuizAnswer.attempt_id.in_(attempts))),  # type: ignore[attr-defined]
    )
