"""Who a facilitator may reach: their assigned areas and events, and when staff must approve.

Facilitators are trusted adults, but not with the whole city's children: a facilitator's
broadcast goes straight out only to an audience inside their scope (an assigned kecamatan or
kelurahan, or an assigned event or one they created). A city-, role- or language-wide audience,
or a link or file to an audience that can include children, waits for a staff member's approval.
Staff and admins need no approval. The verdict is decided here, once, and re-checked when the
broadcast fires, so a scope removed in between stops the broadcast from reaching outside it.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import events as event_rules
from db.errors import InvalidChoice
from db.models import Event, FacilitatorScope, Role, User

if TYPE_CHECKING:  # db/broadcasts uses this module when a broadcast fires
    from db.broadcasts import Audience

AREA, EVENT = "area", "event"
MANAGERS = (Role.STAFF, Role.ADMIN)
# A link a child could tap: Telegram's own entities are turned into <a href> by text_html, and
# bare addresses are caught by pattern (Telegram clients link them anyway).
LINK = re.compile(r"<a\s+href=|https?://|\bt\.me/|\btelegram\.me/|\bwww\.", re.IGNORECASE)


class Verdict(enum.StrEnum):
    """What happens to a broadcast when its author confirms it."""

    SEND = "send"  # inside the author's scope, nothing risky: goes out as scheduled
    WAIT = "wait"  # needs a staff member's approval first
    REFUSE = "refuse"  # outside the author's scope: not saved at all


class Reason(enum.StrEnum):
    """Why a broadcast waits or is refused (the composer renders one text per reason)."""

    NONE = "none"
    NO_SCOPE = "no_scope"  # refuse: the facilitator has no area or event yet
    OUTSIDE = "outside"  # refuse: an area or event that is not theirs
    WIDE = "wide"  # wait: the whole city, or everyone of a role or a language
    LINK_TO_CHILDREN = "link_to_children"  # wait: a link or file to an audience with children


@dataclass(frozen=True)
class Scope:
    """A facilitator's areas (kecamatan or kelurahan names) and event ids."""

    areas: frozenset[str]
    events: frozenset[int]

    @property
    def empty(self) -> bool:
        """True when the facilitator may reach nobody on their own."""
        return not self.areas and not self.events


@dataclass(frozen=True)
class Review:
    """The verdict and its reason."""

    verdict: Verdict
    reason: Reason = Reason.NONE


async def assign(
    session: AsyncSession, *, facilitator: User, kind: str, value: str, by: User, today: date
) -> bool:
    """Give a facilitator an area or event; False if they had it already (staff or admin only)."""
    if kind not in (AREA, EVENT) or facilitator.role != Role.FACILITATOR or not value.strip():
        raise InvalidChoice()
    existing = await session.scalar(select(FacilitatorScope.id).where(
        FacilitatorScope.facilitator_telegram_id == facilitator.telegram_id,
        FacilitatorScope.kind == kind, FacilitatorScope.value == value,
    ))
    if existing is not None:
        return False
    session.add(FacilitatorScope(facilitator_telegram_id=facilitator.telegram_id, kind=kind, value=value,
                                 assigned_by=by.telegram_id, assigned_on=today))
    await session.flush()
    return True


async def remove(session: AsyncSession, *, facilitator_telegram_id: int, kind: str, value: str) -> bool:
    """Take an area or event away; False if the facilitator did not have it."""
    result = await session.execute(delete(FacilitatorScope).where(
        FacilitatorScope.facilitator_telegram_id == facilitator_telegram_id,  # type: ignore[arg-type]
        FacilitatorScope.kind == kind, FacilitatorScope.value == value,  # type: ignore[arg-type]
    ))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def listing(session: AsyncSession, *, facilitator_telegram_id: int) -> list[FacilitatorScope]:
    """The assigned rows, areas first, for the staff command."""
    query = select(FacilitatorScope).where(FacilitatorScope.facilitator_telegram_id == facilitator_telegram_id)
    return list((await session.execute(query.order_by(FacilitatorScope.kind, FacilitatorScope.value))).scalars())


async def scope_of(session: AsyncSession, *, telegram_id: int) -> Scope:
    """Areas and events assigned to a facilitator, plus the events they created."""
    rows = await listing(session, facilitator_telegram_id=telegram_id)
    areas = frozenset(row.value for row in rows if row.kind == AREA)
    events = {int(row.value) for row in rows if row.kind == EVENT and row.value.isascii() and row.value.isdigit()}
    events |= set((await session.execute(select(Event.id).where(Event.created_by == telegram_id))).scalars())
    return Scope(areas=areas, events=frozenset(e for e in events if e is not None))


def has_link_or_file(text: str, media_kind: str | None) -> bool:
    """True when a message carries a file or something a child could tap to leave the bot."""
    return media_kind is not None or bool(LINK.search(text or ""))


def reaches_children(audience: Audience) -> bool:
    """True unless the audience is limited to roles that are not children."""
    return not audience.roles or Role.CHILD in audience.roles


def review_for(role: str | None, scope: Scope, audience: Audience, *, risky: bool) -> Review:
    """Decide a broadcast's fate from its author's role and scope (pure, so fire time can re-use it)."""
    if role in MANAGERS:
        return Review(Verdict.SEND)
    if role != Role.FACILITATOR:
        return Review(Verdict.REFUSE, Reason.OUTSIDE)
    if scope.empty:
        return Review(Verdict.REFUSE, Reason.NO_SCOPE)
    if audience.event_id is not None:
        inside = audience.event_id in scope.events
    elif audience.kelurahan:
        inside = audience.kelurahan in scope.areas or (audience.kecamatan or "") in scope.areas
    elif audience.kecamatan:
        inside = audience.kecamatan in scope.areas
    else:
        return Review(Verdict.WAIT, Reason.WIDE)
    if not inside:
        return Review(Verdict.REFUSE, Reason.OUTSIDE)
    if risky and reaches_children(audience):
        return Review(Verdict.WAIT, Reason.LINK_TO_CHILDREN)
    return Review(Verdict.SEND)


async def review(
    session: AsyncSession, *, author: User, audience: Audience, text: str, media_kind: str | None
) -> Review:
    """The verdict for a broadcast this author is about to confirm."""
    scope = await scope_of(session, telegram_id=author.telegram_id)
    return review_for(author.role, scope, audience, risky=has_link_or_file(text, media_kind))


async def events_for(session: AsyncSession, *, user: User, now: datetime, limit: int = 10) -> list[Event]:
    """Events this author may broadcast to: every event for staff, a facilitator's own and assigned ones."""
    if user.role in MANAGERS:
        return await event_rules.managed_events(session, user=user, now=now, limit=limit)
    scope = await scope_of(session, telegram_id=user.telegram_id)
    if not scope.events:
        return []
    query = (select(Event).where(Event.id.in_(scope.events), Event.ends_at > now - timedelta(days=30))  # type: ignore[union-attr]
             .order_by(Event.starts_at, Event.id).limit(limit))
    return list((await session.execute(query)).scalars())
