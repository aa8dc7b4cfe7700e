"""The one routing table: which update goes to which handler."""

from __future__ import annotations

import warnings
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.context import BotContext
from bot.scheduler import JobSpec
from content.quizzes import load_quiz_bank
from content.safety import load_detector
from db import users
from handlers import (
    basics,
    broadcast_composer,
    broadcasts,
    case_notes,
    cases,
    consent,
    conversations,
    crisis,
    errors,
    event_admin,
    events,
    flood,
    indicators,
    menu,
    onboarding,
    privacy,
    private_only,
    quiz_stats,
    quizzes,
    report_flow,
    report_status,
    retention,
    roles,
    scopes,
)
from handlers.callbacks import pattern
from handlers.commands import COMMANDS, Audience
from handlers.common import ADMIN_ROLES, FACILITATOR_ROLES, STAFF_ROLES, HandlerFn, only_for
from handlers.menu import MenuItem, Routes

# Command key -> handler. Names and audiences live in handlers/commands.py.
COMMAND_CALLBACKS: dict[str, HandlerFn] = {
    "start": onboarding.start,
    "menu": menu.menu_command,
    "help": basics.help_command,
    "language": basics.language_command,
    "privacy": privacy.privacy_command,
    "mydata": privacy.mydata_command,
    "deletedata": privacy.deletedata_command,
    "join": roles.join_command,
    "stop": basics.stop_command,
    "subscribe": basics.subscribe_command,
    "consent": consent.consent_command,
    "invite": roles.invite_command,
    "roles": roles.roles_command,
    "revoke": roles.revoke_command,
    "broadcast": broadcasts.broadcast_command,
    "export": indicators.export_command,
    "stats": indicators.stats_command,
    "events": events.events_command,
    "myevents": events.my_events_command,
    "checkin": events.checkin_command,
    "newevent": event_admin.start_new,
    "attendees": event_admin.attendees_command,
    "quiz": quizzes.quiz_command,
    "quizstats": quiz_stats.quiz_stats_command,
    # Taken by the report conversation first (like /acara_baru by the event form); a group's
    # /lapor is answered by handlers/private_only.py before any feature.
    "report": report_flow.start_report,
    "status": report_status.status_command,
    "cases": cases.cases_command,
    "scope": scopes.scope_command,
}

GUARDS = {Audience.FACILITATOR: FACILITATOR_ROLES, Audience.STAFF: STAFF_ROLES, Audience.ADMIN: ADMIN_ROLES}

MENU_ITEMS = (
    MenuItem("report", Audience.ANYONE, report_flow.start_report, for_guests=True),
    MenuItem("help", Audience.ANYONE, basics.help_command, for_guests=True),
    MenuItem("language", Audience.ANYONE, basics.language_command, for_guests=True),
    MenuItem("privacy", Audience.ANYONE, privacy.privacy_command, for_guests=True),
    MenuItem("broadcast", Audience.FACILITATOR, broadcasts.broadcast_command),
    MenuItem("export", Audience.STAFF, indicators.export_command),
    MenuItem("stats", Audience.STAFF, indicators.stats_command),
    MenuItem("cases", Audience.STAFF, cases.cases_command),
    MenuItem("events", Audience.REGISTERED, events.events_command),
    MenuItem("myevents", Audience.REGISTERED, events.my_events_command),
    MenuItem("attendees", Audience.FACILITATOR, event_admin.attendees_command),
    MenuItem("quiz", Audience.ANYONE, quizzes.quiz_command, for_guests=True),
)

# Callback features: prefix -> handler. Anything else is a stale or foreign button.
BUTTONS: dict[str, HandlerFn] = {
    "ob": onboarding.on_button,
    "gd": consent.on_button,
    "menu": menu.on_button,
    "lang": basics.on_language_button,
    "pv": privacy.on_button,
    "bcl": only_for(FACILITATOR_ROLES, broadcasts.on_button),
    "bca": only_for(STAFF_ROLES, broadcasts.on_approval),
    "ex": only_for(STAFF_ROLES, indicators.on_button),
    "ev": events.on_button,
    "eva": only_for(FACILITATOR_ROLES, event_admin.on_button),
    "qz": quizzes.on_button,
    "case": only_for(STAFF_ROLES, cases.on_button),
}


# Periodic jobs (stable names); see bot/scheduler.py.
JOBS: list[JobSpec] = [
    JobSpec("broadcasts.fire_due", broadcasts.fire_job, interval=30),
    JobSpec("events.reminders", events.reminder_job, interval=60),
    JobSpec("reports.realert_urgent", cases.realert_job, interval=60),
    JobSpec("reports.undelivered", cases.undelivered_job, interval=60),
    JobSpec("indicators.close_months", indicators.close_months_job, interval=3600, first=60),
    # Daily, first five minutes after start (idempotent, so a restart only runs it early).
    JobSpec("privacy.retention", retention.retention_job, interval=24 * 3600, first=300),
]


REPORT_SIDE_KEY = "report_side_handlers"


async def load_user(update: Update, context: BotContext) -> None:
    """Load the sender's account once per update, before any feature handler runs."""
    sender = update.effective_user
    if sender is None:
        return
    context.telegram_language = sender.language_code
    async with context.db(commit=False) as session:
        context.user = await users.get_user(session, telegram_id=sender.id)
    await conversations.end_left(update, context)  # another command or button ends a free-text step
    now = context.now()
    if context.user is None or not users.touch_due(context.user, now):  # at most daily: a write
        return
    # A report action writes nothing about the person (ARCHITECTURE §6): the day of an update
    # that the report or /status flows take is not recorded, so last_seen_at never says "was
    # here when that report came in".
    reporting = context.application.bot_data.get(REPORT_SIDE_KEY, ())
    if any(handler.check_update(update) for handler in reporting):
        return
    async with context.db() as session:
        await users.touch(session, user=context.user, now=now)


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Attach every handler to the Application, in order."""
    app.bot_data[menu.ROUTES_KEY] = Routes(
        items={item.key: item for item in MENU_ITEMS},
        deep_links={"ev_": events.open_from_link, "kuis": quizzes.quiz_command,
                    "lapor": report_flow.start_report, cases.LINK_PREFIX: cases.open_from_link},
    )
    # A broken quiz bank stops start-up with a message naming the file, question and problem.
    app.bot_data[quizzes.BANK_KEY] = load_quiz_bank()
    detector = load_detector()  # a broken crisis list stops start-up, naming the file
    app.bot_data[flood.GATE_KEY] = flood.new_gate()
    app.add_handler(flood.handler(crisis.help_filter(detector), crisis.answer_for(detector)),
                    group=flood.GROUP)  # drops floods
    app.add_handler(crisis.handler(detector), group=crisis.GROUP)  # sees every private text, stops none
    app.add_handler(TypeHandler(Update, load_user), group=-1)
    # Nothing private in a group: a group's entry to a private-only feature gets a link and stops
    # here. The first handler of the features' group, so no feature or conversation sees it.
    app.add_handler(private_only.handler(), group=private_only.GROUP)
    # Conversations first: while one is active, its handlers see the user's messages. They are
    # keyed per user and chat on purpose (buttons are re-checked on every press), so PTB's
    # per_message advice does not apply.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
        app.add_handler(broadcast_composer.conversation())
        app.add_handler(event_admin.conversation())
        staff_writing = case_notes.conversation()
        app.add_handler(staff_writing)
        reporting = (report_status.conversation(), report_flow.conversation())
        for conversation in reporting:
            app.add_handler(conversation)
    app.bot_data[conversations.LEAVABLE_KEY] = (staff_writing, reporting[0])
    # What `load_user` asks before recording activity: these conversations (their own state
    # decides) and the report commands anywhere.
    report_commands = [name for command in COMMANDS if command.key in ("report", "status")
                       for name in (command.id_name, command.en_name)]
    app.bot_data[REPORT_SIDE_KEY] = (*reporting, CommandHandler(sorted(set(report_commands)), load_user))

    for command in COMMANDS:
        callback = COMMAND_CALLBACKS[command.key]
        if command.audience in GUARDS:
            callback = only_for(GUARDS[command.audience], callback)
        names = sorted({command.id_name, command.en_name})
        app.add_handler(CommandHandler(names, callback, filters=filters.UpdateType.MESSAGE))

    for prefix, callback in BUTTONS.items():
        app.add_handler(CallbackQueryHandler(callback, pattern=pattern(prefix)))
    app.add_handler(CallbackQueryHandler(basics.stale_button))

    private = filters.ChatType.PRIVATE
    app.add_handler(MessageHandler(private & filters.COMMAND, basics.unknown_command))
    app.add_handler(MessageHandler(private & ~filters.COMMAND & filters.UpdateType.MESSAGE, basics.fallback_message))
    app.add_error_handler(errors.on_error)
