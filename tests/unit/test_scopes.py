"""A facilitator's reach: scope checks, approval states, and approval races (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db import broadcasts, scopes
from db.broadcasts import Audience, Status
from db.engine import session_factory
from db.errors import NotAllowed
from db.models import Broadcast, Delivery, Event, User
from db.scopes import Reason, Verdict
from tests.helpers.factories import NOW, make_user

WITA = ZoneInfo("Asia/Makassar")
KOTA, TIMUR = "Balikpapan Kota", "Balikpapan Timur"
FACILITATOR, STAFF, OTHER_STAFF = 20, 30, 31


async def people(session: AsyncSession) -> tuple[User, User]:
    """Children in two kecamatan, a parent, a facilitator assigned to Balikpapan Kota, two staff."""
    await make_user(session, 1, kecamatan=KOTA, kelurahan="Damai", age_band="10_12")
    await make_user(session, 2, kecamatan=TIMUR, kelurahan="Manggar", age_band="13_15")
    await make_user(session, 3, role="parent", kecamatan=KOTA, kelurahan="Damai")
    facilitator = await make_user(session, FACILITATOR, role="facilitator")
    staff = await make_user(session, STAFF, role="staff")
    await make_user(session, OTHER_STAFF, role="staff")
    assert await scopes.assign(session, facilitator=facilitator, kind=scopes.AREA, value=KOTA, by=staff, today=NOW.date())
    return facilitator, staff


async def verdict(session: AsyncSession, author: User, audience: Audience, text: str = "Halo",
                  media_kind: str | None = None) -> tuple[Verdict, Reason]:
    result = await scopes.review(session, author=author, audience=audience, text=text, media_kind=media_kind)
    return result.verdict, result.reason


async def test_a_facilitator_reaches_only_their_area_without_approval(session: AsyncSession) -> None:
    facilitator, staff = await people(session)
    assert await verdict(session, facilitator, Audience(kecamatan=KOTA)) == (Verdict.SEND, Reason.NONE)
    assert await verdict(session, facilitator, Audience(kecamatan=KOTA, kelurahan="Damai")) == (Verdict.SEND, Reason.NONE)
    assert await verdict(session, facilitator, Audience(kecamatan=TIMUR)) == (Verdict.REFUSE, Reason.OUTSIDE)
    assert await verdict(session, facilitator, Audience()) == (Verdict.WAIT, Reason.WIDE)
    assert await verdict(session, facilitator, Audience(roles=("child",))) == (Verdict.WAIT, Reason.WIDE)
    assert await verdict(session, facilitator, Audience(language="en")) == (Verdict.WAIT, Reason.WIDE)
    assert await verdict(session, staff, Audience(), "https://example.org", "photo") == (Verdict.SEND, Reason.NONE)


@pytest.mark.parametrize(
    ("text", "media_kind"),
    [('<a href="https://x.example">klik</a>', None), ("lihat t.me/grupku", None), ("www.contoh.id", None),
     ("Foto kegiatan", "photo"), ("", "document")],
)
async def test_links_and_files_to_children_wait(session: AsyncSession, text: str, media_kind: str | None) -> None:
    facilitator, _ = await people(session)
    assert await verdict(session, facilitator, Audience(kecamatan=KOTA), text, media_kind) == (
        Verdict.WAIT, Reason.LINK_TO_CHILDREN)
    # Parents only: no child among the recipients, so a link is the facilitator's to send.
    assert await verdict(session, facilitator, Audience(roles=("parent",), kecamatan=KOTA), text, media_kind) == (
        Verdict.SEND, Reason.NONE)


async def test_no_scope_is_refused_and_own_events_count(session: AsyncSession) -> None:
    lonely = await make_user(session, 40, role="facilitator")
    assert await verdict(session, lonely, Audience(kecamatan=KOTA)) == (Verdict.REFUSE, Reason.NO_SCOPE)
    event = Event(title="Lomba", description="", venue="Aula", kecamatan=KOTA, starts_at=NOW + timedelta(days=2),
                  ends_at=NOW + timedelta(days=2, hours=2), capacity=10, age_bands="10_12", signup_deadline=NOW,
                  created_by=40, checkin_code="LOMBA1", created_at=NOW, updated_at=NOW)
    session.add(event)
    await session.flush()
    assert await verdict(session, lonely, Audience(event_id=event.id)) == (Verdict.SEND, Reason.NONE)
    assert await verdict(session, lonely, Audience(event_id=(event.id or 0) + 1)) == (Verdict.REFUSE, Reason.OUTSIDE)


async def test_a_waiting_broadcast_is_sent_only_after_approval(session: AsyncSession) -> None:
    facilitator, staff = await people(session)
    item = await broadcasts.create(session, author_telegram_id=FACILITATOR, text="Halo semua", audience=Audience(),
                                   schedule="now", now=NOW, tz=WITA, waiting=True)
    assert item.status == Status.WAITING
    assert await broadcasts.fire_due(session, now=NOW, tz=WITA, quiet=None) == []
    with pytest.raises(NotAllowed):
        await broadcasts.decide(session, broadcast_id=item.id or 0, by=facilitator, approve=True)
    approved = await broadcasts.decide(session, broadcast_id=item.id or 0, by=staff, approve=True)
    assert approved is not None and approved.approved_by == STAFF
    assert len(await broadcasts.fire_due(session, now=NOW, tz=WITA, quiet=None)) == 1
    assert await session.scalar(select(func.count()).select_from(Delivery)) == 6  # all subscribed, city-wide
    assert await broadcasts.decide(session, broadcast_id=item.id or 0, by=staff, approve=False) is None


async def test_a_rejected_broadcast_never_fires(session: AsyncSession) -> None:
    _, staff = await people(session)
    item = await broadcasts.create(session, author_telegram_id=FACILITATOR, text="t.me/x", audience=Audience(kecamatan=KOTA),
                                   schedule="now", now=NOW, tz=WITA, waiting=True)
    rejected = await broadcasts.decide(session, broadcast_id=item.id or 0, by=staff, approve=False)
    assert rejected is not None and rejected.status == Status.REJECTED
    assert await broadcasts.decide(session, broadcast_id=item.id or 0, by=staff, approve=True) is None
    assert await broadcasts.fire_due(session, now=NOW + timedelta(days=1), tz=WITA, quiet=None) == []
    assert await session.scalar(select(func.count()).select_from(Delivery)) == 0


async def test_a_removed_scope_stops_a_later_occurrence(session: AsyncSession) -> None:
    await people(session)
    item = await broadcasts.create(session, author_telegram_id=FACILITATOR, text="Jumat ceria",
                                   audience=Audience(kecamatan=KOTA), schedule="weekly", weekly_day="fri",
                                   weekly_time="16:00", now=NOW, tz=WITA)
    assert await scopes.remove(session, facilitator_telegram_id=FACILITATOR, kind=scopes.AREA, value=KOTA)
    assert await broadcasts.fire_due(session, now=NOW + timedelta(days=8), tz=WITA, quiet=None) == []
    await session.refresh(item)
    assert item.status == Status.CANCELLED
    assert await session.scalar(select(func.count()).select_from(Delivery)) == 0


async def test_two_staff_approving_at_once_enqueue_it_once(engine: AsyncEngine) -> None:
    scope = session_factory(engine)
    async with scope() as session:
        await people(session)
        item = await broadcasts.create(session, author_telegram_id=FACILITATOR, text="Halo kota", audience=Audience(),
                                       schedule="now", now=NOW, tz=WITA, waiting=True)
        broadcast_id = item.id or 0

    async def press(staff_id: int) -> bool:
        async with scope() as session:
            by = await session.scalar(select(User).where(User.telegram_id == staff_id))
            assert by is not None
            won = await broadcasts.decide(session, broadcast_id=broadcast_id, by=by, approve=True)
            if won is not None:
                await broadcasts.fire_due(session, now=NOW, tz=WITA, quiet=None)
            return won is not None

    results = await asyncio.gather(press(STAFF), press(OTHER_STAFF), return_exceptions=True)
    assert sum(1 for r in results if r is True) == 1
    async with scope() as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 6
        stored = await session.get(Broadcast, broadcast_id)
        assert stored is not None and stored.status == Status.DONE
