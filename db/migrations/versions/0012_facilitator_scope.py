"""Facilitator scopes (the areas and events a facilitator may broadcast to) and who approved a
facilitator's broadcast that needed staff approval (issue 17, item 7).

Revision ID: 0012
Revises: 0009 (re-chained by the lead at merge)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create facilitator_scopes and add broadcasts.approved_by."""
    op.create_table(
        "facilitator_scopes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("facilitator_telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=120), nullable=False),
        sa.Column("assigned_by", sa.BigInteger(), nullable=False),
        sa.Column("assigned_on", sa.Date(), nullable=False),
        sa.UniqueConstraint("facilitator_telegram_id", "kind", "value"),
    )
    op.create_index(
        "ix_facilitator_scopes_facilitator_telegram_id", "facilitator_scopes", ["facilitator_telegram_id"]
    )
    op.add_column("broadcasts", sa.Column("approved_by", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    """Drop the column and the table."""
    with op.batch_alter_table("broadcasts") as batch:
        batch.drop_column("approved_by")
    op.drop_index("ix_facilitator_scopes_facilitator_telegram_id", table_name="facilitator_scopes")
    op.drop_table("facilitator_scopes")
