"""`python -m docs.dpia` writes docs/dpia.md; `--check` only tells whether it is up to date."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from docs.dpia import OUTPUT, render


def main(argv: list[str] | None = None) -> int:
    """Write (or check) the DPIA; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m docs.dpia", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs, write nothing")
    parser.add_argument("--out", type=Path, default=OUTPUT, help=f"where to write (default {OUTPUT.name})")
    args = parser.parse_args(argv)
    try:
        text = render()
    except ValueError as exc:  # the data map and the tables disagree
        print(f"dpia: {exc}", file=sys.stderr)
        return 1
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"dpia: {args.out} is out of date; run `python -m docs.dpia`", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
