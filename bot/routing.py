"""Several webhook processes: each person's updates are handled by one process, whichever receives them.

Conversations (a report being written, an event being created), drafts and the per-person abuse
limits live in the memory of the process that handles the person's updates. A reverse proxy
spreads Telegram's POSTs over the processes without knowing who they are from, so each process
hashes the sender's Telegram id onto the same list of peers and forwards an update it does not
own to its owner, which handles it. If the owner does not answer, the update is handled where it
arrived: the bot still answers, and at worst a conversation in progress starts over.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

logger = logging.getLogger(__name__)

FORWARDED_HEADER = "X-Forum-Anak-Forwarded"
FORWARD_TIMEOUT = 10.0


def sender_key(update: Mapping[str, Any]) -> str:
    """The id that decides the owner: the sender's user id, else the chat's, else the update's."""
    for value in update.values():
        if not isinstance(value, dict):
            continue
        person = value.get("from") or value.get("user")
        if isinstance(person, dict) and person.get("id") is not None:
            return f"user:{person['id']}"
        inner = value.get("message")  # a callback query's chat is on its message
        chat = value.get("chat") or (inner.get("chat") if isinstance(inner, dict) else None)
        if isinstance(chat, dict) and chat.get("id") is not None:
            return f"chat:{chat['id']}"
    return f"update:{update.get('update_id')}"


class PeerRouter:
    """Which process owns an update, and forwarding it there."""

    def __init__(self, *, peers: Sequence[str], self_url: str, path: str, headers: Mapping[str, str]) -> None:
        if self_url not in peers:
            raise ValueError("the process's own URL must be one of the peers")
        self.peers = tuple(peers)
        self.self_url = self_url
        self.path = path
        self.headers = {**headers, FORWARDED_HEADER: "1"}
        self._session: aiohttp.ClientSession | None = None
        self.forwarded = 0

    def owner(self, update: Mapping[str, Any]) -> str:
        """The peer that handles this update: a stable hash of the sender over the peer list."""
        digest = hashlib.sha256(sender_key(update).encode()).digest()
        return self.peers[int.from_bytes(digest[:8], "big") % len(self.peers)]

    async def forward(self, peer: str, body: bytes) -> bool:
        """POST the update to its owner; False if the owner did not take it."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT))
        try:
            async with self._session.post(
                peer.rstrip("/") + self.path, data=body, headers={**self.headers, "Content-Type": "application/json"}
            ) as response:
                accepted = 200 <= response.status < 300
        except (aiohttp.ClientError, TimeoutError) as exc:
            logger.warning("peer unreachable, handling the update here (%s)", type(exc).__name__)
            return False
        if not accepted:
            logger.warning("peer refused an update (HTTP %s), handling it here", response.status)
            return False
        self.forwarded += 1
        return True

    async def close(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None
