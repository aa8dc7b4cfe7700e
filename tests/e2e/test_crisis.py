"""Crisis words: the help message with 112 and SAPA 129 at once, in any flow, never swallowing
the message; and the word-list loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from content.loaders import ContentError
from handlers import crisis
from tests.e2e.conftest import STAFF_CHAT_ID, BotHarness

CHILD, GUEST, STAFF = 5101, 5102, 5103


def help_messages(bot: BotHarness, chat: int) -> list[str]:
    return [m.text for m in bot.emu.bot_messages(chat) if "Kamu tidak sendirian" in m.text or "not alone" in m.text]


@pytest.mark.e2e
async def test_a_crisis_message_gets_help_at_once_and_still_its_normal_answer(bot: BotHarness) -> None:
    await bot.user(CHILD)
    mark = bot.emu.mark()
    first = await bot.send(CHILD, "Aku rasanya ingin MATI saja...")
    assert "Kamu tidak sendirian" in first.text and "112" in first.text and "129" in first.text
    assert "08111-129-129" in first.text
    await bot.emu.wait_for(lambda: len(bot.emu.bot_messages_since(mark, CHILD)) >= 2, what="the normal answer too")
    assert len(help_messages(bot, CHILD)) == 1


@pytest.mark.e2e
async def test_crisis_words_inside_the_report_flow_do_not_break_it(bot: BotHarness) -> None:
    await bot.send(GUEST, "/lapor")
    for label in ["🙋 Aku sendiri yang mengalami", "Kekerasan psikis", "Tidak", "🤷 Tidak tahu / tidak mau bilang",
                  "🏠 Rumah", "Masih terus terjadi"]:
        await bot.press(GUEST, label)
    mark = bot.emu.mark()
    help_text = await bot.send(GUEST, "Aku dimarahi tiap hari dan kadang mau bunuh diri.")
    assert "Kamu tidak sendirian" in help_text.text

    def asked_for_photos() -> bool:
        return any("foto atau tangkapan layar" in m.text for m in bot.emu.bot_messages_since(mark, GUEST))

    await bot.emu.wait_for(asked_for_photos, what="the next report question")


@pytest.mark.e2e
async def test_english_users_get_english_help_and_ordinary_words_do_not_trigger(bot: BotHarness) -> None:
    await bot.user(CHILD, language="en")
    msg = await bot.send(CHILD, "sometimes I want to die")
    assert "You are not alone" in msg.text
    msg = await bot.send(CHILD, "diri sendiri itu penting, matikan lampu")
    assert not help_messages(bot, CHILD)[1:]
    assert "not alone" not in msg.text


@pytest.mark.e2e
async def test_the_staff_group_does_not_trigger_crisis_help(bot: BotHarness) -> None:
    await bot.user(STAFF, role="staff")
    await bot.send(STAFF, "/kasus bunuh diri", chat_id=STAFF_CHAT_ID)
    assert not help_messages(bot, STAFF_CHAT_ID)


def test_the_shipped_list_loads_and_matches_whole_words() -> None:
    words = crisis.load_crisis_words()
    assert words.matches("Saya ingin BUNUH-DIRI") and words.matches("i'm in danger")
    assert not words.matches("bunuhan dirinya") and not words.matches("selamat pagi")


@pytest.mark.parametrize(
    "body", ["phrases: {id: [bunuh diri]}", "phrases: {id: [], en: [x]}", "nothing: 1", "phrases: {id: [''], en: [x]}"]
)
def test_a_broken_list_names_the_file(tmp_path: Path, body: str) -> None:
    path = tmp_path / "crisis_words.yaml"
    path.write_text(body)
    with pytest.raises(ContentError, match="crisis_words.yaml"):
        crisis.load_crisis_words(path)
