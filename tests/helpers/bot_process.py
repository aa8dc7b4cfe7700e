"""A real `forum-anak run` in its own process against the in-test emulator: start, SIGKILL, restart.

Also the seeded randomness of the crash tests: `CRASH_SEED=N` replays a failing run, and every
assertion message names the seed.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.sandbox.emulator import BotApiEmulator

SECRET = "crash-test-secret-key-that-is-long-enough-0123456789"
READY_LINE = "ready"  # bot/app.py logs "bot @<name> ready" once the delivery engine runs
FINAL_GET_UPDATES = "Error while calling `get_updates` one more time"


def forum_anak_exe() -> str:
    """The installed console script next to this interpreter."""
    return str(Path(sys.executable).parent / "forum-anak")


def clean_env(**settings: str) -> dict[str, str]:
    """The test process's environment without any bot setting, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SECRET_", "DATABASE_"))}
    env.update(settings)
    return env


def crash_seed() -> int:
    """A fresh seed per run (or CRASH_SEED to replay one); tests print it in their assertions."""
    fixed = os.environ.get("CRASH_SEED")
    return int(fixed) if fixed else random.SystemRandom().randrange(2**32)


class BotProcess:
    """`forum-anak run` (long polling) on one database, talking to the emulator."""

    def __init__(self, emulator: BotApiEmulator, database_url: str, workdir: Path, **settings: str) -> None:
        self.emulator = emulator
        self.workdir = workdir
        self.env = clean_env(
            TELEGRAM_BOT_TOKEN=emulator.token,
            TELEGRAM_API_BASE_URL=emulator.base_url,
            DATABASE_URL=database_url,
            SECRET_KEY=SECRET,
            QUIET_HOURS="off",  # the real clock may be at night in WITA
            **settings,
        )
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.log = workdir / "bot.log"

    async def start(self, timeout: float = 60.0) -> None:
        """Start the process and wait until it is ready (its delivery engine runs, polling begins)."""
        self.starts += 1
        self.log = self.workdir / f"bot-{self.starts}.log"
        with self.log.open("wb") as out:  # the child keeps its own descriptor
            self.process = await asyncio.create_subprocess_exec(
                forum_anak_exe(), "run", cwd=self.workdir, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while READY_LINE not in self.output():
            if self.process.returncode is not None:
                raise AssertionError(f"forum-anak run exited with {self.process.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"forum-anak run not ready within {timeout}s:\n{self.output()}")
            await asyncio.sleep(0.05)

    def output(self) -> str:
        """What the current process has logged so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def kill(self) -> None:
        """SIGKILL: no clean-up, no flush, no shutdown hook."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self, timeout: float = 30.0, *, allowed_errors: tuple[str, ...] = ()) -> None:
        """Stop gracefully (SIGTERM, as a service manager does); it must exit 0 and log no error.

        One error is python-telegram-bot's own and harmless: on stop it asks getUpdates once more
        to confirm the last updates, and may find the connection still held by the poll it just
        ended. Those updates then come again after a restart, which every handler tolerates.
        """
        if self.process is None or self.process.returncode is not None:
            return
        self.emulator.release_pollers()  # answer its long poll at once
        self.process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout)
        finally:
            self.emulator.resume_pollers()
        assert code == 0, f"forum-anak run exited with {code} on SIGTERM:\n{self.output()}"
        allowed = (FINAL_GET_UPDATES, *allowed_errors)
        errors = [line for line in self.output().splitlines()
                  if " ERROR " in line and not any(text in line for text in allowed)]
        assert not errors, self.output()

    async def ensure_dead(self) -> None:
        """Tear-down: kill it if a failed test left it running."""
        if self.process is not None and self.process.returncode is None:
            await self.kill()
