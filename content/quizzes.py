"""The quiz bank: `content/quizzes/*.yaml` loaded into frozen models and validated.

Every problem is reported as `<file>: question <id>: <problem>`, so a broken bank stops
start-up (and `forum-anak content check`) with a message an editor can act on.
The length limits are Telegram's quiz-poll limits, so any question could also be sent as a poll.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from content.loaders import CONTENT_DIR, LOCALES, ContentError, read_yaml

QUIZ_DIR = CONTENT_DIR / "quizzes"
AGE_BANDS = ("u10", "10_12", "13_15", "16_17", "adult")  # the same bands as db/users.AGE_BANDS
QUESTION_LIMIT = 300  # Telegram sendPoll: question 1-300 characters
OPTION_LIMIT = 100  # each option 1-100 characters
EXPLANATION_LIMIT = 200  # quiz explanation 0-200 characters
TITLE_LIMIT = 30  # a topic title is a button label, with an emoji in front
MIN_OPTIONS, MAX_OPTIONS = 2, 10  # Telegram allows 2-10 options
FIELDS = ("age_bands", "question", "options", "correct", "explanation", "source")
_TOPIC = re.compile(r"[a-z][a-z0-9_]{0,19}")


@dataclass(frozen=True)
class Question:
    """One multiple-choice question, in both languages."""

    id: str
    topic: str
    age_bands: tuple[str, ...]
    text: dict[str, str]
    options: tuple[dict[str, str], ...]
    correct: int
    explanation: dict[str, str]
    source: str

    def suits(self, age_band: str | None) -> bool:
        """Tell whether the question suits an age band (no band: every question does)."""
        return age_band is None or age_band in self.age_bands


@dataclass(frozen=True)
class Topic:
    """One topic file: its key, title and questions in file order."""

    key: str
    title: dict[str, str]
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class QuizBank:
    """All topics, in a stable order (file name), and every question by id."""

    topics: tuple[Topic, ...]

    @cached_property  # looked up on every answer pressed
    def questions(self) -> dict[str, Question]:
        """Every question by its id."""
        return {q.id: q for topic in self.topics for q in topic.questions}

    def topic(self, key: str) -> Topic | None:
        """Return a topic by key, if it exists."""
        return next((t for t in self.topics if t.key == key), None)

    def eligible(self, topic: str | None, age_band: str | None) -> list[Question]:
        """Questions of one topic (None: all topics) that suit an age band."""
        return [
            q
            for t in self.topics
            if topic is None or t.key == topic
            for q in t.questions
            if q.suits(age_band)
        ]

    def pick(self, topic: str | None, age_band: str | None, count: int) -> list[Question]:
        """Pick up to `count` suitable questions at random (mixed quizzes spread over topics)."""
        pool = self.eligible(topic, age_band)
        rng = secrets.SystemRandom()
        if topic is not None:
            return rng.sample(pool, min(count, len(pool)))
        # Mixed: deal round-robin from shuffled topics so every topic gets its turn.
        by_topic: dict[str, list[Question]] = {}
        for question in pool:
            by_topic.setdefault(question.topic, []).append(question)
        decks = [rng.sample(qs, len(qs)) for qs in by_topic.values()]
        rng.shuffle(decks)
        picked: list[Question] = []
        while len(picked) < count and any(decks):
            for deck in decks:
                if deck and len(picked) < count:
                    picked.append(deck.pop())
        rng.shuffle(picked)
        return picked


class _Problem(Exception):
    """A problem inside one question, raised while validating and named with its file there."""


def _text(value: Any, what: str, limit: int) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _Problem(f"{what} must have an 'id' and an 'en' text")
    missing = [locale for locale in LOCALES if locale not in value]
    if missing:
        raise _Problem(f"{what} has no {missing[0]!r} text")
    extra = sorted(set(map(str, value)) - set(LOCALES))
    if extra:
        raise _Problem(f"{what} has an unknown language {extra[0]!r}")
    texts: dict[str, str] = {}
    for locale in LOCALES:
        text = value[locale]
        if not isinstance(text, str) or not text.strip():
            raise _Problem(f"{what} ({locale}) is empty")
        if len(text) > limit:
            raise _Problem(f"{what} ({locale}) has {len(text)} characters, more than {limit}")
        texts[locale] = text.strip()
    return texts


def _band(value: Any) -> str:
    # YAML 1.1 reads an unquoted 10_12 as the integer 1012; take it back as the band it meant.
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
        return f"{text[:2]}_{text[2:]}" if len(text) == 4 else text
    return str(value)


def _question(item: Any, topic: str) -> Question:
    if not isinstance(item, dict):
        raise _Problem("expected a mapping")
    qid = item.get("id")
    if not isinstance(qid, str) or not re.fullmatch(rf"{re.escape(topic)}-\d{{2,3}}", qid):
        raise _Problem(f"id must look like '{topic}-01', not {qid!r}")
    for field in FIELDS:
        if field not in item:
            raise _Problem(f"missing field {field!r}")
    unknown_fields = sorted(set(map(str, item)) - {"id", *FIELDS})
    if unknown_fields:
        raise _Problem(f"unknown field {unknown_fields[0]!r}")
    bands = item["age_bands"]
    if not isinstance(bands, list) or not bands:
        raise _Problem("age_bands must be a non-empty list")
    bands = [_band(b) for b in bands]
    unknown = [b for b in bands if b not in AGE_BANDS]
    if unknown:
        raise _Problem(f"unknown age band {unknown[0]!r} (use {', '.join(AGE_BANDS)})")
    options = item["options"]
    if not isinstance(options, list) or not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise _Problem(f"needs {MIN_OPTIONS} to {MAX_OPTIONS} options")
    texts = tuple(_text(o, f"option {n}", OPTION_LIMIT) for n, o in enumerate(options, start=1))
    for locale in LOCALES:
        seen = [t[locale].casefold() for t in texts]
        if len(set(seen)) != len(seen):
            raise _Problem(f"two options ({locale}) are the same")
    correct = item["correct"]
    if isinstance(correct, list):
        raise _Problem("exactly one option must be correct ('correct' is a list)")
    if isinstance(correct, bool) or not isinstance(correct, int) or not 0 <= correct < len(texts):
        raise _Problem(f"'correct' must be the 0-based number of one option (0 to {len(texts) - 1})")
    source = item["source"]
    if not isinstance(source, str) or not source.strip():
        raise _Problem("source is empty: cite the article or law behind the answer")
    return Question(
        id=qid,
        topic=topic,
        age_bands=tuple(dict.fromkeys(bands)),
        text=_text(item["question"], "question", QUESTION_LIMIT),
        options=texts,
        correct=correct,
        explanation=_text(item["explanation"], "explanation", EXPLANATION_LIMIT),
        source=source.strip(),
    )


def load_topic(path: Path) -> Topic:
    """Load and validate one topic file; raise ContentError naming file, question and problem."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ContentError(f"{path.name}: expected a mapping with 'topic', 'title' and 'questions'")
    key = data.get("topic")
    if not isinstance(key, str) or not _TOPIC.fullmatch(key):
        raise ContentError(f"{path.name}: 'topic' must be a short lowercase key, not {key!r}")
    if key != path.stem:
        raise ContentError(f"{path.name}: topic {key!r} does not match the file name")
    try:
        title = _text(data.get("title"), "title", TITLE_LIMIT)
    except _Problem as exc:
        raise ContentError(f"{path.name}: {exc}") from None
    items = data.get("questions")
    if not isinstance(items, list) or not items:
        raise ContentError(f"{path.name}: expected a non-empty 'questions' list")
    questions: list[Question] = []
    seen: set[str] = set()
    for index, item in enumerate(items, start=1):
        name = item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), str) else f"#{index}"
        try:
            question = _question(item, key)
        except _Problem as exc:
            raise ContentError(f"{path.name}: question {name}: {exc}") from None
        if question.id in seen:
            raise ContentError(f"{path.name}: question {name}: the id is used twice")
        seen.add(question.id)
        questions.append(question)
    return Topic(key=key, title=title, questions=tuple(questions))


def load_quiz_bank(directory: Path = QUIZ_DIR) -> QuizBank:
    """Load every `*.yaml` topic file of a directory (sorted by name) into one validated bank."""
    paths: Iterable[Path] = sorted(directory.glob("*.yaml")) if directory.is_dir() else ()
    # Topic keys equal file names, and question ids start with their topic: both are unique.
    return QuizBank(topics=tuple(load_topic(path) for path in paths))
