"""The audit log: who did what to what, and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditEntry


async def record(
    session: AsyncSession,
    *,
    actor_telegram_id: int | None,
    action: str,
    now: datetime,
    subject: str | None = None,
    detail: str | None = None,
) -> None:
    """Append one entry; `actor_telegram_id` None means the operator's command line."""
    session.add(
        AuditEntry(
            at=now,
            actor_telegram_id=actor_telegram_id,
            action=action,
            subject=subject,
            detail=detail[:500] if detail else None,
        )
    )
    await session.flush()
