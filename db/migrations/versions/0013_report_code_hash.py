"""Report codes only as a keyed hash (issue 17, item 2): `reports.code` becomes `reports.code_hash`.

The code was the reporter's only key and staff saw it; now only an HMAC-SHA256 under a key
derived from SECRET_KEY is stored (db/crypto.report_code_hash), and staff see the case number.
Existing codes are hashed in place, so reporters keep using theirs. That needs SECRET_KEY (from
the environment or .env, as the bot reads it) when there are reports; without it the upgrade
stops with one line and changes nothing. A downgrade cannot bring the codes back: it leaves the
column empty of usable codes (each row gets a placeholder).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.crypto import report_code_hash

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _secret() -> str | None:
    from bot.config import ConfigError, load_settings

    try:
        return load_settings().SECRET_KEY
    except ConfigError:
        return None


def upgrade() -> None:
    """Add code_hash, hash every code with SECRET_KEY, drop code."""
    bind = op.get_bind()
    reports = sa.table("reports", sa.column("id", sa.Integer), sa.column("code", sa.String),
                       sa.column("code_hash", sa.String))
    rows = bind.execute(sa.select(reports.c.id, reports.c.code)).all()
    secret = _secret() if rows else None
    if rows and not secret:
        raise RuntimeError("SECRET_KEY is needed to keep the report codes working: "
                           "run `forum-anak db upgrade` where .env holds it")
    op.add_column("reports", sa.Column("code_hash", sa.String(length=64), nullable=True))
    for report_id, code in rows:
        assert secret is not None
        bind.execute(reports.update().where(reports.c.id == report_id)
                     .values(code_hash=report_code_hash(secret, code)))
    with op.batch_alter_table("reports") as batch:
        batch.alter_column("code_hash", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint("uq_reports_code_hash", ["code_hash"])
        batch.drop_column("code")


def downgrade() -> None:
    """Put a `code` column back (placeholders: the codes themselves are gone) and drop code_hash."""
    bind = op.get_bind()
    op.add_column("reports", sa.Column("code", sa.String(length=9), nullable=True))
    reports = sa.table("reports", sa.column("id", sa.Integer), sa.column("code", sa.String))
    for (report_id,) in bind.execute(sa.select(reports.c.id)).all():
        bind.execute(reports.update().where(reports.c.id == report_id).values(code=f"X{report_id:08d}"[-9:]))
    with op.batch_alter_table("reports") as batch:
        batch.alter_column("code", existing_type=sa.String(length=9), nullable=False)
        batch.create_unique_constraint("uq_reports_code", ["code"])
        batch.drop_column("code_hash")
