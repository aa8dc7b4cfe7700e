"""Quiz attempts, answers and figures on SQLite and PostgreSQL, checked against hand-computed values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db import grain, quizzes, users
from db.models import QuizAnswer, QuizAttempt, Role
from db.quizzes import AnswerResult, KelurahanScore, Progress, QuestionFigures
from tests.helpers.factories import NOW, make_user

FIVE = ("kha-01", "kha-02", "kha-03", "kha-04", "kha-05")


async def play(
    session: AsyncSession, user_id: int, rights: Sequence[bool], *, ids: Sequence[str] = FIVE, finish: bool = True
) -> Progress:
    """Start a quiz and answer it: `rights[i]` tells whether answer i is right."""
    progress = await quizzes.start_attempt(session, user_id=user_id, topic="kha", question_ids=ids, now=NOW)
    for question_id, right in zip(ids, rights, strict=False):
        result: Progress | None
        result, outcome = await quizzes.record_answer(
            session, attempt_id=int(progress.key), user_id=user_id, question_id=question_id,
            option=1 if right else 0, correct=right, now=NOW + timedelta(minutes=1),
        )
        assert outcome == AnswerResult.RECORDED and result is not None
        progress = result
    assert progress.completed == (finish and len(rights) == len(ids))
    return progress


async def test_a_quiz_from_start_to_score(session: AsyncSession) -> None:
    child = await make_user(session, 1)
    assert child.id is not None
    progress = await quizzes.start_attempt(session, user_id=child.id, topic="kha", question_ids=FIVE[:3], now=NOW)
    assert (progress.current, progress.number, progress.total) == ("kha-01", 1, 3)
    progress = await play(session, child.id, [True, False, True], ids=FIVE[:3])
    assert (progress.score, progress.total, progress.percent, progress.tier) == (2, 3, 67, "good")
    attempt = (await session.execute(select(QuizAttempt).where(QuizAttempt.id == int(progress.key)))).scalar_one()
    assert (attempt.status, attempt.score, attempt.total) == ("completed", 2, 3)
    assert attempt.started_at == attempt.completed_at == grain.day(NOW)  # days only (db/grain.py)
    answers = (await session.execute(select(QuizAnswer.question_id, QuizAnswer.option, QuizAnswer.correct)
                                     .where(QuizAnswer.attempt_id == attempt.id).order_by(QuizAnswer.id))).all()
    assert [tuple(a) for a in answers] == [("kha-01", 1, True), ("kha-02", 0, False), ("kha-03", 1, True)]


async def test_a_second_answer_never_counts(session: AsyncSession) -> None:
    child = await make_user(session, 1)
    assert child.id is not None
    progress = await quizzes.start_attempt(session, user_id=child.id, topic="kha", question_ids=FIVE[:2], now=NOW)
    attempt_id = int(progress.key)
    answer = {"attempt_id": attempt_id, "user_id": child.id, "question_id": "kha-01", "now": NOW}
    _, first = await quizzes.record_answer(session, option=0, correct=False, **answer)  # type: ignore[arg-type]
    again, second = await quizzes.record_answer(session, option=1, correct=True, **answer)  # type: ignore[arg-type]
    assert (first, second) == (AnswerResult.RECORDED, AnswerResult.ALREADY)
    assert again is not None and again.score == 0 and again.current == "kha-02"
    count = await session.scalar(select(func.count()).select_from(QuizAnswer).where(QuizAnswer.attempt_id == attempt_id))
    attempt = await session.get(QuizAttempt, attempt_id)
    assert count == 1 and attempt is not None and attempt.score == 0


async def test_stale_answers_are_refused(session: AsyncSession) -> None:
    child = await make_user(session, 1)
    other = await make_user(session, 2)
    assert child.id is not None and other.id is not None
    progress = await quizzes.start_attempt(session, user_id=child.id, topic="kha", question_ids=FIVE[:2], now=NOW)
    attempt_id = int(progress.key)

    async def answer(user_id: int, question_id: str, aid: int = attempt_id) -> AnswerResult:
        _, result = await quizzes.record_answer(session, attempt_id=aid, user_id=user_id, question_id=question_id,
                                                option=0, correct=True, now=NOW)
        return result

    assert await answer(child.id, "kha-02") == AnswerResult.STALE  # not the question asked now
    assert await answer(child.id, "kha-09") == AnswerResult.STALE  # not in this quiz
    assert await answer(other.id, "kha-01") == AnswerResult.STALE  # someone else's quiz
    assert await answer(child.id, "kha-01", aid=attempt_id + 100) == AnswerResult.STALE  # no such quiz
    restarted = await quizzes.start_attempt(session, user_id=child.id, topic="kla", question_ids=["kla-01"], now=NOW)
    assert await answer(child.id, "kha-01") == AnswerResult.STALE  # replaced by a new quiz
    assert (await session.get(QuizAttempt, attempt_id)).status == "abandoned"  # type: ignore[union-attr]
    assert await answer(child.id, "kla-01", aid=int(restarted.key)) == AnswerResult.RECORDED
    assert await answer(child.id, "kla-01", aid=int(restarted.key)) == AnswerResult.ALREADY  # completed, answered


async def test_an_unfinished_quiz_is_found_again_and_can_be_abandoned(session: AsyncSession) -> None:
    child = await make_user(session, 1)
    assert child.id is not None
    assert await quizzes.active_progress(session, user_id=child.id) is None
    await play(session, child.id, [True, True], finish=False)
    found = await quizzes.active_progress(session, user_id=child.id)
    assert found is not None and (found.number, found.current, found.score) == (3, "kha-03", 2)
    assert await quizzes.abandon_active(session, user_id=child.id) == 1
    assert await quizzes.active_progress(session, user_id=child.id) is None


def test_a_guest_quiz_follows_the_same_rules_in_memory() -> None:
    guest = Progress(key="g7", topic="mixed", question_ids=("kha-01", "online-02"))
    guest, result = quizzes.apply_answer(guest, question_id="online-02", option=0, correct=True)
    assert result == AnswerResult.STALE and guest.answers == ()
    guest, result = quizzes.apply_answer(guest, question_id="kha-01", option=2, correct=False)
    assert result == AnswerResult.RECORDED and guest.current == "online-02"
    guest, result = quizzes.apply_answer(guest, question_id="kha-01", option=1, correct=True)
    assert result == AnswerResult.ALREADY and guest.score == 0
    guest, result = quizzes.apply_answer(guest, question_id="online-02", option=1, correct=True)
    assert result == AnswerResult.RECORDED and guest.completed and (guest.score, guest.percent) == (1, 50)


@pytest.mark.parametrize(("score", "total", "percent", "tier"), [
    (7, 7, 100, "perfect"), (5, 7, 71, "good"), (3, 5, 60, "good"), (1, 8, 13, "growing"), (0, 5, 0, "growing"),
])
def test_percent_rounds_halves_up_and_every_score_gets_a_kind_word(score: int, total: int, percent: int, tier: str) -> None:
    ids = tuple(f"kha-{i:02d}" for i in range(total))
    progress = Progress(key="1", topic="kha", question_ids=ids,
                        answers=tuple((q, 0, i < score) for i, q in enumerate(ids)), completed=True)
    assert (progress.percent, progress.tier) == (percent, tier)


async def test_leaderboard_matches_hand_computed_averages(session: AsyncSession) -> None:
    # Damai: A plays twice (4/5 = 80 %, 5/5 = 100 % -> 90 %), B 2/5 = 40 %, C 5/5 = 100 %;
    # average over players (90 + 40 + 100) / 3 = 76.67 %.
    # Manggar: 60, 80, 100, 20 % -> 65 % over 4 players. Teritip: one player with 100 %,
    # below the minimum of three players, so it is listed for its own players without a rank.
    people = {}
    for tid, kecamatan, kelurahan in [
        (1, "Balikpapan Kota", "Damai"), (2, "Balikpapan Kota", "Damai"), (3, "Balikpapan Kota", "Damai"),
        (4, "Balikpapan Timur", "Manggar"), (5, "Balikpapan Timur", "Manggar"),
        (6, "Balikpapan Timur", "Manggar"), (7, "Balikpapan Timur", "Manggar"),
        (8, "Balikpapan Timur", "Teritip"), (9, "Balikpapan Kota", "Damai"),
    ]:
        user = await make_user(session, tid, kecamatan=kecamatan, kelurahan=kelurahan)
        people[tid] = user.id
    staff = await make_user(session, 10, role=Role.STAFF)
    assert staff.id is not None
    right = [True] * 5
    await play(session, people[1], [True, True, True, True, False])
    await play(session, people[1], right)
    await play(session, people[2], [True, True, False, False, False])
    await play(session, people[3], right)
    for tid, correct in ((4, 3), (5, 4), (6, 5), (7, 1)):
        await play(session, people[tid], [i < correct for i in range(5)])
    await play(session, people[8], right)
    await play(session, people[9], [False, False], finish=False)  # unfinished: does not count
    await play(session, staff.id, right)  # no kelurahan: not on the board

    board = await quizzes.leaderboard(session)
    assert board == [
        KelurahanScore("Balikpapan Timur", "Teritip", players=1, percent=100.0, rank=None),
        KelurahanScore("Balikpapan Kota", "Damai", players=3, percent=76.7, rank=1),
        KelurahanScore("Balikpapan Timur", "Manggar", players=4, percent=65.0, rank=2),
    ]
    assert [row.rounded for row in board] == [100, 77, 65]
    ranked_by_two = await quizzes.leaderboard(session, min_players=1)
    assert [(row.kelurahan, row.rank) for row in ranked_by_two] == [("Teritip", 1), ("Damai", 2), ("Manggar", 3)]


async def test_question_figures_show_weak_questions_first(session: AsyncSession) -> None:
    # kha-01: 3 answers, 3 right (100 %); kha-02: 3 answers, 1 right (33 %); online-01: 2, 0 right.
    ids = ("kha-01", "kha-02", "online-01")
    for tid, rights in ((1, [True, True, False]), (2, [True, False, False]), (3, [True, False])):
        user = await make_user(session, tid)
        assert user.id is not None
        await play(session, user.id, rights, ids=ids, finish=len(rights) == 3)
    facilitator = await make_user(session, 9, role=Role.FACILITATOR)
    assert facilitator.id is not None
    await play(session, facilitator.id, [True, True, True], ids=ids)  # trying the quiz out: not counted
    figures = await quizzes.question_figures(session)
    assert figures == [
        QuestionFigures("online-01", answered=2, correct=0),
        QuestionFigures("kha-02", answered=3, correct=1),
        QuestionFigures("kha-01", answered=3, correct=3),
    ]
    assert [f.percent for f in figures] == [0, 33, 100]
    assert quizzes.topic_figures(figures) == [
        QuestionFigures("online", answered=2, correct=0), QuestionFigures("kha", answered=6, correct=4),
    ]
    assert [f.question_id for f in await quizzes.question_figures(session, topic="kha")] == ["kha-02", "kha-01"]


async def test_erasing_an_account_erases_its_quizzes(session: AsyncSession) -> None:
    child = await make_user(session, 1)
    assert child.id is not None
    await play(session, child.id, [True, False, True, True, True])
    await users.erase_user(session, user=child)
    assert await session.scalar(select(func.count()).select_from(QuizAttempt)) == 0
    assert await session.scalar(select(func.count()).select_from(QuizAnswer)) == 0
