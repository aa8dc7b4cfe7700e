"""Webhook mode and the serving lifecycle of `forum-anak run` (SPEC §9).

Telegram POSTs each update to our URL with the secret token in a header. A small aiohttp server
checks the header, decodes the update and puts it into the Application's `update_queue`, exactly
where python-telegram-bot's own Updater would put it, and answers 200 at once (like PTB's
built-in webhook server); the same server answers `GET /healthz`. We use our own server rather
than PTB's tornado one because that one has no room for a second route (PTB's "custom webhook"
examples do the same with other frameworks).

The secret token is derived from SECRET_KEY, so every process behind a reverse proxy computes the
same one and no new setting is needed. `setWebhook` is idempotent: each process may call it.

Shutting down (SIGTERM or SIGINT): stop listening and finish the requests in hand, let the
Application process every update already queued and the handlers still running, let the
delivery engine record the batch in hand (post_stop), then close. The webhook stays set, so
Telegram keeps the updates for the other processes or for the next start.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update

from bot.app import SERVICES_KEY, BotApplication, freeze_startup_objects
from bot.health import HEALTH_PATH, HealthCheck, health_app, health_handler
from bot.routing import FORWARDED_HEADER, PeerRouter
from bot.services import Services
from db.crypto import keyed_digest

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PURPOSE = "telegram-webhook-secret/v1"
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "poll_answer")
# An update is a few kilobytes; anything far larger is not from Telegram.
MAX_BODY = 1024 * 1024
# How long a request in hand may take to finish once we stop listening.
SHUTDOWN_GRACE = 10.0
# A 503 for a connection over the cap: a proxy or Telegram then retries, nothing waits here.
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@dataclass(frozen=True)
class ServerLimits:
    """What one client may hold of the server (issue 17, item 12: slow-header connections).

    aiohttp has no header or body timeout of its own: a client sending a byte a minute held a
    connection (and its memory) for an hour, and enough of them held the port. Telegram sends a
    whole update in milliseconds and opens at most 40 connections (setWebhook's default).
    """

    header_seconds: float = 10.0  # from connecting (or the last answer) to the end of the headers
    body_seconds: float = 10.0  # to read the whole body once the headers are in
    max_connections: int = 100  # open connections at once; more are answered 503 and closed


class _Busy(asyncio.Protocol):
    """What a connection over the cap gets: 503, then closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_BUSY)
        transport.close()


def webhook_secret_token(secret_key: str) -> str:
    """The secret token Telegram sends back with every update: HMAC of SECRET_KEY for this purpose.

    64 hex characters, inside Telegram's alphabet (1-256 of A-Z, a-z, 0-9, _ and -).
    """
    return keyed_digest(secret_key, WEBHOOK_PURPOSE, "x-telegram-bot-api-secret-token")


def webhook_path(url: str) -> str:
    """The path our server listens on: the path of the public URL (the proxy keeps it)."""
    return urlsplit(url).path or "/"


class WebhookReceiver:
    """The aiohttp handler of Telegram's POSTs: check, decode, route to the owner or enqueue."""

    def __init__(
        self, app: BotApplication, *, secret_token: str, router: PeerRouter | None = None,
        body_seconds: float = ServerLimits.body_seconds,
    ) -> None:
        self.app = app
        self.router = router
        self._secret = secret_token.encode()
        self._body_seconds = body_seconds

    async def handle(self, request: web.Request) -> web.Response:
        """Answer 403 without the right secret, 400 for a body that is no update, else 200."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            logger.warning("webhook request refused: %s secret token", "wrong" if given else "missing")
            return web.Response(status=403)
        if not self.app.running:  # shutting down: Telegram retries, maybe on another process
            return web.Response(status=503)
        try:
            async with asyncio.timeout(self._body_seconds):
                body = await request.read()
        except TimeoutError:
            logger.warning("webhook request refused: the body took longer than %.0f s", self._body_seconds)
            return web.Response(status=408, headers={"Connection": "close"})
        data = _update_object(body)
        if data is None:
            return web.Response(status=400)
        if _private_chat_not_sender(data):
            logger.warning("webhook request refused: a private chat that is not its sender's")
            return web.Response(status=400)
        if self.router is not None and FORWARDED_HEADER not in request.headers:
            owner = self.router.owner(data)
            if owner != self.router.self_url and await self.router.forward(owner, body):
                return web.Response(status=200)
        try:
            update = Update.de_json(data, self.app.bot)
        except Exception as exc:  # anything a stranger can send must end in 400, never a crash
            logger.warning("webhook request refused: the body is not an update (%s)", type(exc).__name__)
            return web.Response(status=400)
        await self.app.update_queue.put(update)
        return web.Response(status=200)


def _private_chat_not_sender(update: dict[str, Any]) -> bool:
    """True for an update Telegram never sends: a private chat whose id is not its sender's.

    A private chat's id is the user's id. A forged one (from a peer, or anyone holding the
    secret) could otherwise act in one person's chat as another, e.g. read their /status answer.
    """
    for value in update.values():
        if not isinstance(value, dict):
            continue
        inner = value.get("message")  # a callback query's chat is on its message
        chat = value.get("chat") or (inner.get("chat") if isinstance(inner, dict) else None)
        sender = value.get("from")
        if isinstance(chat, dict) and chat.get("type") == "private" and isinstance(sender, dict):
            return chat.get("id") != sender.get("id")
    return False


def _update_object(body: bytes) -> dict[str, Any] | None:
    """The JSON object of an update, or None (logged) for anything else."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # also bytes that are not UTF-8, and absurd nesting
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        logger.warning("webhook request refused: the body is not an update")
        return None
    return data


def webhook_app(
    app: BotApplication, *, path: str, secret_token: str, health: HealthCheck, router: PeerRouter | None = None,
    limits: ServerLimits | None = None,
) -> web.Application:
    """The aiohttp application of webhook mode: Telegram's POSTs on `path`, and /healthz."""
    limits = limits or ServerLimits()
    web_app = web.Application(client_max_size=MAX_BODY)
    receiver = WebhookReceiver(app, secret_token=secret_token, router=router, body_seconds=limits.body_seconds)
    web_app.router.add_post(path, receiver.handle)
    web_app.router.add_get(HEALTH_PATH, health_handler(health))
    return web_app


def health_check_for(app: BotApplication, **kwargs: Any) -> HealthCheck:
    """The health check of a built Application: its engine, its bot's getMe, its SQLite file."""
    services: Services = app.bot_data[SERVICES_KEY]
    return HealthCheck(
        engine=services.engine, get_me=app.bot.get_me, sqlite_path=services.settings.sqlite_path, **kwargs
    )


@dataclass(frozen=True)
class Webhook:
    """Where Telegram should send updates."""

    url: str
    secret_token: str
    peers: tuple[str, ...] = ()  # internal URLs of every process (same list everywhere), or none
    self_url: str = ""  # this process's entry in `peers`


class BotServer:
    """Start and stop the bot in webhook mode, or polling with an optional /healthz port."""

    def __init__(
        self,
        app: BotApplication,
        *,
        listen: str = "0.0.0.0",
        port: int | None = None,
        webhook: Webhook | None = None,
        health: HealthCheck | None = None,
        limits: ServerLimits | None = None,
    ) -> None:
        self.app = app
        self.limits = limits or ServerLimits()
        self._listener: asyncio.Server | None = None
        self.listen = listen
        self.port = port
        self.webhook = webhook
        self.health = health or health_check_for(app)
        self._runner: web.AppRunner | None = None
        self.router: PeerRouter | None = None
        self._stopped = False
        self.not_listening = asyncio.Event()  # set once stopping has closed the port

    async def start(self) -> None:
        """Start the Application, then listen, then tell Telegram (webhook) or start polling."""
        app = self.app
        await app.initialize()
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        if self.webhook is not None:
            path = webhook_path(self.webhook.url)
            secret = self.webhook.secret_token
            if self.webhook.peers:
                self.router = PeerRouter(
                    peers=self.webhook.peers, self_url=self.webhook.self_url, path=path, headers={SECRET_HEADER: secret}
                )
            await self._listen(
                webhook_app(app, path=path, secret_token=secret, health=self.health, router=self.router,
                            limits=self.limits)
            )
            await app.bot.set_webhook(
                url=self.webhook.url,
                secret_token=self.webhook.secret_token,
                allowed_updates=list(ALLOWED_UPDATES),
                drop_pending_updates=False,
            )
            logger.info("webhook mode: listening on %s:%s%s", self.listen, self.port, path)
            return
        if self.port is not None:
            await self._listen(health_app(self.health))
            logger.info("health endpoint on %s:%s%s", self.listen, self.port, HEALTH_PATH)
        assert app.updater is not None
        await app.updater.start_polling(
            allowed_updates=list(ALLOWED_UPDATES), drop_pending_updates=False,
            # As run_polling does: a failed getUpdates goes to our error handler (one log line).
            error_callback=lambda exc: app.create_task(app.process_error(update=None, error=exc)),
        )
        logger.info("polling mode")

    async def _listen(self, web_app: web.Application) -> None:
        # aiohttp closes a connection that has not sent a whole request within keepalive_timeout
        # of connecting or of its last answer: that is the header timeout. The body's is in
        # WebhookReceiver, the connection cap in the protocol factory below (aiohttp has none).
        # A body cut off is not drained for longer than a body may take (lingering_time).
        runner = web.AppRunner(
            web_app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE, keepalive_timeout=self.limits.header_seconds,
            lingering_time=self.limits.body_seconds,
        )
        await runner.setup()
        self._runner = runner
        server = runner.server
        assert server is not None
        cap = self.limits.max_connections

        def connection() -> asyncio.Protocol:
            if len(server.connections) >= cap:
                logger.warning("connection refused: %d open already", cap)
                return _Busy()
            return server()

        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(connection, self.listen, self.port or 0)
        self.port = int(self._listener.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening, finish in-flight updates and the delivery batch in hand, close."""
        if self._stopped:
            return
        self._stopped = True
        app = self.app
        logger.info("stopping: finishing in-flight updates and deliveries")
        if self._listener is not None:  # no new connections; the ones in hand finish below
            self._listener.close()
            self._listener = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.not_listening.set()
        if self.router is not None:
            await self.router.close()
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()  # processes every queued update and waits for running handlers
            if app.post_stop is not None:
                await app.post_stop(app)
        await app.shutdown()
        # When start-up failed at getMe the Application never initialized and its shutdown does
        # nothing, but the bot's HTTP sessions are open; this closes them (and is a no-op after).
        await app.bot.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
        logger.info("stopped")


async def serve(server: BotServer) -> None:
    """Run a BotServer until SIGTERM or SIGINT, then stop it gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await server.start()
        except BaseException:
            await server.stop()
            raise
        freeze_startup_objects()
        await stop.wait()
        await server.stop()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
