"""Logging set-up: readable console lines or one JSON object per line.

What a line may carry is decided here, once: the update id, its type and chat type, the handler
that ran and how long it took. Never a name, a username, message text, a report code or a
Telegram user id: an operator follows one update by its `update_id`, and personal data stays in
the database where erasure and retention reach it (UU 27/2022), not in log archives.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from telegram import Update
from telegram.ext import Application, BaseHandler, ConversationHandler

update_logger = logging.getLogger("bot.updates")

# Fields of the update being handled, added to every line logged while its handler runs.
_UPDATE_FIELDS: ContextVar[dict[str, object] | None] = ContextVar("update_fields", default=None)
# Attributes every LogRecord has; anything else on a record came from `extra=` and is a field.
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Format records as JSON lines for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        """Return one JSON object: time, level, logger, message, then the structured fields."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_UPDATE_FIELDS.get() or {})
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(log_format: str = "console", level: int = logging.INFO) -> None:
    """Configure the root logger once."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # a library's warning is a log line too, JSON in json mode
    # httpx logs every request URL, and Telegram URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # aiohttp's access log would add client addresses; the webhook logs what it refuses itself.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def update_fields(update: object) -> dict[str, object]:
    """The loggable facts of an update: its id, type and chat type, nothing about the person."""
    if not isinstance(update, Update):
        return {}
    fields: dict[str, object] = {"update_id": update.update_id}
    kind = next((k for k in Update.ALL_TYPES if getattr(update, k, None) is not None), None)
    if kind is not None:
        fields["update_type"] = str(kind)
    if update.effective_chat is not None:
        fields["chat_type"] = update.effective_chat.type
    return fields


@contextmanager
def logging_update(update: object, **extra: object) -> Iterator[None]:
    """Add an update's fields to every line logged inside the block."""
    token = _UPDATE_FIELDS.set({**update_fields(update), **extra})
    try:
        yield
    finally:
        _UPDATE_FIELDS.reset(token)


def _timed(callback: Callable[..., Awaitable[Any]], *, quiet: bool) -> Callable[..., Awaitable[Any]]:
    name = f"{callback.__module__}.{callback.__qualname__}"

    @functools.wraps(callback)
    async def timed(update: object, context: Any) -> Any:
        started = time.perf_counter()
        with logging_update(update, handler=name):
            try:
                return await callback(update, context)
            finally:
                if not quiet:
                    update_logger.info(
                        "update handled", extra={"duration_ms": round((time.perf_counter() - started) * 1000, 1)}
                    )

    timed._timed = True  # type: ignore[attr-defined]
    return timed


def _handlers_within(handler: BaseHandler[Any, Any, Any]) -> Iterator[BaseHandler[Any, Any, Any]]:
    if isinstance(handler, ConversationHandler):
        nested = [*handler.entry_points, *handler.fallbacks]
        for state_handlers in handler.states.values():
            nested.extend(state_handlers)
        for inner in nested:
            yield from _handlers_within(inner)
    else:
        yield handler


def instrument_handlers(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Time every handler and tag its log lines with the update's fields.

    Handlers in negative groups (loading the account) run for every update before the feature
    handler: they are tagged but not logged on their own, so each update gives one line.
    """
    for group, group_handlers in app.handlers.items():
        for outer in group_handlers:
            for handler in _handlers_within(outer):
                if not getattr(handler.callback, "_timed", False):
                    handler.callback = _timed(handler.callback, quiet=group < 0)
