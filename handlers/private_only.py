"""Nothing private in a group: the one place that decides which features run only in a private chat.

Everyone in a group or channel reads what the bot posts there. Reporting, onboarding, consent,
privacy, quizzes (scores), event sign-ups and every staff view of cases or personal data happen
only in a private chat with the bot (SPEC §3, ARCHITECTURE principle 11). `FEATURES` says, for
each feature, whether it may run in a group and why not; `handler()` is registered before every
feature and conversation, and answers any entry to a private-only feature from a group --
a command (either name, with or without @bot), a `/start <payload>` deep link, a main-menu
button, a current or stale button -- with one line and a `t.me/<bot>?start=<payload>` link to
the private chat (a button press: a short pop-up that opens that link), then stops the update,
so no feature handler ever runs for it in the group.

Deny by default: a command or a button prefix the table does not allow in groups is private, so
a feature added later stays out of groups until someone decides otherwise here. A group message
that is not a command passes untouched (no feature answers it; the crisis helper may), and so do
commands that are not ours (another bot's, or unknown), which get no answer.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from telegram import LinkPreviewOptions, Message, ReplyParameters, Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, BaseHandler

from bot.context import BotContext
from handlers import commands, menu
from handlers.common import answer_query

logger = logging.getLogger(__name__)

# The first handler of the features' group: after the flood gate (-3), the crisis words (-2) and
# the user loader (-1, so the answer is in the sender's language), before any feature or
# conversation. It stops the update, so handlers of later groups do not run either. (Not in a
# negative group: those are not logged as "update handled", bot/logs.py.)
GROUP = 0


@dataclass(frozen=True)
class Place:
    """Where a feature may run; for a private one, why, and where its link in a group leads."""

    in_group: bool
    why: str
    link: str = ""  # the private link's `?start=` payload for the command and its menu button
    numbered: str = ""  # a button `<prefix>:<action>:<n>` links to `?start=<numbered><n>`


def _private(why: str, *, link: str = "", numbered: str = "") -> Place:
    return Place(False, why, link, numbered)


# Every command key of handlers/commands.py (a test checks that none is missing; a missing one is
# private) plus the features that only have buttons. A menu button `menu:<key>` is always private
# and links where the command `<key>` links.
FEATURES: dict[str, Place] = {
    "help": Place(True, "what the bot does and the public help numbers; nothing about the sender"),
    "approval": Place(True, "staff approve an announcement where its request was posted (the staff "
                            "group); re-checked per press, the answer names no one"),
    "start": _private("onboarding asks the sender's language, role, age, place and gender"),
    "menu": _private("the menu shows the sender's own role and registration; a group gets a link"),
    "report": _private("nobody may see who reports or what happened to a child", link="lapor"),
    "status": _private("a report code is the reporter's key; staff answers are about a case"),
    "language": _private("it changes the sender's own setting, and anyone could press its buttons"),
    "privacy": _private("privacy choices and account deletion are the sender's own"),
    "mydata": _private("it shows everything stored about the sender"),
    "deletedata": _private("it deletes the sender's account, with confirm buttons"),
    "join": _private("an invite code is a secret that gives a role"),
    "stop": _private("the sender's own announcement setting"),
    "subscribe": _private("the sender's own announcement setting"),
    "consent": _private("a guardian's consent names a child; guardian links carry a token"),
    "invite": _private("it makes invite codes, which are secrets"),
    "roles": _private("it lists who holds which role, by Telegram id"),
    "revoke": _private("it takes a person's role away, naming them by Telegram id"),
    "broadcast": _private("drafts, audiences and schedules of announcements before approval"),
    "export": _private("indicator files with figures about children"),
    "stats": _private("figures about children and their reports"),
    "scope": _private("which facilitator covers which places and events"),
    "events": _private("sign-ups are personal: who takes part, their age and place", numbered="ev_"),
    "myevents": _private("the sender's own sign-ups"),
    "checkin": _private("attendance is personal data"),
    "newevent": _private("a form of questions, and events before they are published"),
    "attendees": _private("names and ages of participants"),
    "quiz": _private("a child's answers and score are their own", link="kuis"),
    "quizstats": _private("quiz results about children"),
    "cases": _private("a child's story, evidence, notes and replies", numbered="case_"),
}

# Callback prefix -> the feature it belongs to (handlers.BUTTONS and the conversations); a prefix
# not listed here is private with a plain link. `menu:<key>` is the main menu, which is the
# sender's own: always private, linking where the feature `<key>` links.
BUTTON_FEATURES: dict[str, str] = {
    "ob": "start", "gd": "consent", "pv": "privacy", "lang": "language",
    "bc": "broadcast", "bcl": "broadcast", "bca": "approval", "ex": "export",
    "ev": "events", "eva": "newevent", "evn": "newevent",
    "qz": "quiz", "rp": "report", "rps": "status", "case": "cases",
}
MENU_PREFIX = "menu"

_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{3,32}))?(?:\s|$)")
_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what Telegram allows after ?start=
_NUMBER = re.compile(r"[0-9]{1,12}")


def _place(feature: str) -> Place:
    return FEATURES.get(feature) or _private("not in the table: private until decided")


# Command name (both languages) -> feature key, from handlers/commands.py.
COMMAND_FEATURES: dict[str, str] = {
    name: command.key for command in commands.COMMANDS for name in (command.id_name, command.en_name)
}


def button_feature(data: str) -> str:
    """The feature a button's callback data belongs to ("" when unknown)."""
    prefix, _, rest = data.partition(":")
    if prefix == MENU_PREFIX:
        return rest.partition(":")[0]
    return BUTTON_FEATURES.get(prefix, "")


def button_payload(data: str) -> str:
    """The `?start=` payload of the private link for a button pressed in a group."""
    place = _place(button_feature(data))
    parts = data.split(":")
    if place.numbered and len(parts) > 2 and _NUMBER.fullmatch(parts[2]):
        return place.numbered + parts[2]
    return place.link


def command_of(message: Message | None) -> tuple[str, str | None, list[str]] | None:
    """(name, addressee, arguments) of a message that starts with a command, else None."""
    text = message.text if message is not None else None
    match = _COMMAND.match(text or "")
    if match is None:
        return None
    return match.group(1).lower(), match.group(2), (text or "")[match.end():].split()


def _in_group(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type != ChatType.PRIVATE


class PrivateOnlyGate(BaseHandler[Update, BotContext, None]):
    """Takes every group update that enters a private-only feature; `answer` handles it."""

    def __init__(self) -> None:
        super().__init__(answer)

    def check_update(self, update: object) -> bool:
        """Tell whether this is a group entry to a feature that is not allowed there."""
        if not isinstance(update, Update) or not _in_group(update):
            return False
        query = update.callback_query
        if query is not None:
            data = query.data or ""
            return data.startswith(MENU_PREFIX + ":") or not _place(button_feature(data)).in_group
        command = command_of(update.effective_message)
        if command is None:
            return False  # group talk: no feature answers it
        feature = "start" if command[0] == "start" else COMMAND_FEATURES.get(command[0], "")
        return not (feature and _place(feature).in_group)


async def answer(update: Update, context: BotContext) -> None:
    """Answer with the private link when it is ours to answer; stop the update either way."""
    payload = _payload(update, context)
    if payload is not None:
        link = f"https://t.me/{context.services.bot_username}?start{'=' + payload if payload else ''}"
        logger.info("private-only feature asked in a group: link sent")
        await _send_link(update, context, link, payload)
    raise ApplicationHandlerStop


def _payload(update: Update, context: BotContext) -> str | None:
    """The link's payload, or None when the update gets no answer (an edit, another bot's command)."""
    if update.callback_query is not None:
        return button_payload(update.callback_query.data or "")
    command = command_of(update.message)  # an edited message or a channel post: no answer
    if command is None:
        return None
    name, addressee, args = command
    if addressee is not None and addressee.lower() != (context.bot.username or "").lower():
        return None
    if name == "start":
        payload = args[0] if args else ""
        known = _PAYLOAD.fullmatch(payload) and menu.deep_link_target(context, payload) is not None
        return payload if known else ""  # a guardian's `wali_` token is not repeated
    if name not in COMMAND_FEATURES:
        return None
    return _place(COMMAND_FEATURES[name]).link


async def _send_link(update: Update, context: BotContext, link: str, payload: str) -> None:
    """One line with the link, in the sender's language (the user loader ran before)."""
    if update.callback_query is not None:
        # Telegram opens `t.me/<bot>?start=<payload>` for a press (Bot API, answerCallbackQuery);
        # without a payload the pop-up alone says where to go.
        await answer_query(update, context, context.render("basics/private_only_popup"), alert=True,
                           url=link if payload else None)
        return
    message = update.message
    assert message is not None
    await context.bot.send_message(
        message.chat_id, context.render("basics/private_only", link=link),
        reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )


def handler() -> PrivateOnlyGate:
    """The gate: register it in GROUP before every other handler of that group."""
    return PrivateOnlyGate()
