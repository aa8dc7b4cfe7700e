"""Updates per second and latency of the whole bot under 500 people at once (issue 8, item 5).

Each simulated person onboards (/start, language, privacy, role, kecamatan, kelurahan, gender;
half are children, whose parent, the other half, opens the child's consent link and agrees
before the child's profile questions), plays a whole quiz and signs up for one of six events,
pressing the buttons the bot shows. Three processes: the Bot API emulator with the people
(`users_process.py`), the bot (`bot_process.py`) on a SQLite file, and this one, which
prepares the database and prints the figures.

Two runs each:
  paced   --rate updates per second: everyone starts at once; after each answer a person thinks
          about --think seconds (exponential), then waits for a slot of a pacer that lets out
          --rate updates a second, so the offered load holds at --rate while enough people are
          ready (500 people thinking 2 s hold 200/s for most of the run)
  closed  everyone at once, each sending the next update as soon as the bot has answered:
          the most the bot can do
and the same updates (recorded in the runs of our bot) replayed against a bare
python-telegram-bot echo bot on the same emulator, for the throughput ratio.

Latency: from the update being queued at the emulator to the bot's first message (sent or
edited) in that chat arriving there. "turn p99": to the answer the person waited for (after a
quiz answer, the next question). "GC ms": the longest full garbage collection in the bot, during
which it answers nobody. It prints figures and asserts nothing.

Run: .venv/bin/python benchmarks/updates.py [--users 500] [--rate 200] [--think 2] [--runs paced,closed]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from content.loaders import load_regions  # noqa: E402
from db import events  # noqa: E402
from db.engine import make_engine, session_factory, upgrade_database  # noqa: E402
from db.types import utcnow  # noqa: E402
from db.users import AGE_BANDS  # noqa: E402

EVENTS = 6
CAPACITY = 60  # six events of 60 places for 500 people: the later ones join a waitlist
RUN_TIMEOUT = 900  # seconds


def prepare_database(url: str) -> None:
    """Migrate and create the events people will sign up for (open to every age)."""
    upgrade_database(url)
    regions = load_regions().kecamatan

    async def create() -> None:
        engine = make_engine(url)
        now = utcnow()
        async with session_factory(engine)() as session:
            for number, (kecamatan, kelurahan) in enumerate(list(regions.items())[:EVENTS]):
                starts = now + timedelta(days=10 + number, hours=2)
                draft = events.EventDraft(
                    title=f"Forum Anak {kecamatan}", description="Diskusi hak anak dan permainan bersama.",
                    starts_at=starts, ends_at=starts + timedelta(hours=3), venue="Aula kelurahan",
                    kecamatan=kecamatan, kelurahan=kelurahan[0], capacity=CAPACITY, age_bands=AGE_BANDS,
                )
                await events.create_event(session, draft=draft, created_by=1, regions=regions, now=now)
        await engine.dispose()

    asyncio.run(create())


def spawn(*args: str) -> subprocess.Popen[str]:
    """Start a helper process of this benchmark."""
    return subprocess.Popen(
        [sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def one_run(bot: str, mode: str, *, users: int, rate: float, think: float, seed: int,
            scripts: Path, database: str | None, profile: Path | None = None) -> dict[str, Any]:
    """Emulator and people in one process, the bot in another; return their figures."""
    people = spawn(str(ROOT / "benchmarks" / "users_process.py"), mode, str(users), str(rate), str(think),
                   str(seed), str(scripts))
    assert people.stdin is not None and people.stdout is not None
    port = int(people.stdout.readline())
    bot_args = [str(ROOT / "benchmarks" / "bot_process.py"), bot, f"http://127.0.0.1:{port}/bot"]
    process = spawn(*bot_args, database or "-", *([str(profile)] if profile else []))
    assert process.stdin is not None and process.stdout is not None
    try:
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the {bot} bot did not start")
        people.stdin.write("go\n")
        people.stdin.flush()
        figures = json.loads(people.stdout.readline())
        process.stdin.close()
        figures.update(json.loads(process.stdout.readline()))
        process.wait(timeout=60)
        people.stdin.write("stop\n")
        people.stdin.close()
        people.wait(timeout=60)
    finally:
        for child in (process, people):
            if child.poll() is None:
                child.kill()
    return figures


def show(name: str, figures: dict[str, Any]) -> None:
    """One line of the table."""
    cpu_ms = 1000 * figures["bot_cpu_seconds"] / max(figures["updates"], 1)
    emulator_ms = 1000 * figures["emulator_cpu_seconds"] / max(figures["updates"], 1)
    print(f"{name:<22} {figures['updates']:>7} {figures['rate']:>8.1f} {figures['steady_rate']:>8.1f} "
          f"{figures['p50_ms']:>8.1f} {figures['p99_ms']:>8.1f} {figures['max_ms']:>8.1f} "
          f"{figures['turn_p99_ms']:>9.1f} {cpu_ms:>8.2f} {emulator_ms:>8.2f} {figures['gc_max_ms']:>6.0f} "
          f"{figures['errors'] + figures['refused'] + figures['bot_errors']:>6}",
          flush=True)
    for key in ("first_errors", "first_refused", "first_bot_errors"):
        for line in figures.get(key, []):
            print(f"    {key.removeprefix('first_')}: {line}")


def main() -> None:
    """Prepare, run, print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=500, help="simulated people (even: children and parents)")
    parser.add_argument("--rate", type=float, default=200.0, help="offered updates per second of the paced run")
    parser.add_argument("--think", type=float, default=2.0,
                        help="mean seconds a person takes between an answer and their next update (paced)")
    parser.add_argument("--runs", default="paced,closed", help="paced, closed or both (comma-separated)")
    parser.add_argument("--no-echo", action="store_true", help="skip the echo bot")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--profile", type=Path, help="write cProfile statistics of each bot run into this folder")
    args = parser.parse_args()
    runs = [run for run in args.runs.split(",") if run]
    print(f"update benchmark: {args.users} people, {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'run':<22} {'updates':>7} {'upd/s':>8} {'steady/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'turn p99':>9} {'CPU ms/u':>8} {'emu ms/u':>8} {'GC ms':>6} {'errors':>6}")
    results: dict[tuple[str, str], dict[str, Any]] = {}

    def profiled(bot: str, run: str) -> Path | None:
        if args.profile is None:
            return None
        args.profile.mkdir(parents=True, exist_ok=True)
        return (args.profile / f"{bot}-{run}.prof").resolve()

    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.db"
        prepare_database(f"sqlite:///{template}")
        for run in runs:
            rate = args.rate if run == "paced" else 0.0
            scripts = Path(tmp) / f"{run}.json"
            database = Path(tmp) / f"{run}.db"
            shutil.copy(template, database)
            full = one_run("full", "full", users=args.users, rate=rate, think=args.think, seed=args.seed,
                           scripts=scripts, database=f"sqlite:///{database}", profile=profiled("full", run))
            results[("full", run)] = full
            show(f"ours, {run}" + (f" {args.rate:g}/s" if rate else ""), full)
            if not args.no_echo:
                echo = one_run("echo", "echo", users=args.users, rate=rate, think=args.think, seed=args.seed,
                               scripts=scripts, database=None, profile=profiled("echo", run))
                results[("echo", run)] = echo
                show(f"echo bot, {run}" + (f" {args.rate:g}/s" if rate else ""), echo)
    if ("full", "closed") in results and ("echo", "closed") in results:
        ours, echo = results[("full", "closed")], results[("echo", "closed")]
        print(f"throughput ours / echo (closed loop): {ours['rate'] / echo['rate']:.2f} (target >= 0.5); "
              f"bot CPU per update ours / echo: "
              f"{(ours['bot_cpu_seconds'] / ours['updates']) / (echo['bot_cpu_seconds'] / echo['updates']):.1f}x")
    if ("full", "paced") in results:
        paced = results[("full", "paced")]
        print(f"paced at {args.rate:g}/s offered: p99 {paced['p99_ms']:.0f} ms (target < 250 ms) at a steady "
              f"{paced['steady_rate']:.0f} updates/s")


if __name__ == "__main__":
    main()
