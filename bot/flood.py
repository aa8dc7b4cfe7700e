"""Per-user flood limit: a counter per user in windows that open at the user's first update.

Neither pinned library fits: aiolimiter *waits* for capacity (we want to drop, at once) and
keeps one bucket per limiter, and a keyed rate-limit library would be a new dependency for
what is one dictionary of counters here. Time is a monotonic clock (a wall-clock jump must not
open or close windows), injected so that tests can end a window without sleeping.

A window opens at a user's first update and lasts `window`; its first `updates` updates pass,
the next one is the first drop (the caller answers it kindly once), the rest are dropped
silently until the window ends. Nothing is stored but a user id, two times and a few counters,
and only for users active in the last window.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta


class Verdict(enum.Enum):
    """What to do with one update."""

    PASS = "pass"
    FIRST_DROP = "first_drop"  # drop, and answer once: "slow down"
    DROP = "drop"  # drop silently


@dataclass
class _Window:
    ends: float
    seen: int = 0
    crisis_answered: bool = False


class FloodGate:
    """Count each user's updates; tell which pass and which are dropped."""

    def __init__(
        self, *, updates: int, window: timedelta, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if updates < 1 or window <= timedelta(0):
            raise ValueError("a flood limit needs at least one update in a positive window")
        self.updates = updates
        self.window = window.total_seconds()
        self._clock = clock
        self._windows: dict[int, _Window] = {}
        self._next_sweep = 0.0

    def check(self, user_id: int) -> Verdict:
        """Count one update of a user and tell whether it passes."""
        now = self._clock()
        self._sweep(now)
        current = self._windows.get(user_id)
        if current is None or now >= current.ends:
            current = self._windows[user_id] = _Window(ends=now + self.window)
        current.seen += 1
        if current.seen <= self.updates:
            return Verdict.PASS
        return Verdict.FIRST_DROP if current.seen == self.updates + 1 else Verdict.DROP

    def claim_crisis_answer(self, user_id: int) -> bool:
        """True once per window: a flooding user's crisis words still get the help numbers."""
        current = self._windows.get(user_id)
        if current is None or current.crisis_answered:
            return False
        current.crisis_answered = True
        return True

    @property
    def tracked_users(self) -> int:
        """How many users have an open window (memory stays bounded by recent activity)."""
        return len(self._windows)

    def _sweep(self, now: float) -> None:
        # Forget ended windows once per window length: cheap, and memory follows activity.
        if now < self._next_sweep:
            return
        self._windows = {uid: w for uid, w in self._windows.items() if now < w.ends}
        self._next_sweep = now + self.window
