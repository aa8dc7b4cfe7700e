"""Time grains (issue 17, item 1): no time about a person finer than the day, no report time a
person's activity can be lined up with.

Adds the staff SLA clock that lives only until staff first act (`reports.received_at`) and the
duration it becomes (`reports.first_response_seconds`), then coarsens what is already stored:
person-side times to the local day (db/grain.py), the reporter's side of a case to the hour. The
precise times are gone afterwards; a downgrade drops the two columns but cannot bring them back.

The day is a day in TIMEZONE from the environment (as the bot reads it), else WITA.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from db import grain
from db.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = ("0002", "0003", "0004")  # reports, quizzes and events are branches of their own

# table -> columns kept to the month (joining) and to the day (activity)
PERSON_MONTHS = {
    "users": ("created_at", "privacy_accepted_at", "consent_at"),
    "guardian_consents": ("created_at", "decided_at"),
}
PERSON_DAYS = {
    "users": ("last_seen_at", "erasure_notice_at"),
    "guardian_consents": ("expires_at",),
    "event_signups": ("created_at", "confirmed_at", "cancelled_at", "attended_at"),
    "quiz_attempts": ("started_at", "completed_at"),
    "quiz_answers": ("answered_at",),
}
REPORT_HOURS = ("created_at", "acknowledged_at", "first_response_at")


def _aware(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite through a raw select
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _coarsen(bind: sa.engine.Connection, table: str, columns: tuple[str, ...],
             floor: Callable[[datetime], datetime], where: str = "") -> None:
    """Rewrite each listed time of each row floored; one UPDATE per row that changes."""
    typed = sa.table(table, sa.column("id", sa.Integer()),
                     *(sa.column(name, UTCDateTime(timezone=True)) for name in columns))
    query = sa.select(typed)
    if where:
        query = query.where(sa.text(where))
    changes = []
    for row in bind.execute(query).mappings():
        new = {}
        for name in columns:
            value = _aware(row[name])
            if value is not None and floor(value) != value:
                new[name] = floor(value)
        if new:
            changes.append((row["id"], new))
    for row_id, values in changes:
        bind.execute(sa.update(typed).where(typed.c.id == row_id).values(**values))


def upgrade() -> None:
    """Add the SLA columns, carry open clocks and past durations over, coarsen stored times."""
    op.add_column("reports", sa.Column("received_at", UTCDateTime(timezone=True), nullable=True))
    op.add_column("reports", sa.Column("first_response_seconds", sa.Integer(), nullable=True))
    bind = op.get_bind()
    reports = sa.table(
        "reports", sa.column("id", sa.Integer()), sa.column("status", sa.String()),
        sa.column("created_at", UTCDateTime(timezone=True)),
        sa.column("first_response_at", UTCDateTime(timezone=True)),
        sa.column("received_at", UTCDateTime(timezone=True)),
        sa.column("last_alerted_at", UTCDateTime(timezone=True)),
        sa.column("first_response_seconds", sa.Integer()),
    )
    for row in bind.execute(sa.select(reports)).mappings().all():
        created, responded = _aware(row["created_at"]), _aware(row["first_response_at"])
        if responded is not None and created is not None:
            seconds = max(0, int((responded - created).total_seconds()))
            bind.execute(sa.update(reports).where(reports.c.id == row["id"])
                         .values(first_response_seconds=seconds, last_alerted_at=None))
        elif row["status"] == "new":  # the clock still runs: re-alerts need it
            bind.execute(sa.update(reports).where(reports.c.id == row["id"]).values(received_at=created))
    grain.set_zone(ZoneInfo(os.environ.get("TIMEZONE") or grain.DEFAULT_ZONE.key))
    for table, columns in PERSON_MONTHS.items():
        _coarsen(bind, table, columns, grain.month)
    for table, columns in PERSON_DAYS.items():
        _coarsen(bind, table, columns, grain.day)
    _coarsen(bind, "reports", REPORT_HOURS, grain.hour)
    _coarsen(bind, "report_messages", ("created_at",), grain.hour, where="kind = 'reporter'")


def downgrade() -> None:
    """Drop the SLA columns (the coarsened times stay coarse)."""
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("first_response_seconds")
        batch.drop_column("received_at")
