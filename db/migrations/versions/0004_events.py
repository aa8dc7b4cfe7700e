"""Forum Anak events and their sign-ups (SPEC §6).

Revision ID: 0004
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the events and event_signups tables."""
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("starts_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("venue", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("kecamatan", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("kelurahan", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("confirmed_count", sa.Integer(), nullable=False),
        sa.Column("signup_seq", sa.Integer(), nullable=False),
        sa.Column("age_bands", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("signup_deadline", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("checkin_code", sa.String(length=16), nullable=False),
        sa.Column("created_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("checkin_code"),
    )
    op.create_index("ix_events_starts_at", "events", ["starts_at"], unique=False)
    op.create_table(
        "event_signups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attended_at", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_24h_for", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_2h_for", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "user_id"),
    )
    op.create_index("ix_event_signups_user", "event_signups", ["user_id"], unique=False)


def downgrade() -> None:
    """Drop event_signups and events."""
    op.drop_index("ix_event_signups_user", table_name="event_signups")
    op.drop_table("event_signups")
    op.drop_index("ix_events_starts_at", table_name="events")
    op.drop_table("events")
