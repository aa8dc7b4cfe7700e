"""Help at once (issue 16): each kind of crisis message gets its own short answer in the person's
language, once, in any flow, without swallowing the message; look-alikes get none; in a group only
the general numbers, never quoting or naming the sender."""

from __future__ import annotations

import logging

import pytest

from bot.sandbox.emulator import ChatMessage
from content.loaders import load_help_services
from tests.e2e.conftest import STAFF_CHAT_ID, BotHarness

CHILD, GUEST, STAFF, ENGLISH = 5101, 5102, 5103, 5104
GROUP = -100888  # a children's group the bot was added to
# The kind-specific sentence of each answer, per language.
SELF_HARM = {"id": "Kamu tidak sendirian", "en": "You are not alone"}
ABUSE = {"id": "Itu bukan salahmu", "en": "It is not your fault"}
DANGER = {"id": "Kalau bisa, telepon 112 sekarang", "en": "If you can, call 112 now"}
GROUP_ANSWER = {"id": "bantuan selalu ada", "en": "help is always there"}
MARKERS = [m for answer in (SELF_HARM, ABUSE, DANGER, GROUP_ANSWER) for m in answer.values()]
SERVICES = {s.key: s.contact for s in load_help_services()}


def crisis_answers(bot: BotHarness, chat: int) -> list[ChatMessage]:
    return [m for m in bot.emu.bot_messages(chat) if any(marker in m.plain_text for marker in MARKERS)]


def assert_numbers(text: str, *keys: str) -> None:
    """The answer carries these help lines (those the directory has; 112 and SAPA 129 always)."""
    for key in ("emergency_112", "sapa_129", *keys):
        if key in SERVICES or key in ("emergency_112", "sapa_129"):
            assert SERVICES[key] in text, key


@pytest.mark.e2e
@pytest.mark.parametrize(("language", "text"), [("id", "kak aku pgn matiii aja"), ("en", "i dont wanna live anymore")])
async def test_self_harm_gets_help_at_once_and_the_flow_still_gets_the_message(
    bot: BotHarness, language: str, text: str
) -> None:
    await bot.user(CHILD, language=language)
    mark = bot.emu.mark()
    first = await bot.send(CHILD, text)
    assert SELF_HARM[language] in first.plain_text and first.reply_markup is None
    assert_numbers(first.plain_text, "sapa_129_wa", "healing119")
    await bot.emu.wait_for(lambda: len(bot.emu.bot_messages_since(mark, CHILD)) >= 2, what="the normal answer too")
    await bot.emu.wait_quiet()
    assert len(crisis_answers(bot, CHILD)) == 1


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("language", "text", "label", "data"),
    [("id", "aku sering dipukulin bapak pake sapu", "📣 Lapor tanpa nama", "rp:begin:physical"),
     ("en", "my uncle touches me and says its our secret", "📣 Report anonymously", "rp:begin:sexual")],
)
async def test_abuse_gets_not_your_fault_and_a_button_that_starts_the_report(
    bot: BotHarness, language: str, text: str, label: str, data: str
) -> None:
    await bot.user(CHILD, language=language)
    answer = await bot.send(CHILD, text)
    assert ABUSE[language] in answer.plain_text
    assert_numbers(answer.plain_text, "sapa_129_wa", "uptd_ppa_balikpapan")
    assert [(b.label, b.callback_data) for b in answer.buttons()] == [(label, data)]
    await bot.emu.wait_quiet()  # the flow's own answer to the message comes too
    question = await bot.press(CHILD, label)
    assert not question.edited and question.message_id != answer.message_id  # the numbers stay readable
    assert ("Siapa yang melapor" if language == "id" else "Who is reporting") in question.plain_text


@pytest.mark.e2e
@pytest.mark.parametrize(("language", "text"), [("id", "tolong ada om om ngikutin aku dari sekolah"),
                                                ("en", "help im locked in my room and he has a knife")])
async def test_danger_gets_112_first_then_sapa(bot: BotHarness, language: str, text: str) -> None:
    await bot.user(CHILD, language=language)
    answer = await bot.send(CHILD, text)
    assert DANGER[language] in answer.plain_text
    assert_numbers(answer.plain_text, "sapa_129_wa")
    assert answer.plain_text.index("112") < answer.plain_text.index("129")
    assert answer.reply_markup is None


@pytest.mark.e2e
async def test_a_message_of_two_kinds_gets_only_the_most_urgent_answer(bot: BotHarness) -> None:
    await bot.user(CHILD)
    await bot.send(CHILD, "aku dipukulin ayah tiap hari, rasanya pengen mati aja")
    await bot.emu.wait_quiet()
    answers = crisis_answers(bot, CHILD)
    assert len(answers) == 1 and SELF_HARM["id"] in answers[0].plain_text
    assert ABUSE["id"] not in answers[0].plain_text


@pytest.mark.e2e
async def test_look_alikes_get_their_normal_answer_only(bot: BotHarness) -> None:
    await bot.user(CHILD)
    for text in ("gol bunuh diri tadi malam bikin kalah", "mati lampu lagi, hpku mau mati", "dihajar PR matematika"):
        reply = await bot.send(CHILD, text)
        assert not any(marker in reply.plain_text for marker in MARKERS), text
    await bot.emu.wait_quiet()
    assert crisis_answers(bot, CHILD) == []


@pytest.mark.e2e
async def test_crisis_words_inside_the_report_flow_do_not_break_it(bot: BotHarness) -> None:
    await bot.send(GUEST, "/lapor")
    for label in ["🙋 Aku sendiri yang mengalami", "Kekerasan psikis", "Tidak", "🤷 Tidak tahu / tidak mau bilang",
                  "🏠 Rumah", "Masih terus terjadi"]:
        await bot.press(GUEST, label)
    mark = bot.emu.mark()
    help_text = await bot.send(GUEST, "Aku dimarahi tiap hari dan kadang mau bunuh diri.")
    assert SELF_HARM["id"] in help_text.plain_text

    def asked_for_photos() -> bool:
        return any("foto atau tangkapan layar" in m.text for m in bot.emu.bot_messages_since(mark, GUEST))

    await bot.emu.wait_for(asked_for_photos, what="the next report question")


@pytest.mark.e2e
async def test_abuse_told_inside_a_report_gets_no_second_answer(bot: BotHarness) -> None:
    await bot.send(GUEST, "/lapor")
    for label in ["👀 Teman / aku melihatnya", "Perundungan (bullying)", "Tidak", "🤷 Tidak tahu / tidak mau bilang",
                  "🏫 Sekolah", "Masih terus terjadi"]:
        await bot.press(GUEST, label)
    question = await bot.send(GUEST, "Temanku dipalak dan dipukulin kakak kelas tiap istirahat.")
    assert "foto atau tangkapan layar" in question.text  # the report goes on; the report is the answer
    await bot.emu.wait_quiet()
    assert crisis_answers(bot, GUEST) == []


@pytest.mark.e2e
async def test_an_edited_message_and_a_caption_are_read_too(bot: BotHarness) -> None:
    await bot.user(CHILD)
    sent = bot.emu.send_text(CHILD, "halo kak")
    await bot.emu.wait_quiet()
    mark = bot.emu.mark()
    bot.emu.edit_text(CHILD, sent.message_id, "aku mau b*nuh d1ri")
    edited = await bot.emu.next_bot_message(CHILD, after=mark)
    assert SELF_HARM["id"] in edited.plain_text
    mark = bot.emu.mark()
    bot.emu.send_photo(CHILD, caption="ini tanganku, aku nyilet lagi")
    photo = await bot.emu.next_bot_message(CHILD, after=mark)
    assert SELF_HARM["id"] in photo.plain_text


@pytest.mark.e2e
async def test_a_group_match_gets_only_the_general_numbers_without_quote_or_name(bot: BotHarness) -> None:
    bot.emu.add_group(GROUP, "Forum Anak Kelurahan Damai")
    bot.emu.add_user(CHILD, first_name="Melati", username="melati_kecil")
    text = f"@{bot.emu.bot_username} aku dipukulin ayah, pengen mati aja"
    answer = await bot.send(CHILD, text, chat_id=GROUP)
    await bot.emu.wait_quiet()
    assert [m.message_id for m in bot.emu.bot_messages(GROUP)] == [answer.message_id]
    assert GROUP_ANSWER["id"] in answer.plain_text and "112" in answer.plain_text and "129" in answer.plain_text
    assert answer.reply_to_message_id is None and answer.reply_markup is None
    for private in ("Melati", "melati", "dipukulin", "ayah", "pengen mati", "?"):
        assert private not in answer.plain_text, private
    assert crisis_answers(bot, CHILD) == []  # nothing private was sent either


@pytest.mark.e2e
async def test_the_staff_group_does_not_trigger_crisis_help(bot: BotHarness) -> None:
    await bot.user(STAFF, role="staff")
    bot.emu.send_text(STAFF, "/kasus bunuh diri", chat_id=STAFF_CHAT_ID)
    await bot.emu.wait_quiet()
    assert not crisis_answers(bot, STAFF_CHAT_ID)


@pytest.mark.e2e
async def test_a_childs_words_are_not_logged(bot: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    for name in ("bot", "db", "handlers", "content"):
        caplog.set_level(logging.DEBUG, logger=name)
    await bot.user(CHILD)
    await bot.send(CHILD, "om tetangga pegang2 dadaku kemarin")
    await bot.emu.wait_quiet()
    assert "crisis answer sent: abuse" in caplog.text
    for word in ("tetangga", "dadaku", "pegang"):
        assert word not in caplog.text
