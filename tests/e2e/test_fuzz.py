"""Random updates through the real Application and the emulator (hypothesis).

Each example is a short program of things people (and forged clients) do: texts with any
unicode or 4096 characters, commands with odd arguments, presses of real buttons of the
bot's last keyboard (so the fuzz walks into the flows), stale and forged callback data,
photos, stickers, documents, locations, edited messages, group messages, channel posts and
my_chat_member updates. All examples share one running bot, so accounts, drafts and open
conversations pile up from one example to the next, like a real day.

After every update the test waits until the bot has handled it, then checks:
- the global error handler saw no exception (forged callback data, routed there on purpose
  as BadCallback, is the only one allowed);
- the emulator, which checks every request against the official API description, refused
  none (except "message is not modified", which the bot is built to expect);
- every new private message, and every button press, got an answer.
The bugs found by the input audit have their regression tests in tests/e2e/test_input_limits.py.

CI runs a fixed (derandomised) set of FUZZ_EXAMPLES examples, default 200, so a red CI
means a regression, not a lucky draw; run `FUZZ_EXAMPLES=3000 make fuzz` locally to search.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Chat, ChatMemberBanned, ChatMemberMember, ChatMemberUpdated, Message, User

from bot.context import BotContext
from handlers.callbacks import BadCallback
from handlers.commands import COMMANDS
from tests.e2e.conftest import ADMIN_ID, HUMAN_PACE_SECONDS, STAFF_CHAT_ID, BotHarness

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
CHILD, PARENT, FACILITATOR, STAFF = 8111, 8112, 8113, 8114
GUESTS = (8101, 8102)
EN_CHILD = 8115
PEOPLE = (*GUESTS, CHILD, PARENT, FACILITATOR, STAFF, EN_CHILD, ADMIN_ID)
OTHER_GROUP, CHANNEL = -100777, -100888
REPORT_CODE = re.compile(r"\b[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}\b")
STATS: dict[str, float] = {"updates": 0, "examples": 0, "started": 0.0}

# ------------------------------------------------------------------------------ strategies

# Any unicode a phone can send (no lone surrogates, no control characters but line breaks).
CHARACTERS = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"), include_characters="\n")
TRICKY = st.sampled_from([
    "0", "-1", "1e9", "99999999999999999999", "ABCD-EF23", "abcd ef23", "IIII-OOOO", " ", ".",
    "<b>tebal</b>", "&amp; <i>", "</code>", "@forumanak_bot", "👨‍👩‍👧‍👦" * 300, "🙂" * 4096,
    "\u202eterbalik", "a\u200bb", "x" * 4096, "ya", "tidak", "besok 10:00", "31/02/2026 25:61",
    "aku mau bunuh diri", "Balikpapan Kota", "Damai", "/", "//", "/ start",
])
TEXT = st.one_of(
    TRICKY,
    st.text(CHARACTERS, min_size=1, max_size=40),
    st.text(CHARACTERS, min_size=1, max_size=4096),
).filter(lambda t: t.strip() != "")
COMMAND_NAMES = sorted({n for c in COMMANDS for n in (c.id_name, c.en_name)} | {"unknown", "START", "Lapor"})
START_PAYLOADS = st.sampled_from(["lapor", "kuis", "ev_1", "ev_999999", "ev_x", "gd_", "inv_ABC", "x" * 64, "🙂"])
ARGUMENT = st.one_of(TRICKY, st.text(CHARACTERS, min_size=1, max_size=80).filter(lambda t: t.strip() != ""))
FORGED_DATA = st.one_of(
    st.text(CHARACTERS, min_size=1, max_size=64).filter(lambda d: len(d.encode()) <= 64),
    st.builds(lambda p, a: f"{p}:{a}"[:64], st.sampled_from(
        ["ob", "gd", "menu", "lang", "pv", "bcl", "ex", "ev", "eva", "qz", "case", "rp", "x"]),
        st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789:-_"), max_size=60)),
    st.sampled_from(["ev:signup:0", "ev:signup:-1", "qz:ans:1:99", "case:take:999999", "menu:open:nope",
                     "lang:set:fr", "eva:cap:9999999", "pv:erase:0"]),
)


@dataclass(frozen=True)
class Act:
    """One thing a person does; `run` returns what must be answered (chat, query id)."""

    kind: str
    user: int
    value: Any = None
    extra: Any = None


ACTS = st.one_of(
    st.builds(Act, st.just("text"), st.sampled_from(PEOPLE), TEXT),
    st.builds(Act, st.just("command"), st.sampled_from(PEOPLE), st.sampled_from(COMMAND_NAMES),
              st.lists(ARGUMENT, max_size=4)),
    st.builds(Act, st.just("command"), st.sampled_from(PEOPLE), st.sampled_from(COMMAND_NAMES),
              st.lists(ARGUMENT, max_size=4)),
    st.builds(Act, st.just("command"), st.sampled_from(PEOPLE), st.sampled_from(COMMAND_NAMES),
              st.lists(ARGUMENT, max_size=4)),
    st.builds(Act, st.just("start"), st.sampled_from(PEOPLE), START_PAYLOADS),
    st.builds(Act, st.just("status"), st.sampled_from(PEOPLE), st.integers(0, 50)),
    st.builds(Act, st.just("press"), st.sampled_from(PEOPLE), st.integers(1, 12)),
    st.builds(Act, st.just("press"), st.sampled_from(PEOPLE), st.integers(1, 12)),
    st.builds(Act, st.just("press"), st.sampled_from(PEOPLE), st.integers(1, 12)),
    st.builds(Act, st.just("press"), st.sampled_from(PEOPLE), st.integers(1, 12)),
    st.builds(Act, st.just("press"), st.sampled_from(PEOPLE), st.integers(1, 12)),
    st.builds(Act, st.just("forged"), st.sampled_from(PEOPLE), FORGED_DATA),
    st.builds(Act, st.just("photo"), st.sampled_from(PEOPLE), st.none() | TEXT.map(lambda t: t[:1024])),
    st.builds(Act, st.just("document"), st.sampled_from(PEOPLE), st.sampled_from(["a.pdf", "x.csv", "🙂.txt", "noext"])),
    st.builds(Act, st.just("sticker"), st.sampled_from(PEOPLE)),
    st.builds(Act, st.just("location"), st.sampled_from(PEOPLE)),
    st.builds(Act, st.just("edit"), st.sampled_from(PEOPLE), TEXT),
    st.builds(Act, st.just("group"), st.sampled_from(PEOPLE), st.sampled_from([STAFF_CHAT_ID, OTHER_GROUP]),
              st.one_of(TEXT, st.sampled_from(COMMAND_NAMES).map(lambda n: f"/{n}"))),
    st.builds(Act, st.just("group_press"), st.just(STAFF), st.integers(1, 8)),
    st.builds(Act, st.just("channel"), st.just(0), TEXT),
    st.builds(Act, st.just("member"), st.sampled_from(PEOPLE), st.booleans()),
)

# ------------------------------------------------------------------------------ running acts


class Fuzzer:
    """Performs acts on the running bot and checks each one's outcome."""

    def __init__(self, bot: BotHarness) -> None:
        self.bot = bot
        self.errors: list[BaseException] = []
        bot.app.add_error_handler(self._record_error)

    async def _record_error(self, update: object, context: BotContext) -> None:
        if not isinstance(context.error, BadCallback):
            self.errors.append(context.error)  # type: ignore[arg-type]

    async def run(self, act: Act) -> None:
        bot, emu = self.bot, self.bot.emu
        bot.flood_clock.advance(HUMAN_PACE_SECONDS)  # a quick person, never a flood
        mark, refused_before, errors_before = emu.mark(), len(emu.unexpected_refusals()), len(self.errors)
        expect_chat, query_id = self._inject(act)
        if expect_chat is None and query_id is None and act.kind not in ("channel", "member", "group", "edit"):
            return  # nothing to press: no update was sent
        await emu.wait_for(lambda: emu.pending_updates == 0, timeout=20, what="the bot fetching the update")
        await bot.app.update_queue.join()
        STATS["updates"] += 1
        described = f"{act.kind} by {act.user}: {str(act.value)[:80]!r} {str(act.extra)[:80]!r}"
        assert self.errors[errors_before:] == [], f"handler failed on {described}"
        refused = emu.unexpected_refusals()[refused_before:]
        assert refused == [], f"Telegram would refuse the bot's request after {described}: {refused}"
        if expect_chat is not None:
            answered = [r for r in emu.requests if r.tick > mark and _chat_of(r) == expect_chat]
            assert answered, f"no answer to {described}\n{emu.describe_recent()}"
        if query_id is not None:
            assert query_id in emu.answered_callbacks, f"button spinner left running after {described}\n{emu.describe_recent()}"

    def _inject(self, act: Act) -> tuple[int | None, str | None]:
        emu, user = self.bot.emu, act.user
        if act.kind == "text":
            emu.send_text(user, act.value)
            return user, None
        if act.kind == "command":
            emu.send_text(user, " ".join([f"/{act.value}", *act.extra]))
            return user, None
        if act.kind == "start":
            emu.send_text(user, f"/start {act.value}")
            return user, None
        if act.kind == "status":  # a report code the bot has shown to anyone
            codes = sorted({c for chat in (*PEOPLE, STAFF_CHAT_ID) for m in emu.bot_messages(chat)
                            for c in REPORT_CODE.findall(m.text)})
            emu.send_text(user, f"/status {codes[act.value % len(codes)]}" if codes else "/status")
            return user, None
        if act.kind in ("press", "group_press"):
            chat = STAFF_CHAT_ID if act.kind == "group_press" else user
            message = emu.latest_keyboard_message(chat)
            if message is None:
                return None, None
            buttons = [b for b in message.buttons() if b.callback_data is not None]
            if not buttons:
                return None, None
            button = buttons[(act.value - 1) % len(buttons)]
            return None, emu.press(user, message.message_id, button.callback_data or "", chat_id=chat)
        if act.kind == "forged":
            target = emu.last_bot_message(user)
            if target is None:
                return None, None
            return None, emu.press(user, target.message_id, act.value)
        if act.kind == "photo":
            emu.send_photo(user, caption=act.value)
            return user, None
        if act.kind == "document":
            emu.send_document(user, act.value, b"isi berkas", caption=None)
            return user, None
        if act.kind == "sticker":
            emu.send_sticker(user)
            return user, None
        if act.kind == "location":
            emu.send_location(user)
            return user, None
        if act.kind == "edit":
            mine = [m for m in emu.messages(user) if not m.from_bot and m.kind == "text"]
            if not mine:
                return None, None
            emu.edit_text(user, mine[-1].message_id, act.value)
            return None, None
        if act.kind == "group":
            emu.send_text(user, act.extra, chat_id=act.value)
            return None, None
        if act.kind == "channel":
            chat = Chat(CHANNEL, Chat.CHANNEL, title="Kanal")
            emu.inject_update("channel_post", Message(emu.mark() + 1, datetime.now(UTC), chat, text=act.value))
            return None, None
        assert act.kind == "member"
        me = User(emu.bot_id, "Forum Anak", is_bot=True)
        person = emu.users.get(user) or emu.add_user(user)
        old, new = ChatMemberMember(me), ChatMemberBanned(me, until_date=datetime.fromtimestamp(0, UTC))
        if act.value:
            old, new = new, old
        emu.inject_update("my_chat_member", ChatMemberUpdated(
            Chat(user, Chat.PRIVATE), person, datetime.now(UTC), old, new))
        return None, None


def _chat_of(request: Any) -> int | None:
    chat = request.params.get("chat_id")
    if chat is not None:
        return int(chat)
    return None


async def _people(bot: BotHarness) -> None:
    await bot.user(CHILD)
    await bot.user(EN_CHILD, language="en")
    await bot.user(PARENT, role="parent")
    await bot.user(FACILITATOR, role="facilitator")
    await bot.user(STAFF, role="staff")
    for guest in GUESTS:
        bot.emu.add_user(guest, language_code="id")
    bot.emu.add_user(ADMIN_ID)
    bot.emu.add_group(OTHER_GROUP, "Grup lain")


_CI = os.environ.get("CI", "").lower() == "true"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=_CI,
    database=None if _CI else settings.default.database,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(program=st.lists(ACTS, min_size=1, max_size=8))
async def test_random_updates_never_crash_are_never_refused_and_are_always_answered(
    bot: BotHarness, program: list[Act]
) -> None:
    if not STATS["started"]:
        STATS["started"] = time.monotonic()
        await _people(bot)
        bot.__dict__["fuzzer"] = Fuzzer(bot)
    fuzzer: Fuzzer = bot.__dict__["fuzzer"]
    for act in program:
        await fuzzer.run(act)
    STATS["examples"] += 1


def teardown_module() -> None:
    if STATS["started"]:
        elapsed = time.monotonic() - STATS["started"]
        print(f"\nfuzz: {int(STATS['examples'])} examples, {int(STATS['updates'])} updates in {elapsed:.0f} s")
