"""Crisis detection (content/safety): the labelled set's gate, and the rules that read children's
spelling. The examples here are short dev sentences written for these tests, not the labelled set."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.crisis import DEFAULT_SET, KINDS, evaluate, load_labelled
from content.loaders import ContentError
from content.safety import CrisisDetector, CrisisKind, CrisisMatch, load_detector
from content.safety.matcher import LEXICON_FILE, PHRASES_FILE, SAFETY_DIR, split_words

DANGER, SELF_HARM, ABUSE = CrisisKind.DANGER, CrisisKind.SELF_HARM, CrisisKind.ABUSE


@pytest.fixture(scope="module")
def detector() -> CrisisDetector:
    return load_detector()


def kind(detector: CrisisDetector, text: str) -> CrisisKind | None:
    match = detector.detect(text)
    return match.kind if match else None


def test_the_labelled_set_reaches_the_recall_and_false_alarm_gates(detector: CrisisDetector) -> None:
    assert DEFAULT_SET.exists(), f"the labelled set {DEFAULT_SET} is missing"
    result = evaluate(detector, load_labelled(DEFAULT_SET))
    for crisis_kind in KINDS:
        assert result.total[crisis_kind] > 0, f"no {crisis_kind} messages in the labelled set"
        assert result.recall(crisis_kind) >= 0.95, f"{crisis_kind} recall {result.recall(crisis_kind):.3f}"
    assert result.total["none"] > 0
    assert result.false_alarm_rate <= 0.05, f"false alarms {result.false_alarm_rate:.3f}"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Aku mau MATIII", ["aku", "mau", "mati", "eos"]),  # case, letters repeated three times
        ("dipegang2 terus", ["dipegang", "dipegang", "terus", "eos"]),  # "2" doubles the word before it
        ("pegang-pegang", ["pegang", "pegang", "eos"]),
        ("b*nuh d1ri", ["b*nuh", "diri", "eos"]),  # digits inside a word are letters; a mask stays for now
        ("I'm scared, don't", ["im", "scared", "eos", "dont", "eos"]),  # apostrophes inside words are dropped
        ("wkwkwk hahaha", ["haha", "haha", "eos"]),
        ("call 112", ["call", "112", "eos"]),  # the end of a clause is a word
        ("mati. lampu", ["mati", "eos", "lampu", "eos"]),  # a number is not leetspeak
    ],
)
def test_spelling_play_is_read_as_words(text: str, words: list[str]) -> None:
    assert split_words(text) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("b*nuh d1ri", ["bunuh", "diri", "eos"]),  # masked letters come from the reviewed words
        ("k*ll myself", ["kill", "myself", "eos"]),
        ("gamau idup", ["tidak", "mau", "hidup", "eos"]),  # slang through the lexicon
        ("pgn bundir", ["ingin", "bunuh", "diri", "eos"]),
        ("im in danger", ["i", "am", "in", "danger", "eos"]),
        ("kms", ["kill", "myself", "eos"]),
        ("gaaaak mauuu", ["tidak", "mau", "eos"]),  # repeated letters, then the lexicon
    ],
)
def test_masks_and_slang_expand_through_the_lexicon(detector: CrisisDetector, text: str, words: list[str]) -> None:
    assert detector.words(text) == words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # affixes: -ku/-nya/-in, di-...-in, meN-, nge-, colloquial m-/n-/ny-
        ("aku sering dipukulin ayah", ABUSE),
        ("bapak suka mukulin aku", ABUSE),
        ("dia nampar aku", ABUSE),
        ("aku di pukul kakak", ABUSE),  # the prefix written apart
        ("aku dilecehin sama tetangga", ABUSE),
        ("aku mau mengakhiri hidupku", SELF_HARM),
        ("aku sering nyakitin diri sendiri", SELF_HARM),
        ("kepengen mati ajaaa", SELF_HARM),
        ("ngebarcode lagi tadi malam", SELF_HARM),
        # spelling play in whole messages
        ("pgn matiii", SELF_HARM),
        ("b*nuh d1ri aja lah", SELF_HARM),
        ("m4u m4ti", SELF_HARM),
        ("om itu pegang2 dadaku", ABUSE),
        ("i dont want to live anymore", SELF_HARM),
        ("im in danger", DANGER),
        ("someone is following me home", DANGER),
        ("k*ll myself", SELF_HARM),
    ],
)
def test_affixes_and_spelling_still_find_the_kind(detector: CrisisDetector, text: str, expected: CrisisKind) -> None:
    assert kind(detector, text) is expected


@pytest.mark.parametrize(
    "text",
    [
        "gol bunuh diri tadi malam",  # sports
        "berita bom bunuh diri di tv",  # news
        "mati lampu lagi",  # power cut
        "hpku mau mati, batre tinggal 2 persen",  # a phone that "dies"
        "aku mati ketawa wkwk",  # laughing
        "karakterku mati terus di ml",  # games
        "dihajar PR matematika",  # school-stress idioms
        "ditampar kenyataan",
        "this homework is killing me",  # English hyperbole
        "nonton suicide squad yuk",  # film titles
        "apa itu pelecehan seksual?",  # a question about a topic
        "scan barcode di kasir",  # the shop barcode
        "kakiku ketendang pas main futsal",  # by accident (ke-), sports
        "aku ga mau mati muda",  # negation
        "aku pengen ngilangin jerawat",  # "hilang" only on its own, not "make disappear"
    ],
)
def test_look_alikes_get_no_crisis_answer(detector: CrisisDetector, text: str) -> None:
    assert detector.detect(text) is None


def test_an_exception_covers_only_its_own_words(detector: CrisisDetector) -> None:
    assert kind(detector, "gara gara gol bunuh diri itu aku pengen bunuh diri") is SELF_HARM
    assert kind(detector, "mati lampu, aku pengen mati aja") is SELF_HARM


def test_barcode_on_the_arm_is_self_harm_but_not_at_the_shop(detector: CrisisDetector) -> None:
    assert kind(detector, "tanganku penuh barcode") is SELF_HARM
    assert detector.detect("barcode produknya ga kebaca") is None


def test_a_message_that_fits_two_kinds_gets_the_most_urgent_once(detector: CrisisDetector) -> None:
    assert detector.detect("aku dipukulin ayah terus, pengen mati aja") == CrisisMatch(SELF_HARM, None)
    assert detector.detect("aku dipukulin, sekarang ayah bawa pisau dan mau bunuh aku") == CrisisMatch(DANGER, None)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("om itu pegang2 dadaku", "sexual"),
        ("dia ngancam mau nyebarin foto aku", "sexual"),
        ("aku sering digebukin kakak tiri", "physical"),
        ("aku ga dikasih makan dua hari", "neglect"),
        ("aku disuruh ngemis tiap pulang sekolah", "exploitation"),
        ("aku dibully terus di kelas", "bullying"),
    ],
)
def test_abuse_carries_a_report_category_hint(detector: CrisisDetector, text: str, category: str) -> None:
    assert detector.detect(text) == CrisisMatch(ABUSE, category)


def test_ordinary_messages_and_empty_text_are_not_crises(detector: CrisisDetector) -> None:
    for text in ("", "   ", "selamat pagi kak", "kapan acara forum anak berikutnya?", "112"):
        assert detector.detect(text) is None


def copy_lists(tmp_path: Path) -> Path:
    for name in (PHRASES_FILE, LEXICON_FILE):
        (tmp_path / name).write_text((SAFETY_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("name", "body"),
    [
        (PHRASES_FILE, "kinds: {danger: []}"),
        (PHRASES_FILE, "kinds:\n  danger: [{source: x, phrases: ['$NOPE mati']}]\n  self_harm: []\n  abuse: []"),
        (PHRASES_FILE, "kinds: ["),
        (LEXICON_FILE, "expand: {}\n"),
        (LEXICON_FILE, "expand: {}\nclasses: {SELF: []}"),
    ],
)
def test_a_broken_list_names_its_file(tmp_path: Path, name: str, body: str) -> None:
    folder = copy_lists(tmp_path)
    (folder / name).write_text(body, encoding="utf-8")
    with pytest.raises(ContentError, match=name.replace(".", r"\.")):
        load_detector(folder)


def test_an_abuse_category_must_be_a_report_category(tmp_path: Path) -> None:
    folder = copy_lists(tmp_path)
    text = (folder / PHRASES_FILE).read_text(encoding="utf-8").replace("category: sexual", "category: gossip", 1)
    (folder / PHRASES_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(ContentError, match="gossip"):
        load_detector(folder)
