"""Telegram's HTML parse mode: what it accepts, what it refuses, and the visible text it leaves."""

from __future__ import annotations

import pytest

from bot.sandbox.telegram_html import (
    FormattedText,
    TelegramHtmlError,
    parse_telegram_html,
    parse_telegram_html_entities,
    trim_formatted,
    utf16_length,
)


@pytest.mark.parametrize(
    ("html", "plain"),
    [
        ("plain text", "plain text"),
        ("<b>bold</b> <strong>strong</strong>", "bold strong"),
        ("<i>a</i><em>b</em><u>c</u><ins>d</ins><s>e</s><strike>f</strike><del>g</del>", "abcdefg"),
        ('<span class="tg-spoiler">secret</span> <tg-spoiler>too</tg-spoiler>', "secret too"),
        ('<a href="https://example.org/?a=1&amp;b=2">link</a>', "link"),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍"),
        ("<code>x = 1</code>", "x = 1"),
        ('<pre><code class="language-python">print("hi")</code></pre>', 'print("hi")'),
        ("<pre>block</pre>", "block"),
        ("<blockquote>quote</blockquote><blockquote expandable>more</blockquote>", "quotemore"),
        ("<b>bold <i>and italic</i></b>", "bold and italic"),
        ("&lt;b&gt; is &quot;bold&quot; &amp; more", '<b> is "bold" & more'),
        ("&#128512; &#x1F600;", "😀 😀"),
        ("<B>upper case tags</B>", "upper case tags"),
        ("<b >spaces in tags</b >", "spaces in tags"),
        ("<a href=https://example.org>unquoted</a>", "unquoted"),
        ("<a HREF='https://example.org'>attribute names ignore case</a>", "attribute names ignore case"),
        ("line one\nline two", "line one\nline two"),
    ],
)
def test_valid_html_gives_visible_text(html: str, plain: str) -> None:
    assert parse_telegram_html(html) == plain


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("line<br>break", 'Unsupported start tag "br" at byte offset 4'),
        ("<p>paragraph</p>", 'Unsupported start tag "p"'),
        ("<script>alert(1)</script>", 'Unsupported start tag "script"'),
        ("<div>x</div>", 'Unsupported start tag "div"'),
        ("<b>not closed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>crossed</b></i>", 'Unmatched end tag at byte offset 13, expected "</i>", found "</b>"'),
        ("closed</b>", "Unexpected end tag at byte offset 6"),
        ("a < b", 'Character "<" at byte offset 2 must be escaped as "&lt;"'),
        ("2 > 1", 'Character ">" at byte offset 2 must be escaped as "&gt;"'),
        ("AT&T", 'Character "&" at byte offset 2 must be escaped as "&amp;"'),
        ("&nbsp;", 'Character "&" at byte offset 0'),
        ("&#0;", 'Character "&"'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ('<a href="x>unterminated</a>', "Unclosed start tag"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
        ('<span class="other">x</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("<a>no href</a>", 'Tag "a" must have attribute "href"'),
        ('<tg-emoji emoji-id="abc">x</tg-emoji>', "Invalid custom emoji identifier"),
        ("<b/>", 'Empty attribute name in the tag "b"'),
        ('<b class="x">x</b>', 'Unsupported attribute "class" in the tag "b" at byte offset 3'),
        ('<a href="https://x.org" target="_blank">x</a>', 'Unsupported attribute "target" in the tag "a"'),
        ('<code class="python">x</code>', 'Tag "code" may only have class "language-..."'),
        ("<a href>x</a>", 'Expected equal sign in declaration of an attribute of the tag "a"'),
    ],
)
def test_invalid_html_is_refused(html: str, reason: str) -> None:
    with pytest.raises(TelegramHtmlError) as caught:
        parse_telegram_html(html)
    assert reason in caught.value.reason
    assert str(caught.value) == caught.value.reason


def test_byte_offsets_count_utf8_bytes() -> None:
    with pytest.raises(TelegramHtmlError, match="byte offset 5"):
        parse_telegram_html("héé<br>")  # 3 characters, 5 bytes before <br>
    with pytest.raises(TelegramHtmlError, match="byte offset 4"):
        parse_telegram_html("😀<br>")


def test_entities_use_utf16_offsets() -> None:
    parsed = parse_telegram_html_entities("😀 <b>bold</b> <a href='https://x.org'>x</a>")
    assert parsed.text == "😀 bold x"
    assert parsed.entities == [
        {"type": "bold", "offset": 3, "length": 4},
        {"type": "text_link", "offset": 8, "length": 1, "url": "https://x.org"},
    ]


def test_entities_of_every_kind() -> None:
    parsed = parse_telegram_html_entities(
        '<pre><code class="language-py">p</code></pre><code>c</code>'
        '<blockquote expandable>q</blockquote><tg-spoiler>s</tg-spoiler><tg-emoji emoji-id="1">e</tg-emoji>'
        '<tg-time unix="1700000000" format="wDT">t</tg-time><b><i>n</i></b>'
    )
    assert parsed.text == "pcqsetn"
    assert parsed.entities == [
        {"type": "pre", "offset": 0, "length": 1, "language": "py"},
        {"type": "code", "offset": 1, "length": 1},
        {"type": "expandable_blockquote", "offset": 2, "length": 1},
        {"type": "spoiler", "offset": 3, "length": 1},
        {"type": "custom_emoji", "offset": 4, "length": 1, "custom_emoji_id": "1"},
        {"type": "date_time", "offset": 5, "length": 1, "unix_time": 1700000000, "date_time_format": "wDT"},
        {"type": "bold", "offset": 6, "length": 1},
        {"type": "italic", "offset": 6, "length": 1},
    ]


def test_empty_tags_make_no_entity() -> None:
    assert parse_telegram_html_entities("<b></b>x") == FormattedText("x", [])


def test_length_is_counted_after_parsing() -> None:
    text = "<b>" + "x" * 4096 + "</b>"
    assert len(text) > 4096
    assert len(parse_telegram_html(text)) == 4096
    assert len(parse_telegram_html("&lt;" * 1000)) == 1000


def test_trim_strips_whitespace_and_clips_entities() -> None:
    parsed = parse_telegram_html_entities("  <b> hi </b><i>  </i>\n")
    trimmed = trim_formatted(parsed)
    assert trimmed == FormattedText("hi", [{"type": "bold", "offset": 0, "length": 2}])
    untouched = FormattedText("x", [])
    assert trim_formatted(untouched) is untouched


def test_utf16_length() -> None:
    assert utf16_length("abc") == 3
    assert utf16_length("😀") == 2
    assert utf16_length("é") == 1
