"""A lean sender for the delivery engine: one pooled aiohttp session, JSON in, `ok` out.

Measured (benchmarks/broadcast.py) python-telegram-bot's full path costs well over 1 CPU-ms per
sent message: HTTPX, and above all building a `Message` object from every answer, which the
outbox never reads. At Telegram's paid-broadcast ceiling of 1000 messages per second that alone
would need a whole core. This sender posts the same Bot API call and maps Telegram's error codes
to python-telegram-bot's exceptions, so the engine handles both senders alike.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import aiohttp
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from db.outbox import Outgoing

# A message takes well under a second; shorter than bot/delivery.py's SEND_MARGIN, so that a send
# always ends before the lease of its row can run out.
SEND_TIMEOUT = 10.0
_METHODS = {"photo": ("sendPhoto", "photo"), "document": ("sendDocument", "document")}


class BulkSender:
    """Send outbox rows to the Bot API at `base_url` + token (the same URL the bot uses)."""

    def __init__(self, *, base_url: str, token: str, paid: bool = False, connections: int = 64) -> None:
        self.root = f"{base_url}{token}/"
        self.paid = paid
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _payload(self, item: Outgoing, chat_id: int) -> tuple[str, dict[str, Any]]:
        payload: dict[str, Any] = {"chat_id": chat_id, "parse_mode": "HTML"}
        if item.media_kind in _METHODS and item.media_file_id:
            method, field = _METHODS[item.media_kind]
            payload[field] = item.media_file_id
            if item.text:
                payload["caption"] = item.text
        else:
            method = "sendMessage"
            payload["text"] = item.text
        if item.reply_markup:
            payload["reply_markup"] = item.reply_markup
        if self.paid:
            payload["allow_paid_broadcast"] = True
        return method, payload

    async def __call__(self, item: Outgoing, chat_id: int) -> None:
        """Send one row; raise python-telegram-bot's exception for Telegram's refusal."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections),
                timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT),
            )
        method, payload = self._payload(item, chat_id)
        try:
            async with self._session.post(
                self.root + method, data=json.dumps(payload), headers={"Content-Type": "application/json"}
            ) as response:
                body = await response.read()
        except TimeoutError as exc:
            raise TimedOut("Timed out") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"connection failed: {exc}") from exc
        raise_for_answer(response.status, body)


def raise_for_answer(status: int, body: bytes) -> None:
    """Map a Bot API answer to python-telegram-bot's exception, or return when it is ok."""
    try:
        answer = json.loads(body)
    except ValueError:
        raise NetworkError(f"invalid answer from the Bot API (HTTP {status})") from None
    if answer.get("ok"):
        return
    description = str(answer.get("description", "unknown error"))
    code = int(answer.get("error_code", status))
    if code == 429:
        retry_after = int((answer.get("parameters") or {}).get("retry_after", 1))
        raise RetryAfter(timedelta(seconds=retry_after))
    if code == 403:
        raise Forbidden(description)
    if code == 400:
        raise BadRequest(description)
    if code >= 500:
        raise NetworkError(description)
    raise TelegramError(description)
