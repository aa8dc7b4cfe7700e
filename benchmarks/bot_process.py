"""One bot for `benchmarks/updates.py`, in its own process: ours, or a bare echo bot.

Usage: python benchmarks/bot_process.py full|echo BASE_URL [DATABASE_URL] [PROFILE_PATH]
  full  the real Application from `build_application` (every handler, jobs and the delivery
        engine) on the given database, as `forum-anak run` starts it
  echo  python-telegram-bot's ApplicationBuilder with one MessageHandler that repeats the text
        and one CallbackQueryHandler that answers the press and edits the message: the least a
        bot can do with the same updates
Prints "ready" once it polls; when standard input closes it stops and prints one JSON line with
its CPU seconds, the errors it logged and the longest pause of a full garbage collection. With
PROFILE_PATH, cProfile statistics of the whole run are written there (read them with
`python -m pstats PROFILE_PATH`).
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import json
import logging
import resource
import sys
import time
from typing import Any

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.app import build_application, freeze_startup_objects, start_polling, stop_polling
from bot.config import load_settings

TOKEN = "123456:BENCHMARK-token"


class FullCollections:
    """The pauses of Python's full (generation 2) garbage collections: the event loop stops for each."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append(time.perf_counter() - self._started)


class ErrorCounter(logging.Handler):
    """Counts the errors the bot logs (a failed handler, a refused request)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Count one record and keep the first few messages."""
        self.count += 1
        if len(self.first) < 5:
            cause = f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})" if record.exc_info else ""
            self.first.append(f"{record.name}: {record.getMessage()}{cause}"[:300])


async def echo_text(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    """Repeat a text."""
    assert update.effective_message is not None and update.effective_message.text is not None
    await update.effective_message.reply_text(update.effective_message.text)


async def echo_press(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a button press and show its data in the pressed message."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    try:
        # The update id keeps two equal presses from being "message is not modified".
        await query.edit_message_text(f"{query.data} ({update.update_id})")
    except BadRequest:  # a press on a message that cannot be edited
        if update.effective_chat is not None:
            await update.get_bot().send_message(update.effective_chat.id, query.data or "?")


def echo_application(base_url: str) -> Application[Any, Any, Any, Any, Any, Any]:
    """The bare python-telegram-bot echo bot."""
    app = ApplicationBuilder().token(TOKEN).base_url(base_url).build()
    app.add_handler(MessageHandler(filters.TEXT, echo_text))
    app.add_handler(CallbackQueryHandler(echo_press))
    return app


async def main(kind: str, base_url: str, database_url: str | None) -> None:
    """Run until standard input closes."""
    counter = ErrorCounter()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().addHandler(counter)
    if kind == "full":
        settings = load_settings(
            env_file=None, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=base_url, DATABASE_URL=database_url,
            SECRET_KEY="benchmark-secret-key-that-is-long-enough-0123456789",
        )
        app = build_application(settings)
    else:
        app = echo_application(base_url)
    before = resource.getrusage(resource.RUSAGE_SELF)
    await start_polling(app)
    if kind == "full":
        freeze_startup_objects()  # as `forum-anak run` does once started
    collections = FullCollections()
    gc.callbacks.append(collections)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    # Count the run only: at the end the emulator answers long polls at once, and PTB's last
    # getUpdates may find its one connection busy, which it logs as an error and suppresses.
    logging.getLogger().removeHandler(counter)
    await stop_polling(app)
    after = resource.getrusage(resource.RUSAGE_SELF)
    stats = {"bot_cpu_seconds": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
             "bot_sys_seconds": round(after.ru_stime - before.ru_stime, 2), "bot_errors": counter.count,
             "first_bot_errors": counter.first, "gc_full": len(collections.pauses),
             "gc_max_ms": round(1000 * max(collections.pauses, default=0.0), 1)}
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    database = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] != "-" else None
    if len(sys.argv) > 4:
        with cProfile.Profile(time.process_time) as profile:  # CPU, not time spent waiting
            asyncio.run(main(sys.argv[1], sys.argv[2], database))
        profile.dump_stats(sys.argv[4])
    else:
        asyncio.run(main(sys.argv[1], sys.argv[2], database))
