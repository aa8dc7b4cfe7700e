"""Quizzes end to end: every topic from start to score, both languages, guests, resume, stale presses."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.sandbox.emulator import ChatMessage
from content.quizzes import QUIZ_DIR, Question, QuizBank, load_quiz_bank
from db import grain, quizzes
from db.models import QuizAnswer, QuizAttempt
from handlers.quizzes import BANK_KEY, QUIZ_LENGTH
from tests.e2e.conftest import BotHarness

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "quizzes"
SHIPPED = load_quiz_bank(QUIZ_DIR)
# Until the shipped bank exists, the per-topic walk runs on the fixture bank.
WALK_BANK = SHIPPED if SHIPPED.topics else load_quiz_bank(FIXTURES)
KID, KID2, PARENT, FAC, NEWCOMER = 4101, 4102, 4201, 4301, 4401


@pytest.fixture
def bank(bot: BotHarness) -> QuizBank:
    """The small fixture bank, so that tests know every question."""
    loaded = load_quiz_bank(FIXTURES)
    bot.app.bot_data[BANK_KEY] = loaded
    return loaded


def current(bot: BotHarness, uid: int, bank: QuizBank) -> tuple[Question, list[str]]:
    """The question on screen and its buttons' callback data (`qz:ans:<attempt>:<question>:<n>`)."""
    message = bot.emu.latest_keyboard_message(uid)
    assert message is not None
    data = [b.callback_data or "" for b in message.buttons()]
    assert data[0].startswith("qz:ans:"), message.plain_text
    return bank.questions[data[0].split(":")[3]], data


def shown(data: list[str], option: int) -> int:
    """Where the bank's option number sits among the (shuffled) buttons, 0-based."""
    return [d.rsplit(":", 1)[1] for d in data].index(str(option))


async def answer(bot: BotHarness, uid: int, bank: QuizBank, *, right: bool) -> tuple[ChatMessage, ChatMessage]:
    """Answer the question on screen; return the feedback and the next message (question or result)."""
    question, data = current(bot, uid, bank)
    option = question.correct if right else (question.correct + 1) % len(question.options)
    feedback = await bot.press(uid, shown(data, option) + 1)
    following = await bot.emu.next_bot_message(uid)
    return feedback, following


async def attempts(bot: BotHarness) -> list[QuizAttempt]:
    async with bot.services.db() as session:
        return list((await session.execute(select(QuizAttempt).order_by(QuizAttempt.id))).scalars())


@pytest.mark.parametrize("topic", [t.key for t in WALK_BANK.topics])
async def test_each_topic_from_start_to_score(bot: BotHarness, topic: str) -> None:
    bot.app.bot_data[BANK_KEY] = WALK_BANK
    await bot.user(KID, age_band="13_15")
    title = WALK_BANK.topic(topic).title["id"]  # type: ignore[union-attr]
    msg = await bot.send(KID, "/kuis")
    assert "Kuis Hak Anak" in msg.plain_text and "tamu" not in msg.plain_text
    msg = await bot.press(KID, f"📚 {title}")
    expected = min(QUIZ_LENGTH, len(WALK_BANK.eligible(topic, "13_15")))
    assert f"Pertanyaan 1 dari {expected}" in msg.plain_text
    for number in range(1, expected + 1):
        question, _ = current(bot, KID, WALK_BANK)
        assert question.topic == topic and "13_15" in question.age_bands
        assert question.text["id"] in bot.emu.latest_keyboard_message(KID).plain_text  # type: ignore[union-attr]
        feedback, following = await answer(bot, KID, WALK_BANK, right=True)
        assert "Benar!" in feedback.plain_text and question.explanation["id"] in feedback.plain_text
        assert not feedback.buttons()  # the answered question cannot be pressed again
        if number < expected:
            assert f"Pertanyaan {number + 1} dari {expected}" in following.plain_text
    assert f"Skormu: {expected} dari {expected} (100%)" in following.plain_text
    assert "semuanya benar" in following.plain_text
    assert "Kelurahanmu, Damai: baru 1 pemain" in following.plain_text
    assert "100% · 1" not in following.plain_text  # one child's score is not shown as a kelurahan's
    assert [b.label for b in following.buttons()] == ["🔁 Main lagi topik ini", "📚 Pilih topik lain"]
    [attempt] = await attempts(bot)
    assert (attempt.topic, attempt.status, attempt.score, attempt.total) == (topic, "completed", expected, expected)
    assert attempt.completed_at == grain.day(bot.clock.now())  # the day only (db/grain.py)


async def test_english_with_a_wrong_answer_and_play_again(bot: BotHarness, bank: QuizBank) -> None:
    await bot.user(KID, language="en", age_band="13_15")
    msg = await bot.send(KID, "/quiz")
    assert "Children's Rights Quiz" in msg.plain_text
    msg = await bot.press(KID, "📚 Children's Rights (CRC)")
    assert "Question 1 of 3" in msg.plain_text  # kha-01..03 suit 13-15; kha-04 is for adults
    await answer(bot, KID, bank, right=True)
    question, data = current(bot, KID, bank)
    letter = "ABCD"[shown(data, question.correct)]
    assert f"{letter}. {question.options[question.correct]['en']}" in bot.emu.latest_keyboard_message(KID).plain_text  # type: ignore[union-attr]
    feedback, _ = await answer(bot, KID, bank, right=False)
    right_option = question.options[question.correct]["en"]
    assert "Not quite." in feedback.plain_text and f"The right answer: {letter}. {right_option}" in feedback.plain_text
    assert question.explanation["en"] in feedback.plain_text and f"Source: {question.source}" in feedback.plain_text
    _, result = await answer(bot, KID, bank, right=True)
    assert "Your score: 2 of 3 (67%)" in result.plain_text and "Great!" in result.plain_text
    assert "Your kelurahan, Damai: 1 player so far. Its score shows once it has 3 players." in result.plain_text
    again = await bot.press(KID, "🔁 Play this topic again")
    assert "Question 1 of 3" in again.plain_text and again.message_id != result.message_id  # the result stays
    assert "Your score: 2 of 3" in bot.emu.bot_messages(KID)[-2].plain_text
    [finished, playing] = await attempts(bot)
    assert (finished.status, playing.status, playing.topic) == ("completed", "active", "kha")


async def test_a_double_press_counts_once_and_a_stale_quiz_is_refused_kindly(bot: BotHarness, bank: QuizBank) -> None:
    await bot.user(KID, age_band="13_15")
    await bot.send(KID, "/kuis")
    await bot.press(KID, "📚 Hak Anak (KHA)")
    question, data = current(bot, KID, bank)
    message = bot.emu.latest_keyboard_message(KID)
    assert message is not None
    await answer(bot, KID, bank, right=False)
    # A fast second tap on the right option of the same question (sent before the keyboard vanished).
    query = bot.emu.press(KID, message.message_id, data[question.correct])
    await bot.emu.wait_for(lambda: query in bot.emu.answered_callbacks)
    assert "Jawaban pertamamu yang dihitung" in str(bot.emu.answered_callbacks[query]["text"])
    [attempt] = await attempts(bot)
    async with bot.services.db() as session:
        count = await session.scalar(select(func.count()).select_from(QuizAnswer))
    assert count == 1 and attempt.score == 0

    # The next question of this quiz is still on screen; the player starts a new quiz instead.
    _, waiting = current(bot, KID, bank)
    waiting_message = bot.emu.latest_keyboard_message(KID)
    assert waiting_message is not None
    msg = await bot.send(KID, "/kuis")
    assert "belum selesai" in msg.plain_text and "1 dari 3" in msg.plain_text
    await bot.press(KID, "🔄 Mulai kuis baru")
    await bot.press(KID, "🎲 Campur semua topik")
    _, new_data = current(bot, KID, bank)
    query = bot.emu.press(KID, waiting_message.message_id, waiting[0])
    await bot.emu.wait_for(lambda: query in bot.emu.answered_callbacks)
    assert "sudah diganti kuis baru" in str(bot.emu.answered_callbacks[query]["text"])
    old, new = await attempts(bot)
    assert (old.status, new.status, new.topic) == ("abandoned", "active", "mixed")
    assert new_data[0].split(":")[2] == str(new.id)


async def test_an_abandoned_quiz_resumes_after_a_restart(bot: BotHarness, bank: QuizBank) -> None:
    await bot.user(KID, age_band="16_17")
    await bot.send(KID, "/kuis")
    await bot.press(KID, "📚 Aman di Internet")
    first, _ = current(bot, KID, bank)
    await answer(bot, KID, bank, right=True)
    second, _ = current(bot, KID, bank)
    await bot.restart()
    bot.app.bot_data[BANK_KEY] = bank
    msg = await bot.send(KID, "/kuis")
    assert "kuis <b>Aman di Internet</b>" in msg.text and "1 dari 3 pertanyaan" in msg.plain_text
    msg = await bot.press(KID, "▶️ Lanjutkan kuis")
    assert "Pertanyaan 2 dari 3" in msg.plain_text and second.text["id"] in msg.plain_text
    assert current(bot, KID, bank)[0] is second and first is not second
    await answer(bot, KID, bank, right=True)
    _, result = await answer(bot, KID, bank, right=True)
    assert "Skormu: 3 dari 3" in result.plain_text


async def test_a_pending_child_plays_as_a_guest_with_every_band_and_nothing_saved(
    bot: BotHarness, bank: QuizBank
) -> None:
    await bot.user(KID, consented=False)
    msg = await bot.send(KID, "/start kuis")
    assert "main sebagai tamu" in msg.plain_text
    msg = await bot.press(KID, "📚 Hak Anak (KHA)")
    assert "Pertanyaan 1 dari 4" in msg.plain_text  # no age band: every kha question, kha-04 too
    seen = set()
    for _ in range(3):
        seen.add(current(bot, KID, bank)[0].id)
        await answer(bot, KID, bank, right=False)
    msg = await bot.send(KID, "/kuis")  # a guest's unfinished quiz resumes too (in memory)
    assert "3 dari 4" in msg.plain_text
    await bot.press(KID, "▶️ Lanjutkan kuis")
    seen.add(current(bot, KID, bank)[0].id)
    _, result = await answer(bot, KID, bank, right=True)
    assert seen == {"kha-01", "kha-02", "kha-03", "kha-04"}
    assert "Skormu: 1 dari 4 (25%)" in result.plain_text and "Terima kasih sudah mencoba" in result.plain_text
    assert "tidak disimpan" in result.plain_text and "orang tua atau walimu setuju" in result.plain_text
    assert "Papan skor" not in result.plain_text
    assert await attempts(bot) == []


async def test_a_newcomer_finds_the_quiz_in_the_menu_and_an_adult_gets_adult_questions(
    bot: BotHarness, bank: QuizBank
) -> None:
    bot.emu.add_user(NEWCOMER, language_code="id")
    await bot.send(NEWCOMER, "/menu")
    msg = await bot.press(NEWCOMER, "🧠 Kuis")
    assert "tamu" in msg.plain_text
    msg = await bot.press(NEWCOMER, "🎲 Campur semua topik")
    assert "Pertanyaan 1 dari 7" in msg.plain_text  # a mixed quiz names each question's topic
    assert any(f"· {t.title['id']}" in msg.plain_text for t in bank.topics)
    for _ in range(7):
        _, following = await answer(bot, NEWCOMER, bank, right=True)
    assert "Skormu: 7 dari 7" in following.plain_text and "Daftar lewat /start" in following.plain_text
    assert await attempts(bot) == []

    await bot.user(PARENT, role="parent")  # age band "adult"
    await bot.send(PARENT, "/kuis")
    msg = await bot.press(PARENT, "📚 Aman di Internet")
    assert "Pertanyaan 1 dari 2" in msg.plain_text  # online-01 is for children only
    await bot.user(FAC, role="facilitator")  # no age band: every question
    await bot.send(FAC, "/kuis")
    msg = await bot.press(FAC, "📚 Aman di Internet")
    assert "Pertanyaan 1 dari 3" in msg.plain_text


async def test_leaderboard_names_places_and_facilitators_see_weak_questions(bot: BotHarness, bank: QuizBank) -> None:
    # Two children of Damai finished before: 1/3 and 3/3. The third finishes with 2/3.
    for tid, rights in ((KID2, [True, False, False]), (KID2 + 1, [True, True, True])):
        user = await bot.user(tid)
        assert user.id is not None
        async with bot.services.db() as session:
            progress = await quizzes.start_attempt(session, user_id=user.id, topic="kha",
                                                   question_ids=["kha-01", "kha-02", "kha-03"], now=bot.clock.now())
            for qid, right in zip(["kha-01", "kha-02", "kha-03"], rights, strict=True):
                await quizzes.record_answer(session, attempt_id=int(progress.key), user_id=user.id, question_id=qid,
                                            option=0, correct=right, now=bot.clock.now())
    await bot.user(KID, age_band="13_15", kecamatan="Balikpapan Timur", kelurahan="Manggar")
    await bot.send(KID, "/kuis")
    await bot.press(KID, "📚 Hak Anak (KHA)")
    for _ in range(3):
        _, result = await answer(bot, KID, bank, right=current(bot, KID, bank)[0].id != "kha-03")
    # Damai: (33.3 + 100) / 2 players = 66.7 %, but two players are below the minimum of three.
    assert "Belum ada kelurahan dengan 3 pemain" in result.plain_text
    assert "Kelurahanmu, Manggar: baru 1 pemain" in result.plain_text and "peringkat" not in result.plain_text
    user = await bot.user(KID2 + 2)
    await bot.send(KID2 + 2, "/kuis")
    await bot.press(KID2 + 2, "📚 Hak Anak (KHA)")
    for _ in range(3):
        _, result = await answer(bot, KID2 + 2, bank, right=False)
    # Damai now: (33.3 + 100 + 0) / 3 = 44.4 % -> 44 %, ranked first of the ranked.
    assert "1. Damai: 44% · 3 pemain" in result.plain_text
    assert "Kelurahanmu, Damai: 44% · 3 pemain · peringkat 1" in result.plain_text
    assert str(user.telegram_id) not in result.plain_text

    refused = await bot.send(KID, "/kuis_statistik")
    assert "Hasil kuis" not in refused.plain_text
    await bot.user(FAC, role="facilitator", language="en")
    msg = await bot.send(FAC, "/quizstats")
    lines = msg.plain_text.splitlines()
    # kha-03: 4 answers, 1 right (25 %); kha-02: 4 answers, 2 right; kha-01: 4 answers, 3 right.
    assert "• Children's Rights (CRC): 12 · 50%" in lines
    order = [line for line in lines if line[:2] in ("1.", "2.", "3.")]
    assert order == ["1. kha-03 · 4 answers · 25% right", "2. kha-02 · 4 answers · 50% right",
                     "3. kha-01 · 4 answers · 75% right"]
    msg = await bot.send(FAC, "/kuis_statistik nope")
    assert "There is no such topic" in msg.plain_text and "kha, online" in msg.plain_text
    msg = await bot.send(FAC, "/quizstats online")
    assert "No quiz answers yet for this topic" in msg.plain_text
