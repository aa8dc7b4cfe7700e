"""Crisis detection on a labelled set: does the bot answer the children who need help at once?

For each kind (danger, self_harm, abuse) prints recall -- a crisis message counts as caught when
the detector returns any crisis kind, because every crisis answer carries the emergency numbers --
and how often the kind is exactly the labelled one; for ordinary messages (`none`, including hard
look-alikes) the false-alarm rate; and the time per message. `--show-misses` lists the missed
messages and false alarms of the labelled set (test data written for this purpose, never real
messages) for reviewers of content/safety/.

The set is YAML: `messages: [{text, kind: self_harm|abuse|danger|none, lang, note, also?}]`.
tests/unit/test_crisis_detector.py gates on the same figures (recall >= 0.95 per kind, false
alarms <= 0.05).

Run: .venv/bin/python benchmarks/crisis.py [--set tests/fixtures/crisis/eval.yaml] [--show-misses]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from content.loaders import ContentError, read_yaml  # noqa: E402
from content.safety import URGENCY, CrisisDetector, load_detector  # noqa: E402

DEFAULT_SET = ROOT / "tests" / "fixtures" / "crisis" / "eval.yaml"
KINDS = tuple(str(kind) for kind in URGENCY)
NONE = "none"


@dataclass(frozen=True)
class Labelled:
    """One message of the labelled set."""

    text: str
    kind: str
    lang: str = ""
    note: str = ""
    also: str | None = None


@dataclass
class Result:
    """Counts per kind and the time taken; recall and false alarms are derived."""

    total: Counter[str] = field(default_factory=Counter)
    caught: Counter[str] = field(default_factory=Counter)
    exact: Counter[str] = field(default_factory=Counter)
    false_alarms: int = 0
    seconds: list[float] = field(default_factory=list)
    misses: list[tuple[Labelled, str | None]] = field(default_factory=list)

    def recall(self, kind: str) -> float:
        """Share of the kind's messages that got any crisis answer."""
        return self.caught[kind] / self.total[kind] if self.total[kind] else 0.0

    def exact_rate(self, kind: str) -> float:
        """Share of the kind's messages that got exactly the labelled kind."""
        return self.exact[kind] / self.total[kind] if self.total[kind] else 0.0

    @property
    def false_alarm_rate(self) -> float:
        """Share of ordinary messages that got a crisis answer."""
        return self.false_alarms / self.total[NONE] if self.total[NONE] else 0.0


def load_labelled(path: Path = DEFAULT_SET) -> list[Labelled]:
    """Read the labelled set; a malformed entry raises ContentError naming the file and entry."""
    data = read_yaml(path)
    items = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ContentError(f"{path.name}: expected a non-empty 'messages' list")
    out = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str) or item.get("kind") not in (*KINDS, NONE):
            raise ContentError(f"{path.name}: message {index}: expected 'text' and a 'kind' of {KINDS + (NONE,)}")
        also = item.get("also")
        out.append(Labelled(item["text"], item["kind"], str(item.get("lang") or ""), str(item.get("note") or ""),
                            str(also) if also else None))
    return out


def evaluate(detector: CrisisDetector, messages: list[Labelled]) -> Result:
    """Run the detector over every message, timing each."""
    result = Result()
    for message in messages:
        start = time.perf_counter()
        match = detector.detect(message.text)
        result.seconds.append(time.perf_counter() - start)
        got = str(match.kind) if match else None
        result.total[message.kind] += 1
        if message.kind == NONE:
            if got is not None:
                result.false_alarms += 1
                result.misses.append((message, got))
            continue
        if got is not None:
            result.caught[message.kind] += 1
            result.exact[message.kind] += got == message.kind
        else:
            result.misses.append((message, got))
    return result


def report(result: Result, path: Path, show_misses: bool = False) -> str:
    """The figures as text (and the misses, for reviewers)."""
    langs = Counter(m.lang or "?" for m, _ in result.misses)
    lines = [f"crisis detector on {path.name}: {sum(result.total.values())} messages",
             f"{'kind':<10} {'n':>5} {'caught':>7} {'recall':>7} {'exact kind':>11}"]
    for kind in KINDS:
        lines.append(f"{kind:<10} {result.total[kind]:>5} {result.caught[kind]:>7} {result.recall(kind):>7.3f}"
                     f" {result.exact_rate(kind):>11.3f}")
    lines.append(f"{NONE:<10} {result.total[NONE]:>5}  false alarms {result.false_alarms} = {result.false_alarm_rate:.3f}")
    ms = [s * 1000 for s in result.seconds]
    p99 = sorted(ms)[max(0, round(len(ms) * 0.99) - 1)] if ms else 0.0
    lines.append(f"time per message: {statistics.fmean(ms) if ms else 0:.3f} ms mean, {p99:.3f} ms p99")
    if show_misses:
        lines.append(f"misses and false alarms by language: {dict(langs)}")
        for message, got in result.misses:
            label = f"{message.kind}{'/' + message.also if message.also else ''}"
            lines.append(f"  [{label} -> {got or 'nothing'}] ({message.lang}) {message.text}"
                         + (f"  # {message.note}" if message.note else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the figures; exit 1 when a gate (recall 0.95 per kind, false alarms 0.05) fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="labelled YAML set")
    parser.add_argument("--show-misses", action="store_true", help="list misses and false alarms")
    args = parser.parse_args(argv)
    detector = load_detector()
    result = evaluate(detector, load_labelled(args.set))
    print(report(result, args.set, args.show_misses))
    ok = all(result.recall(k) >= 0.95 for k in KINDS) and result.false_alarm_rate <= 0.05
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
