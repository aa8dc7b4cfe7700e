"""Anonymous reports: cases, their evidence file ids and their messages (no link to users).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _time() -> db.types.UTCDateTime:
    return db.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    """Create reports, report_evidence and report_messages."""
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=9), nullable=False),
        sa.Column("category", _text(24), nullable=False),
        sa.Column("reporter_kind", _text(12), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("kecamatan", _text(40), nullable=True),
        sa.Column("kelurahan", _text(40), nullable=True),
        sa.Column("place", _text(12), nullable=False),
        sa.Column("happened", _text(12), nullable=False),
        sa.Column("description", _text(2000), nullable=False),
        sa.Column("language", _text(2), nullable=False),
        sa.Column("follow_up", sa.Boolean(), nullable=False),
        sa.Column("reply_route", _text(200), nullable=True),
        sa.Column("status", _text(8), nullable=False),
        sa.Column("outcome", _text(12), nullable=True),
        sa.Column("referred_to", _text(12), nullable=True),
        sa.Column("assigned_to", sa.BigInteger(), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("acknowledged_at", _time(), nullable=True),
        sa.Column("first_response_at", _time(), nullable=True),
        sa.Column("closed_at", _time(), nullable=True),
        sa.Column("last_alerted_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index("ix_reports_open", "reports", ["status", "urgent", "created_at"], unique=False)
    op.create_table(
        "report_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("file_id", _text(200), nullable=False),
        sa.Column("kind", _text(12), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_evidence_report_id", "report_evidence", ["report_id"], unique=False)
    op.create_table(
        "report_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("kind", _text(10), nullable=False),
        sa.Column("staff_telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("text", _text(2000), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("undelivered_told_at", _time(), nullable=True),
        sa.ForeignKeyConstraint(["report_id"], ["reports.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_messages_report_id", "report_messages", ["report_id"], unique=False)


def downgrade() -> None:
    """Drop the report tables."""
    op.drop_index("ix_report_messages_report_id", table_name="report_messages")
    op.drop_table("report_messages")
    op.drop_index("ix_report_evidence_report_id", table_name="report_evidence")
    op.drop_table("report_evidence")
    op.drop_index("ix_reports_open", table_name="reports")
    op.drop_table("reports")
