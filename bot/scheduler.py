"""Tickers over database rows: every periodic job, with a stable name, in one table.

Jobs are thin: they call a domain-level function with services, bot and `now`, which tests
call directly (no wall-clock tests). APScheduler runs them through python-telegram-bot's
JobQueue with coalescing and one instance at a time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telegram.ext import Application

from bot.context import BotContext
from db.sqlite_loop import in_background

JobFn = Callable[[BotContext], Awaitable[None]]


@dataclass(frozen=True)
class JobSpec:
    """A periodic job: stable name, callback, interval and first delay in seconds."""

    name: str
    callback: JobFn
    interval: float
    first: float = 5.0


JOB_OPTIONS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}


def schedule_jobs(app: Application[Any, Any, Any, Any, Any, Any], jobs: list[JobSpec]) -> None:
    """Put every job on the Application's JobQueue (started and stopped with the app)."""
    queue = app.job_queue
    if queue is None:  # pragma: no cover - the job-queue extra is a pinned dependency
        raise RuntimeError("python-telegram-bot was installed without the job-queue extra")
    for job in jobs:
        queue.run_repeating(
            in_background(job.callback), interval=job.interval, first=job.first, name=job.name, job_kwargs=JOB_OPTIONS
        )
