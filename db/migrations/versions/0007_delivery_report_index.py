"""A covering index for the indicator scans of deliveries.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ix_deliveries_report."""
    op.create_index("ix_deliveries_report", "deliveries", ["kind", "status", "sent_at", "user_id"], unique=False)


def downgrade() -> None:
    """Drop ix_deliveries_report."""
    op.drop_index("ix_deliveries_report", table_name="deliveries")
