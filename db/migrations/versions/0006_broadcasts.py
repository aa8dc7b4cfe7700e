"""Broadcasts and their occurrences.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create broadcasts and broadcast_runs."""
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author_telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=4096), nullable=False),
        sa.Column("media_kind", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("media_file_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("audience", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("schedule", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("weekly_day", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column("weekly_time", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("next_run_at", db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "broadcast_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("occurrence_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("audience_size", sa.Integer(), nullable=False),
        sa.Column("stopped", sa.Boolean(), nullable=False),
        sa.Column("created_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcasts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("broadcast_id", "occurrence_at"),
    )


def downgrade() -> None:
    """Drop broadcasts and broadcast_runs."""
    op.drop_table("broadcast_runs")
    op.drop_table("broadcasts")
