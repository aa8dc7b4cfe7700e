"""Scale-out: two complete bots on ONE database and one Bot API, as behind a reverse proxy (SPEC scale path).

Each node is a full Application built by `build_application`, with its own database engine, its
own scheduler (JobQueue) and its own delivery engine running. A small balancer in front takes
the updates from the emulator and hands each to a node, keyed by the sender as a proxy with
sticky sessions would (conversations keep their step in the node's memory). Jobs are run
through each node's real JobQueue entries, both nodes at the same moment: the worst case of two
schedulers ticking together. Parametrised over SQLite and PostgreSQL (required with CI=true).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from telegram import Update

from bot.app import BotApplication, build_application, stop_polling
from bot.config import load_settings
from bot.delivery import SendFn
from bot.sandbox.emulator import BotApiEmulator, ChatMessage
from bot.services import Services, build_services
from db import broadcasts, outbox
from db.engine import make_engine, session_factory, upgrade_database
from db.models import Broadcast, BroadcastRun, Event, EventSignup, SignupStatus, User
from db.types import utcnow
from tests.e2e.conftest import ADMIN_ID, STAFF_CHAT_ID, TOKEN
from tests.e2e.test_broadcasts import (
    FRIDAY_16_WITA,
    KOTA_CHILD,
    TIMUR_CHILDREN,
    compose_weekly_for_timur_children,
    people,
)
from tests.e2e.test_events import START, make_event
from tests.helpers.bot_process import BotProcess
from tests.helpers.clock import FakeClock
from tests.helpers.factories import add_registered_people, make_user

pytestmark = pytest.mark.e2e

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "poll_answer"]


@dataclass
class Node:
    """One bot process: Application, services and what its delivery engine sent."""

    app: BotApplication
    services: Services
    sent: int = 0
    handled: list[int] = field(default_factory=list)  # update ids this node processed

    async def run_job(self, name: str) -> None:
        """Run one of this node's scheduled jobs now, as its scheduler would."""
        assert self.app.job_queue is not None
        [job] = self.app.job_queue.get_jobs_by_name(name)
        await job.run(self.app)


class Cluster:
    """Two nodes behind a balancer; drives them like people do (the BotHarness interface)."""

    def __init__(self, emu: BotApiEmulator, nodes: list[Node], clock: FakeClock) -> None:
        self.emu = emu
        self.nodes = nodes
        self.clock = clock
        self.services = nodes[0].services
        self._balancer: asyncio.Task[None] | None = None
        self._closing = False

    def node_of(self, user_id: int) -> Node:
        """The node a user's updates go to (sticky by sender)."""
        return self.nodes[user_id % len(self.nodes)]

    async def _balance(self) -> None:
        bot, offset = self.nodes[0].app.bot, 0
        while not self._closing:
            for update in await bot.get_updates(offset=offset, timeout=1, allowed_updates=ALLOWED_UPDATES):
                offset = update.update_id + 1
                sender = update.effective_user
                node = self.node_of(sender.id if sender else 0)
                node.handled.append(update.update_id)
                await node.app.update_queue.put(Update.de_json(update.to_dict(), node.app.bot))

    def start_balancer(self) -> None:
        """Start passing updates to the nodes."""
        self._balancer = asyncio.create_task(self._balance(), name="balancer")

    async def stop_balancer(self) -> None:
        """Stop passing updates (before the nodes stop)."""
        self._closing = True
        self.emu.release_pollers()
        if self._balancer is not None:
            await self._balancer

    async def send(self, user_id: int, text: str, **kwargs: Any) -> ChatMessage:
        """Send a text as a user and return the bot's next message in that chat."""
        if user_id not in self.emu.users:
            self.emu.add_user(user_id)
        mark = self.emu.mark()
        self.emu.send_text(user_id, text, **kwargs)
        return await self.emu.next_bot_message(user_id, after=mark)

    async def press(self, user_id: int, label: str | int) -> ChatMessage:
        """Press a button of the latest keyboard in the chat; return the new or edited message."""
        mark = self.emu.mark()
        self.emu.press_button(user_id, label)
        return await self.emu.next_bot_message(user_id, after=mark)

    async def user(self, telegram_id: int, **kwargs: Any) -> User:
        """Create a ready account (skipping the onboarding screens)."""
        self.emu.add_user(telegram_id, language_code=kwargs.get("language", "id"))
        async with self.services.db() as session:
            return await make_user(session, telegram_id, now=self.clock.now(), **kwargs)

    async def settle(self, kind: str, timeout: float = 10.0) -> None:
        """Wait until every delivery of a kind is recorded (before moving the fake clock on).

        Jumping the clock while a batch is in flight would expire its lease: the other node
        would rightly take it over, as if the first had stalled for the whole jump.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            async with self.services.db() as session:
                if await outbox.unfinished(session, kind=kind) == 0:
                    return
            assert loop.time() < deadline, f"{kind} deliveries still unfinished after {timeout}s"
            await asyncio.sleep(0.05)

    async def tick(self, job: str, times: int = 2) -> None:
        """Both schedulers run a job at the same moment, a few times over."""
        for _ in range(times):
            await asyncio.gather(*(node.run_job(job) for node in self.nodes))


def counting(node: Node, send: SendFn) -> SendFn:
    """Wrap a node's delivery sender to count what this node sent."""

    async def send_and_count(item: outbox.Outgoing, chat_id: int) -> None:
        await send(item, chat_id)
        node.sent += 1

    return send_and_count


async def start_node(emulator: BotApiEmulator, url: str, clock: FakeClock) -> Node:
    """A full bot without its own poller: the balancer feeds it, like a webhook would."""
    settings = load_settings(
        env_file=None, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=emulator.base_url, DATABASE_URL=url,
        SECRET_KEY="scale-out-secret-key-that-is-long-enough-0123", ADMIN_IDS=(ADMIN_ID,),
        STAFF_CHAT_ID=STAFF_CHAT_ID, PAID_BROADCAST=True, BROADCAST_RATE=200,
    )
    services = build_services(settings, clock=clock.now)
    app = build_application(settings, services=services, run_jobs=True)
    node = Node(app, services)
    assert services.delivery is not None
    services.delivery.send = counting(node, services.delivery.send)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)  # starts the delivery engine
    await app.start()  # starts the scheduler and update processing
    return node


@pytest.fixture
async def cluster(emulator: BotApiEmulator, database_url: str, clock: FakeClock) -> AsyncIterator[Cluster]:
    """Two running nodes on one database (SQLite file or PostgreSQL) and one emulator."""
    upgrade_database(database_url)
    nodes = [await start_node(emulator, database_url, clock) for _ in range(2)]
    group = Cluster(emulator, nodes, clock)
    group.start_balancer()
    try:
        yield group
    finally:
        await group.stop_balancer()
        for node in nodes:
            await stop_polling(node.app)
    unexpected = emulator.unexpected_refusals()
    assert not unexpected, f"the bot made requests Telegram would refuse: {unexpected}"


def received(cluster: Cluster, uid: int, text: str) -> int:
    return sum(1 for m in cluster.emu.bot_messages(uid) if text in m.text)


async def test_weekly_and_one_time_broadcasts_fire_once_per_occurrence_with_two_schedulers(cluster: Cluster) -> None:
    await people(cluster)  # type: ignore[arg-type]
    await compose_weekly_for_timur_children(cluster)  # type: ignore[arg-type]
    text = "Kumpul Forum Anak"
    for week in range(2):
        cluster.clock.set(FRIDAY_16_WITA + timedelta(days=7 * week, seconds=5))
        await cluster.tick("broadcasts.fire_due", times=3)
        await cluster.emu.wait_for(
            lambda week=week: all(received(cluster, uid, text) == week + 1 for uid in TIMUR_CHILDREN),
            timeout=10, what=f"week {week + 1}'s announcement",
        )
        await cluster.settle(broadcasts.KIND)
    # and one at a set time
    at = FRIDAY_16_WITA + timedelta(days=8)
    async with cluster.services.db() as session:
        await broadcasts.create(session, author_telegram_id=ADMIN_ID, text="Sekali saja", audience=broadcasts.Audience(),
                                schedule="once", run_at=at, now=cluster.clock.now(), tz=cluster.services.settings.tz)
    cluster.clock.set(at + timedelta(seconds=5))
    await cluster.tick("broadcasts.fire_due", times=3)
    await cluster.emu.wait_for(lambda: received(cluster, KOTA_CHILD, "Sekali saja") == 1, what="the one-time message")
    await cluster.emu.wait_quiet(0.3)
    assert [received(cluster, uid, text) for uid in TIMUR_CHILDREN] == [2, 2]
    assert [received(cluster, uid, "Sekali saja") for uid in (*TIMUR_CHILDREN, KOTA_CHILD)] == [1, 1, 1]
    async with cluster.services.db() as session:
        runs = (await session.execute(select(BroadcastRun.occurrence_at).order_by(BroadcastRun.id))).scalars().all()
    assert runs == [FRIDAY_16_WITA, FRIDAY_16_WITA + timedelta(days=7), at]


async def test_two_delivery_engines_share_a_broadcast_and_message_nobody_twice(cluster: Cluster) -> None:
    recipients = list(range(40_000, 40_400))
    for uid in recipients:
        cluster.emu.add_user(uid)
    async with cluster.services.db() as session:
        await add_registered_people(session, recipients, now=cluster.clock.now())
        await broadcasts.create(session, author_telegram_id=ADMIN_ID, text="<b>Pengumuman</b> untuk semua",
                                audience=broadcasts.Audience(), schedule="now", now=cluster.clock.now(),
                                tz=cluster.services.settings.tz)
    await cluster.tick("broadcasts.fire_due")
    await cluster.emu.wait_for(lambda: all(cluster.emu.bot_messages(uid) for uid in recipients), timeout=30,
                               what="every recipient's message")
    await cluster.emu.wait_quiet(0.3)
    per_chat = [len(cluster.emu.bot_messages(uid)) for uid in recipients]
    assert max(per_chat) == 1, f"{sum(n - 1 for n in per_chat)} messages went out twice"
    assert all(node.sent > 0 for node in cluster.nodes), [node.sent for node in cluster.nodes]
    async with cluster.services.db() as session:
        assert await outbox.counts(session, kind=broadcasts.KIND) == {"sent": len(recipients)}


async def test_event_capacity_holds_when_sign_ups_arrive_through_both_nodes(cluster: Cluster) -> None:
    event = await make_event(cluster, capacity=10)  # type: ignore[arg-type]
    children = list(range(6000, 6030))
    for uid in children:
        await cluster.user(uid)
        cluster.emu.send_text(uid, f"/start ev_{event.id}")
    await cluster.emu.wait_for(lambda: all(cluster.emu.latest_keyboard_message(uid) for uid in children),
                               timeout=30, what="every event card")
    mark = cluster.emu.mark()
    for uid in children:  # everyone presses at once, half of them through each node
        cluster.emu.press_button(uid, "✅ Daftar")

    def told(uid: int) -> str | None:
        for item in cluster.emu.bot_events_since(mark, uid):
            if "Kamu terdaftar!" in item.message.plain_text:
                return "joined"
            if "daftar tunggu" in item.message.plain_text:
                return "waiting"
        return None

    await cluster.emu.wait_for(lambda: all(told(uid) for uid in children), timeout=30, what="every answer")
    async with cluster.services.db() as session:
        rows = (await session.execute(
            select(User.telegram_id, EventSignup.status).join(User, User.id == EventSignup.user_id)  # type: ignore[arg-type]
            .where(EventSignup.event_id == event.id)
        )).all()
        counter = await session.scalar(select(Event.confirmed_count).where(Event.id == event.id))
    status = dict(rows)
    confirmed = sorted(uid for uid, s in status.items() if s == SignupStatus.CONFIRMED)
    assert len(confirmed) == 10 and counter == 10
    assert sorted(uid for uid in children if told(uid) == "joined") == confirmed
    assert sum(1 for s in status.values() if s == SignupStatus.WAITLISTED) == 20
    assert all(len(node.handled) >= 30 for node in cluster.nodes)  # 15 links and 15 presses each, at least


async def test_event_reminders_go_out_once_with_two_schedulers(cluster: Cluster) -> None:
    event = await make_event(cluster, capacity=20)  # type: ignore[arg-type]
    children = list(range(7000, 7012))
    for uid in children:
        await cluster.user(uid)
        await cluster.send(uid, f"/start ev_{event.id}")
        await cluster.press(uid, "✅ Daftar")
    for hours_before, text in ((24, "Besok ada acara"), (2, "Dua jam lagi")):
        cluster.clock.set(START - timedelta(hours=hours_before))
        await cluster.tick("events.reminders", times=3)
        await cluster.emu.wait_for(lambda text=text: all(received(cluster, uid, text) for uid in children),
                                   timeout=10, what=f"the reminder {text!r}")
        await cluster.settle("event_reminder")
    await cluster.emu.wait_quiet(0.3)
    for uid in children:
        assert (received(cluster, uid, "Besok ada acara"), received(cluster, uid, "Dua jam lagi")) == (1, 1), uid


@pytest.mark.slow
@pytest.mark.pg
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_real_processes_fire_a_due_weekly_broadcast_once_and_message_nobody_twice(
    emulator: BotApiEmulator, database_url: str, tmp_path: Path
) -> None:
    # Two `forum-anak run` processes: their own event loops, pools, schedulers and delivery engines.
    # Both poll the one token, so they also push each other off getUpdates (409, as Telegram
    # does); that is why production runs several processes with webhooks, and it does not matter here.
    recipients = list(range(41_000, 41_300))
    for uid in recipients:
        emulator.add_user(uid)
    engine = make_engine(database_url)
    now = utcnow()
    async with session_factory(engine)() as session:
        await add_registered_people(session, recipients, now=now)
        weekly = await broadcasts.create(
            session, author_telegram_id=ADMIN_ID, text="<b>Jumat ceria</b>", audience=broadcasts.Audience(),
            schedule="weekly", weekly_day="fri", weekly_time="16:00", now=now, tz=ZoneInfo("Asia/Makassar"),
        )
        weekly.next_run_at = now - timedelta(minutes=1)  # this week's occurrence is due
    processes = [
        BotProcess(emulator, database_url, tmp_path / name, PAID_BROADCAST="true", BROADCAST_RATE="200")
        for name in ("one", "two")
    ]
    try:
        for process in processes:
            process.workdir.mkdir()
        await asyncio.gather(*(process.start() for process in processes))
        # each scheduler's first tick comes 5 s after its start
        await emulator.wait_for(lambda: all(emulator.bot_messages(uid) for uid in recipients), timeout=60,
                                what="every recipient's message")
        await emulator.wait_quiet(0.5, timeout=10)
        for process in processes:  # nothing went wrong but the two pollers' quarrel over getUpdates
            await process.stop(allowed_errors=("Conflict",))
        per_chat = [len(emulator.bot_messages(uid)) for uid in recipients]
        assert max(per_chat) == 1, f"{sum(n - 1 for n in per_chat)} messages went out twice"
        async with session_factory(engine)() as session:
            runs = (await session.execute(select(BroadcastRun).where(BroadcastRun.broadcast_id == weekly.id))).scalars().all()
            broadcast = await session.get(Broadcast, weekly.id)
            counts = await outbox.counts(session, kind=broadcasts.KIND)
    finally:
        for process in processes:
            await process.ensure_dead()
        await engine.dispose()  # also when a step failed: no connection left for the next test
    assert len(runs) == 1 and counts == {"sent": len(recipients)}
    assert broadcast is not None  # moved on to the next Friday, not fired again
    assert broadcast.next_run_at == broadcasts.next_weekly("fri", "16:00", ZoneInfo("Asia/Makassar"), after=now)
    unexpected = emulator.unexpected_refusals()
    assert not unexpected, f"the bot made requests Telegram would refuse: {unexpected}"
