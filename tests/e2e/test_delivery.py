"""The delivery engine through the emulator: once per recipient, 429 honoured, 403 unsubscribes."""

from __future__ import annotations

import pytest

from db import outbox, users
from tests.e2e.conftest import BotHarness

pytestmark = pytest.mark.e2e


async def enqueue_to(bot: BotHarness, uids: list[int], **kwargs: object) -> None:
    async with bot.services.db() as session:
        rows = []
        for uid in uids:
            user = await users.get_user(session, telegram_id=uid)
            rows.append(
                outbox.new_row(kind="test", text=f"<b>Pengumuman</b> untuk {uid}", now=bot.clock.now(),
                               chat_id=uid, user_id=user.id if user else None, **kwargs)  # type: ignore[arg-type]
            )
        await outbox.enqueue(session, rows)


async def test_each_recipient_gets_one_message(bot: BotHarness) -> None:
    uids = list(range(700, 740))
    for uid in uids:
        await bot.user(uid)
    bot.emu.block(705)
    bot.emu.fail_next("sendMessage", 2, retry_after=1)
    await enqueue_to(bot, uids)
    await bot.deliver()
    for uid in uids:
        got = [m for m in bot.emu.bot_messages(uid) if "Pengumuman" in m.text]
        assert len(got) == (0 if uid == 705 else 1), uid
    async with bot.services.db() as session:
        blocked = await users.get_user(session, telegram_id=705)
        counts = await outbox.counts(session, kind="test")
    assert blocked is not None and blocked.subscribed is False
    assert counts == {"sent": 39, "blocked": 1}


async def test_buttons_and_media_survive_the_outbox(bot: BotHarness) -> None:
    await bot.user(750)
    photo = bot.emu.send_photo(750)  # a file Telegram already knows
    markup = {"inline_keyboard": [[{"text": "Lihat", "callback_data": "menu:help"}]]}
    await enqueue_to(bot, [750], reply_markup=markup, media_kind="photo", media_file_id=photo.file_id)
    await bot.deliver()
    [sent] = [m for m in bot.emu.bot_messages(750) if m.kind == "photo"]
    assert sent.text.startswith("<b>Pengumuman</b>") and sent.button_labels() == ["Lihat"]


async def test_unknown_chat_fails_with_its_reason(bot: BotHarness) -> None:
    async with bot.services.db() as session:
        await outbox.enqueue(session, [outbox.new_row(kind="test", text="x", now=bot.clock.now(), chat_id=999999)])
    await bot.deliver()
    async with bot.services.db() as session:
        assert await outbox.counts(session, kind="test") == {"failed": 1}
    for request in bot.emu.requests:  # provoked on purpose: not a bug of the bot
        request.expected = request.expected or request.params.get("chat_id") == 999999


async def test_network_and_server_errors_are_retried_with_back_off(bot: BotHarness) -> None:
    from datetime import timedelta

    await bot.user(760)
    bot.emu.fail_next("sendMessage", 1, network=True)
    bot.emu.fail_next("sendMessage", 1, error_code=500, retry_after=None)
    await enqueue_to(bot, [760])
    await bot.deliver()
    assert not [m for m in bot.emu.bot_messages(760) if "Pengumuman" in m.text]
    for _ in range(2):  # each retry waits its back-off first
        bot.clock.advance(timedelta(minutes=1))
        await bot.deliver()
    assert len([m for m in bot.emu.bot_messages(760) if "Pengumuman" in m.text]) == 1
    async with bot.services.db() as session:
        assert await outbox.counts(session, kind="test") == {"sent": 1}


async def test_a_crashed_sender_is_taken_over_after_its_lease(bot: BotHarness) -> None:
    from datetime import timedelta

    await bot.user(770)
    await enqueue_to(bot, [770])
    async with bot.services.db() as session:  # a sender claims the row, then dies without sending
        assert len(await outbox.claim_batch(session, now=bot.clock.now(), limit=10)) == 1
    assert await bot.deliver() == 0
    bot.clock.advance(outbox.DEFAULT_LEASE + timedelta(seconds=1))
    assert await bot.deliver() == 1
    assert len([m for m in bot.emu.bot_messages(770) if "Pengumuman" in m.text]) == 1


async def test_a_pause_longer_than_the_lease_never_sends_a_message_twice(bot: BotHarness) -> None:
    # Telegram may ask for a long pause (429 retry_after). If the pause outlasts the lease of the
    # rows in hand, another sender takes them over; the paused one must then give them up.
    import asyncio
    from datetime import timedelta

    from bot.delivery import DeliveryEngine

    await bot.user(780)
    await enqueue_to(bot, [780])
    bot.emu.fail_next("sendMessage", 1, retry_after=1)
    paused_engine = bot.services.delivery
    assert paused_engine is not None
    other_engine = DeliveryEngine(db=bot.services.db, send=paused_engine.send, clock=bot.clock.now, rate=30)
    paused = asyncio.create_task(paused_engine.run_once())
    await bot.emu.wait_for(lambda: bool(bot.emu.requests_for("sendMessage")), what="the 429")
    bot.clock.advance(outbox.DEFAULT_LEASE + timedelta(seconds=1))  # while it waits, its lease runs out
    assert await other_engine.run_once() == 1  # another sender takes the row over and sends it
    await paused
    bot.clock.advance(timedelta(minutes=10))
    await bot.deliver()
    assert len([m for m in bot.emu.bot_messages(780) if "Pengumuman" in m.text]) == 1
    async with bot.services.db() as session:
        assert await outbox.counts(session, kind="test") == {"sent": 1}
