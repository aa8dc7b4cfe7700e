"""Telegram's HTML parse mode, checked the way the Bot API checks it.

`parse_telegram_html` returns the visible text (what Telegram counts against the 4096 and 1024
character limits) or raises `TelegramHtmlError` with a reason worded like Telegram's own
("Unsupported start tag ...", "Can't find end tag ..."), so the emulator can answer
"Bad Request: can't parse entities: <reason>". `parse_telegram_html_entities` also returns the
message entities, with offsets in UTF-16 code units as the Bot API reports them.

The checker may be stricter than Telegram, never more lenient, so that text it accepts is accepted
by Telegram too. Where Telegram is forgiving it refuses: a bare `&` that does not start one of the
entities Telegram knows (`&lt;` `&gt;` `&amp;` `&quot;` and numeric ones) and a bare `>` (Telegram
would show them literally; a bot that sends them forgot to escape), attributes a tag does not
support (Telegram ignores them), `<code class>` not of the form `language-x`, and `<a>` without
an `href`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Tag name -> entity type.
_ENTITY_OF_TAG: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
    "tg-time": "date_time",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
# The attributes each tag may carry.
_ATTRIBUTES: dict[str, frozenset[str]] = {
    "span": frozenset({"class"}),
    "a": frozenset({"href"}),
    "tg-emoji": frozenset({"emoji-id"}),
    "tg-time": frozenset({"unix", "format"}),
    "code": frozenset({"class"}),
    "blockquote": frozenset({"expandable"}),
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})|([a-zA-Z][a-zA-Z0-9]{0,31}));")
_TAG_NAME = re.compile(r"[a-zA-Z0-9-]*")
_ATTRIBUTE_NAME = re.compile(r"[a-zA-Z0-9_-]*")
_UNQUOTED_VALUE = re.compile(r"[^\s>]*")
_SPACE = " \t\r\n"


class TelegramHtmlError(ValueError):
    """The text would be refused with "can't parse entities: <reason>"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FormattedText:
    """Visible text and its entities (offsets and lengths in UTF-16 code units)."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _OpenTag:
    name: str
    start: int  # UTF-16 offset in the visible text
    byte_offset: int
    extra: dict[str, Any]
    order: int  # how many tags opened before this one: outer entities sort first


def utf16_length(text: str) -> int:
    """Length of a string in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def parse_telegram_html(text: str) -> str:
    """Return the visible text of Telegram HTML, or raise TelegramHtmlError."""
    return parse_telegram_html_entities(text).text


def parse_telegram_html_entities(text: str) -> FormattedText:
    """Parse Telegram HTML into visible text and entities, or raise TelegramHtmlError."""
    return _HtmlParser(text).parse()


def trim_formatted(formatted: FormattedText) -> FormattedText:
    """Strip leading and trailing whitespace like Telegram does, clipping the entities."""
    text = formatted.text
    stripped = text.strip()
    if stripped == text:
        return formatted
    lead = utf16_length(text[: len(text) - len(text.lstrip())])
    end = lead + utf16_length(stripped)
    entities = []
    for entity in formatted.entities:
        start = max(entity["offset"], lead)
        stop = min(entity["offset"] + entity["length"], end)
        if stop > start:
            entities.append({**entity, "offset": start - lead, "length": stop - start})
    return FormattedText(stripped, entities)


def _decode_entity(text: str, position: int, *, strict: bool) -> tuple[str, int] | None:
    """Decode the HTML entity at `position`: (character, end) or None when it is not one."""
    match = _ENTITY.match(text, position)
    if match is None:
        return None
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        char = _NAMED_ENTITIES.get(name)
        return (char, match.end()) if char is not None else None
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None if strict else ("\ufffd", match.end())
    return chr(code), match.end()


def _decode_attribute(value: str) -> str:
    """Decode entities in an attribute value, keeping anything else literally (as Telegram does)."""
    if "&" not in value:
        return value
    out: list[str] = []
    position = 0
    while position < len(value):
        decoded = _decode_entity(value, position, strict=False) if value[position] == "&" else None
        if decoded is None:
            out.append(value[position])
            position += 1
        else:
            out.append(decoded[0])
            position = decoded[1]
    return "".join(out)


class _HtmlParser:
    """A single pass over the text: visible characters, tags on a stack, entities when they close."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.out: list[str] = []
        self.offset = 0  # UTF-16 length of the visible text so far
        self.stack: list[_OpenTag] = []
        self.opened = 0
        self.entities: list[tuple[int, int, int, dict[str, Any]]] = []

    def byte_offset(self, position: int) -> int:
        """UTF-8 byte offset of a character position, as Telegram reports it."""
        return len(self.text[:position].encode("utf-8"))

    def parse(self) -> FormattedText:
        """Run the parser."""
        text, position = self.text, 0
        while position < len(text):
            char = text[position]
            if char == "<":
                position = self.tag(position)
            elif char == "&":
                decoded = _decode_entity(text, position, strict=True)
                if decoded is None:
                    raise TelegramHtmlError(
                        f'Character "&" at byte offset {self.byte_offset(position)} must be escaped as "&amp;"'
                    )
                self.emit(decoded[0])
                position = decoded[1]
            elif char == ">":
                raise TelegramHtmlError(
                    f'Character ">" at byte offset {self.byte_offset(position)} must be escaped as "&gt;"'
                )
            else:
                # Copy the run of plain characters up to the next markup character at once.
                stop = position + 1
                while stop < len(text) and text[stop] not in "<&>":
                    stop += 1
                self.emit(text[position:stop])
                position = stop
        if self.stack:
            raise TelegramHtmlError(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"')
        self.entities.sort(key=lambda item: item[:3])
        return FormattedText("".join(self.out), [entity for *_, entity in self.entities])

    def emit(self, chunk: str) -> None:
        """Append visible text."""
        self.out.append(chunk)
        self.offset += utf16_length(chunk)

    def tag(self, position: int) -> int:
        """Handle a start or end tag at `position`; return the position after it."""
        text = self.text
        if text.startswith("</", position):
            name_match = _TAG_NAME.match(text, position + 2)
            assert name_match is not None
            end = name_match.end()
            while end < len(text) and text[end] in _SPACE:
                end += 1
            if end >= len(text) or text[end] != ">":
                raise TelegramHtmlError(f"Unclosed end tag at byte offset {self.byte_offset(position)}")
            self.close(name_match.group(0).lower(), position)
            return end + 1
        name_match = _TAG_NAME.match(text, position + 1)
        assert name_match is not None
        name = name_match.group(0).lower()
        if not name:
            raise TelegramHtmlError(
                f'Character "<" at byte offset {self.byte_offset(position)} must be escaped as "&lt;"'
            )
        if name not in _ENTITY_OF_TAG:
            raise TelegramHtmlError(f'Unsupported start tag "{name}" at byte offset {self.byte_offset(position)}')
        attributes, end = self.attributes(name, name_match.end(), position)
        extra = self.extra(name, attributes, position)
        self.stack.append(_OpenTag(name, self.offset, self.byte_offset(position), extra, self.opened))
        self.opened += 1
        return end

    def attributes(self, tag: str, position: int, tag_start: int) -> tuple[dict[str, str], int]:
        """Read the attributes of a start tag; return them and the position after `>`."""
        text = self.text
        found: dict[str, str] = {}
        while True:
            while position < len(text) and text[position] in _SPACE:
                position += 1
            if position >= len(text):
                raise TelegramHtmlError(f"Unclosed start tag at byte offset {self.byte_offset(tag_start)}")
            if text[position] == ">":
                return found, position + 1
            name_match = _ATTRIBUTE_NAME.match(text, position)
            assert name_match is not None
            name = name_match.group(0).lower()
            if not name:
                raise TelegramHtmlError(
                    f'Empty attribute name in the tag "{tag}" at byte offset {self.byte_offset(position)}'
                )
            if name not in _ATTRIBUTES.get(tag, frozenset()):
                raise TelegramHtmlError(
                    f'Unsupported attribute "{name}" in the tag "{tag}" at byte offset {self.byte_offset(position)}'
                )
            position = name_match.end()
            while position < len(text) and text[position] in _SPACE:
                position += 1
            if position >= len(text) or text[position] != "=":
                if name != "expandable":  # the one attribute Telegram accepts without a value
                    raise TelegramHtmlError(
                        f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                        f"at byte offset {self.byte_offset(tag_start)}"
                    )
                found[name] = ""
                continue
            position += 1
            while position < len(text) and text[position] in _SPACE:
                position += 1
            if position < len(text) and text[position] in "\"'":
                quote = text[position]
                close = text.find(quote, position + 1)
                if close < 0:
                    raise TelegramHtmlError(f"Unclosed start tag at byte offset {self.byte_offset(tag_start)}")
                value, position = text[position + 1 : close], close + 1
            else:
                value_match = _UNQUOTED_VALUE.match(text, position)
                assert value_match is not None
                value, position = value_match.group(0), value_match.end()
            found[name] = _decode_attribute(value)

    def extra(self, tag: str, attributes: dict[str, str], position: int) -> dict[str, Any]:
        """Check a tag's attributes; return the extra fields of its entity (url, language, ...)."""
        where = f"at byte offset {self.byte_offset(position)}"
        if tag == "span":
            if attributes.get("class") != "tg-spoiler":
                raise TelegramHtmlError(f'Tag "span" must have class "tg-spoiler" {where}')
        elif tag == "a":
            if "href" not in attributes:
                raise TelegramHtmlError(f'Tag "a" must have attribute "href" {where}')
            return {"url": attributes["href"]}
        elif tag == "tg-emoji":
            emoji_id = attributes.get("emoji-id", "")
            if not (emoji_id.isascii() and emoji_id.isdigit()):  # "²".isdigit() is True
                raise TelegramHtmlError(f"Invalid custom emoji identifier specified {where}")
            return {"custom_emoji_id": emoji_id}
        elif tag == "tg-time":
            unix = attributes.get("unix", "")
            if not (unix.isascii() and unix.isdigit()):
                raise TelegramHtmlError(f'Tag "tg-time" must have attribute "unix" {where}')
            extra: dict[str, Any] = {"unix_time": int(unix)}
            if "format" in attributes:
                extra["date_time_format"] = attributes["format"]
            return extra
        elif tag == "code" and "class" in attributes:
            language = attributes["class"]
            if not language.startswith("language-") or language == "language-":
                raise TelegramHtmlError(f'Tag "code" may only have class "language-..." {where}')
            return {"language": language.removeprefix("language-")}
        elif tag == "blockquote" and "expandable" in attributes:
            return {"expandable": True}
        return {}

    def close(self, name: str, position: int) -> None:
        """Close the innermost open tag, which must be `name`, and record its entity."""
        if not self.stack:
            raise TelegramHtmlError(f"Unexpected end tag at byte offset {self.byte_offset(position)}")
        top = self.stack[-1]
        if top.name != name:
            raise TelegramHtmlError(
                f'Unmatched end tag at byte offset {self.byte_offset(position)}, '
                f'expected "</{top.name}>", found "</{name}>"'
            )
        self.stack.pop()
        length = self.offset - top.start
        kind = _ENTITY_OF_TAG[name]
        extra = dict(top.extra)
        if kind == "code" and self.stack and self.stack[-1].name == "pre":
            # <pre><code class="language-x"> is one pre entity with a language.
            if "language" in extra:
                self.stack[-1].extra["language"] = extra["language"]
            return
        if kind == "blockquote" and extra.pop("expandable", False):
            kind = "expandable_blockquote"
        if kind == "code":
            extra.pop("language", None)
        if length > 0:
            entity = {"type": kind, "offset": top.start, "length": length, **extra}
            self.entities.append((top.start, -length, top.order, entity))
