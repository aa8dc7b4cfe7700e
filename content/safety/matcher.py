"""Crisis detection in children's own words: does a message need help at once, and which help?

A fixed list of whole phrases caught 15 of 100 realistic crisis messages and fired on "gol bunuh
diri" (content-review.md). Children write "pgn matiii", "dipukulin", "b*nuh d1ri", "pegang2",
"im not safe"; so this module turns a text into words the reviewed lists can name, then looks for
the lists' patterns. The lists are content (phrases.yaml, lexicon.yaml beside this file), reviewed
by people; this module holds only general rules:

1. fold: NFKC, case folding, apostrophes dropped inside words ("i'm" -> "im", "don't" -> "dont");
2. spelling play: letters repeated three or more times collapse ("matiii" -> "mati"), a "2" after a
   word doubles it ("pegang2" -> "pegang pegang"), digits and symbols inside a word are read as
   letters ("d1ri", "s3x", "k!ll"), masked letters ("b*nuh", "k*ll") are filled from the lists'
   own words;
3. the lexicon expands slang and abbreviations ("gamau" -> "tidak mau", "kms" -> "kill myself");
4. affixes: Indonesian prefixes and suffixes (-ku/-mu/-nya/-lah, -in/-kan/-i/-an, di-, ter-, ke-,
   ber-, meN-/peN- with their sound changes, colloquial nge-/ng-/ny-/m-/n-) and English inflection
   are stripped, but only to a stem that the lists use, so a stripped word never becomes a word
   nobody reviewed; a word keeps its mood as a form: "dipukul" is "pukul" and "di+pukul";
5. exceptions (look-alikes such as "gol bunuh diri") are matched first and their words are then
   unavailable to the crisis patterns;
6. patterns are word sequences with word classes ($SELF, $WANT, ...), in which fillers ("aja",
   "banget", "to") may come between words and ".." (or "...") allows a few (more) other words:
   "first person + want + die" is one pattern, not a list of sentences. An exception's gap never
   reaches across a first-person or "want" word, so "film ... bunuh diri" cannot hide "aku mau".

Nothing here stores or logs the text: `detect` returns a kind and a report category, nothing else.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from content.loaders import CONTENT_DIR, ContentError, read_yaml

SAFETY_DIR = CONTENT_DIR / "safety"
PHRASES_FILE = "phrases.yaml"
LEXICON_FILE = "lexicon.yaml"
GAP = 3  # words a ".." in a pattern may skip ("..." twice as many)
FILLERS_MAX = 4  # fillers that may come between two words of a pattern


class CrisisKind(StrEnum):
    """What kind of help a message needs; URGENCY orders them."""

    DANGER = "danger"
    SELF_HARM = "self_harm"
    ABUSE = "abuse"


URGENCY = (CrisisKind.DANGER, CrisisKind.SELF_HARM, CrisisKind.ABUSE)


@dataclass(frozen=True)
class CrisisMatch:
    """The most urgent kind found, and a report category hint (db.reports.CATEGORIES) or None."""

    kind: CrisisKind
    category: str | None


# --- spelling -----------------------------------------------------------------------------------

_WORD = r"[^\W_]+(?:[*#@$!]+[^\W_]+)*"
_WORD_OR_END = re.compile(rf"(?P<word>{_WORD})|[.,!?;:\n]+")
EOS = "eos"
_INNER_APOSTROPHE = re.compile(r"(?<=[^\W\d_])['’`´](?=[^\W\d_])")
_RUN3 = re.compile(r"(.)\1{2,}")
_RUN2 = re.compile(r"(.)\1+")
_DOUBLED = re.compile(r"([a-z]{2,})2([a-z]*)")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "6": "g", "7": "t", "8": "b", "9": "g",
                       "@": "a", "$": "s", "!": "i"})
_MASK = re.compile(r"[*#]+")
_LAUGH = re.compile(r"[wk]*(?:wk|kw)[wk]*|(?:h+[aeiu]+){2,}h*|(?:[aeiu]+h+){2,}[aeiu]*|(?:xi){2,}|lol|lmf?ao|rofl")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def fold(text: str) -> str:
    """Compatibility-normalise, case-fold, drop invisible characters and apostrophes inside words."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).casefold()
    return _INNER_APOSTROPHE.sub("", text)


def collapse(word: str, keep: int = 1) -> str:
    """Shorten runs of one letter: of three or more (keep=1 after _RUN3), or all runs (keep=0)."""
    return _RUN3.sub(r"\1", word) if keep else _RUN2.sub(r"\1", word)


def split_words(text: str) -> list[str]:
    """Fold a text into words, reading spelling play: "Pegang2" -> ["pegang", "pegang"].

    The end of a clause (. , ! ? ; : or a new line, and the end of the text) is the word "eos", a
    filler that a pattern may name: "kalau aku udah ga ada eos" is not "kalau aku ga ada pr".
    """
    words: list[str] = []
    for found in _WORD_OR_END.finditer(fold(text)):
        raw = found.group()
        if not found.group("word"):
            if words and words[-1] != EOS:
                words.append(EOS)
            continue
        doubled = _DOUBLED.fullmatch(raw)
        if doubled:  # "pegang2" / "pegang2an": a word written once with "2" for its repetition
            words += [doubled.group(1), doubled.group(1) + doubled.group(2)]
            continue
        if _LAUGH.fullmatch(raw):  # "wkwkwk", "hahaha", "hehe": one word for laughter
            words.append("haha")
            continue
        if any(c.isalpha() for c in raw) and any(c.isdigit() or c in "@$!" for c in raw):
            raw = raw.translate(_LEET)  # "d1ri", "m4ti", "k!ll"; a bare number ("112") stays
        words.append(collapse(raw))
    if words and words[-1] != EOS:
        words.append(EOS)
    return words


# --- morphology ---------------------------------------------------------------------------------

_PARTICLES = ("lah", "kah", "pun", "tah")
_POSSESSIVES = ("nya", "ku", "mu")
_DERIVATIONAL = ("kan", "in", "i", "an")
_ENGLISH = ("ing", "ed", "es", "s", "d")
# prefix -> (mood, letters that the prefix swallowed before a vowel: "memukul" = mem + (p)ukul)
_PREFIXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("di", "di", ("",)), ("ter", "ke", ("",)), ("ke", "ke", ("",)),  # ke-/ter-: by accident ("ketendang")
    ("ber", "me", ("",)), ("be", "me", ("",)),
    ("mang", "me", ("", "k")), ("many", "me", ("s", "c")), ("mam", "me", ("p",)), ("man", "me", ("t",)),  # Banjar [U]
    ("ma", "me", ("",)),
    ("menge", "me", ("",)), ("meng", "me", ("", "k")), ("meny", "me", ("s", "c")),
    ("mem", "me", ("p", "")), ("men", "me", ("t", "")), ("me", "me", ("",)),
    ("nge", "me", ("",)), ("ng", "me", ("", "k")), ("ny", "me", ("s", "c")), ("m", "me", ("p",)), ("n", "me", ("t",)),
    ("penge", "pe", ("",)), ("peng", "pe", ("", "k")), ("peny", "pe", ("s", "c")),
    ("pem", "pe", ("p", "")), ("pen", "pe", ("t", "")), ("per", "pe", ("",)), ("pe", "pe", ("",)),
)
_NASAL_ONLY_BEFORE_VOWEL = {"m", "n", "ng", "ny", "mam", "man", "mang", "many"}  # "mukul" is m + pukul, "mbak" is not m + bak
_MIN_STEM = 3


def _strip_suffixes(word: str) -> set[str]:
    found = {word}
    for layer in (_PARTICLES, _POSSESSIVES, _DERIVATIONAL):
        shortest = 2 if layer is _POSSESSIVES else _MIN_STEM  # "hpku", "hpnya"
        found |= {w[: -len(s)] for w in found for s in layer if w.endswith(s) and len(w) - len(s) >= shortest}
    found |= {word[: -len(s)] for s in _ENGLISH if word.endswith(s) and len(word) - len(s) >= _MIN_STEM}
    return found


def _strip_prefix(word: str) -> Iterator[tuple[str, str]]:
    for prefix, mood, restore in _PREFIXES:
        rest = word[len(prefix):]
        if not word.startswith(prefix) or len(rest) < 2:
            continue
        before_vowel = rest[0] in "aeiou"
        if prefix in _NASAL_ONLY_BEFORE_VOWEL and not before_vowel:
            continue
        for letter in restore if before_vowel else ("",):
            if len(letter + rest) >= _MIN_STEM:
                yield letter + rest, mood


def candidates(word: str) -> Iterator[tuple[str, str]]:
    """Every (stem, mood) a word could be, before checking them against the reviewed words.

    A bare stem with a verb suffix is active ("sakitin", "pukulin" are me+sakit, me+pukul).
    """
    for stripped in _strip_suffixes(word):
        yield stripped, ""
        if stripped != word and word[len(stripped):].startswith(("in", "kan", "i")):
            yield stripped, "me"
        for stem, mood in _strip_prefix(stripped):
            yield stem, mood
            for again, _ in _strip_prefix(stem):  # "memper-", "diper-", "ke-ter-": two prefixes at most
                yield again, mood


# --- patterns -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Element:
    options: frozenset[str]
    optional: bool = False
    gap: int = 0


@dataclass(frozen=True)
class _Pattern:
    text: str
    elements: tuple[_Element, ...]


@dataclass(frozen=True)
class _Group:
    kind: CrisisKind
    category: str | None
    patterns: tuple[_Pattern, ...]


@dataclass(frozen=True)
class _Token:
    forms: frozenset[str]
    filler: bool
    blocks: bool  # first person or "want": an exception's ".." never reaches across it


class CrisisDetector:
    """Finds the most urgent crisis kind in a text, with the reviewed lexicon and phrases."""

    def __init__(self, *, expand: dict[str, tuple[str, ...]], classes: dict[str, frozenset[str]],
                 groups: tuple[_Group, ...], exceptions: tuple[_Pattern, ...]) -> None:
        self.expand = expand
        self.classes = classes
        self.groups = groups
        self.exceptions = exceptions
        words = {w for g in groups for p in g.patterns for e in p.elements for w in e.options}
        words |= {w for p in exceptions for e in p.elements for w in e.options}
        words |= {w for members in classes.values() for w in members}
        self.vocabulary = frozenset(w.split("+")[-1].lstrip("=") for w in words)
        one_word = {k: v[0] for k, v in expand.items() if len(v) == 1}
        self._collapsed: dict[str, set[str]] = {}
        for word in self.vocabulary | set(one_word):
            self._collapsed.setdefault(collapse(word, 0), set()).add(one_word.get(word, word))
        self._maskable = sorted(self.vocabulary | set(expand))
        self._fillers = classes.get("FILL", frozenset())
        self._blocking = classes.get("SELF", frozenset()) | classes.get("WANT", frozenset())

    # words -> tokens

    def _resolve(self, word: str) -> set[str]:
        if word in self.vocabulary:
            return {word}
        single = self.expand.get(word)
        if single is not None and len(single) == 1:
            return {single[0]}
        return self._collapsed.get(collapse(word, 0), set())

    def _unmask(self, word: str) -> list[str]:
        """Fill masked letters from the reviewed words: "b*nuh" -> ["bunuh"], "k*ll" -> ["kill"]."""
        if not _MASK.search(word):
            return [word]
        parts = _MASK.split(word)
        runs = [len(m) for m in _MASK.findall(word)]
        for loose in (False, True):
            gaps = [f"[a-z]{{1,{n + 2}}}" if loose else f"[a-z]{{{n}}}" for n in runs]
            regex = re.compile("".join(re.escape(p) + (gaps[i] if i < len(gaps) else "") for i, p in enumerate(parts)))
            found = [w for w in self._maskable if regex.fullmatch(w)]
            if found:
                return found
        return [_MASK.sub("", word)]

    def words(self, text: str) -> list[str]:
        """The text as words after spelling play, masks and the lexicon (for tests and reviewers)."""
        out: list[str] = []
        for word in split_words(text):
            reading = self._unmask(word)[0]
            out += list(self.expand.get(reading) or self.expand.get(collapse(reading, 0)) or (reading,))
        return out

    def _forms(self, word: str) -> tuple[set[str], bool]:
        """Every form of a word, and whether it is itself first person or "want" (see _Token)."""
        forms = {word, "=" + word}
        for stem, mood in candidates(word):
            for resolved in self._resolve(stem):
                forms.add(resolved)
                if mood:
                    forms.add(f"{mood}+{resolved}")
        blocks = bool(forms & self._blocking)
        if word.endswith("ku") and len(word) > 4 and "diri" not in forms:
            forms.add("punyaku")  # "pipiku", "adikku": the child's own ($OWN), not the child ($SELF)
        return forms, blocks

    def tokens(self, text: str) -> list[_Token]:
        """The text as tokens, each with every form a pattern may name."""
        words: list[tuple[str, set[str], bool]] = []
        for word in split_words(text):
            readings = self._unmask(word)
            expanded = self.expand.get(readings[0]) or self.expand.get(collapse(readings[0], 0)) or (readings[0],)
            for part in expanded:
                words.append((part, *self._forms(part)))
            for other in readings[1:]:  # an ambiguous mask: every reading is a form of the last word
                words[-1][1].update(self._forms(other)[0])
        for index in range(len(words) - 1):  # "di pukul", "di-bully", "nge barcode": a prefix written apart
            mood = {"di": "di", "nge": "me"}.get(words[index][0])
            if mood:
                following = words[index + 1][1]
                following |= {f"{mood}+{f}" for f in list(following) if "+" not in f and not f.startswith("=")}
        return [_Token(frozenset(forms), bool(forms & self._fillers), blocks) for _, forms, blocks in words]

    # matching

    def _rest(self, tokens: list[_Token], masked: list[bool], elements: tuple[_Element, ...], k: int, pos: int,
              exception: bool) -> int | None:
        if k == len(elements):
            return pos
        element = elements[k]
        fillers = others = 0
        j = pos
        while j < len(tokens):
            if not masked[j] and element.options & tokens[j].forms:
                end = self._rest(tokens, masked, elements, k + 1, j + 1, exception)
                if end is not None:
                    return end
            if tokens[j].filler and fillers < FILLERS_MAX:
                fillers += 1
            elif others < element.gap and not (exception and tokens[j].blocks):
                others += 1
            else:
                break
            j += 1
        if element.optional:
            return self._rest(tokens, masked, elements, k + 1, pos, exception)
        return None

    def _spans(self, tokens: list[_Token], masked: list[bool], pattern: _Pattern, exception: bool) -> Iterator[
            tuple[int, int]]:
        first = pattern.elements[0]
        for start, token in enumerate(tokens):
            if not masked[start] and first.options & token.forms:
                end = self._rest(tokens, masked, pattern.elements, 1, start + 1, exception)
                if end is not None:
                    yield start, end

    def explain(self, text: str) -> list[tuple[CrisisKind, str | None, str]]:
        """Every (kind, category, pattern) that matches, in list order (for reviewers and tests)."""
        tokens = self.tokens(text)
        masked = [False] * len(tokens)
        for pattern in self.exceptions:
            for start, end in list(self._spans(tokens, masked, pattern, exception=True)):
                masked[start:end] = [True] * (end - start)
        found = []
        for group in self.groups:
            for pattern in group.patterns:
                if next(self._spans(tokens, masked, pattern, exception=False), None) is not None:
                    found.append((group.kind, group.category, pattern.text))
                    break
        return found

    def detect(self, text: str) -> CrisisMatch | None:
        """Return the most urgent crisis kind in a text (with a report category hint), or None."""
        if not text or not text.strip():
            return None
        found = self.explain(text)
        for kind in URGENCY:
            for found_kind, category, _ in found:
                if found_kind is kind:
                    return CrisisMatch(kind, category)
        return None


# --- loading ------------------------------------------------------------------------------------


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise ContentError(f"{where}: expected a non-empty list of texts")
    return [v.strip() for v in value]


def _load_lexicon(path: Path) -> tuple[dict[str, tuple[str, ...]], dict[str, frozenset[str]]]:
    data = read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("expand"), dict) or not isinstance(
            data.get("classes"), dict):
        raise ContentError(f"{path.name}: expected 'expand' (word: words) and 'classes' (NAME: [words])")
    expand: dict[str, tuple[str, ...]] = {}
    for key, value in data["expand"].items():
        if not isinstance(value, str) or not value.strip() or not str(key).strip() or " " in str(key):
            raise ContentError(f"{path.name}: expand {key!r}: expected one word mapped to a text")
        expand[fold(str(key))] = tuple(fold(value).split())
    classes: dict[str, frozenset[str]] = {}
    for name, members in data["classes"].items():
        words = _strings(members, f"{path.name}: class {name}")
        if not re.fullmatch(r"[A-Z_]+", str(name)) or any(" " in w for w in words):
            raise ContentError(f"{path.name}: class {name!r}: an UPPER_CASE name and single words expected")
        classes[str(name)] = frozenset(fold(w) for w in words)
    return expand, classes


def _element(text: str, classes: dict[str, frozenset[str]], where: str, gap: int) -> _Element:
    optional = text.startswith("?")
    options: set[str] = set()
    for option in text.lstrip("?").split("|"):
        match = re.fullmatch(r"(?:(di|me|pe)\+)?(=)?(\$[A-Z_]+|[^\W_]+)", option)
        if match is None:
            raise ContentError(f"{where}: cannot read {option!r}")
        mood, exact, word = match.groups()
        if word.startswith("$"):
            if word[1:] not in classes:
                raise ContentError(f"{where}: unknown class {word}")
            members: Iterable[str] = classes[word[1:]]
        else:
            members = [fold(word)]
        prefix = f"{mood}+" if mood else ("=" if exact else "")
        options |= {prefix + m for m in members}
    return _Element(frozenset(options), optional, gap)


def _pattern(text: str, classes: dict[str, frozenset[str]], where: str) -> _Pattern:
    elements: list[_Element] = []
    gap = 0
    for part in text.split():
        if part in ("..", "..."):
            gap = GAP if part == ".." else 2 * GAP
            continue
        elements.append(_element(part, classes, f"{where}: {text!r}", gap))
        gap = 0
    if not elements or elements[0].optional or gap:
        raise ContentError(f"{where}: {text!r} must start with a word and not end with '..'")
    return _Pattern(text, tuple(elements))


def load_detector(path: Path | None = None) -> CrisisDetector:
    """Load the reviewed phrases and lexicon (a folder, or phrases.yaml with lexicon.yaml beside it).

    A broken file raises ContentError naming it, so a bad edit stops start-up and the content check.
    """
    from db.reports import CATEGORIES  # the report categories the abuse answer's button may prefill

    path = path or SAFETY_DIR
    phrases_path = path / PHRASES_FILE if path.is_dir() else path
    lexicon_path = phrases_path.with_name(LEXICON_FILE)
    expand, classes = _load_lexicon(lexicon_path)
    data = read_yaml(phrases_path)
    name = phrases_path.name
    if not isinstance(data, dict) or not isinstance(data.get("kinds"), dict):
        raise ContentError(f"{name}: expected 'kinds' ({', '.join(URGENCY)}) and 'exceptions'")
    if set(data["kinds"]) != {str(k) for k in CrisisKind}:
        raise ContentError(f"{name}: 'kinds' must have exactly {', '.join(URGENCY)}")
    groups: list[_Group] = []
    for kind_name, items in data["kinds"].items():
        if not isinstance(items, list) or not items:
            raise ContentError(f"{name}: kind {kind_name}: expected a list of groups")
        for index, item in enumerate(items, start=1):
            where = f"{name}: {kind_name} group {index}"
            if not isinstance(item, dict) or not str(item.get("source") or "").strip():
                raise ContentError(f"{where}: expected a mapping with 'source' and 'phrases'")
            category = item.get("category")
            if category is not None and category not in CATEGORIES:
                raise ContentError(f"{where}: category {category!r} is not a report category")
            patterns = tuple(_pattern(p, classes, where) for p in _strings(item.get("phrases"), where))
            groups.append(_Group(CrisisKind(kind_name), category, patterns))
    exceptions: list[_Pattern] = []
    for index, item in enumerate(data.get("exceptions") or [], start=1):
        where = f"{name}: exceptions group {index}"
        if not isinstance(item, dict) or not str(item.get("source") or "").strip():
            raise ContentError(f"{where}: expected a mapping with 'source' and 'phrases'")
        exceptions += [_pattern(p, classes, where) for p in _strings(item.get("phrases"), where)]
    return CrisisDetector(expand=expand, classes=classes, groups=tuple(groups), exceptions=tuple(exceptions))
