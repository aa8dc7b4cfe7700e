"""`GET /healthz`: is the database answering and is Telegram reachable?

A monitoring probe (or a load balancer) may call it every few seconds, so Telegram's answer to
getMe is kept for `telegram_ttl` seconds; the database is asked every time, because it is ours
and `SELECT 1` is cheap. The body names each part as "ok" or "failed" and nothing else: no error
texts, which could carry a host name, a path or the token. The reason goes to the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram.error import TelegramError

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
CHECK_TIMEOUT = 5.0


@dataclass(frozen=True)
class HealthReport:
    """The state of each part; healthy when every part is ok."""

    database: bool
    telegram: bool

    @property
    def healthy(self) -> bool:
        """Whether every part answered."""
        return self.database and self.telegram

    def body(self) -> dict[str, str]:
        """The JSON body of /healthz."""
        return {
            "status": "ok" if self.healthy else "failed",
            "database": "ok" if self.database else "failed",
            "telegram": "ok" if self.telegram else "failed",
        }


class HealthCheck:
    """Checks the database on every call and Telegram at most once per `telegram_ttl` seconds."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        get_me: Callable[[], Awaitable[object]],
        sqlite_path: Path | None = None,
        telegram_ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.get_me = get_me
        self.sqlite_path = sqlite_path
        self.telegram_ttl = telegram_ttl
        self.clock = clock
        self._telegram: tuple[float, bool] | None = None
        self._telegram_lock = asyncio.Lock()

    async def check(self) -> HealthReport:
        """Ask both parts (Telegram from the cache when fresh) and report."""
        database, telegram = await asyncio.gather(self._database_ok(), self._telegram_ok())
        return HealthReport(database=database, telegram=telegram)

    async def _database_ok(self) -> bool:
        # SQLite keeps working on a file deleted under it, and loses everything at the next
        # start: a missing file is a failure even while SELECT 1 still answers.
        if self.sqlite_path is not None and not self.sqlite_path.exists():
            logger.warning("health: the database file is missing")
            return False
        try:
            async with asyncio.timeout(CHECK_TIMEOUT), self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            logger.warning("health: the database does not answer (%s)", type(exc).__name__)
            return False
        return True

    async def _telegram_ok(self) -> bool:
        async with self._telegram_lock:  # concurrent probes share one getMe
            cached = self._telegram
            if cached is not None and self.clock() - cached[0] < self.telegram_ttl:
                return cached[1]
            try:
                async with asyncio.timeout(CHECK_TIMEOUT):
                    await self.get_me()
                ok = True
            except (TelegramError, TimeoutError) as exc:
                logger.warning("health: Telegram is not reachable (%s)", type(exc).__name__)
                ok = False
            self._telegram = (self.clock(), ok)
            return ok


def health_handler(check: HealthCheck) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The aiohttp handler of GET /healthz: 200 when healthy, else 503, with a small JSON body."""

    async def healthz(request: web.Request) -> web.Response:
        report = await check.check()
        return web.json_response(report.body(), status=200 if report.healthy else 503)

    return healthz


def health_app(check: HealthCheck) -> web.Application:
    """An aiohttp application serving only /healthz (polling mode with --health-port)."""
    app = web.Application()
    app.router.add_get(HEALTH_PATH, health_handler(check))
    return app
