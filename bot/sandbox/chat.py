"""The terminal chat of the sandbox: type as a simulated person, see the bot's answers.

The caller starts the emulator and the real Application; `run_chat` then reads lines (from stdin,
or a script in tests) and plays them into the emulator as the current persona. Bot messages are
printed as they arrive, with their buttons numbered: typing a number presses that button (or
answers the poll). Lines starting with `:` are sandbox commands (`:help` lists them).

The display code is pure (a message in, lines out) so it can be tested on its own.
"""

from __future__ import annotations

import asyncio
import html
import re
import sys
import threading
from collections.abc import AsyncIterable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.sandbox.emulator import BotApiEmulator, BotEvent, ChatMessage

REPLY_TIMEOUT = 5.0  # how long to wait for the bot's first reaction to a line
SETTLE_SECONDS = 0.25  # the bot counts as done when it made no request for this long
BOT = "🤖"
INDENT = "   "

HELP = """Sandbox commands:
  <text>            send a message as the current person
  <number>          press that button of the latest keyboard (or answer the latest poll)
  :as NAME          become someone else ({names})
  :who              list the people and show who you are
  :group            talk in the {group}; :private goes back to your private chat
  :photo [caption]  send a photo (evidence for a report, say)
  :say TEXT         send TEXT as it is, even a bare number
  :files            list the files the bot sent, saved on disk
  :help             this text
  :quit             leave (Ctrl-D too)"""

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^>]*)?)>")
_HREF = re.compile(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_MARKERS = {"b": "*", "strong": "*", "i": "_", "em": "_", "s": "~", "strike": "~", "del": "~", "code": "`"}


# ---------------------------------------------------------------------- pure display helpers


def html_to_terminal(text: str) -> str:
    """Turn Telegram HTML into readable terminal text: *bold*, _italic_, `code`, links with their URL."""
    out: list[str] = []
    links: list[str | None] = []
    position = 0
    for match in _TAG.finditer(text):
        out.append(text[position : match.start()])
        position = match.end()
        closing, name = match.group(1) == "/", match.group(2).lower()
        if name in _MARKERS:
            out.append(_MARKERS[name])
        elif name in ("tg-spoiler", "span"):
            out.append("||")
        elif name == "a" and not closing:
            href = _HREF.search(match.group(3))
            links.append(next((g for g in href.groups() if g is not None), None) if href else None)
        elif name == "a" and closing and links:
            url = links.pop()
            if url:
                out.append(f" ({html.unescape(url)})")
        elif name == "blockquote":
            out.append("\n" if closing else "\n│ ")
    out.append(text[position:])
    return html.unescape("".join(out)).strip("\n")


def visible_text(message: ChatMessage) -> str:
    """The text of a message as a person would read it in the terminal."""
    if message.parse_mode and message.parse_mode.lower() == "html":
        return html_to_terminal(message.text)
    return message.text


def keyboard_lines(message: ChatMessage) -> list[str]:
    """Buttons numbered from 1, one keyboard row per line: `[1] Yes   [2] No`."""
    lines: list[str] = []
    number = 0
    for row in message.keyboard():
        cells = []
        for button in row:
            number += 1
            cells.append(f"[{number}] {button.label}" + (f" → {button.url}" if button.url else ""))
        lines.append(INDENT + "   ".join(cells))
    labels = message.reply_keyboard()
    if labels and not lines:
        lines.append(INDENT + "   ".join(f"[{i}] {label}" for i, label in enumerate(labels, start=1)))
    return lines


def render_message(message: ChatMessage, *, edited: bool = False) -> list[str]:
    """Format one bot message as terminal lines: text, file, poll options and numbered buttons."""
    header = f"{BOT} ✏️  (edited) " if edited else f"{BOT} "
    lines: list[str] = []
    if message.kind == "poll" and message.poll is not None:
        poll = message.poll
        title = "Quiz" if poll.get("type") == "quiz" else "Poll"
        closed = " (closed)" if poll.get("is_closed") else ""
        lines.append(f"{header}📊 {title}{closed}: {poll.get('question', '')}")
        for number, option in enumerate(poll.get("options", []), start=1):
            votes = option.get("voter_count", 0)
            lines.append(f"{INDENT}[{number}] {option.get('text', '')}" + (f"  ({votes})" if votes else ""))
        lines += keyboard_lines(message)
        return lines
    if message.kind == "document":
        where = f"saved to {message.document_path}" if message.document_path else "not saved (no files directory)"
        lines.append(f"{header}📎 {message.document_name or 'file'} — {where}")
        header = INDENT
    elif message.kind == "photo":
        where = f" — saved to {message.document_path}" if message.document_path else ""
        lines.append(f"{header}🖼  photo{where}")
        header = INDENT
    text_lines = visible_text(message).splitlines()
    if text_lines:
        lines.append(header + text_lines[0])
        lines += [INDENT + line for line in text_lines[1:]]
    elif not lines:
        lines.append(f"{header}({message.kind})")
    return lines + keyboard_lines(message)


def render_deleted(message: ChatMessage) -> list[str]:
    """A line saying the bot deleted one of its messages."""
    return [f"{BOT} 🗑  (deleted a message: {preview(message)})"]


def preview(message: ChatMessage, width: int = 60) -> str:
    """The first line of a message, shortened."""
    if message.kind == "poll" and message.poll is not None:
        first = f"📊 {message.poll.get('question', '')}"
    elif message.kind == "document":
        first = f"📎 {message.document_name or 'file'}"
    else:
        lines = visible_text(message).strip().splitlines()
        first = lines[0] if lines else f"({message.kind})"
    return first if len(first) <= width else first[: width - 1] + "…"


def render_notice(message: ChatMessage, where: str, how_to_see: str) -> str:
    """One line announcing a bot message sent to a chat you are not looking at."""
    return f"   ✉️  new message for {where}: {preview(message)}  ({how_to_see} to see it)"


def collapse(events: Iterable[BotEvent]) -> list[BotEvent]:
    """One event per message, in chat order, with its latest content; sent then edited counts as sent."""
    latest: dict[tuple[int, int], BotEvent] = {}  # keeps the order in which messages first appear
    first_kind: dict[tuple[int, int], str] = {}
    for event in events:
        key = (event.chat_id, event.message.message_id)
        first_kind.setdefault(key, event.kind)
        latest[key] = event
    collapsed = []
    for key, event in latest.items():
        if event.kind == "edited" and first_kind[key] == "sent":
            event = BotEvent(event.tick, event.chat_id, "sent", event.message)
        collapsed.append(event)
    return collapsed


def render_event(event: BotEvent) -> list[str]:
    """Lines for one event in the chat you are looking at."""
    if event.kind == "deleted":
        return render_deleted(event.message)
    return render_message(event.message, edited=event.kind == "edited")


# ---------------------------------------------------------------------- the chat


@dataclass
class _Reaction:
    """What to wait for after a line: a bot message after `mark`, or the answer to a button press."""

    mark: int
    query_id: str | None = None
    expect_reply: bool = True
    update_id: int | None = None  # wait until the bot has fetched this update


class TerminalChat:
    """Reads lines, plays them as the current persona, prints what the bot answers."""

    def __init__(
        self,
        emulator: BotApiEmulator,
        personas: Mapping[str, int],
        *,
        out: TextIO = sys.stdout,
        files_dir: Path | None = None,
        group_chat_id: int | None = None,
        reply_timeout: float = REPLY_TIMEOUT,
    ) -> None:
        self.emu = emulator
        # A negative id in the persona table is a group chat, not a person.
        self.personas = {name: uid for name, uid in personas.items() if uid > 0}
        groups = [uid for uid in personas.values() if uid < 0]
        if not self.personas:
            raise ValueError("the sandbox needs at least one persona")
        self.group_chat_id = group_chat_id if group_chat_id is not None else (groups[0] if groups else None)
        self.out = out
        self.files_dir = files_dir
        self.reply_timeout = reply_timeout
        self.current = next(iter(self.personas))
        self.in_group = False
        self._start = self._printed = emulator.mark()
        self._seen: dict[int, int] = {}  # chat id -> tick up to which its messages were shown
        self._busy = False

    # ------------------------------------------------------------------ state

    @property
    def user_id(self) -> int:
        """The Telegram id of the current persona."""
        return self.personas[self.current]

    @property
    def chat_id(self) -> int:
        """The chat the current persona is looking at."""
        if self.in_group and self.group_chat_id is not None:
            return self.group_chat_id
        return self.user_id

    @property
    def prompt(self) -> str:
        """The input prompt: who you are and where."""
        return f"{self.current}{' @group' if self.in_group else ''}> "

    def say(self, line: str = "") -> None:
        """Print one line."""
        self.out.write(line.rstrip() + "\n")
        self.out.flush()

    def intro(self) -> None:
        """Print the welcome, who you are and where files go."""
        self.say("Forum Anak Bot — sandbox: the real bot on a local Bot API emulator, no network.")
        if self.files_dir is not None:
            self.say(f"Files the bot sends are saved in {self.files_dir}")
        self.say(f"You are {self._who(self.current)}. Type /start to begin, :help for sandbox commands.")

    def _who(self, name: str) -> str:
        return f"'{name}' (Telegram id {self.personas[name]})"

    def _where(self, chat_id: int) -> tuple[str, str]:
        """How to name a chat and how to go and look at it."""
        if chat_id == self.group_chat_id:
            return "the staff group", ":group"
        owner = next((name for name, uid in self.personas.items() if uid == chat_id), None)
        if owner is not None:
            return owner, f":as {owner}"
        return f"chat {chat_id}", "not a sandbox persona"

    # ------------------------------------------------------------------ input

    async def handle(self, line: str) -> bool:
        """Act on one typed line; return False to quit."""
        line = line.strip()
        if not line:
            return True
        if line.startswith(":"):
            command, _, argument = line.partition(" ")
            return await self._meta(command.lower(), argument.strip())
        if line.isascii() and line.isdigit():  # "²".isdigit() is True, and int() refuses it
            reaction = self._press(int(line))
        else:
            reaction = self._send(line)
        if reaction is not None:
            await self._await_reaction(reaction)
        self.print_new()
        return True

    def _send(self, text: str) -> _Reaction:
        mark = self.emu.mark()
        message = self.emu.send_text(self.user_id, text, chat_id=self.chat_id if self.in_group else None)
        if message.update_id is None:
            self.say("   (in a group the bot only sees commands, replies to it and @mentions)")
            return _Reaction(mark, expect_reply=False)
        return _Reaction(mark)

    def _press(self, number: int) -> _Reaction | None:
        """Press button `number` of the latest keyboard here, or answer the latest poll."""
        target = self._latest_interactive()
        if target is None:
            return self._send(str(number))  # no keyboard here: a number is just a message
        mark = self.emu.mark()
        if target.poll is not None and not target.buttons():
            options = target.poll.get("options", [])
            if not 1 <= number <= len(options):
                self.say(f"   (choose an answer from 1 to {len(options)})")
                return None
            try:
                update_id = self.emu.answer_poll(self.user_id, str(target.poll["id"]), [number - 1])
            except ValueError as exc:
                self.say(f"   ({exc})")
                return None
            self.say(f"   (you answered: {options[number - 1].get('text', '')})")
            return _Reaction(mark, expect_reply=False, update_id=update_id)
        labels = target.reply_keyboard()
        if labels and not target.buttons():
            if not 1 <= number <= len(labels):
                self.say(f"   (choose a button from 1 to {len(labels)})")
                return None
            return self._send(labels[number - 1])
        buttons = target.buttons()
        if not 1 <= number <= len(buttons):
            self.say(f"   (choose a button from 1 to {len(buttons)})")
            return None
        button = buttons[number - 1]
        if button.callback_data is None:
            self.say(f"   (that button opens {button.url or 'something outside the chat'})")
            return None
        self.say(f"   (you pressed: {button.label})")
        query_id = self.emu.press(
            self.user_id, target.message_id, button.callback_data, chat_id=self.chat_id if self.in_group else None
        )
        return _Reaction(mark, query_id=query_id)

    def _latest_interactive(self) -> ChatMessage | None:
        """The newest bot message here with buttons, or with a poll you can still answer."""
        for message in reversed(self.emu.bot_messages(self.chat_id)):
            if message.buttons() or message.reply_keyboard() or self._can_vote(message):
                return message
        return None

    def _can_vote(self, message: ChatMessage) -> bool:
        poll = message.poll
        if poll is None or poll.get("is_closed"):
            return False
        return poll.get("allows_revoting", True) or self.user_id not in self.emu.poll_votes(str(poll["id"]))

    async def _meta(self, command: str, argument: str) -> bool:
        if command in (":quit", ":q", ":exit"):
            return False
        if command == ":help":
            group = "staff group chat" if self.group_chat_id is not None else "group chat (none in this sandbox)"
            self.say(HELP.format(names=", ".join(self.personas), group=group))
        elif command == ":who":
            for name in self.personas:
                self.say(f"{'→' if name == self.current else ' '} {self._who(name)}")
            if self.group_chat_id is not None:
                self.say(f"  staff group chat (id {self.group_chat_id}): :group")
        elif command == ":as":
            self._switch_persona(argument)
        elif command == ":group":
            if self.group_chat_id is None:
                self.say("There is no group chat in this sandbox.")
            else:
                self.in_group = True
                self.say(f"You are {self._who(self.current)}, writing in the staff group chat.")
                self._show_unseen()
        elif command == ":private":
            self.in_group = False
            self.say(f"You are {self._who(self.current)}, in your private chat with the bot.")
            self._show_unseen()
        elif command == ":photo":
            mark = self.emu.mark()
            self.emu.send_photo(self.user_id, caption=argument or None, chat_id=self.chat_id if self.in_group else None)
            self.say("   (photo sent)")
            await self._await_reaction(_Reaction(mark))
            self.print_new()
        elif command == ":say":
            if argument:
                await self._await_reaction(self._send(argument))
                self.print_new()
        elif command == ":files":
            files = self.emu.saved_files
            self.say("\n".join(f"   {path}" for path in files) if files else "   (the bot has sent no files yet)")
        else:
            self.say(f"Unknown sandbox command {command}; :help lists them.")
        return True

    def _switch_persona(self, argument: str) -> None:
        wanted = argument.lower()
        matches = [name for name in self.personas if name.lower() == wanted] or [
            name for name in self.personas if wanted and name.lower().startswith(wanted)
        ]
        if len(matches) != 1:
            self.say(f"Who? Choose one of: {', '.join(self.personas)}")
            return
        self.current, self.in_group = matches[0], False
        self.say(f"You are now {self._who(self.current)}.")
        self._show_unseen()

    # ------------------------------------------------------------------ output

    async def _await_reaction(self, reaction: _Reaction) -> None:
        """Wait for the bot's first reaction to a line, then until it goes quiet."""

        def reacted() -> bool:
            if reaction.query_id is not None and reaction.query_id in self.emu.answered_callbacks:
                return True
            return bool(self.emu.bot_events_since(reaction.mark))

        if reaction.update_id is not None:
            update_id = reaction.update_id
            try:
                await self.emu.wait_for(lambda: self.emu.is_delivered(update_id), self.reply_timeout)
            except TimeoutError:
                self.say("   (the bot did not fetch it: is it running?)")
        if reaction.expect_reply:
            try:
                await self.emu.wait_for(reacted, self.reply_timeout, what="a reaction of the bot")
            except TimeoutError:
                self.print_new()
                self.say("   (no answer from the bot)")
        await self.emu.wait_quiet(SETTLE_SECONDS, timeout=self.reply_timeout)
        self.print_new()
        if reaction.query_id is not None:
            answer = self.emu.answered_callbacks.get(reaction.query_id)
            if answer and answer.get("text"):
                kind = "⚠️  alert" if answer.get("show_alert") else "💬 pop-up"
                self.say(f"   {kind}: {answer['text']}")

    def print_new(self) -> None:
        """Print what the bot did since the last print: here in full, elsewhere as a notice."""
        events = collapse(self.emu.bot_events_since(self._printed))
        self._printed = self.emu.mark()
        notices: dict[int, BotEvent] = {}
        for event in events:
            if event.chat_id == self.chat_id:
                for line in render_event(event):
                    self.say(line)
                self._seen[event.chat_id] = event.tick
            elif event.kind == "sent":
                notices.setdefault(event.chat_id, event)
        for chat_id, event in notices.items():
            where, how = self._where(chat_id)
            self.say(render_notice(event.message, where, how))

    def _show_unseen(self) -> None:
        """Show what arrived in the chat you just switched to while you were elsewhere."""
        seen = self._seen.get(self.chat_id, self._start)
        # Newer events are printed by print_new; these were only announced.
        unseen = [e for e in collapse(self.emu.bot_events_since(seen, self.chat_id)) if e.tick <= self._printed]
        if unseen:
            self.say(f"   ({len(unseen)} message(s) here you have not seen)")
            for event in unseen:
                for line in render_event(event):
                    self.say(line)
            self._seen[self.chat_id] = unseen[-1].tick

    async def watch(self) -> None:
        """Print bot messages that arrive on their own (reminders, other people) while waiting for input."""

        def arrived() -> bool:
            return not self._busy and bool(self.emu.bot_events_since(self._printed))

        while True:
            try:
                # Re-checked every second too: `_busy` changes without waking the emulator's waiters.
                await self.emu.wait_for(arrived, timeout=1.0)
            except TimeoutError:
                continue
            await self.emu.wait_quiet(SETTLE_SECONDS, timeout=self.reply_timeout)
            if not arrived():
                continue
            self.out.write("\n")
            self.print_new()
            self.out.write(self.prompt)
            self.out.flush()

    async def run(self, input_lines: Iterable[str] | AsyncIterable[str] | None = None) -> None:
        """Chat until :quit or the end of input (a script, or stdin read in a thread)."""
        self.intro()
        if input_lines is None:
            await self._run_interactive()
            return
        if isinstance(input_lines, AsyncIterable):
            async for line in input_lines:
                if not await self._scripted(line):
                    break
        else:
            for line in input_lines:
                if not await self._scripted(line):
                    break
        self.say("Bye!")

    async def _scripted(self, line: str) -> bool:
        self.say(f"{self.prompt}{line}")
        return await self.handle(line)

    async def _run_interactive(self) -> None:
        watcher = asyncio.create_task(self.watch())
        try:
            while True:
                self.out.write(self.prompt)
                self.out.flush()
                line = await read_line()
                if line is None:  # Ctrl-D
                    self.say("")
                    break
                self._busy = True
                try:
                    if not await self.handle(line):
                        break
                finally:
                    self._busy = False
        finally:
            watcher.cancel()
            try:
                await watcher
            except (asyncio.CancelledError, TimeoutError):
                pass
        self.say("Bye!")


async def read_line() -> str | None:
    """Read one line of stdin in a thread, so the event loop keeps serving the bot; None at end of input.

    A daemon thread rather than `asyncio.to_thread`: on Ctrl-C a thread blocked in `input()` would
    keep the default executor, and so the program, from exiting until Enter is pressed.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str | None] = loop.create_future()

    def settle(line: str | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(line)

    def read() -> None:
        line: str | None = None
        error: BaseException | None = None
        try:
            line = input()
        except EOFError:
            line = None
        except Exception as exc:  # handed to the event loop, which re-raises it
            error = exc
        try:
            loop.call_soon_threadsafe(settle, line, error)
        except RuntimeError:  # the loop is already closed: nobody is waiting
            pass

    threading.Thread(target=read, name="sandbox-input", daemon=True).start()
    return await future


async def run_chat(
    emulator: BotApiEmulator,
    personas: Mapping[str, int],
    *,
    input_lines: Iterable[str] | AsyncIterable[str] | None = None,
    out: TextIO = sys.stdout,
    files_dir: Path | None = None,
    group_chat_id: int | None = None,
    reply_timeout: float = REPLY_TIMEOUT,
) -> None:
    """Run the terminal chat against a running emulator and bot, until :quit or end of input."""
    chat = TerminalChat(
        emulator, personas, out=out, files_dir=files_dir, group_chat_id=group_chat_id, reply_timeout=reply_timeout
    )
    await chat.run(input_lines)
