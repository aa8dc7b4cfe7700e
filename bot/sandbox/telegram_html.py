"""Telegram's HTML parse mode, checked the way the Bot API checks it."""

from __future__ import annotations

import html
import re

_TOKEN = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*)?)\s*(/?)>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});")
_ATTR = re.compile(r'\s*([a-zA-Z-]+)(?:\s*=\s*"([^"]*)"|\s*=\s*\'([^\']*)\'|\s*=\s*([^\s"\'>]+))?')

# Allowed tags and the attributes each may carry.
_ALLOWED: dict[str, frozenset[str]] = {
    "b": frozenset(), "strong": frozenset(), "i": frozenset(), "em": frozenset(),
    "u": frozenset(), "ins": frozenset(), "s": frozenset(), "strike": frozenset(),
    "del": frozenset(), "tg-spoiler": frozenset(), "span": frozenset({"class"}),
    "a": frozenset({"href"}), "tg-emoji": frozenset({"emoji-id"}), "code": frozenset({"class"}),
    "pre": frozenset(), "blockquote": frozenset({"expandable"}),
}


class TelegramHtmlError(ValueError):
    """The text would be refused with "can't parse entities"."""


def _attributes(tag: str, raw: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    position = 0
    raw = raw.strip()
    while position < len(raw):
        match = _ATTR.match(raw, position)
        if not match or match.end() == position:
            raise TelegramHtmlError(f"bad attributes in <{tag}>")
        name = match.group(1).lower()
        value = next((g for g in match.groups()[1:] if g is not None), "")
        if name not in _ALLOWED[tag]:
            raise TelegramHtmlError(f"unsupported attribute {name!r} in <{tag}>")
        attrs[name] = value
        position = match.end()
    if tag == "span" and attrs.get("class") != "tg-spoiler":
        raise TelegramHtmlError("<span> needs class=\"tg-spoiler\"")
    if tag == "a" and "href" not in attrs:
        raise TelegramHtmlError("<a> needs href")
    if tag == "code" and "class" in attrs and not attrs["class"].startswith("language-"):
        raise TelegramHtmlError("<code> class must be language-…")
    return attrs


def parse_telegram_html(text: str) -> str:
    """Return the visible text of Telegram HTML, or raise TelegramHtmlError."""
    plain: list[str] = []
    stack: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "<":
            match = _TOKEN.match(text, position)
            if not match:
                raise TelegramHtmlError(f"unexpected '<' at byte offset {position}")
            closing, tag, raw_attrs, self_closing = match.groups()
            tag = tag.lower()
            if tag not in _ALLOWED or self_closing:
                raise TelegramHtmlError(f"unsupported start tag \"{tag}\" at byte offset {position}")
            if closing:
                if not stack or stack[-1] != tag:
                    raise TelegramHtmlError(f"unexpected end tag \"{tag}\" at byte offset {position}")
                stack.pop()
            else:
                _attributes(tag, raw_attrs)
                stack.append(tag)
            position = match.end()
        elif char == "&":
            match = _ENTITY.match(text, position)
            if not match:
                raise TelegramHtmlError(f"can't find end of the entity at byte offset {position}")
            plain.append(html.unescape(match.group(0)))
            position = match.end()
        elif char == ">":
            raise TelegramHtmlError(f"unexpected '>' at byte offset {position}")
        else:
            plain.append(char)
            position += 1
    if stack:
        raise TelegramHtmlError(f"can't find end tag corresponding to start tag \"{stack[-1]}\"")
    return "".join(plain)
