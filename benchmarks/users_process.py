"""The Bot API emulator and the simulated users of `benchmarks/updates.py`, in one process.

The bot runs in another process (`benchmarks/bot_process.py`), so this one's CPU is not the
bot's. Times are taken here, on the emulator's side: an update's latency runs from the moment
it is queued for getUpdates to the moment the bot's first answer in that chat (a sent or edited
message) arrives.

Usage: python benchmarks/users_process.py MODE USERS RATE THINK SEED SCRIPTS
  MODE     full: people who onboard, play a quiz and sign up for an event, pressing the buttons
           the bot shows (their updates are written to SCRIPTS); echo: the same updates read
           from SCRIPTS, replayed against an echo bot (each waits only for the first answer)
  RATE     offered updates per second: everyone starts at once, waits THINK seconds on average
           between their own updates, and then for a slot of a pacer that lets out RATE updates
           a second (so the offered load stays at RATE while enough people are ready, which 500
           people thinking 2 s are, up to about 240 a second); 0: closed loop, everyone at once,
           each sending the next update as soon as the bot has answered the last (but, like
           people, never more than the bot's flood limit of 20 updates in 10 s)
Prints the port, waits for a line on stdin (the bot is polling), runs, prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.sandbox.emulator import BotApiEmulator, BotEventKind, ChatMessage

TOKEN = "123456:BENCHMARK-token"
FIRST_USER = 10_000
TURN_TIMEOUT = 300.0  # seconds a person waits for an answer before counting an error (closed loop: long queues)
# The bot answers more than 20 updates from one person in 10 s with a single "slow down" (a flood
# limit, db/limits.py); simulated people stay under it, as people do, even in the closed loop.
MIN_GAP = 0.55
_GUARDIAN_LINK = re.compile(r"start=wali_([A-Za-z0-9_-]+)")

Step = tuple[str, str]  # ("text", "/start") or ("press", callback data)


class TimedEmulator(BotApiEmulator):
    """The emulator, noting when each bot message arrives and waking only that chat's person.

    The emulator's own `wait_for` wakes every waiter on every change: with hundreds of people
    waiting, that would cost this process more than the bot it measures.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.event_times: dict[int, float] = {}
        self._wakers: dict[int, asyncio.Event] = {}

    def _event(self, message: ChatMessage, kind: BotEventKind) -> None:
        super()._event(message, kind)
        self.event_times[self.mark()] = time.perf_counter()
        waker = self._wakers.pop(message.chat_id, None)
        if waker is not None:
            waker.set()

    async def wait_chat(self, chat_id: int, deadline: float) -> None:
        """Sleep until the bot sends or edits something in this chat, or the deadline passes."""
        waker = self._wakers.setdefault(chat_id, asyncio.Event())
        async with asyncio.timeout(max(deadline - time.perf_counter(), 0)):
            await waker.wait()


@dataclass
class Figures:
    """What every person measured."""

    queued_at: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # to the bot's first answer
    turns: list[float] = field(default_factory=list)  # to the answer the person waited for
    errors: list[str] = field(default_factory=list)


class Pacer:
    """Lets updates out at most `rate` a second, in the order people became ready.

    People alone would offer a load that rises while they arrive and falls as they finish; behind
    the pacer it is a steady `rate` for as long as enough of them are ready to send.
    """

    def __init__(self, rate: float) -> None:
        self.interval = 1 / rate
        self.next_slot = 0.0

    async def slot(self) -> None:
        """Wait for the next free slot (a slot nobody was ready for is not saved up)."""
        now = time.perf_counter()
        at = max(self.next_slot, now)
        self.next_slot = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


class Person:
    """One simulated Telegram user: sends an update, waits for the bot, thinks, goes on."""

    def __init__(
        self, emu: TimedEmulator, uid: int, rng: random.Random, think: float, pacer: Pacer | None, figures: Figures
    ) -> None:
        self.emu = emu
        self.uid = uid
        self.rng = rng
        self.think = think
        self.pacer = pacer
        self.figures = figures
        self.script: list[Step] = []
        self.last_sent = 0.0

    async def pause(self) -> None:
        """Think before the next update (exponential, so people do not move in step)."""
        if self.think > 0:
            await asyncio.sleep(self.rng.expovariate(1 / self.think))
        gap = self.last_sent + MIN_GAP - time.perf_counter()
        if gap > 0:
            await asyncio.sleep(gap)
        if self.pacer is not None:
            await self.pacer.slot()

    def _queue(self, step: Step, on: ChatMessage | None = None) -> tuple[int, float]:
        mark = self.emu.mark()
        if step[0] == "text":
            self.emu.send_text(self.uid, step[1])
        else:
            target = on or self.emu.last_bot_message(self.uid)
            if target is None:
                raise LookupError("nothing to press on")
            self.emu.press(self.uid, target.message_id, step[1])
        self.script.append(step)
        queued = self.last_sent = time.perf_counter()
        self.figures.queued_at.append(queued)
        return mark, queued

    async def turn(
        self, step: Step, want: Callable[[ChatMessage], bool] | None = None, on: ChatMessage | None = None
    ) -> ChatMessage:
        """Send one update; wait for a bot message after it that satisfies `want` (any if None)."""
        await self.pause()
        mark, queued = self._queue(step, on)
        message = await self.expect(mark, want, queued=queued)
        self.figures.turns.append(time.perf_counter() - queued)
        return message

    async def expect(
        self, mark: int, want: Callable[[ChatMessage], bool] | None, *, queued: float | None = None
    ) -> ChatMessage:
        """Wait for a message the bot sent or edited after `mark` that satisfies `want`."""
        deadline = time.perf_counter() + TURN_TIMEOUT
        noted = queued is None
        while True:
            events = self.emu.bot_events_since(mark, self.uid)
            if events and not noted:
                self.figures.latencies.append(self.emu.event_times[events[0].tick] - queued)  # type: ignore[operator]
                noted = True
            for event in events:
                message = self.emu.message(self.uid, event.message.message_id)
                if message is not None and not message.deleted and (want is None or want(message)):
                    return message
            await self.emu.wait_chat(self.uid, deadline)


def language_of(uid: int) -> str:
    """One person in five uses Telegram (and the bot) in English."""
    return "en" if uid % 5 == 0 else "id"


def button(prefix: str) -> Callable[[ChatMessage], bool]:
    """A message with at least one button whose callback data starts with `prefix`."""
    return lambda message: any((b.callback_data or "").startswith(prefix) for b in message.buttons())


def pick(rng: random.Random, message: ChatMessage, prefix: str) -> str:
    """The callback data of a random button with this prefix."""
    found = [b.callback_data for b in message.buttons() if (b.callback_data or "").startswith(prefix)]
    return rng.choice(found)  # type: ignore[return-value]


class Household:
    """A child and the parent who is their guardian; the child's link travels between them."""

    def __init__(self) -> None:
        self.link: asyncio.Future[str] = asyncio.get_running_loop().create_future()


async def onboard(person: Person, role: str, language: str) -> ChatMessage:
    """/start, language, privacy, role (a child stops at the guardian step)."""
    shown = await person.turn(("text", "/start"), button("ob:lang:"))
    shown = await person.turn(("press", f"ob:lang:{language}"), button("ob:priv:yes"), on=shown)
    shown = await person.turn(("press", "ob:priv:yes"), button("ob:role:"), on=shown)
    return await person.turn(("press", f"ob:role:{role}"), button("gd:link" if role == "child" else "ob:kec:"), on=shown)


async def profile(person: Person, shown: ChatMessage) -> None:
    """Age (children), kecamatan, kelurahan and gender, then the menu."""
    rng = person.rng
    if button("ob:age:")(shown):
        shown = await person.turn(("press", pick(rng, shown, "ob:age:")), button("ob:kec:"), on=shown)
    shown = await person.turn(("press", pick(rng, shown, "ob:kec:")), button("ob:kel:"), on=shown)
    kelurahan = [b.callback_data for b in shown.buttons() if (b.callback_data or "").startswith("ob:kel:")]
    shown = await person.turn(("press", rng.choice(kelurahan)), button("ob:gen:"), on=shown)  # type: ignore[arg-type]
    await person.turn(("press", pick(rng, shown, "ob:gen:")), button("menu:"), on=shown)


async def quiz_and_event(person: Person) -> None:
    """A whole quiz on a random topic, then a sign-up for one of the listed events."""
    rng = person.rng
    shown = await person.turn(("text", "/kuis"), button("qz:topic:"))
    shown = await person.turn(("press", pick(rng, shown, "qz:topic:")), button("qz:ans:"), on=shown)
    while True:
        shown = await person.turn(
            ("press", pick(rng, shown, "qz:ans:")),
            lambda m, old=shown.message_id: m.message_id != old and (button("qz:ans:")(m) or button("qz:again:")(m)),
            on=shown,
        )
        if button("qz:again:")(shown):
            break
    shown = await person.turn(("text", "/acara"), button("ev:"))
    if button("ev:join:")(shown):
        await person.turn(("press", pick(rng, shown, "ev:join:")), None, on=shown)


async def child(person: Person, home: Household, language: str) -> None:
    """A child: onboarding up to the guardian step, a link for the parent, then the rest."""
    shown = await onboard(person, "child", language)
    link = await person.turn(("press", "gd:link"), lambda m: _GUARDIAN_LINK.search(m.plain_text) is not None, on=shown)
    match = _GUARDIAN_LINK.search(link.plain_text)
    assert match is not None
    home.link.set_result(match.group(1))
    mark = person.emu.mark()
    # The guardian's answer reaches the child through the outbox, not as an answer to an update.
    shown = await person.expect(mark, button("ob:next"))
    shown = await person.turn(("press", "ob:next"), button("ob:age:"), on=shown)
    await profile(person, shown)
    await quiz_and_event(person)


async def parent(person: Person, home: Household, language: str) -> None:
    """A parent: onboarding, the child's consent link, then a quiz and an event."""
    shown = await onboard(person, "parent", language)
    await profile(person, shown)
    token = await asyncio.wait_for(home.link, TURN_TIMEOUT * 10)
    shown = await person.turn(("text", f"/start wali_{token}"), button("gd:yes:"))
    await person.turn(("press", pick(person.rng, shown, "gd:yes:")), None, on=shown)
    await quiz_and_event(person)


async def replay(person: Person, steps: list[Step]) -> None:
    """Send recorded updates, each after the bot's first answer to the one before."""
    for step in steps:
        await person.turn(step)


async def run(
    mode: str, users: int, rate: float, think: float, seed: int, recorded: dict[str, list[Step]], emu: TimedEmulator
) -> tuple[dict[str, Any], dict[str, list[Step]]]:
    """Start everyone on schedule, wait for all; return the figures and everyone's updates."""
    figures = Figures()
    rng = random.Random(seed)
    uids = list(range(FIRST_USER, FIRST_USER + users))
    pacer = Pacer(rate) if rate else None
    people = {
        uid: Person(emu, uid, random.Random(rng.random()), think if rate else 0.0, pacer, figures) for uid in uids
    }
    homes = {uid: Household() for uid in uids[::2]}
    started = time.perf_counter()

    async def live(uid: int) -> None:
        person = people[uid]
        language = language_of(uid)
        try:
            if mode == "echo":
                await replay(person, recorded.get(str(uid), []))
            elif (uid - FIRST_USER) % 2 == 0 and uid + 1 in people:
                await child(person, homes[uid], language)
            else:
                home = homes.get(uid - 1)
                await parent(person, home or Household(), language)
        except (TimeoutError, LookupError, AssertionError) as exc:
            after = person.script[-1] if person.script else ("nothing", "")
            figures.errors.append(f"{uid}: {type(exc).__name__} {exc} after {after[0]} {after[1]}".replace("\n", " ")[:200])

    await asyncio.gather(*(live(uid) for uid in uids))
    finished = time.perf_counter()
    return summary(figures, started, finished, emu), {str(uid): person.script for uid, person in people.items()}


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of the sorted values fall (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def summary(figures: Figures, started: float, finished: float, emu: TimedEmulator) -> dict[str, Any]:
    """Rates and latency percentiles (milliseconds) of a run."""
    queued = sorted(figures.queued_at)
    n = len(queued)
    # The steady rate: the middle half of the updates over the time they took to be queued.
    middle = queued[3 * n // 4 - 1] - queued[n // 4] if n >= 8 else 0.0
    return {
        "updates": n,
        "seconds": round(finished - started, 2),
        "rate": round(n / (finished - queued[0]), 1) if n else 0.0,
        "steady_rate": round((n // 2) / middle, 1) if middle > 0 else 0.0,
        "p50_ms": round(percentile(figures.latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(figures.latencies, 0.99) * 1000, 1),
        "max_ms": round(max(figures.latencies, default=float("nan")) * 1000, 1),
        "turn_p99_ms": round(percentile(figures.turns, 0.99) * 1000, 1),
        "errors": len(figures.errors),
        "first_errors": figures.errors[:5],
        "refused": len(emu.unexpected_refusals()),
        "first_refused": [f"{r.method}: {r.error}" for r in emu.unexpected_refusals()[:5]],
        "emulator_cpu_seconds": round(time.process_time(), 2),
        "requests": dict(Counter(r.method for r in emu.requests)),
    }


async def main(mode: str, users: int, rate: float, think: float, seed: int, scripts: Path) -> None:
    """Serve, wait for the go, run everyone, print the figures."""
    emu = TimedEmulator(token=TOKEN)
    await emu.start()
    for uid in range(FIRST_USER, FIRST_USER + users):
        emu.add_user(uid, first_name="Anak", language_code=language_of(uid))
    print(emu.port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    recorded = json.loads(scripts.read_text()) if mode == "echo" else {}  # noqa: ASYNC240 (before the run)
    figures, steps = await run(mode, users, rate, think, seed, recorded, emu)
    if mode == "full":
        scripts.write_text(json.dumps(steps))  # noqa: ASYNC240 (after the run)
    emu.release_pollers()  # the bot may stop now without waiting for a long poll
    print(json.dumps(figures), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # the bot has stopped
    await emu.stop()


if __name__ == "__main__":
    mode_, users_, rate_, think_, seed_, scripts_ = sys.argv[1:7]
    asyncio.run(main(mode_, int(users_), float(rate_), float(think_), int(seed_), Path(scripts_)))
