"""Stored figures of closed months, so that a year's export reads cells instead of rows.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create indicator_months and indicator_cells."""
    op.create_table(
        "indicator_months",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("indicator", sa.String(40), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("timezone", sa.String(40), nullable=False),
        sa.Column("fingerprint", sa.String(16), nullable=False),
        sa.Column("computed_at", UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("indicator", "month", "timezone", "fingerprint"),
    )
    op.create_table(
        "indicator_cells",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("month_id", sa.Integer(), sa.ForeignKey("indicator_months.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kecamatan", sa.String(40)),
        sa.Column("kelurahan", sa.String(40)),
        sa.Column("age_band", sa.String(12)),
        sa.Column("gender", sa.String(12)),
        sa.Column("role", sa.String(12)),
        sa.Column("category", sa.String(24)),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("base", sa.Float(), nullable=False),
    )
    op.create_index("ix_indicator_cells_month_id", "indicator_cells", ["month_id"])


def downgrade() -> None:
    """Drop both tables."""
    op.drop_index("ix_indicator_cells_month_id", table_name="indicator_cells")
    op.drop_table("indicator_cells")
    op.drop_table("indicator_months")
