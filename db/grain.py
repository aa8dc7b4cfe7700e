"""Time grains that keep a person's activity from being lined up with a report (ARCHITECTURE §6).

The attack this answers: with a copy of the database, take each report's time and look for the
account active just before it. Microsecond times on both sides made that one query. So:

- Everything stored about a *person*'s activity (last activity, quiz attempts and answers, event
  sign-ups, erasure notices, when a guardian link runs out) is kept to the **day** in the bot's
  time zone. An hour is not enough: in a city's worth of children, few share the hour of their
  last activity, while most active ones share the day.
- When a person *joined* (the account's creation, the privacy notice, consent, the guardian
  link's request and answer) is kept to the **month**: newcomers are few, so "the only account
  made on the day of that report" would single out a child who came to the bot to report.
- Everything the *reporter* leaves on the report side (the report's arrival, the reporter's own
  answers) is kept to the **hour**; staff's SLA clock is a separate precise column that lives
  only until staff first act, then becomes a duration (db/reports.py).
- No report action writes to the person's row (handlers.load_user skips the activity write for
  the report and /status flows).

The grain is applied in the column type (`PersonDay`, `PersonMonth`, `ReportHour`), so every write path — ORM, Core INSERTs and
UPDATEs, bulk loads — stores the grain, not only the functions that remember to. (A bound value
compared with such a column is floored too: "idle since before X" then means "since before X's
day", which is what a day can tell.) The type has no
access to settings, so the zone is module state set once at start (`set_zone`); its default is
the bot's default zone (Asia/Makassar, WITA), and a day boundary then falls on a local midnight,
so monthly indicators in that zone count exactly as before.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Dialect

from db.types import UTCDateTime

DEFAULT_ZONE = ZoneInfo("Asia/Makassar")
_zone: ZoneInfo = DEFAULT_ZONE


def set_zone(tz: ZoneInfo) -> None:
    """Use this zone's midnights as day boundaries (called once when the services are built)."""
    global _zone  # noqa: PLW0603 - see the module docstring: the column type cannot take settings
    _zone = tz


def zone() -> ZoneInfo:
    """Return the zone whose midnights bound a stored day."""
    return _zone


def day(moment: datetime) -> datetime:
    """Floor an aware time to the start of its local day, as aware UTC."""
    local = moment.astimezone(_zone).date()
    return datetime.combine(local, time(0), _zone).astimezone(UTC)


def next_day(moment: datetime) -> datetime:
    """Return the start of the local day after the one `moment` falls in (a deadline's grain)."""
    return day(day(moment) + timedelta(hours=36))


def month(moment: datetime) -> datetime:
    """Floor an aware time to the first day of its local month, as aware UTC."""
    local = moment.astimezone(_zone).date().replace(day=1)
    return datetime.combine(local, time(0), _zone).astimezone(UTC)


def hour(moment: datetime) -> datetime:
    """Floor an aware time to the start of its hour, as aware UTC."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class PersonDay(UTCDateTime):
    """A time about a person: stored floored to the local day, whoever writes it."""

    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        """Floor to the day, then store as UTC like every other time."""
        if value is not None and value.tzinfo is not None:
            value = day(value)
        return super().process_bind_param(value, dialect)


class PersonMonth(UTCDateTime):
    """When a person joined: stored floored to the local month, whoever writes it."""

    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        """Floor to the month, then store as UTC."""
        if value is not None and value.tzinfo is not None:
            value = month(value)
        return super().process_bind_param(value, dialect)


class ReportHour(UTCDateTime):
    """A time the reporter left on the report side: stored floored to the hour."""

    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        """Floor to the hour, then store as UTC."""
        if value is not None and value.tzinfo is not None:
            value = hour(value)
        return super().process_bind_param(value, dialect)
