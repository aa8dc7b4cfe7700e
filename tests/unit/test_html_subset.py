"""Telegram's HTML subset, as the emulator (and so every template) is held to it."""

import pytest

from bot.sandbox.telegram_html import TelegramHtmlError, parse_telegram_html


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("<b>tebal</b> &amp; <i>miring</i>", "tebal & miring"),
        ('<a href="https://t.me/x">link</a>', "link"),
        ('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>', "st"),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1"),
        ("<blockquote expandable>q</blockquote>", "q"),
        ("&lt;tag&gt; &quot;q&quot; &#65;&#x42;", '<tag> "q" AB'),
        ("baris satu\nbaris dua", "baris satu\nbaris dua"),
    ],
)
def test_valid_html_gives_its_visible_text(text: str, plain: str) -> None:
    assert parse_telegram_html(text) == plain


@pytest.mark.parametrize(
    "text",
    [
        "satu<br>dua",
        "<div>x</div>",
        "<b>not closed",
        "<b><i>crossed</b></i>",
        "</b>",
        "a & b",
        "a &nbsp; b",
        "1 < 2",
        "2 > 1",
        "<span>plain span</span>",
        "<a>no href</a>",
        '<b class="x">attr</b>',
        '<code class="python">x</code>',
    ],
)
def test_text_telegram_refuses_is_refused(text: str) -> None:
    with pytest.raises(TelegramHtmlError):
        parse_telegram_html(text)
