"""`forum-anak events import FILE.yaml`: many events at once, every entry checked before any is saved.

File format (times in WITA; quote them, YAML reads a bare 16:00 as a number):

    events:
      - title: Diskusi Hak Anak
        description: Ngobrol santai soal hak anak.
        start: "2026-11-25 16:00"
        end: "18:00"                  # a time alone: the same day as the start
        venue: Aula Kelurahan Damai
        kecamatan: Balikpapan Kota
        kelurahan: Damai              # optional: the whole kecamatan
        capacity: 30
        age_bands: [10_12, 13_15]     # optional: every child band (u10, 10_12, 13_15, 16_17; adult)
        signup_deadline: "2026-11-24 20:00"   # optional: until the start
        facilitator: 123456789        # optional: Telegram id of the facilitator who manages it
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.timeparse import parse_wita
from db import events
from db.events import EventDraft
from db.models import Event, EventStatus
from db.users import CHILD_AGE_BANDS

REQUIRED = ("title", "description", "start", "end", "venue", "kecamatan", "capacity")
OPTIONAL = ("kelurahan", "age_bands", "signup_deadline", "facilitator")
YAML_NUMBER_BANDS = {1012: "10_12", 1315: "13_15", 1617: "16_17"}
FIELD_OF_PROBLEM = {"deadline": "signup_deadline", "age_bands": "age_bands"}
MESSAGES = {
    "required": "must not be empty",
    "too_long": "is too long",
    "in_past": "is in the past",
    "not_after_start": "must be after the start",
    "after_start": "must not be after the start",
    "unknown": "is not a known name (see content/regions/balikpapan.yaml)",
    "out_of_range": f"must be a whole number from 1 to {events.MAX_CAPACITY}",
}


class EventFileError(Exception):
    """The file cannot be imported; `lines` names each entry and field at fault."""

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__(lines[0] if lines else "invalid file")
        self.lines = tuple(lines)


@dataclass(frozen=True)
class ImportSummary:
    """What an import did."""

    created: tuple[int, ...]
    skipped: int  # already there (same title and start): importing a file twice is harmless


def read_entries(path: Path) -> list[Any]:
    """Read the `events:` list of a YAML file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EventFileError([f"{path}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EventFileError([f"{path}: cannot read it ({exc})"]) from None
    except yaml.YAMLError as exc:
        raise EventFileError([f"{path}: not valid YAML ({' '.join(str(exc).split())})"]) from None
    items = data.get("events") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise EventFileError([f"{path}: expected a non-empty list under 'events:'"])
    return items


def parse_entries(
    items: Sequence[Any],
    *,
    regions: Mapping[str, Sequence[str]],
    now: datetime,
    tz: ZoneInfo,
    facilitator: int,
) -> list[tuple[EventDraft, int]]:
    """Turn entries into drafts with their facilitator; raise EventFileError naming every bad field."""
    drafts: list[tuple[EventDraft, int]] = []
    errors: list[str] = []
    for number, item in enumerate(items, start=1):
        where = f"entry {number}"
        if isinstance(item, dict) and isinstance(item.get("title"), str):
            where += f" ({item['title'][:40]!r})"
        if not isinstance(item, dict):
            errors.append(f"{where}: expected a mapping of fields")
            continue
        problems: list[tuple[str, str]] = []
        draft, owner = _draft(item, problems, now=now, tz=tz, facilitator=facilitator)
        if draft is not None:
            found = events.validate(draft, regions=regions, now=now)
            problems += [(FIELD_OF_PROBLEM.get(p.field, p.field), MESSAGES.get(p.code, p.code)) for p in found]
        if problems or draft is None:
            errors += [f"{where}: field '{name}': {message}" for name, message in problems]
        else:
            drafts.append((draft, owner))
    if errors:
        raise EventFileError(errors)
    return drafts


def _draft(
    item: dict[str, Any], problems: list[tuple[str, str]], *, now: datetime, tz: ZoneInfo, facilitator: int
) -> tuple[EventDraft | None, int]:
    for key in item:
        if key not in REQUIRED + OPTIONAL:
            problems.append((str(key), f"is not a known field (known: {', '.join(REQUIRED + OPTIONAL)})"))
    for key in REQUIRED:
        if item.get(key) in (None, ""):
            problems.append((key, "is missing"))
    texts = {key: item.get(key) for key in ("title", "description", "venue", "kecamatan", "kelurahan")}
    for key, value in texts.items():
        if value is not None and not isinstance(value, str):
            problems.append((key, "must be text"))
    start = _moment(item.get("start"), "start", problems, now=now, tz=tz)
    end = _moment(item.get("end"), "end", problems, now=now, tz=tz, day=start.astimezone(tz).date() if start else None)
    deadline = _moment(item.get("signup_deadline"), "signup_deadline", problems, now=now, tz=tz)
    capacity = item.get("capacity")
    if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int)):
        problems.append(("capacity", MESSAGES["out_of_range"]))
    bands = item.get("age_bands", list(CHILD_AGE_BANDS))
    if isinstance(bands, str):
        bands = [b.strip() for b in bands.split(",")]
    if isinstance(bands, list):  # YAML 1.1 reads an unquoted 10_12 as the number 1012
        bands = [YAML_NUMBER_BANDS.get(b, b) if isinstance(b, int) else b for b in bands]
    if not isinstance(bands, list) or not all(isinstance(b, str) for b in bands):
        problems.append(("age_bands", "must be a list like [10_12, 13_15]"))
    owner = item.get("facilitator", facilitator)
    if isinstance(owner, bool) or not isinstance(owner, int) or owner < 0:
        problems.append(("facilitator", "must be a Telegram user id (a number)"))
    if problems or start is None or end is None:
        return None, facilitator
    draft = EventDraft(
        title=str(texts["title"]), description=str(texts["description"]), starts_at=start, ends_at=end,
        venue=str(texts["venue"]), kecamatan=str(texts["kecamatan"]), kelurahan=texts["kelurahan"] or None,
        capacity=int(capacity or 0), age_bands=tuple(bands), signup_deadline=deadline,
    )
    return draft, int(owner)


def _moment(
    value: Any, name: str, problems: list[tuple[str, str]], *, now: datetime, tz: ZoneInfo, day: date | None = None
) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):  # YAML reads `2026-11-25 16:00:00` itself; a zone-less one is WITA
        return value.replace(tzinfo=tz) if value.tzinfo is None else value
    if isinstance(value, str):
        parsed = parse_wita(value, now=now, tz=tz, default_day=day)
        if parsed is not None:
            return parsed
    hint = " (put the time in quotes: \"16:00\")" if isinstance(value, int) else ""
    problems.append((name, f"is not a date and time like \"2026-11-25 16:00\"{hint}"))
    return None


async def import_events(
    session: AsyncSession,
    *,
    path: Path,
    regions: Mapping[str, Sequence[str]],
    now: datetime,
    tz: ZoneInfo,
    facilitator: int = 0,
) -> ImportSummary:
    """Validate the whole file, then create its events in one transaction (all or nothing)."""
    drafts = parse_entries(read_entries(path), regions=regions, now=now, tz=tz, facilitator=facilitator)
    created: list[int] = []
    skipped = 0
    for draft, owner in drafts:
        same = select(Event.id).where(
            Event.title == draft.title.strip(), Event.starts_at == draft.starts_at, Event.status == EventStatus.ACTIVE
        )
        if (await session.execute(same)).first() is not None:
            skipped += 1
            continue
        event = await events.create_event(session, draft=draft, created_by=owner, regions=regions, now=now)
        assert event.id is not None
        created.append(event.id)
    return ImportSummary(created=tuple(created), skipped=skipped)


async def run_import(settings: Settings, path: Path, *, facilitator: int = 0) -> ImportSummary:
    """Import a file into the configured database (the CLI's work), recording it in the audit log."""
    from content.loaders import load_regions
    from db import audit
    from db.engine import make_engine, session_factory
    from db.types import utcnow

    regions = load_regions().kecamatan
    engine = make_engine(settings.DATABASE_URL)
    try:
        async with session_factory(engine)() as session:
            now = utcnow()
            summary = await import_events(session, path=path, regions=regions, now=now, tz=settings.tz,
                                          facilitator=facilitator)
            await audit.record(session, actor_telegram_id=None, action="events.import",
                               subject=f"{len(summary.created)} created", now=now)
            return summary
    finally:
        await engine.dispose()
