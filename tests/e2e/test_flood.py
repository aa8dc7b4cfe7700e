"""Flood limits and independent users, through the real Application and the emulator.

The flood gate runs on the harness's clock (one second per `bot.send` or `bot.press`), so a
window ends when the test says; presses injected straight into the emulator take no time.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.sandbox.emulator import RecordedRequest
from db import limits
from handlers import flood
from tests.e2e.conftest import BotHarness

pytestmark = pytest.mark.e2e

HAMMER, OTHER, CHILD = 7101, 7102, 7103
SLOW_DOWN_ID = "Pelan-pelan ya"
HELP_ID = "Kamu tidak sendirian"


def concerns(request: RecordedRequest, chat_id: int, query_ids: set[str]) -> bool:
    return request.params.get("chat_id") in (chat_id, str(chat_id)) or request.params.get("callback_query_id") in query_ids


async def language_button(bot: BotHarness) -> Callable[[], str]:
    """Open /bahasa; return a press of its first button that does not wait (it gives the query id)."""
    keyboard = await bot.send(HAMMER, "/bahasa")
    data = keyboard.buttons()[0].callback_data
    assert data is not None
    return lambda: bot.emu.press(HAMMER, keyboard.message_id, data)


async def hammer_language_button(bot: BotHarness, presses: int) -> set[str]:
    """Press the first button of a /bahasa keyboard `presses` times without waiting."""
    press = await language_button(bot)
    return {press() for _ in range(presses)}


def help_texts(bot: BotHarness, chat_id: int) -> list[str]:
    return [m.text for m in bot.emu.bot_messages(chat_id) if HELP_ID in m.text]


async def test_a_hammering_user_does_not_hold_up_another_users_reply(bot: BotHarness) -> None:
    await bot.user(HAMMER)
    await bot.user(OTHER)
    # The other user's message arrives in the middle of the hammering, in the same getUpdates
    # batch as the first 50 presses (when it came after all 200, how many of the hammering
    # user's requests fit in before it depended on the machine's speed, not on the lanes).
    press = await language_button(bot)
    queries = {press() for _ in range(50)}
    reply = await bot.send(OTHER, "/bantuan")
    assert "112" in reply.text
    queries |= {press() for _ in range(150)}
    await bot.emu.wait_for(lambda: not bot.emu.pending_updates and not bot.app.update_queue.qsize())
    await bot.emu.wait_quiet()

    hammer_requests = [r for r in bot.emu.requests if concerns(r, HAMMER, queries)]
    reply_tick = next(r.tick for r in bot.emu.requests if r.method == "sendMessage" and concerns(r, OTHER, set()))
    before_reply = [r for r in hammer_requests if r.tick < reply_tick]
    # Handled one at a time, the other user's /bantuan (update 52) would wait for the requests of
    # the 20 presses before it that passed the flood gate; in its own lane, for a handful at most.
    # Each press that passed the flood gate made two requests (answer, edit).
    assert len(hammer_requests) >= 2 * (limits.FLOOD_UPDATES - 1)
    assert len(before_reply) <= 10, f"{len(before_reply)} of the hammering user's requests came first"


async def test_the_hammering_user_gets_one_slow_down_answer_per_window(bot: BotHarness) -> None:
    await bot.user(HAMMER)
    queries = await hammer_language_button(bot, 200)  # /bahasa is update 1 of the window
    await bot.emu.wait_for(lambda: sum(q in bot.emu.answered_callbacks for q in queries) >= limits.FLOOD_UPDATES)
    await bot.emu.wait_quiet()
    answers = [bot.emu.answered_callbacks[q] for q in queries if q in bot.emu.answered_callbacks]
    slow_downs = [a for a in answers if SLOW_DOWN_ID in str(a.get("text") or "")]
    assert len(slow_downs) == 1 and slow_downs[0]["show_alert"]
    # 19 presses passed (the command was the 20th update), one was answered "slow down",
    # and the other 180 were dropped without a word: no request of any kind for them.
    assert len(answers) == limits.FLOOD_UPDATES - 1 + 1
    assert len(bot.emu.pending_callbacks) >= 180

    bot.flood_clock.advance(limits.FLOOD_WINDOW.total_seconds())  # the next window
    more = await hammer_language_button(bot, 50)
    await bot.emu.wait_for(lambda: sum(q in bot.emu.answered_callbacks for q in more) >= limits.FLOOD_UPDATES)
    await bot.emu.wait_quiet()
    second = [bot.emu.answered_callbacks[q] for q in more if q in bot.emu.answered_callbacks]
    assert sum(SLOW_DOWN_ID in str(a.get("text") or "") for a in second) == 1
    assert len(second) == limits.FLOOD_UPDATES


async def test_a_flooding_user_typing_crisis_words_still_gets_the_help_numbers(bot: BotHarness) -> None:
    await bot.user(HAMMER)
    for _ in range(limits.FLOOD_UPDATES + 5):
        bot.emu.send_text(HAMMER, "halo")
    bot.emu.send_text(HAMMER, "aku mau bunuh diri")
    await bot.emu.wait_for(lambda: bool(help_texts(bot, HAMMER)), what="the help numbers")
    assert "112" in help_texts(bot, HAMMER)[0] and "129" in help_texts(bot, HAMMER)[0]
    bot.emu.send_text(HAMMER, "aku mau bunuh diri")  # the same window: they have the numbers
    await bot.emu.wait_quiet()
    texts = [m.text for m in bot.emu.bot_messages(HAMMER)]
    assert len(help_texts(bot, HAMMER)) == 1
    assert sum(SLOW_DOWN_ID in t for t in texts) == 1
    assert len(texts) == limits.FLOOD_UPDATES + 2  # 20 answers, one "slow down", the help

    bot.flood_clock.advance(limits.FLOOD_WINDOW.total_seconds())
    reply = await bot.send(HAMMER, "/bantuan")
    assert "112" in reply.text and SLOW_DOWN_ID not in reply.text


async def test_other_users_still_reach_crisis_help_and_urgent_report_answers_during_a_flood(bot: BotHarness) -> None:
    await bot.user(HAMMER)
    await hammer_language_button(bot, 200)
    help_message = await bot.send(CHILD, "aku ingin mati saja")
    assert HELP_ID in help_message.text
    msg = await bot.send(OTHER, "/lapor")
    msg = await bot.press(OTHER, "👀 Teman / aku melihatnya")
    msg = await bot.press(OTHER, "Perundungan (bullying)")
    msg = await bot.press(OTHER, "🚨 Ya, dalam bahaya")
    assert "112" in msg.text and "129" in msg.text


async def test_the_default_gate_is_on_with_the_documented_limits(bot: BotHarness) -> None:
    gate = bot.app.bot_data[flood.GATE_KEY]
    assert (gate.updates, gate.window) == (limits.FLOOD_UPDATES, limits.FLOOD_WINDOW.total_seconds())
