"""A controllable clock: the one mock at the edge of the world."""

from __future__ import annotations

from datetime import datetime, timedelta


class FakeClock:
    """Returns a fixed UTC time until told otherwise."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        """Return the current fake time."""
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to a moment."""
        self._now = moment

    def advance(self, delta: timedelta) -> None:
        """Move forward."""
        self._now += delta


class ManualMonotonic:
    """A monotonic clock (seconds) for the flood gate, moved by hand or by the harness."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        """Move forward."""
        self.seconds += seconds
