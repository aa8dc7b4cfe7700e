"""Nothing private in a group (SPEC §3, issue 16): the walk of every entry to every feature.

In a group chat, as a registered child, a guest, a staff member and an admin, the walk types every
command of handlers.commands.COMMANDS (both names, with and without @bot), every deep link of the
routing table (plus `wali_` and `case_` links), and presses every main-menu button and a button
of every callback prefix (handlers.BUTTONS and the conversations' own). The lists are read from
the running bot, so a command, a menu item or a button added later is walked too.

The only thing the bot may post in the group is one line that links to the private chat (as a
reply to the entry, with the payload that makes sense for it) or, for /bantuan, the help page;
a button press gets a pop-up only. Anything else -- a question with buttons, a profile, a score,
a code, a case, an edit of a message -- fails the walk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from telegram.ext import Application, CallbackQueryHandler, ConversationHandler

from content.loaders import load_regions
from db import consent, events, reports
from db.events import EventDraft
from db.models import EventSignup, Role
from handlers import BUTTONS, MENU_ITEMS, private_only
from handlers.commands import COMMANDS
from handlers.menu import ROUTES_KEY, Routes
from tests.e2e.conftest import ADMIN_ID, HUMAN_PACE_SECONDS, STAFF_CHAT_ID, BotHarness

pytestmark = pytest.mark.e2e

GROUP = -100777  # a children's group the bot was added to
CHILD, GUEST, STAFF, PENDING, FAC = 7101, 7102, 7103, 7104, 7105
START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
STORY = "Temanku dipalak setiap istirahat di kelas 7B."

# What the walk expects: the help page may stay in groups, nothing else.
GROUP_COMMANDS = {"help"}
GROUP_BUTTONS = {"bca"}  # staff approve announcements where the request was posted (the staff group)
# The private link's payload where it is not the plain `?start`.
COMMAND_LINKS = {"report": "lapor", "quiz": "kuis"}
POPUP = "chat pribadi"  # in the Indonesian pop-up; the English one says "private chat"


@dataclass(frozen=True)
class World:
    """What the entries point at: an event, a case with its code, a guardian link."""

    event: int
    case: int
    code: str
    wali: str
    checkin: str  # the event's check-in code

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never be shown in a group."""
        return STORY, self.code, self.wali, self.checkin


@dataclass(frozen=True)
class Entry:
    """One thing a person does in the group: type `text`, or press a button with data `text`."""

    text: str
    press: bool = False
    link: str | None = ""  # the expected `?start=` payload; None: allowed in groups (no link)


def conversation_prefixes(app: Application) -> set[str]:  # type: ignore[type-arg]
    """The callback prefixes the conversations listen to (entry points, states, fallbacks)."""
    found = set()
    for handlers in app.handlers.values():
        for handler in handlers:
            if not isinstance(handler, ConversationHandler):
                continue
            inner = [*handler.entry_points, *handler.fallbacks, *(h for hs in handler.states.values() for h in hs)]
            for each in inner:
                if isinstance(each, CallbackQueryHandler) and isinstance(each.pattern, re.Pattern):
                    match = re.match(r"\^([A-Za-z0-9_]+)", each.pattern.pattern)
                    assert match, each.pattern.pattern
                    found.add(match.group(1))
    return found


def command_entries(username: str) -> list[Entry]:
    """Every command, both names, with and without @bot."""
    entries = []
    for command in COMMANDS:
        link = None if command.key in GROUP_COMMANDS else COMMAND_LINKS.get(command.key, "")
        for name in sorted({command.id_name, command.en_name}):
            entries += [Entry(f"/{name}", link=link), Entry(f"/{name}@{username}", link=link)]
    return entries


def deep_link_entries(app: Application, world: World, username: str) -> list[Entry]:  # type: ignore[type-arg]
    """`/start <payload>` for every routed deep link, a guardian link and an unknown payload."""
    routes: Routes = app.bot_data[ROUTES_KEY]
    numbers = {"ev_": world.event, "case_": world.case}
    payloads = [key + str(numbers.get(key, 1)) if key.endswith("_") else key for key in routes.deep_links]
    entries = [Entry(f"/start {payload}", link=payload) for payload in payloads]
    entries += [Entry(f"/start@{username} {payload}", link=payload) for payload in payloads]
    # A guardian's link carries a one-time token: the answer does not repeat it.
    entries += [Entry(f"/start wali_{world.wali}"), Entry("/start bukan_apa_apa"), Entry("/start")]
    return entries


def button_entries(app: Application, world: World) -> list[Entry]:  # type: ignore[type-arg]
    """Every menu button, and real-looking (current or stale) buttons of every callback prefix."""
    ev, case = world.event, world.case
    samples = {
        "ob": [("ob:next", ""), ("ob:lang:id", ""), ("ob:role:child", "")],
        "gd": [("gd:link", ""), ("gd:yes", "")],
        "pv": [("pv:mydata", ""), ("pv:delete", "")],
        "lang": [("lang:set:en", "")],
        "ev": [(f"ev:open:{ev}", f"ev_{ev}"), (f"ev:join:{ev}", f"ev_{ev}"), ("ev:list", ""), ("ev:mine", "")],
        "eva": [(f"eva:show:{ev}", ""), ("eva:new", ""), ("eva:list", "")],
        "evn": [("evn:cancel", "")],
        "bc": [("bc:new", "")],
        "bcl": [("bcl:list", "")],
        "ex": [("ex:p:month", "")],
        "qz": [("qz:topic:kha", "kuis"), ("qz:more", "kuis")],
        "rp": [("rp:begin", "lapor"), ("rp:begin:sexual", "lapor"), ("rp:cancel", "lapor")],
        "rps": [(f"rps:answer:{world.code}", "")],
        "case": [(f"case:show:{case}", f"case_{case}"), (f"case:note:{case}", f"case_{case}"),
                 (f"case:evidence:{case}", f"case_{case}"), ("case:list", "")],
        "menu": [(f"menu:{item.key}", COMMAND_LINKS.get(item.key, "")) for item in MENU_ITEMS],
    }
    prefixes = set(BUTTONS) | conversation_prefixes(app)
    assert {"rp", "rps", "bc", "evn", "menu", "case"} <= prefixes  # the introspection found the conversations
    entries = []
    for prefix in sorted(prefixes):
        pairs = samples.get(prefix) or [(f"{prefix}:list", ""), (f"{prefix}:show:1", "")]
        entries += [Entry(data, press=True, link=None if prefix in GROUP_BUTTONS else link) for data, link in pairs]
    return entries


async def make_world(bot: BotHarness) -> World:
    """The people of the walk, and an event, a case and a guardian link they could reach."""
    await bot.user(CHILD, age_band="13_15")
    await bot.user(STAFF, role=Role.STAFF)
    await bot.user(ADMIN_ID, role=Role.ADMIN, language="en")
    await bot.user(FAC, role=Role.FACILITATOR)
    pending = await bot.user(PENDING, consented=False)
    bot.emu.add_user(GUEST)
    regions = load_regions().kecamatan
    draft = EventDraft(
        title="Diskusi Hak Anak", description="Ngobrol santai soal hak anak.", starts_at=START,
        ends_at=START + timedelta(hours=2), venue="Aula Kelurahan Damai", kecamatan="Balikpapan Kota",
        kelurahan="Damai", capacity=20,
    )
    report = reports.ReportDraft(
        reporter_kind="self", category="bullying", urgent=False, kecamatan="Balikpapan Kota", kelurahan="Damai",
        place="school", happened="today", description=STORY,
    )
    async with bot.services.db() as session:
        event = await events.create_event(session, draft=draft, created_by=FAC, regions=regions, now=bot.clock.now())
        case, code = await reports.submit_report(session, draft=report, regions=regions, reply_route=None,
                                                 secret=bot.settings.SECRET_KEY or "", now=bot.clock.now())
        token = await consent.new_link(session, child=pending, now=bot.clock.now())
    assert event.id is not None and case.id is not None
    return World(event=event.id, case=case.id, code=code, wali=token, checkin=event.checkin_code)


def link_of(bot: BotHarness, payload: str) -> str:
    return f"https://t.me/{bot.emu.bot_username}?start" + (f"={payload}" if payload else "")


async def walk(bot: BotHarness, uid: int, chat: int, entries: list[Entry], world: World) -> None:
    """Do every entry in the group as `uid`; fail on anything but the allowed answers."""
    private_help = (await bot.send(uid, "/bantuan")).plain_text
    start = bot.emu.mark()
    planted = await bot.send(uid, "/bantuan", chat_id=chat)  # a bot message to press stale buttons on
    assert planted.plain_text == private_help and not planted.buttons()
    allowed = {planted.message_id}
    for entry in entries:
        bot.flood_clock.advance(HUMAN_PACE_SECONDS)
        mark = bot.emu.mark()
        if entry.press:
            query = bot.emu.press(uid, planted.message_id, entry.text, chat_id=chat)
            await bot.emu.wait_for(lambda q=query: q in bot.emu.answered_callbacks, what=f"an answer to {entry}")
            answer = bot.emu.answered_callbacks[query]
            if entry.link is not None:
                assert answer["show_alert"] and answer["url"] == (link_of(bot, entry.link) if entry.link else None), \
                    (entry, answer)
                assert "\n" not in str(answer["text"]), answer
            continue
        said = bot.emu.send_text(uid, entry.text, chat_id=chat)
        message = await bot.emu.next_bot_message(chat, after=mark)
        allowed.add(message.message_id)
        if entry.link is None:
            assert message.plain_text == private_help, (entry, message.plain_text)
            continue
        assert message.reply_to_message_id == said.message_id, (entry, message.plain_text)
        assert "\n" not in message.plain_text.strip() and not message.buttons(), (entry, message.plain_text)
        assert re.findall(r"https://t\.me/\S+", message.plain_text) == [link_of(bot, entry.link)], \
            (entry, message.plain_text)
    # Group talk is not for the bot: no answer (a crisis phrase is the crisis helper's, not walked here).
    bot.flood_clock.advance(HUMAN_PACE_SECONDS)
    bot.emu.send_text(uid, f"@{bot.emu.bot_username} halo, boleh tanya?", chat_id=chat)
    bot.flood_clock.advance(HUMAN_PACE_SECONDS)
    bot.emu.send_text(uid, "terima kasih", chat_id=chat, reply_to=planted.message_id)
    await bot.emu.wait_quiet(0.3)
    for event in bot.emu.bot_events_since(start, chat):
        shown = event.message
        assert event.kind == "sent" and shown.message_id in allowed, (event.kind, shown.plain_text, shown.keyboard)
        assert all(button.callback_data is None for button in shown.buttons()), shown.plain_text  # no question
        assert not [secret for secret in world.secrets if secret in shown.plain_text], shown.plain_text
        assert CODE.search(shown.plain_text) is None, shown.plain_text


# A reporter's or an invite's code: two blocks of four, with at least one letter (not a phone number).
CODE = re.compile(r"\b(?=[A-Z0-9-]{0,8}[A-Z])[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}\b")


@pytest.mark.parametrize(("persona", "chat"), [
    (CHILD, GROUP), (GUEST, GROUP), (STAFF, STAFF_CHAT_ID), (ADMIN_ID, STAFF_CHAT_ID),
], ids=["child", "guest", "staff", "admin"])
async def test_nothing_private_in_a_group(bot: BotHarness, persona: int, chat: int) -> None:
    world = await make_world(bot)
    username = bot.emu.bot_username
    entries = [*command_entries(username), *deep_link_entries(bot.app, world, username), *button_entries(bot.app, world)]
    await walk(bot, persona, chat, entries, world)
    async with bot.services.db() as session:  # the event button signed nobody up
        assert (await session.scalars(select(EventSignup))).all() == []


async def test_the_link_opens_the_feature_in_the_private_chat(bot: BotHarness) -> None:
    world = await make_world(bot)
    said = await bot.send(CHILD, "/lapor", chat_id=GROUP)
    assert "chat pribadi" in said.text and said.text.rstrip().endswith("?start=lapor")
    question = await bot.send(CHILD, "/start lapor")
    assert "Siapa yang melapor" in question.text and question.buttons()

    said = await bot.send(CHILD, "/kuis", chat_id=GROUP)
    assert said.text.rstrip().endswith("?start=kuis")
    topics = await bot.send(CHILD, "/start kuis")
    assert any(button.callback_data and button.callback_data.startswith("qz:topic") for button in topics.buttons())

    said = await bot.send(CHILD, f"/start ev_{world.event}", chat_id=GROUP)
    assert said.text.rstrip().endswith(f"?start=ev_{world.event}")
    card = await bot.send(CHILD, f"/start ev_{world.event}")
    assert "Diskusi Hak Anak" in card.text

    said = await bot.send(STAFF, f"/start case_{world.case}", chat_id=STAFF_CHAT_ID)
    assert said.text.rstrip().endswith(f"?start=case_{world.case}") and STORY not in said.text
    card = await bot.send(STAFF, f"/start case_{world.case}")
    assert STORY in card.plain_text and card.protect_content

    said = await bot.send(ADMIN_ID, "/menu", chat_id=STAFF_CHAT_ID)  # in English for an English user
    assert "private chat" in said.text and said.text.rstrip().endswith("?start")


async def test_the_same_entries_still_work_in_a_private_chat(bot: BotHarness) -> None:
    world = await make_world(bot)
    menu = await bot.send(CHILD, "/menu")
    assert menu.buttons() and not menu.reply_to_message_id
    question = await bot.press(CHILD, "📣 Lapor tanpa nama")
    assert "Siapa yang melapor" in question.text and question.buttons()
    await bot.send(CHILD, "/batal")
    topics = await bot.send(CHILD, "/kuis")
    assert topics.buttons()
    mine = await bot.send(CHILD, "/data_saya")
    assert "Balikpapan Kota" in mine.plain_text
    cases = await bot.send(STAFF, "/kasus")
    assert any(f"#{world.case}" in label for label in cases.button_labels()) and cases.protect_content
    started = await bot.send(GUEST, "/start")
    assert started.buttons()  # the first onboarding question


async def test_every_feature_has_a_reason_in_the_table(bot: BotHarness) -> None:
    # A command or button added later is private by default; the table says why (or why not).
    assert {command.key for command in COMMANDS} <= set(private_only.FEATURES)
    prefixes = (set(BUTTONS) | conversation_prefixes(bot.app)) - {private_only.MENU_PREFIX}
    assert prefixes <= set(private_only.BUTTON_FEATURES)
    assert set(private_only.BUTTON_FEATURES.values()) <= set(private_only.FEATURES)
    assert all(place.why for place in private_only.FEATURES.values())
