"""Webhook mode, /healthz and graceful shutdown: the real Application, the emulator pushing over HTTP.

The emulator POSTs updates to the bot's own aiohttp server with the secret token header, the way
Telegram does; the last test runs the installed `forum-anak run --webhook-url ...` as a process.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest

from bot.app import build_application
from bot.config import load_settings
from bot.routing import PeerRouter
from bot.sandbox.emulator import BotApiEmulator
from bot.services import build_services
from bot.webhook import (
    SECRET_HEADER,
    BotServer,
    ServerLimits,
    Webhook,
    health_check_for,
    webhook_secret_token,
)
from db import users
from db.engine import make_engine, upgrade_database
from tests.e2e.conftest import ADMIN_ID, STAFF_CHAT_ID, TOKEN, BotHarness
from tests.e2e.test_reports import CODE, walk
from tests.helpers.clock import FakeClock
from tests.helpers.databases import POSTGRES_ADMIN_URL, postgres_database, sqlite_url

pytestmark = pytest.mark.e2e

SECRET_KEY = "e2e-secret-key-that-is-long-enough-0123456789"
STRANGER = 666


class Monotonic:
    """A hand-driven monotonic clock for the health check's Telegram cache."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class WebhookBot(BotHarness):
    """The harness of conftest, with the bot in webhook mode and its HTTP server at hand."""

    server: BotServer
    monotonic: Monotonic

    @property
    def root(self) -> str:
        """The bot's own server."""
        return f"http://127.0.0.1:{self.server.port}"

    async def post(self, body: bytes | str, *, secret: str | None) -> int:
        """POST a raw body to the webhook path as a stranger would; return the status."""
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        async with aiohttp.ClientSession() as http, http.post(f"{self.root}/telegram", data=body, headers=headers) as r:
            return r.status

    async def healthz(self) -> tuple[int, dict[str, Any]]:
        """GET /healthz; return the status and the JSON body."""
        async with aiohttp.ClientSession() as http, http.get(f"{self.root}/healthz") as response:
            return response.status, await response.json()


def free_port() -> int:
    """A port nothing listens on now (the webhook URL must name the port before we listen)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def e2e_env(emulator: BotApiEmulator, url: str) -> dict[str, Any]:
    """The settings every e2e bot runs with."""
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": emulator.base_url,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET_KEY,
        "ADMIN_IDS": (ADMIN_ID,),
        "STAFF_CHAT_ID": STAFF_CHAT_ID,
    }


@asynccontextmanager
async def webhook_bot(
    emulator: BotApiEmulator, url: str, clock: FakeClock, *,
    port: int | None = None, public_url: str | None = None, peers: tuple[str, ...] = (),
    limits: ServerLimits | None = None,
) -> AsyncIterator[WebhookBot]:
    """Run the bot in webhook mode against the emulator; fail if it made a refused request.

    Telegram posts to `public_url` (a proxy in front), else straight to the bot's port.
    """
    upgrade_database(url)
    settings = load_settings(env_file=None, **e2e_env(emulator, url))
    services = build_services(settings, clock=clock.now)
    app = build_application(settings, services=services, run_jobs=False)
    port = port or free_port()
    monotonic = Monotonic()
    own_url = f"http://127.0.0.1:{port}"
    webhook = Webhook(
        public_url or f"{own_url}/telegram", webhook_secret_token(SECRET_KEY), peers, own_url if peers else ""
    )
    server = BotServer(
        app, listen="127.0.0.1", port=port, webhook=webhook, health=health_check_for(app, clock=monotonic),
        limits=limits,
    )
    harness = WebhookBot(emulator, app, services, clock)
    harness.server, harness.monotonic = server, monotonic
    try:
        await server.start()
        yield harness
    finally:
        await server.stop()
    unexpected = emulator.unexpected_refusals()
    assert not unexpected, f"the bot made requests Telegram would refuse: {unexpected}"


@pytest.fixture
async def hook(emulator: BotApiEmulator, tmp_path: Path, clock: FakeClock) -> AsyncIterator[WebhookBot]:
    """A bot in webhook mode on a fresh SQLite file."""
    async with webhook_bot(emulator, sqlite_url(tmp_path), clock) as harness:
        yield harness


def forged_start(update_id: int = 990001) -> str:
    """A well-formed update: user STRANGER sends /start."""
    return json.dumps({
        "update_id": update_id,
        "message": {
            "message_id": 1, "date": 1795000000, "text": "/start",
            "chat": {"id": STRANGER, "type": "private", "first_name": "Mallory"},
            "from": {"id": STRANGER, "is_bot": False, "first_name": "Mallory"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    })


# ---------------------------------------------------------------------- updates by webhook


async def test_a_private_message_through_the_webhook_gets_its_reply(hook: WebhookBot) -> None:
    reply = await hook.send(101, "/start")
    assert "Pilih bahasa" in reply.text
    reply = await hook.press(101, "🇬🇧 English")
    assert "Before we start" in reply.text
    # Delivered by POST with the derived secret; the bot never polled.
    assert hook.emu.webhook_url == f"{hook.root}/telegram"
    assert hook.emu.webhook_attempts and {a.status for a in hook.emu.webhook_attempts} == {200}
    assert hook.emu.requests_for("getUpdates") == []
    set_webhook = hook.emu.requests_for("setWebhook")[-1].params
    assert set_webhook["secret_token"] == webhook_secret_token(SECRET_KEY)
    assert set_webhook["drop_pending_updates"] is False


async def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_processed(hook: WebhookBot) -> None:
    hook.emu.add_user(STRANGER, first_name="Mallory")
    assert await hook.post(forged_start(), secret=None) == 403
    assert await hook.post(forged_start(), secret="not-the-secret") == 403
    assert await hook.post(forged_start(), secret=webhook_secret_token("another-key-" + "x" * 32)) == 403
    # A genuine update after the forged ones is answered; the forged ones left no trace.
    assert "Pilih bahasa" in (await hook.send(101, "/start")).text
    assert hook.emu.bot_messages(STRANGER) == []
    async with hook.services.db() as session:
        assert await users.get_user(session, telegram_id=STRANGER) is None
    # The very same body with the right secret is processed: the refusal was the secret's doing.
    assert await hook.post(forged_start(), secret=webhook_secret_token(SECRET_KEY)) == 200
    reply = await hook.emu.next_bot_message(STRANGER)
    assert "Pilih bahasa" in reply.text


async def test_a_private_update_whose_chat_is_not_its_sender_is_refused(hook: WebhookBot) -> None:
    # Someone holding the secret (or a peer) poses as user 101 in STRANGER's private chat: the bot
    # would answer in STRANGER's chat with 101's account. Telegram never sends such an update.
    hook.emu.add_user(STRANGER, first_name="Mallory")
    forged = json.loads(forged_start(990010))
    forged["message"]["from"] = {"id": 101, "is_bot": False, "first_name": "Ana"}
    assert await hook.post(json.dumps(forged), secret=webhook_secret_token(SECRET_KEY)) == 400
    forged_press = {"update_id": 990011, "callback_query": {
        "id": "q1", "chat_instance": "c", "data": "menu:main",
        "from": {"id": 101, "is_bot": False, "first_name": "Ana"},
        "message": {"message_id": 1, "date": 1795000000, "text": "x",
                    "chat": {"id": STRANGER, "type": "private", "first_name": "Mallory"}}}}
    assert await hook.post(json.dumps(forged_press), secret=webhook_secret_token(SECRET_KEY)) == 400
    assert "Pilih bahasa" in (await hook.send(101, "/start")).text  # the genuine one still works
    assert hook.emu.bot_messages(STRANGER) == []
    assert await hook.post(forged_start(990012), secret=webhook_secret_token(SECRET_KEY)) == 200


async def test_an_update_posted_again_is_answered_once(hook: WebhookBot) -> None:
    # Telegram posts an update again when it thinks the first POST failed.
    hook.emu.add_user(STRANGER, first_name="Mallory")
    secret = webhook_secret_token(SECRET_KEY)
    for _ in range(3):
        assert await hook.post(forged_start(990002), secret=secret) == 200
    await hook.emu.wait_for(lambda: hook.emu.bot_messages(STRANGER), what="the answer")
    await hook.emu.wait_quiet(0.3, timeout=10)
    assert ["Pilih bahasa" in m.text for m in hook.emu.bot_messages(STRANGER)] == [True]
    # A new update from the same person is answered as usual.
    assert await hook.post(forged_start(990003), secret=secret) == 200
    await hook.emu.wait_for(lambda: len(hook.emu.bot_messages(STRANGER)) == 2, what="the second answer")


@pytest.mark.parametrize(
    "body",
    [
        "this is not json",
        b"\xff\xfe\x00 not utf-8",
        "[1, 2, 3]",
        '{"message": {"text": "no update id"}}',
        '{"update_id": "7"}',
        '{"update_id": 7, "message": "not an object"}',
        '{"update_id": 7, "callback_query": {"id": "1"}}',
        '{"update_id": 7, "message": ' + "[" * 100_000 + "]" * 100_000 + "}",
    ],
    ids=["not-json", "not-utf8", "array", "no-update-id", "string-id", "message-string", "query-incomplete", "deep"],
)
async def test_a_body_that_is_no_update_gets_400_and_the_bot_goes_on(hook: WebhookBot, body: str | bytes) -> None:
    assert await hook.post(body, secret=webhook_secret_token(SECRET_KEY)) == 400
    assert "Pilih bahasa" in (await hook.send(101, "/start")).text


async def test_updates_sent_while_the_bot_was_down_arrive_when_it_is_up(
    emulator: BotApiEmulator, tmp_path: Path, clock: FakeClock
) -> None:
    # A first run sets the webhook, then stops; Telegram keeps pushing to a closed port.
    async with webhook_bot(emulator, sqlite_url(tmp_path), clock) as first:
        old_port = first.server.port
    emulator.add_user(101)
    emulator.send_text(101, "/start")
    await emulator.wait_for(lambda: any(a.status == 0 for a in emulator.webhook_attempts), what="a refused push")
    assert emulator.pending_updates == 1
    async with webhook_bot(emulator, sqlite_url(tmp_path), clock) as second:
        # The new process listens elsewhere: its setWebhook moves the pushes there.
        assert second.server.port != old_port
        reply = await emulator.next_bot_message(101)
        assert "Pilih bahasa" in reply.text


# ---------------------------------------------------------------------- /healthz


async def test_healthz_is_200_and_asks_telegram_at_most_every_30_seconds(hook: WebhookBot) -> None:
    before = len(hook.emu.requests_for("getMe"))
    status, body = await hook.healthz()
    assert (status, body) == (200, {"status": "ok", "database": "ok", "telegram": "ok"})
    for _ in range(3):
        assert (await hook.healthz())[0] == 200
    assert len(hook.emu.requests_for("getMe")) == before + 1
    hook.monotonic.now += 31
    assert (await hook.healthz())[0] == 200
    assert len(hook.emu.requests_for("getMe")) == before + 2


async def test_healthz_is_503_naming_telegram_when_it_is_unreachable(hook: WebhookBot) -> None:
    assert (await hook.healthz())[0] == 200
    await hook.emu.stop()
    assert (await hook.healthz())[0] == 200  # still the cached answer: no probe storm on Telegram
    hook.monotonic.now += 31
    status, body = await hook.healthz()
    assert (status, body) == (503, {"status": "failed", "database": "ok", "telegram": "failed"})


async def test_healthz_is_503_naming_the_database_when_its_file_is_gone(hook: WebhookBot, tmp_path: Path) -> None:
    assert (await hook.healthz())[0] == 200
    for name in ("test.db", "test.db-wal", "test.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    status, body = await hook.healthz()
    assert (status, body) == (503, {"status": "failed", "database": "failed", "telegram": "ok"})


@pytest.mark.pg
async def test_healthz_is_503_when_postgresql_is_gone(emulator: BotApiEmulator, clock: FakeClock) -> None:
    with postgres_database() as url:
        async with webhook_bot(emulator, url, clock) as bot:
            assert (await bot.healthz())[0] == 200
            name = url.rsplit("/", 1)[1]
            with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            status, body = await bot.healthz()
            assert (status, body) == (503, {"status": "failed", "database": "failed", "telegram": "ok"})


async def test_healthz_on_a_closed_postgresql_port_is_503(emulator: BotApiEmulator, clock: FakeClock, tmp_path: Path) -> None:
    async with webhook_bot(emulator, sqlite_url(tmp_path), clock) as bot:
        # The same check pointed at a server that is not there (port 1 is never PostgreSQL).
        engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
        try:
            check = health_check_for(bot.app, clock=bot.monotonic)
            check.engine = engine
            report = await check.check()
        finally:
            await engine.dispose()
        assert report.body() == {"status": "failed", "database": "failed", "telegram": "ok"}


async def test_polling_mode_serves_healthz_on_its_own_port(
    emulator: BotApiEmulator, tmp_path: Path, clock: FakeClock
) -> None:
    url = sqlite_url(tmp_path)
    upgrade_database(url)
    settings = load_settings(env_file=None, **e2e_env(emulator, url))
    app = build_application(settings, services=build_services(settings, clock=clock.now), run_jobs=False)
    server = BotServer(app, listen="127.0.0.1", port=free_port())
    try:
        await server.start()
        emulator.add_user(101)
        emulator.send_text(101, "/start")
        assert "Pilih bahasa" in (await emulator.next_bot_message(101)).text
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{server.port}/healthz") as r:
            assert (r.status, await r.json()) == (200, {"status": "ok", "database": "ok", "telegram": "ok"})
    finally:
        emulator.release_pollers()
        await server.stop()
    assert emulator.webhook_url == "" and emulator.requests_for("getUpdates")


# ---------------------------------------------------------------------- graceful shutdown


async def test_stopping_finishes_the_update_in_flight_and_refuses_new_requests(hook: WebhookBot) -> None:
    hold = hook.emu.hold_next("sendMessage")  # Telegram is slow to accept the reply
    hook.emu.add_user(101)
    hook.emu.send_text(101, "/start")
    await hold.arrived.wait()  # the handler is running, waiting on its reply
    port = hook.server.port
    stopping = asyncio.create_task(hook.server.stop())
    await asyncio.wait_for(hook.server.not_listening.wait(), 5)
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz"):
            pass
    assert not stopping.done()  # still waiting for the handler in flight
    hold.release()
    await stopping
    assert "Pilih bahasa" in hook.emu.bot_messages(101)[-1].text


def forum_anak_exe() -> str:
    """The installed console script."""
    return str(Path(sys.executable).parent / "forum-anak")


def run_env(emulator: BotApiEmulator, tmp_path: Path) -> dict[str, str]:
    """The environment of `forum-anak run` against the emulator, logging JSON."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SECRET_", "DATABASE_"))}
    env.update({
        "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": emulator.base_url, "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": sqlite_url(tmp_path), "LOG_FORMAT": "json", "STAFF_CHAT_ID": str(STAFF_CHAT_ID),
    })
    return env


async def test_forum_anak_run_webhook_exits_0_on_sigterm_after_the_slow_reply(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        forum_anak_exe(), "run", "--webhook-url", f"http://127.0.0.1:{port}/telegram", "--port", str(port),
        "--listen", "127.0.0.1", cwd=tmp_path, env=run_env(emulator, tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    lines: list[dict[str, Any]] = []

    async def read_until(message: str) -> None:
        while not any(line["message"].startswith(message) for line in lines):
            raw = await process.stderr.readline()  # type: ignore[union-attr]
            if not raw:
                raise AssertionError(f"process ended before logging {message!r}: {lines}")
            lines.append(json.loads(raw))

    try:
        await asyncio.wait_for(read_until("webhook mode: listening"), 60)
        assert emulator.webhook_url == f"http://127.0.0.1:{port}/telegram"
        hold = emulator.hold_next("sendMessage")
        emulator.add_user(101)
        emulator.send_text(101, "/start")
        await asyncio.wait_for(hold.arrived.wait(), 30)
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(read_until("stopping"), 30)
        hold.release()
        code = await asyncio.wait_for(process.wait(), 60)
        rest = await process.stderr.read()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    lines.extend(json.loads(line) for line in rest.decode().splitlines() if line.strip())
    assert code == 0, lines
    assert "Pilih bahasa" in emulator.bot_messages(101)[-1].text
    assert lines[-1]["message"] == "stopped"
    handled = [line for line in lines if line["message"] == "update handled"]
    assert handled and handled[0]["update_type"] == "message" and handled[0]["chat_type"] == "private"
    assert TOKEN not in rest.decode() and SECRET_KEY not in json.dumps(lines)


async def test_forum_anak_run_names_a_port_that_is_taken(emulator: BotApiEmulator, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            forum_anak_exe(), "run", "--webhook-url", f"http://127.0.0.1:{port}/telegram", "--port", str(port),
            "--listen", "127.0.0.1", cwd=tmp_path, env=run_env(emulator, tmp_path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 1
    last = stderr.decode().strip().splitlines()[-1]
    assert last == f"forum-anak: cannot listen on 127.0.0.1:{port}: Address already in use"


# ---------------------------------------------------------------------- several processes


class RoundRobinProxy:
    """What nginx does in front of several processes: each POST to the next one, in turn."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.turn = 0
        self.port = 0
        self._runner: aiohttp.web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/telegram"

    async def __aenter__(self) -> RoundRobinProxy:
        app = aiohttp.web.Application()
        app.router.add_post("/telegram", self.relay)
        self._runner = aiohttp.web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await aiohttp.web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def relay(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        backend = self.backends[self.turn % len(self.backends)]
        self.turn += 1
        headers = {SECRET_HEADER: request.headers.get(SECRET_HEADER, ""), "Content-Type": "application/json"}
        try:
            async with aiohttp.ClientSession() as http, http.post(
                f"{backend}/telegram", data=await request.read(), headers=headers
            ) as response:
                return aiohttp.web.Response(status=response.status)
        except aiohttp.ClientError:
            return aiohttp.web.Response(status=502)


def owned_by(router: PeerRouter, peer: str) -> int:
    """A user id whose updates the hash gives to `peer`."""
    return next(uid for uid in range(7000, 7100) if router.owner({"update_id": 1, "message": {"from": {"id": uid}}}) == peer)


async def test_two_processes_behind_a_round_robin_proxy_keep_each_conversation_whole(
    emulator: BotApiEmulator, tmp_path: Path, clock: FakeClock
) -> None:
    ports = (free_port(), free_port())
    peers = tuple(f"http://127.0.0.1:{port}" for port in ports)
    router = PeerRouter(peers=peers, self_url=peers[0], path="/telegram", headers={})
    reporters = [owned_by(router, peer) for peer in peers]  # one reporter owned by each process
    url = sqlite_url(tmp_path)
    async with (
        RoundRobinProxy(list(peers)) as proxy,
        webhook_bot(emulator, url, clock, port=ports[0], public_url=proxy.url, peers=peers) as first,
        webhook_bot(emulator, url, clock, port=ports[1], public_url=proxy.url, peers=peers) as second,
    ):
        assert emulator.webhook_url == proxy.url
        # Multi-step report conversations; the proxy sends each step to the other process in turn.
        codes = [await walk(first, uid) for uid in reporters]
        assert all(CODE.fullmatch(code) for code in codes)
        for bot in (first, second):
            assert bot.server.router is not None and bot.server.router.forwarded > 0
        assert proxy.turn >= 20  # every step went through the proxy


async def test_an_update_whose_owner_is_down_is_handled_where_it_arrived(
    emulator: BotApiEmulator, tmp_path: Path, clock: FakeClock
) -> None:
    ports = (free_port(), free_port())
    peers = tuple(f"http://127.0.0.1:{port}" for port in ports)
    router = PeerRouter(peers=peers, self_url=peers[0], path="/telegram", headers={})
    uid = owned_by(router, peers[1])
    async with webhook_bot(emulator, sqlite_url(tmp_path), clock, port=ports[0], peers=peers) as alone:
        assert "Pilih bahasa" in (await alone.send(uid, "/start")).text
        assert alone.server.router is not None and alone.server.router.forwarded == 0
