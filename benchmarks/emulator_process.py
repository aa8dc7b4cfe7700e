"""The Bot API emulator in its own process, so that benchmarks measure only the bot's CPU.

Usage: python benchmarks/emulator_process.py USERS [RATE_LIMIT]
Prints the port, serves until standard input closes, then prints JSON statistics.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from bot.sandbox.emulator import BotApiEmulator

TOKEN = "123456:BENCHMARK-token"
FIRST_USER = 10_000


async def main(users: int, rate_limit: float | None) -> None:
    """Serve until stdin closes."""
    emulator = BotApiEmulator(token=TOKEN)
    await emulator.start()
    for uid in range(FIRST_USER, FIRST_USER + users):
        emulator.add_user(uid)
    emulator.set_rate_limit(rate_limit)
    print(emulator.port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    per_chat = [len(emulator.bot_messages(uid)) for uid in range(FIRST_USER, FIRST_USER + users)]
    stats = {
        "rate_limited": emulator.rate_limited_count,
        "sent": sum(per_chat),
        "missing": sum(1 for n in per_chat if n == 0),
        "duplicated": sum(n - 1 for n in per_chat if n > 1),
        "emulator_cpu_seconds": round(time.process_time(), 2),
    }
    print(json.dumps(stats), flush=True)
    await emulator.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 and float(sys.argv[2]) > 0 else None))
