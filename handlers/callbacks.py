"""The one codec for callback data: `feature:action:arg...`, at most 64 bytes, never trusted."""

from __future__ import annotations

import re
from dataclasses import dataclass

from db import limits

MAX_BYTES = limits.CALLBACK_DATA_MAX_BYTES  # Telegram refuses more
_PART = re.compile(r"[A-Za-z0-9_.\-]{1,40}")
_NUMBER = re.compile(r"[0-9]{1,12}")


def ascii_number(text: str) -> int | None:
    """Read a non-negative number typed or sent by a user: ASCII digits only, at most 12.

    `str.isdigit` is not enough: "²" and "٣" pass it, and `int("²")` then raises, so a typed
    capacity or a `/start ev_²` link crashed the handler (issue 17, item 12).
    """
    return int(text) if _NUMBER.fullmatch(text) else None


class BadCallback(ValueError):
    """Callback data that our codec did not produce (stale, foreign or forged)."""


@dataclass(frozen=True)
class Callback:
    """A decoded button press; handlers still re-check every argument on the server."""

    feature: str
    action: str
    args: tuple[str, ...] = ()

    def int_arg(self, index: int = 0) -> int:
        """Return an argument as a non-negative int, or raise BadCallback."""
        try:
            value = self.args[index]
        except IndexError:
            raise BadCallback("missing argument") from None
        number = ascii_number(value)
        if number is None:
            raise BadCallback("not a number")
        return number


def encode(feature: str, action: str, *args: object) -> str:
    """Build callback data; refuse what Telegram would refuse."""
    parts = [feature, action, *(str(a) for a in args)]
    if not all(_PART.fullmatch(p) for p in parts):
        raise ValueError(f"callback part not encodable: {parts!r}")
    data = ":".join(parts)
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
    return data


def decode(data: str | None) -> Callback:
    """Parse callback data or raise BadCallback."""
    if not data or len(data.encode()) > MAX_BYTES:
        raise BadCallback("empty or too long")
    parts = data.split(":")
    if len(parts) < 2 or not all(_PART.fullmatch(p) for p in parts):
        raise BadCallback("malformed")
    return Callback(parts[0], parts[1], tuple(parts[2:]))


def pattern(feature: str) -> str:
    """Return the CallbackQueryHandler pattern of one feature."""
    return rf"^{re.escape(feature)}:"
