"""Issue 17, item 9: a sealed reply route cannot be reused for another message.

The attacker can write to the database but has no SECRET_KEY: they copy the reporter's route
(from the case, or from a staff reply in the outbox) into rows of their own. The delivery engine
must send none of them, and the staff reply itself still arrives.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from db import outbox
from db.crypto import report_code_hash
from db.models import Delivery, Report
from tests.e2e.conftest import BotHarness
from tests.e2e.test_reports import REPORTER, STAFF, staff_card, walk

pytestmark = pytest.mark.e2e

LURE = "Petugas: datang sendiri ke alamat ini besok"


async def test_a_copied_route_opens_for_no_other_case_message_or_button(bot: BotHarness) -> None:
    await bot.user(STAFF, role="staff")
    code = await walk(bot)
    other = await walk(bot, 4242)  # a second case, whose route the attacker swaps in
    await bot.deliver()
    await staff_card(bot, code)
    await bot.press(STAFF, "✉️ Balas pelapor")
    await bot.send(STAFF, "Terima kasih sudah melapor.")

    async with bot.services.db() as session:
        [mine, theirs] = (await session.scalars(select(Report).order_by(Report.id))).all()
        assert (mine.code_hash, theirs.code_hash) == tuple(report_code_hash(bot.settings.SECRET_KEY or "", c) for c in (code, other))
        assert mine.reply_route and theirs.reply_route
        reply = await session.scalar(select(Delivery).where(Delivery.kind == "case_reply"))
        assert reply is not None and reply.sealed_route and reply.sealed_route != mine.reply_route
        button = {"inline_keyboard": [[{"text": "Buka", "url": "https://example.org/x"}]]}
        now = bot.clock.now()
        await outbox.enqueue(session, [
            # The case's own route, under another text.
            outbox.new_row(kind="case_reply", text=LURE, now=now, sealed_route=mine.reply_route),
            # The staff reply's route, under another text, and again with a button.
            outbox.new_row(kind="case_reply", text=LURE, now=now, sealed_route=reply.sealed_route),
            outbox.new_row(kind="case_reply", text=reply.text, now=now, sealed_route=reply.sealed_route,
                           reply_markup=button),
            outbox.new_row(kind="broadcast", text=reply.text, now=now, sealed_route=reply.sealed_route),
        ])
        # Case 2's route moved onto case 1: staff answering case 1 must not reach reporter 2.
        theirs_route, mine.reply_route = theirs.reply_route, theirs.reply_route
        session.add(mine)
    mark = bot.emu.mark()
    await bot.deliver()
    got = bot.emu.bot_messages_since(mark, REPORTER)
    assert [m for m in got if "Terima kasih sudah melapor" in m.text] and len(got) == 1, [m.text for m in got]
    assert not any(m.buttons() for m in got)

    await staff_card(bot, code)
    await bot.press(STAFF, "✉️ Balas pelapor")
    await bot.send(STAFF, "Pesan kedua untuk kasus satu.")
    mark = bot.emu.mark()
    await bot.deliver()
    assert bot.emu.bot_messages_since(mark, 4242) == []
    async with bot.services.db() as session:
        rows = (await session.scalars(select(Delivery).where(Delivery.kind.in_(["case_reply", "broadcast"]))
                                      .order_by(Delivery.id))).all()
    statuses = [(row.text == LURE, json.loads(row.reply_markup) if row.reply_markup else None, row.status)
                for row in rows]
    assert [status for *_, status in statuses] == ["sent", "failed", "failed", "failed", "failed", "failed"]
    assert theirs_route
