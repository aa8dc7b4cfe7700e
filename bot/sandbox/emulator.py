"""A Bot API emulator on loopback: the sandbox, the end-to-end tests and the benchmarks talk to it.

It answers like Telegram where bots usually break: over-long texts and captions, callback data
over 64 bytes, HTML outside Telegram's subset, 403 for a user who blocked the bot, 429 with
`retry_after`, "message is not modified", unknown methods and (given the official API
description) unknown or missing parameters. Tests inject updates and read what the bot sent.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.sandbox.telegram_html import TelegramHtmlError, parse_telegram_html

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
SEND_METHODS = frozenset(
    {"sendmessage", "sendphoto", "senddocument", "sendpoll", "copymessage", "forwardmessage", "sendmediagroup"}
)
# Parameters that are always strings, even when they look like numbers or JSON.
_STRING_PARAMS = frozenset(
    {"text", "caption", "question", "explanation", "callback_query_id", "url", "description",
     "short_description", "name", "title", "emoji", "parse_mode", "file_id", "language_code",
     "secret_token", "explanation_parse_mode", "question_parse_mode"}
)


class ApiError(Exception):
    """A refusal with Telegram's error code and description."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


@dataclass
class RecordedRequest:
    """One request the bot made, and how it was answered."""

    method: str
    params: dict[str, Any]
    ok: bool = True
    error_code: int | None = None
    description: str | None = None
    expected: bool = False  # a refusal the test provoked (blocked user, injected fault)


@dataclass
class ChatMessage:
    """A message in a chat, from the bot or injected from a user; edits are applied in place."""

    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    text: str = ""
    kind: str = "text"
    reply_markup: dict[str, Any] | None = None
    from_user_id: int | None = None
    document_name: str | None = None
    document_path: Path | None = None
    file_id: str | None = None
    poll: dict[str, Any] | None = None
    edited: bool = False
    deleted: bool = False

    def buttons(self) -> list[tuple[str, str | None]]:
        """Return (label, callback data) of every inline button, row by row."""
        if not self.reply_markup:
            return []
        return [
            (button.get("text", ""), button.get("callback_data"))
            for row in self.reply_markup.get("inline_keyboard", [])
            for button in row
        ]

    def button_labels(self) -> list[str]:
        """Return the labels of the inline buttons."""
        return [label for label, _ in self.buttons()]


@dataclass
class _StoredFile:
    file_id: str
    unique_id: str
    content: bytes
    name: str
    path: Path | None = None


@dataclass
class _Fault:
    remaining: int
    error_code: int
    retry_after: int | None
    description: str | None


@dataclass
class _Event:
    seq: int
    chat_id: int
    message: ChatMessage


@dataclass
class _State:
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    groups: dict[int, dict[str, Any]] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)


class BotApiEmulator:
    """An aiohttp server that speaks the Bot API methods the bot uses."""

    def __init__(
        self,
        *,
        token: str = "123456:TEST-TOKEN",
        bot_username: str = "ForumAnakBot",
        files_dir: Path | None = None,
        api_schema: Path | None = None,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":")[0])
        self.bot_username = bot_username
        self.files_dir = files_dir
        self._schema = self._load_schema(api_schema) if api_schema else None
        self._state = _State()
        self._messages: dict[int, list[ChatMessage]] = {}
        self._by_id: dict[tuple[int, int], ChatMessage] = {}
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._updates: deque[dict[str, Any]] = deque()
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._open_queries: set[str] = set()
        self.answered_callbacks: dict[str, dict[str, Any]] = {}
        self._files: dict[str, _StoredFile] = {}
        self._faults: dict[str, _Fault] = {}
        self._rate_limit: float | None = None
        self._recent_sends: deque[float] = deque()
        self.rate_limited_count = 0
        self.requests: list[RecordedRequest] = []
        self.saved_files: list[Path] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self._events: list[_Event] = []
        self._seq = 0
        self._injected_mark: dict[int, int] = {}
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.port = 0

    # ----------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on loopback (port 0: a free port)."""
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.host = host

    def release_pollers(self) -> None:
        """Answer long polls at once from now on, so that a polling bot stops without waiting."""
        self._closing = True
        self._notify()

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """The Bot API root for python-telegram-bot (the token is appended by it)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """The file download root."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ----------------------------------------------------------------- people and chats

    @property
    def users(self) -> dict[int, dict[str, Any]]:
        """The simulated users by id."""
        return self._state.users

    def add_user(
        self, user_id: int, *, first_name: str = "Anak", username: str | None = None, language_code: str = "id"
    ) -> dict[str, Any]:
        """Register a simulated user (their private chat id is their user id)."""
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}
        if username:
            user["username"] = username
        self._state.users[user_id] = user
        return user

    def add_group(self, chat_id: int, title: str) -> None:
        """Register a group chat the bot is a member of."""
        self._state.groups[chat_id] = {"id": chat_id, "type": "supergroup", "title": title}

    def block(self, user_id: int) -> None:
        """Let a user block the bot: sends to them answer 403."""
        self._state.blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        """Undo `block`."""
        self._state.blocked.discard(user_id)

    def fail_next(
        self,
        method: str,
        count: int = 1,
        *,
        error_code: int = 429,
        retry_after: int | None = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next `count` calls of a method with an error (429 by default)."""
        self._faults[method.lower()] = _Fault(count, error_code, retry_after, description)

    def set_rate_limit(self, per_second: float | None) -> None:
        """Refuse sends beyond this many per rolling second with 429 (None: no limit)."""
        self._rate_limit = per_second
        self._recent_sends.clear()

    def clear_records(self) -> None:
        """Forget recorded requests."""
        self.requests.clear()

    @property
    def refused(self) -> list[RecordedRequest]:
        """Requests answered with an error."""
        return [r for r in self.requests if not r.ok]

    # ----------------------------------------------------------------- reading chats

    def messages(self, chat_id: int) -> list[ChatMessage]:
        """Every message of a chat, both directions, in order."""
        return list(self._messages.get(chat_id, []))

    def bot_messages(self, chat_id: int) -> list[ChatMessage]:
        """The bot's messages in a chat that were not deleted."""
        return [m for m in self._messages.get(chat_id, []) if m.from_bot and not m.deleted]

    def last_bot_message(self, chat_id: int) -> ChatMessage | None:
        """The bot's most recent message in a chat."""
        sent = self.bot_messages(chat_id)
        return sent[-1] if sent else None

    def mark(self) -> int:
        """A point in the stream of bot messages and edits, for `next_bot_message(after=...)`."""
        return self._seq

    def bot_messages_since(self, mark: int, chat_id: int | None = None) -> list[ChatMessage]:
        """Bot messages sent or edited after a mark (each message once, in order)."""
        seen: dict[tuple[int, int], ChatMessage] = {}
        for event in self._events_after(mark):
            if chat_id is None or event.chat_id == chat_id:
                seen.setdefault((event.chat_id, event.message.message_id), event.message)
        return list(seen.values())

    def _events_after(self, mark: int) -> list[_Event]:
        # Events are appended in seq order: scan from the end.
        index = len(self._events)
        while index > 0 and self._events[index - 1].seq > mark:
            index -= 1
        return self._events[index:]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until a predicate holds, woken by every request; raise TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met within {timeout}s; last requests: {self.requests[-5:]}")
                try:
                    await asyncio.wait_for(self._changed.wait(), remaining)
                except TimeoutError:
                    continue

    async def next_bot_message(self, chat_id: int, *, after: int | None = None, timeout: float = 5.0) -> ChatMessage:
        """Return the first bot message sent or edited in a chat after a mark.

        Without `after`, the mark is the moment of the last update injected into that chat.
        """
        mark = self._injected_mark.get(chat_id, 0) if after is None else after

        def found() -> bool:
            return any(e.chat_id == chat_id for e in self._events_after(mark))

        try:
            await self.wait_for(found, timeout)
        except TimeoutError:
            raise TimeoutError(f"no bot message in chat {chat_id} within {timeout}s; "
                               f"last requests: {self.requests[-5:]}") from None
        return next(e.message for e in self._events_after(mark) if e.chat_id == chat_id)

    # ----------------------------------------------------------------- injecting updates

    def _chat_of(self, user_id: int, chat_id: int | None) -> dict[str, Any]:
        if user_id not in self._state.users:
            self.add_user(user_id)
        if chat_id is None or chat_id == user_id:
            user = self._state.users[user_id]
            chat = {"id": user_id, "type": "private", "first_name": user["first_name"]}
            if "username" in user:
                chat["username"] = user["username"]
            return chat
        if chat_id not in self._state.groups:
            self.add_group(chat_id, f"Group {chat_id}")
        return self._state.groups[chat_id]

    def _enqueue(self, chat_id: int, kind: str, payload: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, kind: payload})
        self._injected_mark[chat_id] = self._seq
        self._notify()
        return update_id

    def _user_message(self, user_id: int, chat_id: int | None, **content: Any) -> tuple[dict[str, Any], ChatMessage]:
        chat = self._chat_of(user_id, chat_id)
        message_id = self._next_message_id(chat["id"])
        now = int(time.time())
        payload = {"message_id": message_id, "date": now, "chat": chat, "from": self._state.users[user_id], **content}
        stored = ChatMessage(
            message_id, chat["id"], False, now, text=content.get("text", content.get("caption", "")),
            kind=next((k for k in ("photo", "document", "sticker", "location") if k in content), "text"),
            from_user_id=user_id,
        )
        self._store(stored)
        return payload, stored

    def send_text(self, user_id: int, text: str, *, chat_id: int | None = None) -> ChatMessage:
        """A user sends a text (a leading /command gets its bot_command entity)."""
        content: dict[str, Any] = {"text": text}
        command = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
        if command:
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command.group(0))}]
        payload, stored = self._user_message(user_id, chat_id, **content)
        self._enqueue(stored.chat_id, "message", payload)
        return stored

    def send_photo(self, user_id: int, *, caption: str | None = None, chat_id: int | None = None) -> ChatMessage:
        """A user sends a photo (stored, so the bot may forward it by file_id)."""
        stored_file = self._store_file(b"\x89PNG fake photo", "photo.jpg")
        sizes = [{"file_id": stored_file.file_id, "file_unique_id": stored_file.unique_id,
                  "width": 640, "height": 480, "file_size": len(stored_file.content)}]
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
        payload, stored = self._user_message(user_id, chat_id, **content)
        stored.file_id = stored_file.file_id
        self._enqueue(stored.chat_id, "message", payload)
        return stored

    def send_document(self, user_id: int, filename: str, content: bytes, *, chat_id: int | None = None) -> ChatMessage:
        """A user sends a file."""
        stored_file = self._store_file(content, filename)
        document = {"file_id": stored_file.file_id, "file_unique_id": stored_file.unique_id,
                    "file_name": filename, "file_size": len(content)}
        payload, stored = self._user_message(user_id, chat_id, document=document)
        stored.file_id = stored_file.file_id
        self._enqueue(stored.chat_id, "message", payload)
        return stored

    def send_sticker(self, user_id: int, *, chat_id: int | None = None) -> ChatMessage:
        """A user sends a sticker."""
        sticker = {"file_id": "sticker-1", "file_unique_id": "st1", "type": "regular", "width": 512,
                   "height": 512, "is_animated": False, "is_video": False, "emoji": "😀"}
        payload, stored = self._user_message(user_id, chat_id, sticker=sticker)
        self._enqueue(stored.chat_id, "message", payload)
        return stored

    def send_location(self, user_id: int, *, chat_id: int | None = None) -> ChatMessage:
        """A user shares a location."""
        payload, stored = self._user_message(user_id, chat_id, location={"latitude": -1.27, "longitude": 116.83})
        self._enqueue(stored.chat_id, "message", payload)
        return stored

    def edit_text(self, user_id: int, message_id: int, new_text: str, *, chat_id: int | None = None) -> None:
        """A user edits one of their messages (an edited_message update)."""
        chat = self._chat_of(user_id, chat_id)
        stored = self._by_id.get((chat["id"], message_id))
        if stored is not None:
            stored.text, stored.edited = new_text, True
        payload = {"message_id": message_id, "date": int(time.time()), "edit_date": int(time.time()),
                   "chat": chat, "from": self._state.users[user_id], "text": new_text}
        self._enqueue(chat["id"], "edited_message", payload)

    def press(self, user_id: int, message_id: int, callback_data: str, *, chat_id: int | None = None) -> str:
        """A user presses an inline button (any data, even forged); return the query id."""
        chat = self._chat_of(user_id, chat_id)
        message = self._by_id.get((chat["id"], message_id))
        query_id = f"q{next(self._query_ids)}"
        self._open_queries.add(query_id)
        query: dict[str, Any] = {
            "id": query_id, "from": self._state.users[user_id], "chat_instance": str(chat["id"]),
            "data": callback_data,
        }
        if message is not None:
            query["message"] = self._message_dict(message)
        self._enqueue(chat["id"], "callback_query", query)
        return query_id

    def press_button(self, user_id: int, label: str | int, *, chat_id: int | None = None) -> str:
        """Press a button of the newest keyboard in the chat, by exact label or 1-based index."""
        target_chat = chat_id if chat_id is not None else user_id
        with_keyboard = [m for m in self.bot_messages(target_chat) if m.buttons()]
        if not with_keyboard:
            raise LookupError(f"no message with buttons in chat {target_chat}")
        message = with_keyboard[-1]
        buttons = message.buttons()
        if isinstance(label, int):
            if not 1 <= label <= len(buttons):
                raise LookupError(f"no button {label}; buttons: {[b[0] for b in buttons]}")
            data = buttons[label - 1][1]
        else:
            matches = [b[1] for b in buttons if b[0] == label]
            if not matches:
                raise LookupError(f"no button {label!r}; buttons: {[b[0] for b in buttons]}")
            data = matches[0]
        return self.press(user_id, message.message_id, data or "", chat_id=chat_id)

    def answer_poll(self, user_id: int, poll_id: str, option_ids: list[int]) -> int:
        """A user answers a (non-anonymous) poll: a poll_answer update."""
        if user_id not in self._state.users:
            self.add_user(user_id)
        payload = {"poll_id": poll_id, "user": self._state.users[user_id], "option_ids": option_ids,
                   "option_persistent_ids": [str(i) for i in option_ids]}
        return self._enqueue(user_id, "poll_answer", payload)

    # ----------------------------------------------------------------- HTTP

    async def _file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        path = request.match_info["path"]
        stored = next((f for f in self._files.values() if f"files/{f.file_id}" == path), None)
        if stored is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=stored.content)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params, uploads = await self._read_params(request)
        record = RecordedRequest(method, params)
        try:
            handler = getattr(self, f"_m_{method.lower()}", None)
            if handler is None:
                raise ApiError(404, "Not Found")
            self._check_schema(method, params, uploads)
            self._apply_faults(method, record)
            result = await handler(params, uploads)
        except ApiError as exc:
            record.ok, record.error_code, record.description = False, exc.code, exc.description
            # A blocked user and "not modified" are Telegram's normal answers, not bot bugs.
            record.expected = record.expected or exc.code == 403 or "not modified" in exc.description
            body: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
            if exc.retry_after is not None:
                body["parameters"] = {"retry_after": exc.retry_after}
            self._record(record)
            return web.json_response(body, status=exc.code)
        self._record(record)
        return web.json_response({"ok": True, "result": result})

    def _record(self, record: RecordedRequest) -> None:
        if record.method.lower() != "getupdates" or not record.ok:
            self.requests.append(record)
        self._notify()

    def _notify(self) -> None:
        async def wake() -> None:
            async with self._changed:
                self._changed.notify_all()

        try:
            asyncio.get_running_loop().create_task(wake())
        except RuntimeError:  # no loop (a synchronous caller): nobody can be waiting
            pass

    async def _read_params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
        raw: dict[str, Any] = dict(request.query)
        uploads: dict[str, tuple[str, bytes]] = {}
        if request.content_type == "application/json":
            body = await request.json() if request.can_read_body else {}
            return {**raw, **body}, uploads
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if part.name is None:
                    continue
                if part.filename is not None:  # type: ignore[union-attr]
                    uploads[part.name] = (part.filename, await part.read())  # type: ignore[union-attr]
                else:
                    raw[part.name] = await part.text()  # type: ignore[union-attr]
        elif request.can_read_body:
            raw.update(await request.post())
        return {key: self._decode(key, value) for key, value in raw.items()}, uploads

    @staticmethod
    def _decode(key: str, value: Any) -> Any:
        if not isinstance(value, str) or key in _STRING_PARAMS:
            return value
        if value[:1] in "[{" or value in ("true", "false", "null") or re.fullmatch(r"-?\d+(\.\d+)?", value):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    @staticmethod
    def _load_schema(path: Path) -> dict[str, dict[str, bool]]:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            name.lower(): {f["name"]: bool(f.get("required")) for f in method.get("fields", [])}
            for name, method in data["methods"].items()
        }

    def _check_schema(self, method: str, params: dict[str, Any], uploads: dict[str, Any]) -> None:
        if self._schema is None:
            return
        fields = self._schema.get(method.lower())
        if fields is None:
            raise ApiError(404, "Not Found")
        given = set(params) | set(uploads)
        unknown = sorted(given - set(fields))
        if unknown:
            raise ApiError(400, f"Bad Request: unknown parameter {unknown[0]}")
        missing = sorted(name for name, required in fields.items() if required and name not in given)
        if missing:
            raise ApiError(400, f"Bad Request: parameter {missing[0]} is required")

    def _apply_faults(self, method: str, record: RecordedRequest) -> None:
        fault = self._faults.get(method.lower())
        if fault is not None and fault.remaining > 0:
            fault.remaining -= 1
            record.expected = True
            code = fault.error_code
            description = fault.description or (
                f"Too Many Requests: retry after {fault.retry_after}" if code == 429 else "Internal Server Error"
            )
            raise ApiError(code, description, fault.retry_after if code == 429 else None)
        if self._rate_limit is not None and method.lower() in SEND_METHODS:
            now = time.monotonic()
            while self._recent_sends and now - self._recent_sends[0] >= 1.0:
                self._recent_sends.popleft()
            if len(self._recent_sends) >= self._rate_limit:
                self.rate_limited_count += 1
                record.expected = True
                raise ApiError(429, "Too Many Requests: retry after 1", 1)
            self._recent_sends.append(now)

    # ----------------------------------------------------------------- helpers for methods

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Forum Anak Bot", "username": self.bot_username}

    def _next_message_id(self, chat_id: int) -> int:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)

    def _store(self, message: ChatMessage) -> None:
        self._messages.setdefault(message.chat_id, []).append(message)
        self._by_id[(message.chat_id, message.message_id)] = message

    def _event(self, message: ChatMessage) -> None:
        self._seq += 1
        self._events.append(_Event(self._seq, message.chat_id, message))

    def _target_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self._state.groups:
            return self._state.groups[chat_id]
        if chat_id not in self._state.users:
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self._state.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        user = self._state.users[chat_id]
        return {"id": chat_id, "type": "private", "first_name": user["first_name"]}

    @staticmethod
    def _visible_text(text: Any, parse_mode: Any, *, limit: int, what: str) -> str:
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, f"Bad Request: {what} is empty")
        plain = text
        if isinstance(parse_mode, str) and parse_mode.upper() == "HTML":
            try:
                plain = parse_telegram_html(text)
            except TelegramHtmlError as exc:
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        if not plain.strip():
            raise ApiError(400, f"Bad Request: {what} is empty")
        if len(plain) > limit:
            raise ApiError(400, "Bad Request: message is too long" if what == "message text" else
                           "Bad Request: message caption is too long")
        return plain

    @staticmethod
    def _check_markup(markup: Any) -> dict[str, Any] | None:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if not str(button.get("text", "")).strip():
                    raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
                kinds = [k for k in ("callback_data", "url", "switch_inline_query", "web_app", "copy_text") if k in button]
                if len(kinds) != 1:
                    raise ApiError(400, "Bad Request: can't parse inline keyboard button")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    def _message_dict(self, message: ChatMessage) -> dict[str, Any]:
        chat = (self._state.groups.get(message.chat_id)
                or {"id": message.chat_id, "type": "private",
                    "first_name": self._state.users.get(message.chat_id, {}).get("first_name", "User")})
        sender = self._bot_user() if message.from_bot else self._state.users.get(message.from_user_id or 0)
        data: dict[str, Any] = {"message_id": message.message_id, "date": message.date, "chat": chat}
        if sender:
            data["from"] = sender
        if message.kind == "text":
            data["text"] = message.text or "."
        elif message.kind == "document" and message.file_id:
            stored = self._files[message.file_id]
            data["document"] = {"file_id": stored.file_id, "file_unique_id": stored.unique_id,
                                "file_name": stored.name, "file_size": len(stored.content)}
            if message.text:
                data["caption"] = message.text
        elif message.kind == "photo" and message.file_id:
            stored = self._files[message.file_id]
            data["photo"] = [{"file_id": stored.file_id, "file_unique_id": stored.unique_id,
                              "width": 640, "height": 480}]
            if message.text:
                data["caption"] = message.text
        elif message.kind == "poll" and message.poll:
            data["poll"] = message.poll
        else:
            data["text"] = message.text or "."
        if message.reply_markup:
            data["reply_markup"] = message.reply_markup
        if message.edited:
            data["edit_date"] = int(time.time())
        return data

    def _store_file(self, content: bytes, name: str) -> _StoredFile:
        number = next(self._file_ids)
        stored = _StoredFile(f"file-{number}", f"u{number}", content, name)
        if self.files_dir is not None:
            self.files_dir.mkdir(parents=True, exist_ok=True)
            safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name) or "file"
            path = self.files_dir / f"{number:04d}-{safe}"
            path.write_bytes(content)
            stored.path = path
            self.saved_files.append(path)
        self._files[stored.file_id] = stored
        return stored

    def _input_file(self, params: dict[str, Any], uploads: dict[str, tuple[str, bytes]], key: str) -> _StoredFile:
        value = params.get(key)
        if key in uploads:
            name, content = uploads[key]
            return self._store_file(content, name)
        if isinstance(value, str) and value.startswith("attach://") and value[9:] in uploads:
            name, content = uploads[value[9:]]
            return self._store_file(content, name)
        if isinstance(value, str) and value in self._files:
            return self._files[value]
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _send(self, chat: dict[str, Any], **fields: Any) -> dict[str, Any]:
        message = ChatMessage(self._next_message_id(chat["id"]), chat["id"], True, int(time.time()), **fields)
        self._store(message)
        self._event(message)
        return self._message_dict(message)

    def _existing(self, params: dict[str, Any]) -> ChatMessage:
        chat_id, message_id = params.get("chat_id"), params.get("message_id")
        message = self._by_id.get((chat_id, message_id)) if isinstance(chat_id, int) else None
        if message is None or message.deleted or not message.from_bot:
            raise ApiError(400, "Bad Request: message to edit not found")
        return message

    # ----------------------------------------------------------------- methods

    async def _m_getme(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        return {**self._bot_user(), "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False, "has_main_web_app": False}

    async def _m_getupdates(self, params: dict[str, Any], uploads: Any) -> list[dict[str, Any]]:
        offset = params.get("offset")
        if isinstance(offset, int):
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if not self._updates and timeout > 0 and not self._closing:
            deadline = time.monotonic() + timeout
            async with self._changed:
                while not self._updates and not self._closing:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        await asyncio.wait_for(self._changed.wait(), remaining)
                    except TimeoutError:
                        break
        return list(itertools.islice(self._updates, limit))

    async def _m_deletewebhook(self, params: dict[str, Any], uploads: Any) -> bool:
        return True

    async def _m_setwebhook(self, params: dict[str, Any], uploads: Any) -> bool:
        return True

    async def _m_getwebhookinfo(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": len(self._updates)}

    async def _m_logout(self, params: dict[str, Any], uploads: Any) -> bool:
        return True

    async def _m_close(self, params: dict[str, Any], uploads: Any) -> bool:
        return True

    async def _m_sendmessage(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        chat = self._target_chat(params)
        self._visible_text(params.get("text"), params.get("parse_mode"), limit=TEXT_LIMIT, what="message text")
        markup = self._check_markup(params.get("reply_markup"))
        return self._send(chat, text=params["text"], reply_markup=markup)

    async def _m_editmessagetext(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        message = self._existing(params)
        self._visible_text(params.get("text"), params.get("parse_mode"), limit=TEXT_LIMIT, what="message text")
        markup = self._check_markup(params.get("reply_markup"))
        if message.text == params["text"] and message.reply_markup == markup:
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and "
                                "reply markup are exactly the same as a current content and reply markup of the message")
        message.text, message.reply_markup, message.edited = params["text"], markup, True
        self._event(message)
        return self._message_dict(message)

    async def _m_editmessagereplymarkup(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        message = self._existing(params)
        markup = self._check_markup(params.get("reply_markup"))
        if message.reply_markup == markup:
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and "
                                "reply markup are exactly the same as a current content and reply markup of the message")
        message.reply_markup, message.edited = markup, True
        self._event(message)
        return self._message_dict(message)

    async def _m_deletemessage(self, params: dict[str, Any], uploads: Any) -> bool:
        chat_id, message_id = params.get("chat_id"), params.get("message_id")
        message = self._by_id.get((chat_id, message_id)) if isinstance(chat_id, int) else None
        if message is None or message.deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        message.deleted = True
        return True

    async def _m_answercallbackquery(self, params: dict[str, Any], uploads: Any) -> bool:
        query_id = str(params.get("callback_query_id"))
        if query_id not in self._open_queries:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._open_queries.discard(query_id)
        self.answered_callbacks[query_id] = {"text": text, "show_alert": bool(params.get("show_alert"))}
        return True

    async def _m_senddocument(self, params: dict[str, Any], uploads: dict[str, tuple[str, bytes]]) -> dict[str, Any]:
        chat = self._target_chat(params)
        caption = params.get("caption")
        if caption:
            self._visible_text(caption, params.get("parse_mode"), limit=CAPTION_LIMIT, what="message caption")
        stored = self._input_file(params, uploads, "document")
        markup = self._check_markup(params.get("reply_markup"))
        return self._send(chat, kind="document", text=caption or "", file_id=stored.file_id,
                          document_name=stored.name, document_path=stored.path, reply_markup=markup)

    async def _m_sendphoto(self, params: dict[str, Any], uploads: dict[str, tuple[str, bytes]]) -> dict[str, Any]:
        chat = self._target_chat(params)
        caption = params.get("caption")
        if caption:
            self._visible_text(caption, params.get("parse_mode"), limit=CAPTION_LIMIT, what="message caption")
        stored = self._input_file(params, uploads, "photo")
        markup = self._check_markup(params.get("reply_markup"))
        return self._send(chat, kind="photo", text=caption or "", file_id=stored.file_id,
                          document_path=stored.path, reply_markup=markup)

    async def _m_sendmediagroup(self, params: dict[str, Any], uploads: dict[str, tuple[str, bytes]]) -> list[dict[str, Any]]:
        chat = self._target_chat(params)
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media specified")
        sent = []
        for item in media:
            stored = self._input_file({"media": item.get("media")}, uploads, "media")
            sent.append(self._send(chat, kind="photo", text=item.get("caption", ""), file_id=stored.file_id,
                                   document_path=stored.path))
        return sent

    async def _m_sendpoll(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        chat = self._target_chat(params)
        question = str(params.get("question") or "")
        options = params.get("options")
        if not 1 <= len(question) <= 300:
            raise ApiError(400, "Bad Request: poll question length must not exceed 300")
        if not isinstance(options, list) or not 2 <= len(options) <= 12:
            raise ApiError(400, "Bad Request: poll must have 2-12 options")
        texts = [o.get("text") if isinstance(o, dict) else str(o) for o in options]
        if any(not t or len(t) > 100 for t in texts):
            raise ApiError(400, "Bad Request: poll options length must not exceed 100")
        poll_type = params.get("type", "regular")
        # Bot API 9.6 replaced correct_option_id by correct_option_ids (one id for a quiz).
        correct_ids = params.get("correct_option_ids")
        if correct_ids is None and "correct_option_id" in params:
            correct_ids = [params["correct_option_id"]]
        if poll_type == "quiz" and not (
            isinstance(correct_ids, list) and len(correct_ids) == 1
            and isinstance(correct_ids[0], int) and 0 <= correct_ids[0] < len(texts)
        ):
            raise ApiError(400, "Bad Request: wrong correct option ID specified")
        explanation = params.get("explanation")
        if explanation is not None and len(str(explanation)) > 200:
            raise ApiError(400, "Bad Request: explanation is too long")
        poll = {"id": f"poll-{next(self._file_ids)}", "question": question,
                "options": [{"persistent_id": str(i), "text": t, "voter_count": 0} for i, t in enumerate(texts)],
                "total_voter_count": 0,
                "is_closed": False, "is_anonymous": params.get("is_anonymous", True) is not False,
                "type": poll_type, "allows_multiple_answers": False, "allows_revoting": False,
                "members_only": False}
        if poll_type == "quiz":
            poll["correct_option_ids"] = correct_ids
            if explanation:
                poll["explanation"] = explanation
        markup = self._check_markup(params.get("reply_markup"))
        return self._send(chat, kind="poll", text=question, poll=poll, reply_markup=markup)

    async def _m_stoppoll(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        message = self._existing(params)
        if not message.poll:
            raise ApiError(400, "Bad Request: message with poll to stop not found")
        message.poll["is_closed"] = True
        return message.poll

    async def _m_copymessage(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        chat = self._target_chat(params)
        source = self._by_id.get((params.get("from_chat_id"), params.get("message_id")))  # type: ignore[arg-type]
        if source is None:
            raise ApiError(400, "Bad Request: message to copy not found")
        new = self._send(chat, kind=source.kind, text=params.get("caption", source.text), file_id=source.file_id,
                         poll=source.poll)
        return {"message_id": new["message_id"]}

    async def _m_forwardmessage(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        chat = self._target_chat(params)
        source = self._by_id.get((params.get("from_chat_id"), params.get("message_id")))  # type: ignore[arg-type]
        if source is None:
            raise ApiError(400, "Bad Request: message to forward not found")
        return self._send(chat, kind=source.kind, text=source.text, file_id=source.file_id, poll=source.poll)

    async def _m_sendchataction(self, params: dict[str, Any], uploads: Any) -> bool:
        self._target_chat(params)
        return True

    async def _m_setmycommands(self, params: dict[str, Any], uploads: Any) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: command description must be 1-256 characters")
        scope = params.get("scope") or {"type": "default"}
        key = f"{json.dumps(scope, sort_keys=True)}|{params.get('language_code') or ''}"
        self.commands[key] = commands
        return True

    async def _m_getmycommands(self, params: dict[str, Any], uploads: Any) -> list[dict[str, Any]]:
        scope = params.get("scope") or {"type": "default"}
        return self.commands.get(f"{json.dumps(scope, sort_keys=True)}|{params.get('language_code') or ''}", [])

    async def _m_deletemycommands(self, params: dict[str, Any], uploads: Any) -> bool:
        scope = params.get("scope") or {"type": "default"}
        self.commands.pop(f"{json.dumps(scope, sort_keys=True)}|{params.get('language_code') or ''}", None)
        return True

    async def _m_setchatmenubutton(self, params: dict[str, Any], uploads: Any) -> bool:
        return True

    async def _m_setmydescription(self, params: dict[str, Any], uploads: Any) -> bool:
        return True

    async def _m_setmyshortdescription(self, params: dict[str, Any], uploads: Any) -> bool:
        return True

    async def _m_setmyname(self, params: dict[str, Any], uploads: Any) -> bool:
        return True

    async def _m_getfile(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        stored = self._files.get(str(params.get("file_id")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {"file_id": stored.file_id, "file_unique_id": stored.unique_id,
                "file_size": len(stored.content), "file_path": f"files/{stored.file_id}"}

    async def _m_getchat(self, params: dict[str, Any], uploads: Any) -> dict[str, Any]:
        chat = self._target_chat(params)
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": {
            "unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
            "premium_subscription": False}}
