"""The terminal chat of the sandbox: type as a simulated person, see the bot's answers."""

from __future__ import annotations

import asyncio
import html
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from bot.sandbox.emulator import BotApiEmulator, ChatMessage

HELP = """Commands of the sandbox:
  <text>            send a message as the current person
  <number>          press that button of the latest message (or answer a poll)
  :as NAME          switch person ({names})
  :who              list the people and who you are
  :group            talk in the staff group chat; :private goes back
  :photo [caption]  send a photo (evidence for a report, say)
  :help             this text
  :quit             leave (Ctrl-D too)"""

_TAGS = re.compile(r"</?(?:b|strong)>")
_ANY_TAG = re.compile(r"<[^>]+>")
REPLY_WAIT_SECONDS = 3.0


def to_terminal(text: str) -> str:
    """Turn Telegram HTML into readable terminal text (bold as *stars*)."""
    return html.unescape(_ANY_TAG.sub("", _TAGS.sub("*", text)))


def render_message(message: ChatMessage, *, edited: bool = False) -> list[str]:
    """Format one bot message as lines: text, numbered buttons, file path or poll options."""
    text_lines = to_terminal(message.text or "").splitlines() or [""]
    lines = [f"🤖 {'(edited) ' if edited else ''}{text_lines[0]}", *(f"   {line}" for line in text_lines[1:])]
    if message.kind == "document":
        where = message.document_path or message.document_name or "(not saved)"
        lines.append(f"📎 file saved: {where}")
    if message.kind == "photo":
        lines.append(f"🖼️  photo{f' saved: {message.document_path}' if message.document_path else ''}")
    if message.poll:
        lines += [f"   [{i}] {o['text']}" for i, o in enumerate(message.poll.get("options", []), start=1)]
    lines += [f"   [{i}] {label}" for i, label in enumerate(message.button_labels(), start=1)]
    return lines or ["🤖 (empty message)"]


class TerminalChat:
    """Reads lines, sends them as the current persona, prints what the bot answers."""

    def __init__(
        self,
        emulator: BotApiEmulator,
        personas: dict[str, int],
        *,
        out: TextIO = sys.stdout,
        group_chat_id: int | None = None,
        files_dir: Path | None = None,
    ) -> None:
        self.emu = emulator
        self.personas = personas
        self.out = out
        self.group_chat_id = group_chat_id
        self.files_dir = files_dir
        self.current = next(iter(personas))
        self.in_group = False
        self._printed = emulator.mark()

    @property
    def user_id(self) -> int:
        """The Telegram id of the current persona."""
        return self.personas[self.current]

    @property
    def chat_id(self) -> int:
        """The chat the current persona is typing in."""
        return self.group_chat_id if self.in_group and self.group_chat_id else self.user_id

    def say(self, line: str = "") -> None:
        """Print one line."""
        self.out.write(line + "\n")
        self.out.flush()

    def intro(self) -> None:
        """Print the welcome and who you are."""
        self.say("Forum Anak Bot — sandbox. Type :help for the sandbox commands.")
        if self.files_dir is not None:
            self.say(f"Files the bot sends are saved in {self.files_dir}")
        self.say(f"You are '{self.current}'. Try /start")

    async def handle(self, line: str) -> bool:
        """Act on one typed line; return False to quit."""
        line = line.strip()
        if not line:
            return True
        mark = self.emu.mark()
        if line.startswith(":photo"):
            caption = line.removeprefix(":photo").strip() or None
            self.emu.send_photo(self.user_id, caption=caption, chat_id=self.chat_id if self.in_group else None)
            self.say("📷 photo sent")
            await self._wait_and_print(mark)
            return True
        if line.startswith(":"):
            return self._meta(line)
        if line.isdigit():
            if not self._press(int(line)):
                return True
        else:
            self.emu.send_text(self.user_id, line, chat_id=self.chat_id if self.in_group else None)
        await self._wait_and_print(mark)
        return True

    def _meta(self, line: str) -> bool:
        command, _, argument = line.partition(" ")
        if command in (":quit", ":exit", ":q"):
            return False
        if command == ":help":
            self.say(HELP.format(names=", ".join(self.personas)))
        elif command == ":who":
            for name, uid in self.personas.items():
                self.say(f"{'→' if name == self.current else ' '} {name} (id {uid})")
        elif command == ":as":
            if argument.strip() in self.personas:
                self.current = argument.strip()
                self.in_group = False
                self.say(f"You are now '{self.current}'.")
            else:
                self.say(f"Unknown person; choose one of: {', '.join(self.personas)}")
        elif command == ":group" and self.group_chat_id:
            self.in_group = True
            self.say("You are typing in the staff group chat.")
        elif command == ":private":
            self.in_group = False
            self.say("You are typing in your private chat with the bot.")
        else:
            self.say("Unknown sandbox command; :help lists them.")
        return True

    def _press(self, number: int) -> bool:
        messages = [m for m in self.emu.bot_messages(self.chat_id) if m.buttons() or m.poll]
        if not messages:
            self.say("There is no button to press here.")
            return False
        latest = messages[-1]
        if latest.poll and not latest.buttons():
            options = latest.poll.get("options", [])
            if not 1 <= number <= len(options):
                self.say(f"Choose 1 to {len(options)}.")
                return False
            self.emu.answer_poll(self.user_id, latest.poll["id"], [number - 1])
            return True
        try:
            self.emu.press_button(self.user_id, number, chat_id=self.chat_id if self.in_group else None)
        except LookupError:
            self.say(f"Choose a button from 1 to {len(latest.buttons())}.")
            return False
        return True

    async def _wait_and_print(self, mark: int) -> None:
        # Wait for the first answer in this chat, then a moment for any follow-up messages.
        try:
            await self.emu.next_bot_message(self.chat_id, after=mark, timeout=REPLY_WAIT_SECONDS)
        except TimeoutError:
            self.print_new()
            return
        await asyncio.sleep(0.15)
        self.print_new()

    def print_new(self) -> None:
        """Print every bot message sent or edited since the last print."""
        for message in self.emu.bot_messages_since(self._printed):
            self._print(message)
        self._printed = self.emu.mark()

    def _print(self, message: ChatMessage) -> None:
        if message.chat_id == self.chat_id:
            for line in render_message(message, edited=message.edited):
                self.say(line)
            return
        owner = next((n for n, uid in self.personas.items() if uid == message.chat_id), None)
        where = "staff group" if message.chat_id == self.group_chat_id else owner or str(message.chat_id)
        first = to_terminal(message.text or message.kind).splitlines()[0][:70] if (message.text or message.kind) else ""
        self.say(f"   ✉️  (a message arrived for {where}: {first}…)")


async def run_chat(
    emulator: BotApiEmulator,
    personas: dict[str, int],
    *,
    input_lines: Iterable[str] | None = None,
    out: TextIO = sys.stdout,
    files_dir: Path | None = None,
    group_chat_id: int | None = None,
) -> None:
    """Run the terminal chat until :quit or end of input (scripted lines, for tests, or stdin)."""
    chat = TerminalChat(emulator, personas, out=out, group_chat_id=group_chat_id, files_dir=files_dir)
    chat.intro()
    scripted = list(input_lines) if input_lines is not None else None
    while True:
        if scripted is not None:
            if not scripted:
                break
            line = scripted.pop(0)
            chat.say(f"{chat.current}> {line}")
        else:
            try:
                line = await asyncio.to_thread(input, f"{chat.current}> ")
            except EOFError:
                break
        if not await chat.handle(line):
            break
        chat.print_new()
    chat.say("Bye!")
