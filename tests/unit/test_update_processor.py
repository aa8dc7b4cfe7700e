"""The update processor keeps each chat in order and lets other chats pass a busy one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from telegram import Chat, Message, Update, User

from bot.updates import PerUserUpdateProcessor, RecentIds, lane_key

_ids = iter(range(1, 10_000_000))


def message_update(user_id: int, chat_id: int | None = None) -> Update:
    chat_id = user_id if chat_id is None else chat_id
    chat = Chat(chat_id, Chat.PRIVATE if chat_id > 0 else Chat.SUPERGROUP)
    user = User(user_id, "Anak", is_bot=False)
    message = Message(next(_ids), datetime(2026, 11, 23, tzinfo=UTC), chat, from_user=user, text="hai")
    return Update(next(_ids), message=message)


def channel_post(chat_id: int) -> Update:
    chat = Chat(chat_id, Chat.CHANNEL)
    return Update(next(_ids), channel_post=Message(next(_ids), datetime(2026, 11, 23, tzinfo=UTC), chat, text="x"))


class Recorder:
    """Handlers that log their start and end, and can be held until released."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        self.gates: dict[str, asyncio.Event] = {}

    async def handle(self, name: str) -> None:
        self.log.append(("start", name))
        gate = self.gates.get(name)
        if gate is not None:
            await gate.wait()
        await asyncio.sleep(0)
        self.log.append(("end", name))


async def submit(processor: PerUserUpdateProcessor, update: Update, recorder: Recorder, name: str) -> asyncio.Task[None]:
    # Like PTB: one task per update, started in the order the updates arrive.
    return asyncio.create_task(processor.process_update(update, recorder.handle(name)))


async def test_one_person_runs_in_arrival_order_one_at_a_time() -> None:
    processor, recorder = PerUserUpdateProcessor(max_running=8), Recorder()
    tasks = [await submit(processor, message_update(7), recorder, f"m{i}") for i in range(30)]
    await asyncio.gather(*tasks)
    expected = [(edge, f"m{i}") for i in range(30) for edge in ("start", "end")]
    assert recorder.log == expected
    assert processor.open_lanes == 0


async def test_another_person_passes_a_held_person_with_a_long_queue() -> None:
    processor, recorder = PerUserUpdateProcessor(max_running=4), Recorder()
    recorder.gates["busy0"] = asyncio.Event()
    # 200 updates of one chat, more than the running bound, the first one held...
    busy = [await submit(processor, message_update(1), recorder, f"busy{i}") for i in range(200)]
    # ...then one update of another person: it must not wait behind them.
    other = await submit(processor, message_update(2), recorder, "other")
    await asyncio.wait_for(other, timeout=5)
    assert ("end", "other") in recorder.log
    assert [n for edge, n in recorder.log if n.startswith("busy")] == ["busy0"]
    recorder.gates["busy0"].set()
    await asyncio.gather(*busy)
    assert [n for edge, n in recorder.log if edge == "end" and n.startswith("busy")] == [f"busy{i}" for i in range(200)]


async def test_running_updates_are_bounded() -> None:
    processor, recorder = PerUserUpdateProcessor(max_running=3), Recorder()
    gate = asyncio.Event()
    for chat in range(10):
        recorder.gates[f"c{chat}"] = gate
    tasks = [await submit(processor, message_update(100 + chat), recorder, f"c{chat}") for chat in range(10)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert len([1 for edge, _ in recorder.log if edge == "start"]) == 3
    gate.set()
    await asyncio.gather(*tasks)
    assert len([1 for edge, _ in recorder.log if edge == "end"]) == 10


async def test_a_failing_update_frees_its_lane() -> None:
    processor = PerUserUpdateProcessor(max_running=2)

    async def boom() -> None:
        raise RuntimeError("handler bug")

    with pytest.raises(RuntimeError):
        await processor.process_update(message_update(5), boom())
    recorder = Recorder()
    await processor.process_update(message_update(5), recorder.handle("after"))
    assert recorder.log == [("start", "after"), ("end", "after")]
    assert processor.open_lanes == 0


async def test_one_person_in_two_chats_is_one_lane() -> None:
    # A staff member presses on a case card in the group, then types in the private chat.
    processor, recorder = PerUserUpdateProcessor(max_running=8), Recorder()
    recorder.gates["group"] = asyncio.Event()
    group = await submit(processor, message_update(42, chat_id=-100500), recorder, "group")
    private = await submit(processor, message_update(42), recorder, "private")
    for _ in range(10):
        await asyncio.sleep(0)
    assert recorder.log == [("start", "group")]
    recorder.gates["group"].set()
    await asyncio.gather(group, private)
    assert recorder.log == [("start", "group"), ("end", "group"), ("start", "private"), ("end", "private")]


def test_lanes_are_senders_then_chats() -> None:
    assert lane_key(message_update(42, chat_id=-100500)) == ("user", 42)
    assert lane_key(message_update(42)) == ("user", 42)
    assert lane_key(channel_post(-100900)) == ("chat", -100900)
    assert lane_key(object()) is None


def test_refuses_a_non_positive_bound() -> None:
    with pytest.raises(ValueError):
        PerUserUpdateProcessor(max_running=0)


async def test_an_update_delivered_again_runs_once() -> None:
    # Telegram delivers at least once: a lost getUpdates answer brings the same batch again.
    processor, recorder = PerUserUpdateProcessor(max_running=8), Recorder()
    first, other = message_update(7), message_update(8)
    recorder.gates["first"] = asyncio.Event()
    running = await submit(processor, first, recorder, "first")
    again_while_running = await submit(processor, first, recorder, "again-while-running")
    await asyncio.wait_for(again_while_running, timeout=5)  # dropped at once, not queued
    recorder.gates["first"].set()
    await asyncio.gather(running, await submit(processor, other, recorder, "other"))
    await processor.process_update(first, recorder.handle("again-later"))
    assert [name for edge, name in recorder.log if edge == "end"] == ["first", "other"]
    assert processor.repeats_dropped == 2 and processor.open_lanes == 0


def test_recent_ids_forget_the_oldest_beyond_their_size() -> None:
    recent = RecentIds(size=3)
    assert [recent.first_time(i) for i in (1, 2, 3, 1)] == [True, True, True, False]
    assert recent.first_time(4)  # 1 drops out of the window...
    assert recent.first_time(1) and not recent.first_time(4)  # ...so it counts as new again
