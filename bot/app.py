"""The one assembly function: `build_application(settings)`, used by run, sandbox and tests."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults

import handlers
from bot.bulk_sender import BulkSender
from bot.config import Settings
from bot.context import SERVICES_KEY, BotContext
from bot.delivery import DeliveryEngine
from bot.logs import instrument_handlers
from bot.scheduler import schedule_jobs
from bot.services import Services, build_services
from bot.telegram_bot import ForumBot
from bot.telegram_request import AiohttpRequest
from bot.updates import PerUserUpdateProcessor
from db import roles
from handlers.commands import publish_defaults, publish_for_user

logger = logging.getLogger(__name__)

SANDBOX_TOKEN = "123456:SANDBOX-not-a-real-token"
RUN_JOBS_KEY = "run_jobs"
# getUpdates calls start at least this many seconds apart, so that under load one call brings
# several updates instead of one each. A poll that waited for its update (a quiet bot) is
# repeated at once: an update waits at most this long, and only right after a busy moment.
GET_UPDATES_SPACING = 0.02
DELIVERY_TASK_KEY = "delivery_task"
SENDER_KEY = "bulk_sender"

BotApplication = Application[Any, BotContext, Any, Any, Any, Any]


def build_application(
    settings: Settings, *, services: Services | None = None, run_jobs: bool = True
) -> BotApplication:
    """Assemble the Application: settings, services, handlers, jobs, start-up and shut-down.

    Tests pass `run_jobs=False` and call the job functions themselves with a controlled clock.
    """
    services = services or build_services(settings)
    token = settings.TELEGRAM_BOT_TOKEN or SANDBOX_TOKEN
    bot = ForumBot(
        token,
        base_url=settings.TELEGRAM_API_BASE_URL,
        base_file_url=settings.base_file_url,
        defaults=Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.tz),
        # aiohttp instead of PTB's HTTPX: the same calls for a fraction of the CPU (telegram_request.py)
        request=AiohttpRequest(),
        get_updates_request=AiohttpRequest(connections=1, spacing=GET_UPDATES_SPACING),
    )
    app = (
        ApplicationBuilder()
        .bot(bot)
        .context_types(ContextTypes(context=BotContext))
        .concurrent_updates(PerUserUpdateProcessor())
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
        .build()
    )
    app.bot_data[SERVICES_KEY] = services
    app.bot_data[RUN_JOBS_KEY] = run_jobs
    sender = BulkSender(base_url=settings.TELEGRAM_API_BASE_URL, token=token, paid=settings.PAID_BROADCAST)
    app.bot_data[SENDER_KEY] = sender
    services.delivery = DeliveryEngine(
        db=services.db,
        send=sender,
        clock=services.clock,
        rate=settings.BROADCAST_RATE,
        open_route=services.open_route,
    )
    handlers.register(app)
    instrument_handlers(app)  # after every handler is registered: times them, tags their log lines
    if run_jobs:
        schedule_jobs(app, handlers.JOBS)
    return app


async def _post_init(app: BotApplication) -> None:
    services: Services = app.bot_data[SERVICES_KEY]
    me = await app.bot.get_me()
    services.bot_username = me.username or services.bot_username
    async with services.db() as session:
        # ADMIN_IDS added and removed (db/roles.py): audited, and each changed menu published.
        changed = await roles.sync_admins(
            session,
            telegram_ids=services.settings.ADMIN_IDS,
            language=services.settings.DEFAULT_LOCALE,
            now=services.now(),
        )
    await _check_staff_chat(app, services)
    await publish_defaults(app.bot, services.renderer, services.settings.DEFAULT_LOCALE)
    for user in changed:
        await publish_for_user(app.bot, services.renderer, user)
    if app.bot_data[RUN_JOBS_KEY] and services.delivery is not None:
        # Our own task (post_init runs before the Application is running); post_stop awaits it.
        app.bot_data[DELIVERY_TASK_KEY] = asyncio.create_task(services.delivery.run(), name="delivery")
    logger.info("bot @%s ready", services.bot_username)


async def _check_staff_chat(app: BotApplication, services: Services) -> None:
    """Warn at start when report alerts cannot reach a staff group; they then go to staff privately."""
    chat = services.settings.STAFF_CHAT_ID
    if chat is None:
        logger.warning("STAFF_CHAT_ID is not set: report alerts go privately to every staff member and admin")
        return
    try:
        await app.bot.get_chat(chat)
    except TelegramError as exc:
        services.staff_chat_ok = False
        logger.warning("the staff group STAFF_CHAT_ID=%s cannot be reached (%s): is the bot a member? "
                       "Report alerts go privately to every staff member and admin", chat, exc)


async def _post_stop(app: BotApplication) -> None:
    # Let the delivery engine finish the batch in hand, so nothing is left half-recorded.
    services: Services = app.bot_data[SERVICES_KEY]
    task = app.bot_data.pop(DELIVERY_TASK_KEY, None)
    if services.delivery is not None and task is not None:
        services.delivery.stop()
        await task


async def _post_shutdown(app: BotApplication) -> None:
    services: Services = app.bot_data[SERVICES_KEY]
    await app.bot_data[SENDER_KEY].close()
    await services.engine.dispose()


def freeze_startup_objects() -> None:
    """Leave the objects made at start-up out of every later garbage collection.

    A full collection walks every object the collector tracks. Start-up makes about 150,000
    that live as long as the process (modules, SQLAlchemy's mappings, PTB's handlers, templates,
    the quiz bank): walking them stopped the event loop for about 110 ms every few seconds under
    load. Frozen, they are skipped, and a full collection takes 5-20 ms (`benchmarks/updates.py`).
    """
    gc.collect()
    gc.freeze()


async def start_polling(app: BotApplication, *, timeout: int = 10) -> None:
    """Start an Application by hand (sandbox, tests), running the start-up hook like run_polling."""
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=timeout)


async def stop_polling(app: BotApplication) -> None:
    """Stop an Application started with `start_polling`, running the shut-down hook."""
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
        if app.post_stop is not None:
            await app.post_stop(app)
    await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)
