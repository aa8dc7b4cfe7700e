"""Data retention: when an erasure notice went out, when a closed case was anonymised, and an
index that lets an erasure find the account's outbox rows without scanning them all.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = "0002"  # reports is created on its own branch


def upgrade() -> None:
    """Add users.erasure_notice_at, reports.anonymised_at and ix_deliveries_user."""
    op.add_column("users", sa.Column("erasure_notice_at", UTCDateTime(timezone=True), nullable=True))
    op.add_column("reports", sa.Column("anonymised_at", UTCDateTime(timezone=True), nullable=True))
    op.create_index("ix_deliveries_user", "deliveries", ["user_id"], unique=False)


def downgrade() -> None:
    """Drop the index and both columns."""
    op.drop_index("ix_deliveries_user", table_name="deliveries")
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("anonymised_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("erasure_notice_at")
