"""The quiz bank: good files load into frozen models; every kind of broken file is named precisely."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from content.check import check_content
from content.loaders import CONTENT_DIR, ContentError
from content.quizzes import QUIZ_DIR, load_quiz_bank

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "quizzes"
Mutation = Callable[[dict[str, Any]], None]


def second(data: dict[str, Any]) -> dict[str, Any]:
    """The question kha-02 of the fixture topic (three options, correct: 0)."""
    question: dict[str, Any] = data["questions"][1]
    assert question["id"] == "kha-02"
    return question


def broken_bank(tmp_path: Path, mutate: Mutation) -> Path:
    """Copy the fixture bank and break kha.yaml with one mutation."""
    folder = tmp_path / "quizzes"
    shutil.copytree(FIXTURES, folder)
    data = yaml.safe_load((folder / "kha.yaml").read_text(encoding="utf-8"))
    mutate(data)
    (folder / "kha.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder


def test_fixture_bank_loads_in_both_languages() -> None:
    bank = load_quiz_bank(FIXTURES)
    assert [t.key for t in bank.topics] == ["kha", "online"]
    assert bank.topic("kha") is not None and bank.topic("kha").title["en"] == "Children's Rights (CRC)"  # type: ignore[union-attr]
    first = bank.questions["kha-01"]
    # Unquoted 10_12 is the YAML integer 1012: the loader takes it back as the band.
    assert first.age_bands == ("u10", "10_12", "13_15", "16_17", "adult")
    assert first.options[first.correct] == {"id": "18 tahun", "en": "18 years"}
    assert first.source == "KHA Pasal 1" and set(first.explanation) == {"id", "en"}
    with pytest.raises(AttributeError):
        first.correct = 0  # type: ignore[misc]


def test_age_bands_choose_questions_and_no_band_gets_all() -> None:
    bank = load_quiz_bank(FIXTURES)
    assert [q.id for q in bank.eligible("kha", "u10")] == ["kha-01"]
    assert [q.id for q in bank.eligible("kha", "adult")] == ["kha-01", "kha-02", "kha-03", "kha-04"]
    assert [q.id for q in bank.eligible("online", "adult")] == ["online-02", "online-03"]
    assert len(bank.eligible(None, None)) == 7


def test_pick_is_bounded_and_a_mixed_quiz_spreads_over_topics() -> None:
    bank = load_quiz_bank(FIXTURES)
    assert len(bank.pick("kha", None, 7)) == 4  # fewer when the bank has fewer
    for _ in range(20):
        mixed = bank.pick(None, "13_15", 4)
        assert len(mixed) == len({q.id for q in mixed}) == 4
        assert {q.topic for q in mixed} == {"kha", "online"}


BROKEN: list[tuple[str, Mutation, str]] = [
    ("no English question", lambda d: second(d)["question"].pop("en"),
     "kha.yaml: question kha-02: question has no 'en' text"),
    ("empty explanation", lambda d: second(d)["explanation"].update(id="  "),
     "kha.yaml: question kha-02: explanation (id) is empty"),
    ("question over 300", lambda d: second(d)["question"].update(en="q" * 301),
     "kha.yaml: question kha-02: question (en) has 301 characters, more than 300"),
    ("option over 100", lambda d: second(d)["options"][1].update(id="o" * 101),
     "kha.yaml: question kha-02: option 2 (id) has 101 characters, more than 100"),
    ("explanation over 200", lambda d: second(d)["explanation"].update(en="e" * 201),
     "kha.yaml: question kha-02: explanation (en) has 201 characters, more than 200"),
    ("correct out of range", lambda d: second(d).update(correct=3),
     "kha.yaml: question kha-02: 'correct' must be the 0-based number of one option (0 to 2)"),
    ("two correct options", lambda d: second(d).update(correct=[0, 1]),
     "kha.yaml: question kha-02: exactly one option must be correct"),
    ("one option", lambda d: second(d).update(options=second(d)["options"][:1]),
     "kha.yaml: question kha-02: needs 2 to 10 options"),
    ("eleven options", lambda d: second(d).update(options=[{"id": f"o{i}", "en": f"o{i}"} for i in range(11)]),
     "kha.yaml: question kha-02: needs 2 to 10 options"),
    ("same option twice", lambda d: second(d)["options"][2].update(id="1990"),
     "kha.yaml: question kha-02: two options (id) are the same"),
    ("duplicate id", lambda d: second(d).update(id="kha-01"),
     "kha.yaml: question kha-01: the id is used twice"),
    ("id without topic", lambda d: second(d).update(id="q2"),
     "kha.yaml: question q2: id must look like 'kha-01'"),
    ("unknown age band", lambda d: second(d).update(age_bands=["teen"]),
     "kha.yaml: question kha-02: unknown age band 'teen'"),
    ("no age band", lambda d: second(d).update(age_bands=[]),
     "kha.yaml: question kha-02: age_bands must be a non-empty list"),
    ("no source", lambda d: second(d).pop("source"),
     "kha.yaml: question kha-02: missing field 'source'"),
    ("empty source", lambda d: second(d).update(source=""),
     "kha.yaml: question kha-02: source is empty"),
    ("misspelt field", lambda d: second(d).update(explanaton="x"),
     "kha.yaml: question kha-02: unknown field 'explanaton'"),
    ("topic is not the file", lambda d: d.update(topic="kla"),
     "kha.yaml: topic 'kla' does not match the file name"),
    ("title too long", lambda d: d["title"].update(id="t" * 31),
     "kha.yaml: title (id) has 31 characters, more than 30"),
    ("no questions", lambda d: d.update(questions=[]),
     "kha.yaml: expected a non-empty 'questions' list"),
]


@pytest.mark.parametrize(("problem", "mutate", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_file_names_file_question_and_problem(
    tmp_path: Path, problem: str, mutate: Mutation, message: str
) -> None:
    with pytest.raises(ContentError) as caught:
        load_quiz_bank(broken_bank(tmp_path, mutate))
    assert str(caught.value).startswith(message), (problem, str(caught.value))


def test_invalid_yaml_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "quizzes"
    shutil.copytree(FIXTURES, folder)
    (folder / "online.yaml").write_text("topic: online\nquestions: [unclosed\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"^online\.yaml: not valid YAML"):
        load_quiz_bank(folder)


def test_content_check_counts_the_bank_and_stops_on_a_broken_one(tmp_path: Path) -> None:
    root = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__", "quizzes"))
    shutil.copytree(FIXTURES, root / "quizzes")
    summary = check_content(root)
    assert (summary.quiz_topics, summary.quiz_questions) == (2, 7)

    broken = broken_bank(tmp_path / "b", lambda d: second(d).update(correct=9))
    shutil.rmtree(root / "quizzes")
    shutil.copytree(broken, root / "quizzes")
    with pytest.raises(ContentError, match=r"^kha\.yaml: question kha-02: 'correct' must be"):
        check_content(root)


def test_shipped_bank_is_valid_and_big_enough() -> None:
    bank = load_quiz_bank(QUIZ_DIR)
    assert len(bank.topics) >= 6, [t.key for t in bank.topics]
    assert len(bank.questions) >= 60


def test_every_topic_mix_fills_a_whole_quiz_for_every_age_band() -> None:
    """A child picks one topic or the mix; each age band must still get a full quiz of new questions."""
    from content.quizzes import AGE_BANDS
    from handlers.quizzes import QUIZ_LENGTH

    bank = load_quiz_bank(QUIZ_DIR)
    mixes = [t.key for t in bank.topics] + [None]  # None: the mixed quiz
    for band in (*AGE_BANDS, None):
        for topic in mixes:
            assert len(bank.eligible(topic, band)) >= QUIZ_LENGTH == 7, (topic, band)
            picked = bank.pick(topic, band, QUIZ_LENGTH)
            assert len({q.id for q in picked}) == QUIZ_LENGTH and all(q.suits(band) for q in picked), (topic, band)


def test_options_are_shown_shuffled_but_stably_within_a_quiz() -> None:
    from handlers.quizzes import display_order

    bank = load_quiz_bank(FIXTURES)
    question = bank.questions["kha-03"]
    assert display_order("12", question) == display_order("12", question)
    orders = {tuple(display_order(str(key), question)) for key in range(40)}
    assert len(orders) > 6 and all(sorted(o) == [0, 1, 2, 3] for o in orders)
    firsts = {display_order(str(key), question).index(question.correct) for key in range(40)}
    assert firsts == {0, 1, 2, 3}  # the right answer can be behind any letter


def test_sextortion_question_never_tells_a_child_to_keep_the_photo() -> None:
    """online-06 is safety-critical (content review): screenshot the threat, never keep or send the photo."""
    question = load_quiz_bank(QUIZ_DIR).questions["online-06"]
    right, why = question.options[question.correct]["id"], question.explanation["id"]
    assert "Simpan bukti" not in right and "jangan bayar" in right.casefold() and "SAPA 129" in right
    assert "jangan simpan atau teruskan fotonya" in why and "termasuk bot ini" in why
    assert "never keep or forward the photo" in question.explanation["en"]


def test_time_bound_award_question_is_marked_for_recheck() -> None:
    assert "RE-CHECK after each KLA award round" in load_quiz_bank(QUIZ_DIR).questions["kla-08"].source
