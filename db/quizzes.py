"""Quiz attempts, answers, scores, the kelurahan leaderboard and per-question figures (SPEC §5).

An attempt's state is its rows: the attempt (question list, status, and the score once it is
completed) and one answer row per question. The same `Progress` value describes a guest's quiz,
which is kept in memory only and never written here (SPEC §1: a guest's scores are shown, not
saved).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Float, Table, bindparam, case, cast, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import QuizAnswer, QuizAttempt, QuizStatus, Role, User

# Core tables: typed columns for the queries (SQLModel's class attributes type as plain values).
ATTEMPTS: Table = QuizAttempt.__table__  # type: ignore[attr-defined]
ANSWERS: Table = QuizAnswer.__table__  # type: ignore[attr-defined]
USERS: Table = User.__table__  # type: ignore[attr-defined]

MIXED = "mixed"
LEADERBOARD_MIN_PLAYERS = 3  # a smaller group would reveal one child's score to others


class AnswerResult(enum.StrEnum):
    """What became of one press of an answer button."""

    RECORDED = "recorded"
    ALREADY = "already"  # this question was answered before: the first answer counts
    STALE = "stale"  # not the question being asked now, or the quiz is over or replaced


@dataclass(frozen=True)
class Progress:
    """Where one quiz stands: its questions in order, the answers so far, the score."""

    key: str  # the attempt id; a guest's key starts with "g"
    topic: str
    question_ids: tuple[str, ...]
    answers: tuple[tuple[str, int, bool], ...] = ()  # (question id, option, correct) in order
    completed: bool = False

    @property
    def total(self) -> int:
        """How many questions the quiz has."""
        return len(self.question_ids)

    @property
    def score(self) -> int:
        """How many answers were right."""
        return sum(1 for _, _, right in self.answers if right)

    @property
    def answered(self) -> frozenset[str]:
        """The ids of the questions answered so far."""
        return frozenset(q for q, _, _ in self.answers)

    @property
    def current(self) -> str | None:
        """The id of the question to ask now, or None when all are answered."""
        return next((q for q in self.question_ids if q not in self.answered), None)

    @property
    def number(self) -> int:
        """The 1-based position of the current question."""
        return len(self.answers) + 1

    @property
    def percent(self) -> int:
        """The score as a whole percentage, halves rounded up."""
        return (200 * self.score + self.total) // (2 * self.total) if self.total else 0

    @property
    def tier(self) -> str:
        """Which encouraging message fits the score: all right, most right, or keep trying."""
        if self.total and self.score == self.total:
            return "perfect"
        return "good" if self.percent >= 60 else "growing"


def apply_answer(progress: Progress, *, question_id: str, option: int, correct: bool) -> tuple[Progress, AnswerResult]:
    """Apply one answer to a quiz in memory: a guest's whole quiz, a player's before it is stored."""
    if question_id in progress.answered:
        return progress, AnswerResult.ALREADY
    if progress.completed or question_id != progress.current:
        return progress, AnswerResult.STALE
    answers = (*progress.answers, (question_id, option, correct))
    done = len(answers) == progress.total
    return replace(progress, answers=answers, completed=done), AnswerResult.RECORDED


def _split(ids: str) -> tuple[str, ...]:
    return tuple(i for i in ids.split(",") if i)


# An attempt and its answers in one statement, built once: it runs for every answer pressed.
_ATTEMPT_WITH_ANSWERS = (
    select(ATTEMPTS.c.user_id, ATTEMPTS.c.topic, ATTEMPTS.c.question_ids, ATTEMPTS.c.status,
           ANSWERS.c.question_id, ANSWERS.c.option, ANSWERS.c.correct)
    .select_from(ATTEMPTS.outerjoin(ANSWERS, ANSWERS.c.attempt_id == ATTEMPTS.c.id))
    .where(ATTEMPTS.c.id == bindparam("attempt_id"))
    .order_by(ANSWERS.c.id)
)


async def _own_progress(session: AsyncSession, attempt_id: int, user_id: int) -> tuple[Progress, str] | None:
    """One of the player's own attempts and its status (None for someone else's or an unknown one)."""
    rows = (await session.execute(_ATTEMPT_WITH_ANSWERS, {"attempt_id": attempt_id})).all()
    if not rows or rows[0].user_id != user_id:
        return None
    attempt = rows[0]
    progress = Progress(
        key=str(attempt_id),
        topic=attempt.topic,
        question_ids=_split(attempt.question_ids),
        answers=tuple((r.question_id, r.option, bool(r.correct)) for r in rows if r.question_id is not None),
        completed=attempt.status == QuizStatus.COMPLETED,
    )
    return progress, attempt.status


async def active_progress(session: AsyncSession, *, user_id: int) -> Progress | None:
    """Return the player's unfinished quiz, if any (the newest)."""
    attempt_id = await session.scalar(
        select(ATTEMPTS.c.id)
        .where(ATTEMPTS.c.user_id == user_id, ATTEMPTS.c.status == QuizStatus.ACTIVE)
        .order_by(ATTEMPTS.c.id.desc())
        .limit(1)
    )
    return await progress_of(session, attempt_id=attempt_id, user_id=user_id) if attempt_id is not None else None


async def progress_of(session: AsyncSession, *, attempt_id: int, user_id: int) -> Progress | None:
    """Return one of the player's own attempts (None for someone else's or an unknown one)."""
    found = await _own_progress(session, attempt_id, user_id)
    return found[0] if found is not None else None


async def abandon_active(session: AsyncSession, *, user_id: int) -> int:
    """Close the player's unfinished quizzes (they start again); return how many."""
    result = await session.execute(
        update(ATTEMPTS)
        .where(ATTEMPTS.c.user_id == user_id, ATTEMPTS.c.status == QuizStatus.ACTIVE)
        .values(status=QuizStatus.ABANDONED)
    )
    await session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def start_attempt(
    session: AsyncSession, *, user_id: int, topic: str, question_ids: Sequence[str], now: datetime
) -> Progress:
    """Start a quiz for a registered player; an unfinished one is abandoned (one at a time)."""
    if not question_ids:
        raise ValueError("a quiz needs at least one question")
    await abandon_active(session, user_id=user_id)
    attempt = QuizAttempt(
        user_id=user_id, topic=topic, question_ids=",".join(question_ids), total=len(question_ids),
        score=0, status=QuizStatus.ACTIVE, started_at=now,
    )
    session.add(attempt)
    await session.flush()
    return Progress(key=str(attempt.id), topic=topic, question_ids=tuple(question_ids))


async def record_answer(
    session: AsyncSession, *, attempt_id: int, user_id: int, question_id: str, option: int,
    correct: bool, now: datetime,
) -> tuple[Progress | None, AnswerResult]:
    """Record the answer to the current question once; complete the attempt with its last answer.

    The insert is conditional on (attempt, question) being new, so a double press, a replayed
    update or a second device never counts twice; the score is counted from the answer rows and
    written with the last of them.
    """
    found = await _own_progress(session, attempt_id, user_id)
    if found is None:
        return None, AnswerResult.STALE
    progress, status = found
    after, result = apply_answer(progress, question_id=question_id, option=option, correct=correct)
    if result == AnswerResult.RECORDED and status != QuizStatus.ACTIVE:  # abandoned
        result = AnswerResult.STALE
    if result != AnswerResult.RECORDED:
        return progress, result
    table = ANSWERS
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    inserted = (
        await session.execute(
            insert(table)
            .values(attempt_id=attempt_id, question_id=question_id, option=option, correct=correct, answered_at=now)
            .on_conflict_do_nothing(index_elements=["attempt_id", "question_id"])
            .returning(table.c.id)
        )
    ).scalar_one_or_none()
    if inserted is None:  # a concurrent press of the same question won
        return await progress_of(session, attempt_id=attempt_id, user_id=user_id), AnswerResult.ALREADY
    if after.completed:  # the score is written once, from the answers, with the last of them
        await session.execute(
            update(QuizAttempt)
            .where(ATTEMPTS.c.id == attempt_id, ATTEMPTS.c.status == QuizStatus.ACTIVE)
            .values(score=after.score, status=QuizStatus.COMPLETED, completed_at=now)
        )
    return after, AnswerResult.RECORDED


@dataclass(frozen=True)
class KelurahanScore:
    """One kelurahan on the leaderboard: players and their average score; never a name."""

    kecamatan: str
    kelurahan: str
    players: int
    percent: float  # the mean over players of each player's mean score in percent
    rank: int | None  # None below LEADERBOARD_MIN_PLAYERS: shown to its own players only

    @property
    def rounded(self) -> int:
        """The average in whole percent, halves rounded up."""
        return int(self.percent + 0.5)


async def leaderboard(
    session: AsyncSession, *, min_players: int = LEADERBOARD_MIN_PLAYERS
) -> list[KelurahanScore]:
    """Rank kelurahan by average score of completed quizzes (each player counts once).

    Two GROUP BYs in the database: first each player's mean percentage, then per kelurahan the
    mean over its players, so one child playing fifty times does not outweigh the others.
    """
    a, u = ATTEMPTS.c, USERS.c
    percent = cast(a.score, Float) * 100.0 / a.total
    per_player = (
        select(u.kecamatan, u.kelurahan, a.user_id, func.avg(percent).label("percent"))
        .select_from(ATTEMPTS.join(USERS, USERS.c.id == a.user_id))
        .where(a.status == QuizStatus.COMPLETED, a.total > 0, u.kelurahan.is_not(None))
        .group_by(u.kecamatan, u.kelurahan, a.user_id)
        .subquery()
    )
    players = func.count(per_player.c.user_id)
    average = func.avg(per_player.c.percent)
    rows = (
        await session.execute(
            select(per_player.c.kecamatan, per_player.c.kelurahan, players, average)
            .group_by(per_player.c.kecamatan, per_player.c.kelurahan)
            .order_by(average.desc(), players.desc(), per_player.c.kelurahan)
        )
    ).all()
    board: list[KelurahanScore] = []
    rank = 0
    for kecamatan, kelurahan, count, mean in rows:
        ranked = count >= min_players
        rank += 1 if ranked else 0
        board.append(KelurahanScore(
            kecamatan=kecamatan, kelurahan=kelurahan, players=int(count),
            percent=round(float(mean), 1), rank=rank if ranked else None,
        ))
    return board


@dataclass(frozen=True)
class QuestionFigures:
    """How one question fared: how many answered it and how many got it right."""

    question_id: str
    answered: int
    correct: int

    @property
    def topic(self) -> str:
        """The topic key (question ids are `<topic>-NN`)."""
        return self.question_id.rsplit("-", 1)[0]

    @property
    def percent(self) -> int:
        """The share of right answers, in whole percent, halves rounded up."""
        return (200 * self.correct + self.answered) // (2 * self.answered) if self.answered else 0


async def question_figures(session: AsyncSession, *, topic: str | None = None) -> list[QuestionFigures]:
    """Per question: answers and right answers of players, the weakest (lowest share right) first."""
    c = ANSWERS.c
    answered = func.count(c.id)
    right = func.sum(case((c.correct, 1), else_=0))
    # Children's and parents' answers only: facilitators and staff trying the quiz would blur the picture.
    players = ANSWERS.join(ATTEMPTS, ATTEMPTS.c.id == c.attempt_id).join(USERS, USERS.c.id == ATTEMPTS.c.user_id)
    query = (
        select(c.question_id, answered, right)
        .select_from(players)
        .where(USERS.c.role.in_([Role.CHILD, Role.PARENT]))
        .group_by(c.question_id)
    )
    if topic is not None:
        query = query.where(c.question_id.startswith(f"{topic}-", autoescape=True))
    query = query.order_by(cast(right, Float) / answered, answered.desc(), c.question_id)
    rows = (await session.execute(query)).all()
    return [QuestionFigures(question_id=q, answered=int(n), correct=int(c or 0)) for q, n, c in rows]


def topic_figures(figures: Sequence[QuestionFigures]) -> list[QuestionFigures]:
    """Sum question figures per topic (question_id holds the topic key), weakest first."""
    totals: dict[str, tuple[int, int]] = {}
    for item in figures:
        answered, correct = totals.get(item.topic, (0, 0))
        totals[item.topic] = (answered + item.answered, correct + item.correct)
    summed = [QuestionFigures(question_id=t, answered=a, correct=c) for t, (a, c) in totals.items()]
    return sorted(summed, key=lambda f: (f.correct / f.answered if f.answered else 0, -f.answered, f.question_id))
