"""python-telegram-bot's ExtBot with the two calls every answer makes, minus the parse of their result.

Telegram answers sendMessage and editMessageText with the whole message, keyboard included, and
PTB turns it into a `Message` object: under the load benchmark that parse was half of each call's
CPU, about 0.6 ms an update, for an object our answers never use. `send_text` and `edit_text`
make the same calls through PTB's own `_post` (defaults, timeouts, errors as usual) and return
nothing. Every other call stays PTB's.

`protect_content` is passed on to sendMessage (case cards and everything else staff see about a
case: Telegram then refuses to forward or save the message). An edit keeps the protection of the
message it edits; editMessageText has no such parameter.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup
from telegram.ext import ExtBot


class ForumBot(ExtBot[None]):
    """ExtBot plus the unparsed send and edit of `handlers.common.respond`."""

    async def send_text(
        self, chat_id: int, text: str, reply_markup: InlineKeyboardMarkup | None = None, *, protect_content: bool = False
    ) -> None:
        """sendMessage, in the default parse mode; Telegram's answer is not parsed."""
        data = self._message_data(text, reply_markup, chat_id=chat_id)
        if protect_content:
            data["protect_content"] = True
        await self._post("sendMessage", data)

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, reply_markup: InlineKeyboardMarkup | None = None
    ) -> None:
        """editMessageText, in the default parse mode; Telegram's answer is not parsed."""
        await self._post(
            "editMessageText", self._message_data(text, reply_markup, chat_id=chat_id, message_id=message_id)
        )

    def _message_data(self, text: str, reply_markup: InlineKeyboardMarkup | None, **target: int) -> dict[str, Any]:
        # The same fields PTB's send_message and edit_message_text send (None values are dropped).
        parse_mode = self.defaults.parse_mode if self.defaults is not None else None
        return {**target, "text": text, "parse_mode": parse_mode, "reply_markup": reply_markup}
