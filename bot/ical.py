"""Calendar files (.ics) for events, built with the `icalendar` library (RFC 5545)."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar
from icalendar import Event as CalendarEvent

PRODUCT_ID = "-//Forum Anak Bot//Kota Balikpapan//ID"


def event_calendar(
    *,
    event_id: int,
    title: str,
    description: str,
    venue: str,
    starts_at: datetime,
    ends_at: datetime,
    stamp: datetime,
    url: str | None = None,
    domain: str = "forum-anak-bot",
) -> bytes:
    """Return one event as an iCalendar file; times are written in UTC so every calendar agrees."""
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    item = CalendarEvent()
    item.add("uid", f"event-{event_id}@{domain}")
    item.add("dtstamp", stamp)
    item.add("dtstart", starts_at)
    item.add("dtend", ends_at)
    item.add("summary", title)
    item.add("location", venue)
    item.add("description", description + (f"\n\n{url}" if url else ""))
    if url:
        item.add("url", url)
    calendar.add_component(item)
    return calendar.to_ical()
