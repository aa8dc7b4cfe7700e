"""The update processor: different people are served at the same time, each one in order.

PTB's default handles one update at a time, so a slow or hammering user delays everyone.
PTB's `concurrent_updates=N` runs everything at once, which breaks conversations: a user's
second message could be handled before their first. Here every update waits in its sender's
lane (an `asyncio.Lock`, which wakes waiters first-come first-served), so one person's updates
run one after another, and at most `max_running` lanes run handlers at the same moment.

PTB's own semaphore (the base class) is taken *before* `do_process_update`; were it the real
bound, 200 queued presses of one user would hold every place while waiting for their lane and
starve everyone else. So the base class gets a number that is never reached, and the real
bound is taken only once an update is at the head of its lane.

Telegram delivers at least once: when an answer to getUpdates is lost or comes too late for
the bot's timeout, the next getUpdates returns the same batch again; a webhook POST that is
not acknowledged in time is posted again. Run twice, a sign-up or a quiz answer would be
answered twice, and under load the repeats feed the load that caused them. So an update id
seen lately is not run again.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Hashable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

logger = logging.getLogger(__name__)

DEFAULT_MAX_RUNNING = 128
# Every update is an asyncio task in PTB already; this only keeps the base class from waiting.
_NEVER_REACHED = 1_000_000
# Ids remembered against repeats: several getUpdates batches (100 each) of the busiest minutes.
RECENT_UPDATE_IDS = 20_000


class RecentIds:
    """The last `size` update ids seen, in the order they came."""

    __slots__ = ("_order", "_seen", "_size")

    def __init__(self, size: int = RECENT_UPDATE_IDS) -> None:
        self._size = size
        self._seen: set[int] = set()
        self._order: deque[int] = deque()

    def first_time(self, update_id: int) -> bool:
        """Remember an id; False when it was seen already."""
        if update_id in self._seen:
            return False
        self._seen.add(update_id)
        self._order.append(update_id)
        if len(self._order) > self._size:
            self._seen.discard(self._order.popleft())
        return True


def lane_key(update: object) -> Hashable | None:
    """The person an update comes from (else its chat); None for updates of nobody.

    A person, not a chat: a staff member presses "reply" on a case card in the staff group and
    types the text in their private chat, one conversation across two chats (per_chat=False),
    so both must be in one lane. Different people in one group run side by side; what they
    might both change (a case) is guarded by the database, as between two processes.
    """
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    if update.effective_chat is not None:  # channel posts
        return ("chat", update.effective_chat.id)
    return None


@dataclass
class _Lane:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0  # updates holding or waiting for the lock; the lane is dropped at zero


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Run updates of different people concurrently (bounded), each person's strictly in order."""

    __slots__ = ("_lanes", "_max_running", "_recent", "_running", "repeats_dropped")

    def __init__(self, max_running: int = DEFAULT_MAX_RUNNING) -> None:
        if max_running < 1:
            raise ValueError("max_running must be a positive integer")
        super().__init__(_NEVER_REACHED)
        self._max_running = max_running
        self._running = asyncio.Semaphore(max_running)
        self._lanes: dict[Hashable, _Lane] = {}
        self._recent = RecentIds()
        self.repeats_dropped = 0

    @property
    def max_running(self) -> int:
        """How many updates may run handlers at the same moment."""
        return self._max_running

    @property
    def open_lanes(self) -> int:
        """How many people have an update running or waiting (for tests and diagnostics)."""
        return len(self._lanes)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the sender's turn, then for a free place, then run the update's handlers."""
        if isinstance(update, Update) and not self._recent.first_time(update.update_id):
            self.repeats_dropped += 1
            logger.info("update delivered again, not run twice")
            if inspect.iscoroutine(coroutine):
                coroutine.close()
            return
        key = lane_key(update)
        if key is None:
            async with self._running:
                await coroutine
            return
        # No await between looking the lane up and joining it: the order in which PTB starts
        # the tasks (the order of the updates) is the order in which they queue on the lock.
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
        lane.waiting += 1
        started = False
        try:
            async with lane.lock, self._running:
                started = True
                await coroutine
        finally:
            if not started and inspect.iscoroutine(coroutine):
                coroutine.close()  # cancelled while waiting (shut-down): no "never awaited"

            lane.waiting -= 1
            if lane.waiting == 0:
                del self._lanes[key]

    async def initialize(self) -> None:
        """Nothing to allocate: lanes come and go with the updates."""

    async def shutdown(self) -> None:
        """Nothing to free: PTB awaits the running updates before it shuts the processor."""
