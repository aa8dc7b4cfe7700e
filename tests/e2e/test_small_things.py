"""Issue 17, item 12: Unicode digits, button labels escaped twice."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import BotHarness
from tests.e2e.test_events import FAC, make_event

pytestmark = pytest.mark.e2e

CHILD = 5201


async def test_unicode_digits_in_a_link_or_a_capacity_are_refused_kindly(bot: BotHarness) -> None:
    await bot.user(CHILD)
    for payload in ("ev_²", "ev_٣", "ev_1²"):  # "²".isdigit() is True, int("²") raises
        msg = await bot.send(CHILD, f"/start {payload}")
        assert "Maaf, ada yang salah" not in msg.text, payload
    await bot.user(FAC, role="facilitator")
    await bot.send(FAC, "/acara_baru")
    await bot.send(FAC, "Diskusi Hak Anak")
    await bot.send(FAC, "Ngobrol santai soal hak anak.")
    await bot.send(FAC, "25/11 16.00")
    await bot.send(FAC, "18:00")
    await bot.send(FAC, "Aula Kelurahan Damai")
    await bot.press(FAC, "Balikpapan Kota")
    msg = await bot.press(FAC, "Damai")
    assert "Berapa tempat" in msg.plain_text
    msg = await bot.send(FAC, "²")
    assert "dengan angka" in msg.plain_text and "Maaf, ada yang salah" not in msg.text
    assert "umur berapa" in (await bot.send(FAC, "12")).plain_text


async def test_a_title_with_an_ampersand_shows_once_on_buttons_and_in_messages(bot: BotHarness) -> None:
    await make_event(bot, title="Tom & Jerry <3")
    await bot.user(CHILD)
    msg = await bot.send(CHILD, "/acara")
    assert "📌 Tom & Jerry <3" in msg.button_labels(), msg.button_labels()
    card = await bot.press(CHILD, "📌 Tom & Jerry <3")
    assert "Tom & Jerry <3" in card.plain_text and "&amp;" not in card.plain_text
