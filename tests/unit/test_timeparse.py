"""Typed dates and times in WITA: the forms people type, and what is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.timeparse import parse_wita

WITA = ZoneInfo("Asia/Makassar")
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 23 November 2026, 10:00 WITA


def wita(*args: int) -> datetime:
    return datetime(*args, tzinfo=WITA).astimezone(UTC)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("23/11 16:00", wita(2026, 11, 23, 16, 0)),
        ("23-11-2026 16.00", wita(2026, 11, 23, 16, 0)),
        ("23.11.26 16:30", wita(2026, 11, 23, 16, 30)),
        ("2026-11-30 08:00", wita(2026, 11, 30, 8, 0)),
        ("besok 16:00", wita(2026, 11, 24, 16, 0)),
        ("Tomorrow 4pm", wita(2026, 11, 24, 16, 0)),
        ("besok jam 4 sore", wita(2026, 11, 24, 16, 0)),
        ("lusa pukul 9.15", wita(2026, 11, 25, 9, 15)),
        ("hari ini 12am", wita(2026, 11, 23, 0, 0)),
        ("5 Des 2026 14:00", wita(2026, 12, 5, 14, 0)),
        ("5 december 14:00", wita(2026, 12, 5, 14, 0)),
        ("  25/11, 7.30 WITA ", wita(2026, 11, 25, 7, 30)),
        ("1/1 10:00", wita(2027, 1, 1, 10, 0)),  # no year and already past: next year
        ("16:00", wita(2026, 11, 23, 16, 0)),
    ],
)
def test_accepted_forms(typed: str, expected: datetime) -> None:
    assert parse_wita(typed, now=NOW, tz=WITA) == expected


def test_a_time_alone_falls_on_the_given_day() -> None:
    assert parse_wita("18.30", now=NOW, tz=WITA, default_day=date(2026, 12, 1)) == wita(2026, 12, 1, 18, 30)


@pytest.mark.parametrize(
    "typed", ["", "soon", "31/02 10:00", "23/11 25:00", "23/11 10:61", "13pm", "23/11", "5 foo 10:00", "x" * 200]
)
def test_refused_forms(typed: str) -> None:
    assert parse_wita(typed, now=NOW, tz=WITA) is None


def test_result_is_utc() -> None:
    parsed = parse_wita("23/11 16:00", now=NOW, tz=WITA)
    assert parsed is not None and parsed.tzinfo == UTC and parsed.hour == 8
