"""The flood gate: a burst up to the limit passes, one kind drop, then silence until the window ends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.flood import FloodGate, Verdict
from db import limits


class Ticker:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def gate(clock: Ticker, updates: int = 20, seconds: int = 10) -> FloodGate:
    return FloodGate(updates=updates, window=timedelta(seconds=seconds), clock=clock)


def test_a_burst_up_to_the_limit_passes_then_one_first_drop_then_silence() -> None:
    flood = gate(Ticker())
    verdicts = [flood.check(7) for _ in range(200)]
    assert verdicts[:20] == [Verdict.PASS] * 20
    assert verdicts[20] is Verdict.FIRST_DROP
    assert set(verdicts[21:]) == {Verdict.DROP}


def test_the_next_window_starts_fresh_with_one_more_kind_drop() -> None:
    clock = Ticker()
    flood = gate(clock)
    for _ in range(30):
        flood.check(7)
    clock.now += 9.9
    assert flood.check(7) is Verdict.DROP  # still the same window
    clock.now += 0.1
    verdicts = [flood.check(7) for _ in range(25)]
    assert verdicts.count(Verdict.PASS) == 20 and verdicts.count(Verdict.FIRST_DROP) == 1


def test_users_are_counted_apart() -> None:
    flood = gate(Ticker())
    for _ in range(50):
        flood.check(1)
    assert flood.check(2) is Verdict.PASS


def test_a_child_tapping_every_half_second_is_never_dropped() -> None:
    clock = Ticker()
    flood = FloodGate(updates=limits.FLOOD_UPDATES, window=limits.FLOOD_WINDOW, clock=clock)
    verdicts = []
    for _ in range(600):  # five minutes of steady tapping
        verdicts.append(flood.check(3))
        clock.now += 0.5
    assert set(verdicts) == {Verdict.PASS}


def test_an_album_of_ten_photos_with_a_few_taps_passes() -> None:
    flood = FloodGate(updates=limits.FLOOD_UPDATES, window=limits.FLOOD_WINDOW, clock=Ticker())
    assert {flood.check(4) for _ in range(10 + 5)} == {Verdict.PASS}


def test_crisis_answer_is_claimed_once_per_window() -> None:
    clock = Ticker()
    flood = gate(clock, updates=1)
    flood.check(9)
    flood.check(9)
    assert flood.claim_crisis_answer(9) is True
    assert flood.claim_crisis_answer(9) is False
    clock.now += 10
    flood.check(9)
    assert flood.claim_crisis_answer(9) is True
    assert flood.claim_crisis_answer(404) is False  # no window: nothing was dropped


def test_ended_windows_are_forgotten() -> None:
    clock = Ticker()
    flood = gate(clock)
    for user in range(1000):
        flood.check(user)
    assert flood.tracked_users == 1000
    clock.now += 10
    flood.check(5000)
    assert flood.tracked_users == 1


@pytest.mark.parametrize(("updates", "seconds"), [(0, 10), (5, 0)])
def test_refuses_a_limit_that_cannot_pass_anything(updates: int, seconds: int) -> None:
    with pytest.raises(ValueError):
        gate(Ticker(), updates, seconds)
