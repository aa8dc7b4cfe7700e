"""Alembic environment: migrations run on a synchronous engine built from the config URL."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import db.models  # noqa: F401  (registers every table on the metadata)
from db.engine import make_sync_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    """Run the migrations inside one connection."""
    engine = make_sync_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:  # a failed migration must not leave a connection open
        engine.dispose()


run_migrations_online()
