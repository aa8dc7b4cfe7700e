"""The one delivery engine: everything the bot sends unprompted leaves through here.

Rows of the outbox (db/outbox.py) are claimed in batches with one conditional UPDATE, sent
concurrently under a rate limiter, and their outcome written back: `429` waits `retry_after`
(for every sender, since Telegram's limit is per bot) and retries; `403` marks the user
unsubscribed; network errors retry with back-off; other refusals fail with their reason.

The in-flight bound: outcomes are written once per batch, so a crash can repeat at most the rows
claimed and not yet recorded, LANES x batch_size per process (40 at the free rate). A batch never
outlives its lease either: a row whose lease is nearly over is given back unsent (a long 429
pause), and outcomes are written only to rows still under this batch's lease, so a sender that
took a row over is never doubled nor undone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from aiolimiter import AsyncLimiter
from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from db import crypto, outbox
from db.engine import SessionScope
from db.outbox import Outcome, Outgoing, Result
from db.sqlite_loop import off_the_loop

logger = logging.getLogger(__name__)

SendFn = Callable[[Outgoing, int], Awaitable[None]]
LANES = 2  # claims are atomic, so lanes never share a row
# A send started before this much of its lease is left ends (or times out) before the lease does:
# longer than the HTTP timeout of either sender (bot/bulk_sender.py 10 s in all; python-telegram-bot
# 5 s per connect, write and read).
SEND_MARGIN = timedelta(seconds=20)
RouteOpener = Callable[[str, str], int]  # (sealed route, binding) -> chat id (db/crypto.py)


def telegram_sender(bot: Bot, *, paid: bool = False) -> SendFn:
    """Send one outbox row with python-telegram-bot (`allow_paid_broadcast` when paid)."""
    extra = {"allow_paid_broadcast": True} if paid else {}

    async def send(item: Outgoing, chat_id: int) -> None:
        markup = InlineKeyboardMarkup.de_json(item.reply_markup, bot) if item.reply_markup else None
        if item.media_kind == "photo" and item.media_file_id:
            await bot.send_photo(chat_id, item.media_file_id, caption=item.text or None, reply_markup=markup, **extra)
        elif item.media_kind == "document" and item.media_file_id:
            await bot.send_document(chat_id, item.media_file_id, caption=item.text or None, reply_markup=markup, **extra)
        else:
            await bot.send_message(chat_id, item.text, reply_markup=markup, **extra)

    return send


class DeliveryEngine:
    """Claims due rows and sends them at a steady rate until told to stop."""

    def __init__(
        self,
        *,
        db: SessionScope,
        send: SendFn,
        clock: Callable[[], datetime],
        rate: float,
        batch_size: int | None = None,
        open_route: RouteOpener | None = None,
        idle_seconds: float = 1.0,
    ) -> None:
        self.db = db
        self.send = send
        self.clock = clock
        # At Telegram's free rate (30/s) one message at a time, so no rolling second ever holds
        # more than the rate. At paid rates (up to 1000/s) the event loop's timers cannot pace
        # single messages a millisecond apart, so they leave in bursts of a tenth of a second.
        burst = int(rate // 10) if rate > 100 else 1
        self.limiter = AsyncLimiter(burst, burst / rate)
        self.batch_size = batch_size or self.batch_for(rate)
        self.open_route = open_route
        self.idle_seconds = idle_seconds
        self._wake = asyncio.Event()
        self._pause_until = 0.0
        self._stopping = False

    @staticmethod
    def batch_for(rate: float) -> int:
        """A tenth of a second's worth of messages (at least 20).

        Outcomes are written per batch, so the batch bounds what a crash can send twice.
        """
        return max(20, int(rate // 10))

    def wake(self) -> None:
        """Look for work now (called after rows were enqueued)."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the batch in hand, then return from `run`."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Deliver until stopped, with two lanes so one sends while the other reads and writes rows."""
        with off_the_loop():  # background work: its SQLite calls may wait, people's need not
            await asyncio.gather(*(self._lane() for _ in range(LANES)))

    async def _lane(self) -> None:
        while not self._stopping:
            try:
                done = await self.run_once()
            except Exception:  # a database hiccup must not end deliveries for good
                logger.exception("delivery batch failed; retrying")
                done = 0
            if done == 0 and not self._stopping:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.idle_seconds)
                except TimeoutError:
                    pass

    async def run_once(self) -> int:
        """Claim one batch, send it, record the outcomes; return how many were attempted."""
        now = self.clock()
        lease_until = now + outbox.DEFAULT_LEASE
        async with self.db() as session:
            batch = await outbox.claim_batch(session, now=now, limit=self.batch_size, lease=outbox.DEFAULT_LEASE)
        if not batch:
            return 0
        outcomes = await asyncio.gather(*(self._attempt(item, lease_until - SEND_MARGIN) for item in batch))
        async with self.db() as session:
            await outbox.record_outcomes(session, outcomes=outcomes, now=self.clock(), lease_until=lease_until)
        return len(batch)

    async def drain(self, *, max_batches: int = 1000) -> int:
        """Deliver everything that is due now (tests, benchmarks); return how many were attempted."""

        async def lane() -> int:
            total = 0
            for _ in range(max_batches):
                done = await self.run_once()
                if done == 0:
                    break
                total += done
            return total

        return sum(await asyncio.gather(*(lane() for _ in range(LANES))))

    async def _attempt(self, item: Outgoing, deadline: datetime) -> Outcome:
        chat_id = self._chat_of(item)
        if chat_id is None:
            return Outcome(item.id, Result.FAILED, "no route")
        for _ in range(3):  # 429 is not a failure of this message: wait and try it again here
            await self._respect_pause()
            async with self.limiter:
                if self.clock() >= deadline:  # another sender may take the row over soon: never both
                    return Outcome(item.id, Result.RETRY, "lease ran out", self.clock() + self._pause_left())
                try:
                    await self.send(item, chat_id)
                    return Outcome(item.id, Result.SENT)
                except RetryAfter as exc:
                    self._pause(exc.retry_after)
                except Forbidden as exc:
                    return Outcome(item.id, Result.BLOCKED, str(exc))
                except BadRequest as exc:
                    return Outcome(item.id, Result.FAILED, str(exc))
                except (NetworkError, TelegramError) as exc:
                    return Outcome(item.id, Result.RETRY, str(exc), self.clock() + outbox.backoff(item.attempts))
        return Outcome(item.id, Result.RETRY, "rate limited", self.clock() + outbox.backoff(item.attempts))

    def _chat_of(self, item: Outgoing) -> int | None:
        if item.chat_id is not None:
            return item.chat_id
        if item.sealed_route and self.open_route is not None:
            if item.reply_markup:  # a staff reply needs no buttons: one here was not put by the bot
                logger.warning("a message with buttons for a sealed reply route was refused")
                return None
            binding = crypto.message_binding(item.kind, item.text, item.media_kind, item.media_file_id)
            try:
                return self.open_route(item.sealed_route, binding)
            except ValueError:
                logger.warning("a sealed reply route could not be opened (key changed, or not this message's)")
        return None

    def _pause(self, retry_after: timedelta | int | float) -> None:
        seconds = retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)
        loop = asyncio.get_running_loop()
        self._pause_until = max(self._pause_until, loop.time() + seconds)
        logger.warning("Telegram asked to slow down: pausing deliveries for %.0f s", seconds)

    def _pause_left(self) -> timedelta:
        return timedelta(seconds=max(0.0, self._pause_until - asyncio.get_running_loop().time()))

    async def _respect_pause(self) -> None:
        delay = self._pause_left().total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
