"""Forgiving date and time input in the bot's zone (WITA): "23/11 16:00", "besok 4pm", "2026-11-23 16.00".

Returns aware UTC datetimes; callers show the result back in WITA so the person can check it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_WORDS = {"hari ini": 0, "today": 0, "besok": 1, "tomorrow": 1, "lusa": 2}
MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "mei": 5, "may": 5, "jun": 6, "jul": 7,
    "agu": 8, "agt": 8, "aug": 8, "sep": 9, "okt": 10, "oct": 10, "nov": 11, "des": 12, "dec": 12,
}
_FILLER = re.compile(r"\b(jam|pukul|pkl|at|on|tanggal|tgl|wita)\b|,")
_TIME = r"(?P<h>\d{1,2})(?:[:.](?P<m>\d{2}))?\s*(?P<ampm>am|pm|pagi|siang|sore|malam)?"
_DAY = (
    r"(?P<iso>(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2}))"
    r"|(?P<num>(?P<d>\d{1,2})[/\-.](?P<mo>\d{1,2})(?:[/\-.](?P<y>\d{4}|\d{2}))?)"
    r"|(?P<named>(?P<nd>\d{1,2})\s+(?P<mon>[a-z]+)\.?(?:\s+(?P<ny>\d{4}))?)"
    r"|(?P<word>hari ini|today|besok|tomorrow|lusa)"
)
_FULL = re.compile(rf"^(?:(?:{_DAY})\s+)?{_TIME}$")
_AFTERNOON = {"pm", "siang", "sore", "malam"}


def parse_wita(text: str, *, now: datetime, tz: ZoneInfo, default_day: date | None = None) -> datetime | None:
    """Parse a typed date and time in `tz`; a time alone falls on `default_day` (else today).

    A date without a year is the next such date (today counts). Returns UTC, or None.
    """
    cleaned = " ".join(_FILLER.sub(" ", text.lower()).split())[:40]
    match = _FULL.match(cleaned)
    if match is None:
        return None
    today = now.astimezone(tz).date()
    day = _day(match, today, default_day)
    clock = _clock(match)
    if day is None or clock is None:
        return None
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


def _day(match: re.Match[str], today: date, default_day: date | None) -> date | None:
    groups = match.groupdict()
    try:
        if groups["iso"]:
            return date(int(groups["iy"]), int(groups["im"]), int(groups["id"]))
        if groups["word"]:
            return today + timedelta(days=DAY_WORDS[groups["word"]])
        if groups["num"]:
            day, month, year = int(groups["d"]), int(groups["mo"]), groups["y"]
        elif groups["named"]:
            month_number = MONTHS.get(groups["mon"][:3])
            if month_number is None:
                return None
            day, month, year = int(groups["nd"]), month_number, groups["ny"]
        else:
            return default_day or today
        if year is not None:
            return date(int(year) + (2000 if len(year) == 2 else 0), month, day)
        candidate = date(today.year, month, day)
        return candidate if candidate >= today else date(today.year + 1, month, day)
    except ValueError:  # 31/02 and friends
        return None


def _clock(match: re.Match[str]) -> time | None:
    hour, minute, ampm = int(match["h"]), int(match["m"] or 0), match["ampm"]
    if ampm is not None:
        if not 1 <= hour <= 12:
            return None
        if ampm in _AFTERNOON and hour != 12:
            hour += 12
        elif ampm in ("am", "pagi") and hour == 12:
            hour = 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(hour, minute)
