"""The outbox: atomic claims, leases, outcomes, de-duplication; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db import outbox
from db.engine import session_factory
from db.models import Delivery
from db.outbox import Outcome, Result
from tests.helpers.factories import NOW, make_user


def rows(n: int, **kwargs: object) -> list[dict[str, object]]:
    return [outbox.new_row(kind="test", text=f"pesan {i}", now=NOW, chat_id=1000 + i, **kwargs) for i in range(n)]  # type: ignore[arg-type]


async def test_claims_never_overlap_even_concurrently(engine: AsyncEngine) -> None:
    scope = session_factory(engine)
    async with scope() as session:
        await outbox.enqueue(session, rows(60))

    async def worker() -> list[int]:
        taken: list[int] = []
        while True:
            async with scope() as session:
                batch = await outbox.claim_batch(session, now=NOW, limit=7)
            if not batch:
                return taken
            taken += [item.id for item in batch]

    results = await asyncio.gather(*(worker() for _ in range(4)))
    everything = [i for r in results for i in r]
    assert len(everything) == 60 and len(set(everything)) == 60


async def test_expired_lease_is_claimed_again(session: AsyncSession) -> None:
    await outbox.enqueue(session, rows(1))
    [first] = await outbox.claim_batch(session, now=NOW, limit=10, lease=timedelta(seconds=60))
    assert await outbox.claim_batch(session, now=NOW + timedelta(seconds=30), limit=10) == []
    [again] = await outbox.claim_batch(session, now=NOW + timedelta(seconds=61), limit=10)
    assert again.id == first.id and again.attempts == 2


async def test_an_outcome_after_the_lease_ran_out_leaves_the_new_claim_alone(session: AsyncSession) -> None:
    lease = timedelta(seconds=30)
    await outbox.enqueue(session, rows(1))
    [late] = await outbox.claim_batch(session, now=NOW, limit=10, lease=lease)
    [taken] = await outbox.claim_batch(session, now=NOW + lease + timedelta(seconds=1), limit=10, lease=lease)
    # the first sender comes back after its lease: neither "retry" nor "sent" may touch the row now
    for result in (Result.RETRY, Result.SENT):
        await outbox.record_outcomes(session, outcomes=[Outcome(late.id, result, "late", NOW)], now=NOW,
                                     lease_until=NOW + lease)
    row = await session.get(Delivery, taken.id, populate_existing=True)
    assert row is not None and (row.status, row.lease_until) == ("sending", NOW + 2 * lease + timedelta(seconds=1))
    await outbox.record_outcomes(session, outcomes=[Outcome(taken.id, Result.SENT)], now=NOW,
                                 lease_until=NOW + 2 * lease + timedelta(seconds=1))
    assert await outbox.counts(session, kind="test") == {"sent": 1}


async def test_not_before_holds_a_row(session: AsyncSession) -> None:
    await outbox.enqueue(session, rows(1, not_before=NOW + timedelta(hours=9)))
    assert await outbox.claim_batch(session, now=NOW, limit=10) == []
    assert len(await outbox.claim_batch(session, now=NOW + timedelta(hours=9), limit=10)) == 1


async def test_dedupe_key_enqueues_once(session: AsyncSession) -> None:
    await outbox.enqueue(session, rows(1, dedupe_key="reminder:24h:7"))
    await outbox.enqueue(session, rows(1, dedupe_key="reminder:24h:7"))
    total = (await session.execute(select(Delivery))).scalars().all()
    assert len(total) == 1


async def test_outcomes_blocked_unsubscribes_and_retry_gives_up(session: AsyncSession) -> None:
    user = await make_user(session, 55)
    await outbox.enqueue(
        session,
        [outbox.new_row(kind="test", text="a", now=NOW, chat_id=55, user_id=user.id),
         outbox.new_row(kind="test", text="b", now=NOW, chat_id=56),
         outbox.new_row(kind="test", text="c", now=NOW, chat_id=57)],
    )
    a, b, c = await outbox.claim_batch(session, now=NOW, limit=10)
    await outbox.record_outcomes(
        session,
        outcomes=[Outcome(a.id, Result.BLOCKED), Outcome(b.id, Result.SENT),
                  Outcome(c.id, Result.RETRY, "timeout", NOW + timedelta(seconds=2))],
        now=NOW,
    )
    await session.refresh(user)
    assert user.subscribed is False
    counts = await outbox.counts(session, kind="test")
    assert counts == {"blocked": 1, "sent": 1, "pending": 1}
    moment = NOW
    for _ in range(outbox.MAX_ATTEMPTS):
        moment += timedelta(minutes=10)
        claimed = await outbox.claim_batch(session, now=moment, limit=10)
        if not claimed:
            break
        await outbox.record_outcomes(session, outcomes=[Outcome(claimed[0].id, Result.RETRY, "timeout", moment)], now=moment)
    assert (await outbox.counts(session, kind="test"))["failed"] == 1


async def test_sent_row_forgets_its_sealed_route(session: AsyncSession) -> None:
    await outbox.enqueue(session, [outbox.new_row(kind="reply", text="x", now=NOW, sealed_route="sealed-blob")])
    [item] = await outbox.claim_batch(session, now=NOW, limit=1)
    assert item.sealed_route == "sealed-blob"
    await outbox.record_outcomes(session, outcomes=[Outcome(item.id, Result.SENT)], now=NOW)
    row = (await session.execute(select(Delivery))).scalar_one()
    assert row.sealed_route is None and row.status == "sent"
