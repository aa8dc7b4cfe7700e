"""The data protection impact assessment (UU 27/2022 Art. 34), generated so that it cannot drift.

`docs/dpia.md` is written from three sources:

- the tables and columns themselves (`SQLModel.metadata`): names, types, nullability, links;
- `data_map.yaml`, written by hand: per table its purpose, lawful basis, who can see it and how
  long it is kept, and per column what it holds and why;
- `template.md.j2`, the hand-written assessment around them (risks, breach procedure).

Numbers the document states (retention periods, limits) are read from the code, never typed.
`problems()` names every table or column the data map misses or names in vain; a test runs it
and compares `docs/dpia.md` with `render()`, so a new column cannot ship undocumented.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml
from sqlalchemy import Column, MetaData, Table
from sqlmodel import SQLModel

import db.models  # noqa: F401  (registers every table on SQLModel.metadata)
from bot import cli
from bot.config import Settings
from db import consent, invites, quizzes, retention
from db import reports as report_rules
from handlers import common, report_flow, report_status

HERE = Path(__file__).resolve().parent
DATA_MAP = HERE / "data_map.yaml"
TEMPLATE = HERE / "template.md.j2"
OUTPUT = HERE.parent / "dpia.md"

TABLE_KEYS = ("purpose", "subjects", "basis", "seen_by", "retention", "columns")
# What a column holds, from the data subject's point of view.
DATA_CLASSES = {
    "none": "no personal data",
    "identifier": "Telegram id of a person (identifies them to Telegram)",
    "profile": "describes a person (for a child: specific personal data, Art. 4)",
    "activity": "what a person did and when",
    "free text": "typed by people; may contain anything, names included",
    "sealed": "encrypted under SECRET_KEY (AES-GCM); opened only in memory",
    "hash": "keyed or one-way hash of a secret code; reveals nothing by itself",
    "staff content": "written by staff or facilitators in their role",
}


@dataclass(frozen=True)
class ColumnEntry:
    """One row of a table's inventory: the model's facts joined with the data map's words."""

    name: str
    type: str
    nullable: bool
    link: str
    data: str
    purpose: str


@dataclass(frozen=True)
class TableEntry:
    """One table of the inventory."""

    name: str
    purpose: str
    subjects: str
    basis: str
    seen_by: str
    retention: str
    columns: list[ColumnEntry]


def load_data_map(path: Path = DATA_MAP) -> dict[str, Any]:
    """Read the hand-written data map (table name -> its description)."""
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    tables: dict[str, Any] = loaded["tables"]
    return tables


def model_metadata() -> MetaData:
    """The metadata of every table the application defines (db.models registers them)."""
    return SQLModel.metadata


def facts() -> dict[str, Any]:
    """The numbers the document states, read from the code that enforces them."""
    fields = Settings.model_fields
    min_cell = next(p.default for p in cli.export.params if p.name == "min_cell")
    return {
        "inactive_days": fields["RETENTION_INACTIVE_DAYS"].default,
        "notice_days": fields["RETENTION_NOTICE_DAYS"].default,
        "closed_case_days": fields["RETENTION_CLOSED_CASE_DAYS"].default,
        "evidence_days": fields["RETENTION_EVIDENCE_DAYS"].default,
        "unlinked_message_days": retention.UNLINKED_MESSAGE_DAYS,
        "erasable_roles": " or ".join(retention.ERASABLE_ROLES),
        "consent_link_days": consent.LINK_TTL.days,
        "invite_days": invites.INVITE_TTL.days,
        "status_days_after_close": report_rules.STATUS_DAYS_AFTER_CLOSE,
        "confirm_minutes": common.CONFIRM_WINDOW_SECONDS // 60,
        "draft_minutes": report_flow.TIMEOUT_SECONDS // 60,
        "reports_per_hour": report_flow.REPORTS_PER_HOUR,
        "wrong_codes_per_hour": report_status.WRONG_CODES_PER_HOUR,
        "leaderboard_min_players": quizzes.LEADERBOARD_MIN_PLAYERS,
        "min_cell": min_cell,
    }


def problems(metadata: MetaData, data_map: Mapping[str, Any]) -> list[str]:
    """Name every gap between the tables and the data map; empty when they agree."""
    found: list[str] = []
    for table in metadata.sorted_tables:
        entry = data_map.get(table.name)
        if entry is None:
            found.append(f"table {table.name} is not in the data map")
            continue
        found += [f"table {table.name}: no '{key}' in the data map" for key in TABLE_KEYS if not entry.get(key)]
        described = entry.get("columns") or {}
        for column in table.columns:
            item = described.get(column.name)
            if item is None:
                found.append(f"column {table.name}.{column.name} is not in the data map")
            elif not item.get("purpose") or item.get("data") not in DATA_CLASSES:
                found.append(f"column {table.name}.{column.name}: needs a purpose and a data class "
                             f"({', '.join(DATA_CLASSES)})")
        for name in described:
            if name not in table.columns:
                found.append(f"the data map names column {table.name}.{name}, which no longer exists")
    for name in data_map:
        if name not in metadata.tables:
            found.append(f"the data map names table {name}, which no longer exists")
    return found


def _link(column: Column[Any]) -> str:
    links = [f"→ {fk.target_fullname}" + (f" ({fk.ondelete.lower()})" if fk.ondelete else "")
             for fk in column.foreign_keys]
    if column.primary_key:
        links.insert(0, "key")
    if column.unique:
        links.append("unique")
    return ", ".join(links)


def inventory(metadata: MetaData, data_map: Mapping[str, Any], values: Mapping[str, Any]) -> list[TableEntry]:
    """Join the tables with the data map, in the order the data map tells the story."""
    tables: list[TableEntry] = []
    for name, entry in data_map.items():
        table: Table = metadata.tables[name]
        columns = [
            ColumnEntry(
                name=column.name, type=str(column.type), nullable=bool(column.nullable), link=_link(column),
                data=entry["columns"][column.name]["data"],
                purpose=str(entry["columns"][column.name]["purpose"]).format_map(values),
            )
            for column in table.columns
        ]
        tables.append(TableEntry(
            name=name, columns=columns,
            **{key: " ".join(str(entry[key]).split()).format_map(values)
               for key in ("purpose", "subjects", "basis", "seen_by", "retention")},
        ))
    return tables


def _cell(value: object) -> str:
    """Make a value safe inside a Markdown table cell."""
    return " ".join(str(value).split()).replace("|", "\\|")


def render(metadata: MetaData | None = None, data_map: Mapping[str, Any] | None = None) -> str:
    """Return the whole of docs/dpia.md as the code describes it now."""
    metadata = metadata if metadata is not None else model_metadata()
    data_map = data_map if data_map is not None else load_data_map()
    gaps = problems(metadata, data_map)
    if gaps:
        raise ValueError("; ".join(gaps))
    values = facts()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE), autoescape=False, undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["cell"] = _cell
    template = env.get_template(TEMPLATE.name)
    return template.render(tables=inventory(metadata, data_map, values), classes=DATA_CLASSES, **values)
