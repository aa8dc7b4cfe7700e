"""Issue 17, item 12: the webhook server lets no client hold a connection (slow headers, slow
body) or all of them (a connection cap)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.sandbox.emulator import BotApiEmulator
from bot.webhook import SECRET_HEADER, ServerLimits, webhook_secret_token
from tests.e2e.test_webhook import SECRET_KEY, forged_start, webhook_bot
from tests.helpers.clock import FakeClock
from tests.helpers.databases import sqlite_url

pytestmark = pytest.mark.e2e

LIMITS = ServerLimits(header_seconds=0.5, body_seconds=0.5, max_connections=3)


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sends until it closes, or fail if it holds on longer."""
    return await asyncio.wait_for(reader.read(), timeout=seconds)


async def test_slow_headers_and_slow_bodies_are_cut_off(
    emulator: BotApiEmulator, tmp_path: Path, clock: FakeClock
) -> None:
    async with webhook_bot(emulator, sqlite_url(tmp_path), clock, limits=LIMITS) as bot:
        port = bot.server.port
        # Headers that never end: a byte now and then keeps nothing open.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /telegram HTTP/1.1\r\nHost: bot\r\n")
        started = time.monotonic()
        for _ in range(3):
            await asyncio.sleep(0.2)
            writer.write(b"X-Slow: 1\r\n")
        assert await closed_within(reader, 3.0) == b""
        assert time.monotonic() - started < 2.5
        writer.close()
        # Whole headers with the right secret, then a body that never comes.
        body = forged_start().encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"POST /telegram HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
            f"{SECRET_HEADER}: {webhook_secret_token(SECRET_KEY)}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body[:10]
        )
        answer = await closed_within(reader, 3.0)
        assert answer.startswith(b"HTTP/1.1 408"), answer
        writer.close()


async def test_connections_over_the_cap_get_503_and_the_rest_still_works(
    emulator: BotApiEmulator, tmp_path: Path, clock: FakeClock
) -> None:
    limits = ServerLimits(header_seconds=30, body_seconds=5, max_connections=3)
    async with webhook_bot(emulator, sqlite_url(tmp_path), clock, limits=limits) as bot:
        port = bot.server.port
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        await asyncio.sleep(0.1)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answer = await closed_within(reader, 3.0)
        assert answer.startswith(b"HTTP/1.1 503"), answer
        writer.close()
        for _, idle in held:
            idle.close()
        await asyncio.sleep(0.2)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: bot\r\nConnection: close\r\n\r\n")
        assert (await closed_within(reader, 5.0)).startswith(b"HTTP/1.1 200")
        writer.close()
