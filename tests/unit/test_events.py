"""Events domain: validation, sign-up without overbooking (concurrently), waitlist, check-in, reminders."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from content.loaders import load_regions
from db import events
from db.engine import session_factory
from db.errors import DomainError, NotAllowed
from db.events import CheckInResult, EventDraft, EventInvalid, SignUpResult
from db.models import Event, EventSignup, SignupStatus, User
from tests.helpers.factories import NOW, make_user

REGIONS = load_regions().kecamatan
START = NOW + timedelta(days=3)


def draft(**changes: object) -> EventDraft:
    values: dict[str, object] = {
        "title": "Diskusi hak anak", "description": "Ngobrol santai tentang hak anak.",
        "starts_at": START, "ends_at": START + timedelta(hours=2), "venue": "Aula Kelurahan Damai",
        "kecamatan": "Balikpapan Kota", "kelurahan": "Damai", "capacity": 2,
    }
    values.update(changes)
    return EventDraft(**values)  # type: ignore[arg-type]


async def new_event(session: AsyncSession, **changes: object) -> Event:
    return await events.create_event(session, draft=draft(**changes), created_by=500, regions=REGIONS, now=NOW)


async def test_validation_names_every_bad_field() -> None:
    bad = draft(
        title=" ", starts_at=NOW - timedelta(hours=1), ends_at=NOW - timedelta(hours=2), kecamatan="Atlantis",
        capacity=0, age_bands=("toddler",), venue="x" * 201,
    )
    problems = {(p.field, p.code) for p in events.validate(bad, regions=REGIONS, now=NOW)}
    assert problems == {
        ("title", "required"), ("venue", "too_long"), ("start", "in_past"), ("end", "not_after_start"),
        ("kecamatan", "unknown"), ("capacity", "out_of_range"), ("age_bands", "unknown"),
    }
    late = draft(kelurahan="Manggar", signup_deadline=START + timedelta(minutes=1))
    assert {(p.field, p.code) for p in events.validate(late, regions=REGIONS, now=NOW)} == {
        ("kelurahan", "unknown"), ("deadline", "after_start"),
    }


def test_lengths_count_as_telegram_does_so_emoji_count_twice() -> None:
    fits = draft(title="🎉" * (events.TITLE_MAX // 2))
    assert events.validate(fits, regions=REGIONS, now=NOW) == []
    over = draft(title="🎉" * (events.TITLE_MAX // 2 + 1))
    assert {(p.field, p.code) for p in events.validate(over, regions=REGIONS, now=NOW)} == {("title", "too_long")}


async def test_create_stores_a_checkin_code_and_defaults_the_deadline_to_the_start(session: AsyncSession) -> None:
    event = await new_event(session, age_bands=("16_17", "13_15", "13_15"))
    assert len(event.checkin_code) == 6 and event.signup_deadline == START
    assert events.age_bands_of(event) == ("13_15", "16_17")
    with pytest.raises(EventInvalid) as caught:
        await new_event(session, capacity=-1)
    assert [p.field for p in caught.value.problems] == ["capacity"]


async def test_signup_fills_places_then_the_waitlist_and_cancel_promotes_the_first(session: AsyncSession) -> None:
    event = await new_event(session)
    a, b, c, d = [await make_user(session, 10 + i) for i in range(4)]
    results = [await events.sign_up(session, event_id=event.id, user=u, now=NOW) for u in (a, b, c, d)]
    assert results == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    assert await events.sign_up(session, event_id=event.id, user=c, now=NOW) == SignUpResult.ALREADY

    outcome = await events.cancel_signup(session, event_id=event.id, user=b, now=NOW)
    assert outcome.cancelled and [u.telegram_id for u in outcome.promoted] == [c.telegram_id]
    fresh = await events.get_event(session, event_id=event.id)
    assert fresh is not None and fresh.confirmed_count == 2
    figures = await events.attendance(session, event_id=event.id)
    assert (figures.confirmed, figures.waitlisted, figures.cancelled) == (2, 1, 1)

    # a waitlisted person leaving promotes nobody; coming back joins the end of the waitlist
    assert (await events.cancel_signup(session, event_id=event.id, user=d, now=NOW)).promoted == ()
    assert await events.sign_up(session, event_id=event.id, user=b, now=NOW) == SignUpResult.WAITLISTED
    assert await events.sign_up(session, event_id=event.id, user=d, now=NOW) == SignUpResult.WAITLISTED
    outcome = await events.cancel_signup(session, event_id=event.id, user=a, now=NOW)
    assert [u.telegram_id for u in outcome.promoted] == [b.telegram_id]
    assert not (await events.cancel_signup(session, event_id=event.id, user=a, now=NOW)).cancelled


async def test_rules_are_checked_on_the_server(session: AsyncSession) -> None:
    event = await new_event(session, age_bands=("16_17",), signup_deadline=START - timedelta(days=1))
    young = await make_user(session, 20, age_band="13_15")
    old = await make_user(session, 21, age_band="16_17")
    pending = await make_user(session, 22, consented=False)
    parent = await make_user(session, 23, role="parent")
    assert await events.sign_up(session, event_id=event.id, user=young, now=NOW) == SignUpResult.NOT_ALLOWED_AGE
    assert await events.sign_up(session, event_id=event.id, user=parent, now=NOW) == SignUpResult.NOT_ALLOWED_AGE
    assert await events.sign_up(session, event_id=event.id, user=pending, now=NOW) == SignUpResult.NEEDS_CONSENT
    late = START - timedelta(hours=12)
    assert await events.sign_up(session, event_id=event.id, user=old, now=late) == SignUpResult.DEADLINE_PASSED
    assert await events.sign_up(session, event_id=9999, user=old, now=NOW) == SignUpResult.CLOSED

    facilitator = await make_user(session, 500, role="facilitator")
    stranger = await make_user(session, 501, role="facilitator")
    with pytest.raises(NotAllowed):
        await events.cancel_event(session, event_id=event.id, by=stranger, now=NOW)
    assert await events.sign_up(session, event_id=event.id, user=old, now=NOW) == SignUpResult.CONFIRMED
    told = await events.cancel_event(session, event_id=event.id, by=facilitator, now=NOW)
    assert [u.telegram_id for u in told] == [21]
    assert await events.sign_up(session, event_id=event.id, user=old, now=NOW) == SignUpResult.CLOSED
    with pytest.raises(DomainError):
        await events.cancel_signup(session, event_id=event.id, user=old, now=NOW)


async def test_fifty_concurrent_signups_never_overbook(engine: AsyncEngine) -> None:
    scope = session_factory(engine)
    async with scope() as session:
        event = await new_event(session, capacity=2)
        people = [await make_user(session, 1000 + i) for i in range(50)]
    event_id = event.id

    async def press(user: User) -> SignUpResult:
        async with scope() as session:  # one session and one transaction per press, like the bot
            return await events.sign_up(session, event_id=event_id, user=user, now=NOW)

    results = await asyncio.gather(*(press(user) for user in people))
    assert results.count(SignUpResult.CONFIRMED) == 2
    assert results.count(SignUpResult.WAITLISTED) == 48
    async with scope() as session:
        rows = list((await session.execute(select(EventSignup).where(EventSignup.event_id == event_id))).scalars())
        stored = await events.get_event(session, event_id=event_id)
    assert stored is not None and stored.confirmed_count == 2
    assert sorted(r.status for r in rows).count(SignupStatus.CONFIRMED) == 2 and len(rows) == 50
    assert len({r.position for r in rows}) == 50  # a strict waitlist order

    # two confirmed people cancel at the same moment: the first two on the waitlist move up
    confirmed_ids = {r.user_id for r in rows if r.status == SignupStatus.CONFIRMED}
    waitlist = sorted((r for r in rows if r.status == SignupStatus.WAITLISTED), key=lambda r: r.position)
    leaving = [u for u in people if u.id in confirmed_ids]

    async def leave(user: User) -> events.Cancellation:
        async with scope() as session:
            return await events.cancel_signup(session, event_id=event_id, user=user, now=NOW)

    outcomes = await asyncio.gather(*(leave(u) for u in leaving))
    promoted = sorted(u.id for o in outcomes for u in o.promoted)
    assert promoted == sorted(r.user_id for r in waitlist[:2])
    async with scope() as session:
        stored = await events.get_event(session, event_id=event_id)
    assert stored is not None and stored.confirmed_count == 2


async def test_capacity_increase_promotes_and_a_new_time_tells_everyone(session: AsyncSession) -> None:
    facilitator = await make_user(session, 500, role="facilitator")
    event = await new_event(session, capacity=1)
    a, b, c = [await make_user(session, 30 + i) for i in range(3)]
    for user in (a, b, c):
        await events.sign_up(session, event_id=event.id, user=user, now=NOW)
    change = await events.update_event(
        session, event_id=event.id, by=facilitator, draft=draft(capacity=2), regions=REGIONS, now=NOW
    )
    assert [u.telegram_id for u in change.promoted] == [31] and change.notify == ()
    with pytest.raises(EventInvalid):
        await events.update_event(session, event_id=event.id, by=facilitator, draft=draft(capacity=1),
                                  regions=REGIONS, now=NOW)
    later = START + timedelta(hours=1)
    change = await events.update_event(
        session, event_id=event.id, by=facilitator, regions=REGIONS, now=NOW,
        draft=draft(capacity=2, starts_at=later, ends_at=later + timedelta(hours=1)),
    )
    assert sorted(u.telegram_id for u in change.notify) == [30, 31, 32] and change.event.starts_at == later


async def test_check_in_once_within_the_window(session: AsyncSession) -> None:
    event = await new_event(session)
    child = await make_user(session, 40)
    other = await make_user(session, 41)
    await events.sign_up(session, event_id=event.id, user=child, now=NOW)
    code = event.checkin_code.lower()
    early = START - timedelta(hours=1, minutes=1)
    assert (await events.check_in(session, code=code, user=child, now=early)).result == CheckInResult.TOO_EARLY
    opening = START - timedelta(hours=1)
    assert (await events.check_in(session, code="WRONG1", user=child, now=opening)).result == CheckInResult.WRONG_CODE
    assert (await events.check_in(session, code=code, user=other, now=opening)).result == CheckInResult.NOT_SIGNED_UP
    assert (await events.check_in(session, code=code, user=child, now=opening)).result == CheckInResult.RECORDED
    assert (await events.check_in(session, code=code, user=child, now=START)).result == CheckInResult.ALREADY
    after = event.ends_at + timedelta(seconds=1)
    assert (await events.check_in(session, code=code, user=other, now=after)).result == CheckInResult.ENDED
    assert (await events.attendance(session, event_id=event.id)).attended == 1


async def test_reminders_are_claimed_once_per_kind_and_start_time(session: AsyncSession) -> None:
    facilitator = await make_user(session, 500, role="facilitator")
    event = await new_event(session, capacity=1)
    early, waiting = await make_user(session, 50), await make_user(session, 51)
    await events.sign_up(session, event_id=event.id, user=early, now=NOW)
    await events.sign_up(session, event_id=event.id, user=waiting, now=NOW)

    assert await events.claim_due_reminders(session, now=START - timedelta(hours=25)) == []
    day_before = START - timedelta(hours=24)
    due = await events.claim_due_reminders(session, now=day_before)
    assert [(r.kind, r.user.telegram_id) for r in due] == [("24h", 50)]  # confirmed only
    assert await events.claim_due_reminders(session, now=day_before + timedelta(minutes=1)) == []
    due = await events.claim_due_reminders(session, now=START - timedelta(hours=1))
    assert [(r.kind, r.user.telegram_id) for r in due] == [("2h", 50)]
    assert await events.claim_due_reminders(session, now=START - timedelta(minutes=1)) == []

    # moved by a day: both reminders are due again for the new time
    later = START + timedelta(days=1)
    await events.update_event(session, event_id=event.id, by=facilitator, regions=REGIONS, now=NOW,
                              draft=draft(capacity=1, starts_at=later, ends_at=later + timedelta(hours=1)))
    due = await events.claim_due_reminders(session, now=later - timedelta(hours=23))
    assert [(r.kind, r.user.telegram_id) for r in due] == [("24h", 50)]


async def test_lists_put_the_users_kecamatan_first(session: AsyncSession) -> None:
    kota = await new_event(session, title="Kota")
    timur = await new_event(session, title="Timur", kecamatan="Balikpapan Timur", kelurahan=None,
                            starts_at=START + timedelta(days=1), ends_at=START + timedelta(days=1, hours=1))
    listed = await events.upcoming(session, now=NOW, kecamatan="Balikpapan Timur")
    assert [e.id for e in listed] == [timur.id, kota.id]
    assert [e.id for e in await events.upcoming(session, now=NOW)] == [kota.id, timur.id]
    child = await make_user(session, 60)
    await events.sign_up(session, event_id=timur.id, user=child, now=NOW)
    assert [e.id for e, _ in await events.my_events(session, user=child, now=NOW)] == [timur.id]
    admin = await make_user(session, 61, role="admin")
    owner = await make_user(session, 500, role="facilitator")
    assert len(await events.managed_events(session, user=admin, now=NOW)) == 2
    assert len(await events.managed_events(session, user=owner, now=NOW)) == 2
    assert events.can_manage(owner, kota) and not events.can_manage(child, kota)


async def test_release_all_frees_places_before_an_account_is_erased(session: AsyncSession) -> None:
    first = await new_event(session, capacity=1)
    second = await new_event(session, capacity=1, title="Kedua")
    leaving, waiting = await make_user(session, 70), await make_user(session, 71)
    for event in (first, second):
        await events.sign_up(session, event_id=event.id, user=leaving, now=NOW)
    await events.sign_up(session, event_id=second.id, user=waiting, now=NOW)
    moved = await events.release_all(session, user=leaving, now=NOW)
    assert [(e.id, [u.telegram_id for u in people]) for e, people in moved] == [(second.id, [71])]
    assert await events.my_events(session, user=leaving, now=NOW) == []
    assert (await events.get_event(session, event_id=first.id)).confirmed_count == 0  # type: ignore[union-attr]
