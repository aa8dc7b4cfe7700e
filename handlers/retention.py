"""The daily retention job: notice before erasure, erasure of idle accounts, anonymised old cases."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.config import Settings
from bot.context import BotContext
from bot.services import Services
from db import audit, outbox, retention
from db.broadcasts import quiet_end
from db.models import User
from db.retention import RetentionPolicy
from handlers.callbacks import encode
from handlers.common import keyboard
from handlers.privacy import erase_account

logger = logging.getLogger(__name__)

BATCH = 200  # accounts per transaction: keeps SQLite's write lock short on a big first run


@dataclass(frozen=True)
class RetentionRun:
    """What one run did, as counts only (this is what the audit log keeps)."""

    notified: int
    erased: int
    anonymised: int
    purged: int
    evidence: int = 0  # photos of closed cases deleted


def policy_of(settings: Settings) -> RetentionPolicy:
    """The retention periods configured for this deployment."""
    return RetentionPolicy(
        inactive_days=settings.RETENTION_INACTIVE_DAYS,
        notice_days=settings.RETENTION_NOTICE_DAYS,
        closed_case_days=settings.RETENTION_CLOSED_CASE_DAYS,
        evidence_days=settings.RETENTION_EVIDENCE_DAYS,
    )


def _notice_row(services: Services, user: User, policy: RetentionPolicy, now: datetime) -> dict[str, Any]:
    renderer, settings = services.renderer, services.settings
    text = renderer.render(
        user.language, "privacy/erasure_notice", user=user, days=policy.notice_days,
        erase_on=retention.erasure_date(user, policy),
    )
    markup = keyboard([[(renderer.text(user.language, "btn.keep_account"), encode("pv", "keep"))]]).to_dict()
    assert user.erasure_notice_at is not None
    return outbox.new_row(
        kind="erasure_notice", text=text, now=now, chat_id=user.telegram_id, user_id=user.id,
        reply_markup=markup, dedupe_key=f"erasure_notice:{user.id}:{int(user.erasure_notice_at.timestamp())}",
        # Never urgent: like announcements, it waits for the end of the quiet hours.
        not_before=quiet_end(now, settings.quiet_hours, settings.tz),
    )


async def run_retention(services: Services, *, now: datetime) -> RetentionRun:
    """Run the retention rules once and record the counts in the audit log."""
    policy = policy_of(services.settings)
    notified = erased = 0
    while True:
        async with services.db() as session:
            people = await retention.claim_notices(session, policy=policy, now=now, limit=BATCH)
            await outbox.enqueue(session, [_notice_row(services, person, policy, now) for person in people])
        notified += len(people)
        if len(people) < BATCH:
            break
    while True:
        async with services.db() as session:
            people = await retention.due_for_erasure(session, policy=policy, now=now, limit=BATCH)
            for person in people:
                await erase_account(services, session, person, now=now)
        erased += len(people)
        if len(people) < BATCH:
            break
    async with services.db() as session:
        evidence = await retention.drop_closed_case_evidence(session, policy=policy, now=now)
        anonymised = await retention.anonymise_closed_cases(session, policy=policy, now=now)
        purged = await retention.purge_unlinked_messages(session, now=now)
        run = RetentionRun(notified=notified, erased=erased, anonymised=anonymised, purged=purged, evidence=evidence)
        await audit.record(
            session, actor_telegram_id=None, action="retention.run", now=now,
            detail=f"notified={notified} erased={erased} anonymised={anonymised} purged={purged} evidence={evidence}",
        )
    services.wake_delivery()
    logger.info("retention: %d notified, %d erased, %d cases anonymised, %d old messages purged, "
                "%d evidence photos deleted", notified, erased, anonymised, purged, evidence)
    return run


async def retention_job(context: BotContext) -> None:
    """Daily job: apply the retention rules."""
    await run_retention(context.services, now=context.now())
