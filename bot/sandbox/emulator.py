"""A Bot API emulator on loopback: the sandbox, the end-to-end tests and the benchmarks talk to it.

The real python-telegram-bot `Application` is pointed at it with `base_url(emu.base_url)` and
`base_file_url(emu.base_file_url)`. It answers like Telegram where bots usually break: texts over
4096 and captions over 1024 characters after entity parsing, HTML outside Telegram's subset,
callback data over 64 bytes, sends to chats that do not exist or to users who blocked the bot,
flood limits with `retry_after`, "message is not modified", answering a callback query twice,
unknown methods and (given the official `api.min.json`) unknown, missing or mistyped parameters.

Tests and the sandbox drive it from the other side: register users and groups, inject what people
type or press, then read the chat histories or wait for the bot's next message::

    async with BotApiEmulator() as emu:
        ...  # start the Application against emu.base_url
        emu.send_text(7, "/start")
        reply = await emu.next_bot_message(7)
        emu.press_button(7, "Next")
        edited = await emu.next_bot_message(7)

With a webhook set (`setWebhook`), updates are POSTed to it instead, one at a time and in order,
with the secret token header, and retried with growing pauses while the bot answers anything but
2xx, as Telegram does; getUpdates is then refused with 409. Plain-HTTP webhook URLs are accepted
on loopback only, for tests; elsewhere Telegram's rule (HTTPS, ports 443/80/88/8443) holds.

Results are built with python-telegram-bot's own classes, so they are exactly what it expects.
Everything runs on the event loop without sleeps: long polls and waiters are woken by signals.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import copy
import datetime as dtm
import itertools
import json
import logging
import mimetypes
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from telegram import (
    AcceptedGiftTypes,
    Animation,
    Audio,
    BotCommand,
    CallbackQuery,
    Chat,
    ChatFullInfo,
    Document,
    File,
    InlineKeyboardMarkup,
    Location,
    Message,
    MessageEntity,
    MessageId,
    MessageOriginUser,
    PhotoSize,
    Poll,
    PollAnswer,
    Sticker,
    TelegramObject,
    Update,
    User,
    Video,
    VideoNote,
    Voice,
    WebhookInfo,
)

from bot.sandbox.telegram_html import (
    FormattedText,
    TelegramHtmlError,
    parse_telegram_html_entities,
    trim_formatted,
)

logger = logging.getLogger(__name__)

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
CALLBACK_ANSWER_LIMIT = 200
POLL_QUESTION_LIMIT = 300
POLL_OPTION_LIMIT = 100
POLL_EXPLANATION_LIMIT = 200
INLINE_BUTTONS_LIMIT = 100
UPLOAD_LIMIT = 50 * 1024 * 1024
DOWNLOAD_LIMIT = 20 * 1024 * 1024

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CHAT_NOT_FOUND = "Bad Request: chat not found"
BLOCKED = "Forbidden: bot was blocked by the user"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram sends webhooks only to these ports; loopback URLs (tests only) may use any.
WEBHOOK_PORTS = frozenset({443, 80, 88, 8443})
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")

# Methods that count against the flood limit of `set_rate_limit`.
SEND_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "sendPoll", "copyMessage", "forwardMessage", "sendMediaGroup"}
)
# Without the official schema: parameters that stay strings even when they look like JSON.
_STRING_PARAMS = frozenset(
    {
        "text", "caption", "question", "explanation", "description", "short_description", "name",
        "title", "url", "callback_query_id", "inline_message_id", "business_connection_id",
        "message_effect_id", "file_id", "language_code", "parse_mode", "explanation_parse_mode",
        "question_parse_mode", "description_parse_mode", "secret_token", "emoji", "action", "type",
        "document", "photo", "sticker", "thumbnail", "ip_address",
    }
)
_BUTTON_ACTIONS = (
    "callback_data", "url", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)
_CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
    }
)
# Update types Telegram sends when allowed_updates is empty or was never given.
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_FILE_ID_PREFIX = {
    "document": "BQACAgI", "photo": "AgACAgI", "sticker": "CAACAgI", "video": "BAACAgI", "voice": "AwACAgI",
    "video_note": "DQACAgI", "animation": "CgACAgI", "audio": "CQACAgI",
}
_DEFAULT_SUFFIX = {
    "document": "", "photo": ".jpg", "sticker": ".webp", "video": ".mp4", "voice": ".ogg", "video_note": ".mp4",
    "animation": ".mp4", "audio": ".mp3",
}
# What a user may send besides text, photos, documents, stickers and locations (see `send_media`).
USER_MEDIA_KINDS = ("video", "voice", "video_note", "animation", "audio")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@([A-Za-z0-9_]{3,32}))?")
_BUTTON_URL = re.compile(r"(?:https?|tg)://\S+")
_SAFE_NAME = re.compile(r"[^\w.\-]+")

BotEventKind = Literal["sent", "edited", "deleted"]


class ApiError(Exception):
    """A refusal with Telegram's error code and description."""

    def __init__(
        self, code: int, description: str, *, retry_after: int | None = None, expected: bool = False
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after
        self.expected = expected


class _NetworkFault(Exception):
    """An injected fault: drop the connection without answering."""


@dataclass
class RecordedRequest:
    """One request the bot made, and how it was answered."""

    method: str
    params: dict[str, Any]
    ok: bool = True
    error: str | None = None
    error_code: int | None = None
    expected: bool = False  # a refusal the test provoked (blocked user, injected fault, flood limit)
    tick: int = 0  # the emulator's mark when the request was answered

    @property
    def description(self) -> str | None:
        """The error description (an alias of `error`)."""
        return self.error


@dataclass(frozen=True)
class Button:
    """One inline keyboard button as the bot sent it."""

    label: str
    callback_data: str | None = None
    url: str | None = None


@dataclass
class ChatMessage:
    """A message in a chat, from the bot or from a simulated user; edits are applied in place."""

    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    text: str = ""  # text or caption as sent: raw HTML when the bot used parse_mode=HTML
    kind: str = "text"  # text, photo, document, poll, sticker, location
    parse_mode: str | None = None
    plain_text: str = ""  # what the user sees: tags stripped, entities unescaped, trimmed
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    from_user_id: int | None = None
    file_id: str | None = None
    document_name: str | None = None
    document_path: Path | None = None  # where a file the bot sent (document or photo) was saved
    poll: dict[str, Any] | None = None  # a Bot API Poll object
    location: tuple[float, float] | None = None  # latitude, longitude
    media_group_id: str | None = None
    reply_to_message_id: int | None = None
    forward_from_user_id: int | None = None
    update_id: int | None = None  # the update that delivered a user's message (None: not delivered)
    edited: bool = False
    edit_count: int = 0
    deleted: bool = False
    protect_content: bool = False  # sent with protect_content: Telegram lets nobody forward or save it

    @property
    def caption(self) -> str | None:
        """The caption of a media message (None for a text message)."""
        return None if self.kind == "text" else self.text

    def keyboard(self) -> list[list[Button]]:
        """The inline keyboard, row by row."""
        if not self.reply_markup:
            return []
        return [
            [Button(str(b.get("text", "")), b.get("callback_data"), b.get("url")) for b in row]
            for row in self.reply_markup.get("inline_keyboard", [])
        ]

    def buttons(self) -> list[Button]:
        """Every inline button, flattened row by row."""
        return [button for row in self.keyboard() for button in row]

    def button_labels(self) -> list[str]:
        """The labels of the inline buttons."""
        return [button.label for button in self.buttons()]

    def reply_keyboard(self) -> list[str]:
        """The labels of a reply keyboard (the one shown instead of the phone keyboard)."""
        if not self.reply_markup:
            return []
        return [
            button if isinstance(button, str) else str(button.get("text", ""))
            for row in self.reply_markup.get("keyboard", [])
            for button in row
        ]


@dataclass(frozen=True)
class BotEvent:
    """The bot sent, edited or deleted a message; `message` is a snapshot taken at that moment."""

    tick: int
    chat_id: int
    kind: BotEventKind
    message: ChatMessage


@dataclass
class _Upload:
    filename: str
    content: bytes
    content_type: str | None


@dataclass
class _StoredFile:
    file_id: str
    unique_id: str
    kind: str
    name: str
    mime_type: str | None
    content: bytes
    file_path: str  # the path getFile reports and the file route serves
    saved_path: Path | None = None


@dataclass
class _Fault:
    remaining: int
    error_code: int
    retry_after: int | None
    description: str | None
    network: bool


@dataclass
class Hold:
    """A held call: the bot's request waits until `release()` (a slow Telegram, a slow handler)."""

    method: str
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        """Let the held request go on."""
        self.released.set()


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST of an update to the bot's webhook and the HTTP status it got (0: no answer)."""

    update_id: int
    status: int


@dataclass
class _QueuedUpdate:
    update_id: int
    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class _Field:
    types: tuple[str, ...]
    required: bool


@dataclass
class _Call:
    method: str
    params: dict[str, Any]
    uploads: dict[str, _Upload]


class _Signal:
    """A broadcast wake-up: `notify` releases everyone waiting at that moment."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake every current waiter."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        """Wait for the next notify; False on timeout."""
        event = self._event
        try:
            async with asyncio.timeout(max(timeout, 0)):
                await event.wait()
        except TimeoutError:
            return False
        return True


def _timestamp(seconds: int) -> dtm.datetime:
    return dtm.datetime.fromtimestamp(seconds, tz=dtm.UTC)


def _media_object(kind: str, stored: _StoredFile) -> TelegramObject:
    """The Bot API object of a user's video, voice note, video note, animation or audio file."""
    ids, size = (stored.file_id, stored.unique_id), len(stored.content)
    if kind == "video":
        return Video(*ids, width=640, height=360, duration=5, mime_type="video/mp4", file_size=size)
    if kind == "voice":
        return Voice(*ids, duration=3, mime_type="audio/ogg", file_size=size)
    if kind == "video_note":
        return VideoNote(*ids, length=240, duration=5, file_size=size)
    if kind == "animation":
        return Animation(*ids, width=320, height=240, duration=2, file_name=stored.name, file_size=size)
    return Audio(*ids, duration=60, mime_type="audio/mpeg", file_size=size)


def _entity(data: Mapping[str, Any]) -> MessageEntity:
    unix_time = data.get("unix_time")
    return MessageEntity(
        type=str(data["type"]),
        offset=int(data["offset"]),
        length=int(data["length"]),
        url=data.get("url"),
        language=data.get("language"),
        custom_emoji_id=data.get("custom_emoji_id"),
        date_time_format=data.get("date_time_format"),
        unix_time=_timestamp(unix_time) if isinstance(unix_time, int) else None,
    )


def _safe_filename(name: str, default: str) -> str:
    """A file name without directories or odd characters, keeping the extension."""
    base = Path(name.replace("\\", "/")).name
    safe = _SAFE_NAME.sub("_", base).strip("._")[:120]
    return safe or default


class BotApiEmulator:
    """An aiohttp server on loopback that speaks the Bot API methods a bot like ours uses."""

    def __init__(
        self,
        *,
        token: str = "123456:TEST-TOKEN",
        bot_username: str = "ForumAnakBot",
        files_dir: Path | None = None,
        api_schema: Path | None = None,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_name = "Forum Anak Bot"
        self.files_dir = files_dir
        self.group_privacy = True  # like a bot with privacy mode on: group chatter is not delivered
        self.host = "127.0.0.1"
        self.port = 0
        self._schema = self._load_schema(api_schema) if api_schema is not None else None
        self._methods = self._method_table()
        # people and chats
        self._users: dict[int, User] = {}
        self._groups: dict[int, Chat] = {}
        self._blocked: set[int] = set()
        self._kicked: set[int] = set()  # groups the bot was removed from
        # messages, ids and the stream of bot events
        self._ticks = itertools.count(1)
        self._tick = 0
        self._history: dict[int, list[ChatMessage]] = {}
        self._by_key: dict[tuple[int, int], ChatMessage] = {}
        self._events: list[BotEvent] = []
        self._event_ticks: list[int] = []
        self._chat_events: dict[int, tuple[list[int], list[BotEvent]]] = {}
        self._cursors: dict[int, int] = {}
        self._last_injection_tick = 0
        # updates and long polling
        self._updates: deque[_QueuedUpdate] = deque()
        self._update_ids = itertools.count(1)
        self._allowed_updates: frozenset[str] | None = None
        self._poll_generation = 0
        self._last_delivered_update_id = 0
        self._waiting_pollers = 0
        self._webhook_url = ""
        self._webhook_secret: str | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_client: aiohttp.ClientSession | None = None
        self._webhook_error: tuple[int, str] | None = None
        self.webhook_attempts: list[WebhookAttempt] = []
        # Like Telegram, a refused update is retried later, with growing pauses (shortened for tests).
        self.webhook_retry_delays: tuple[float, ...] = (0.05, 0.1, 0.2, 0.5, 1.0)
        self._closing = False
        # callbacks, polls, files and settings
        self._query_ids = itertools.count(4_391_000_000_000_000_001)
        self._open_queries: dict[str, tuple[int, int]] = {}
        self.answered_callbacks: dict[str, dict[str, Any]] = {}
        self._poll_ids = itertools.count(5_120_000_000_000_000_001)
        self._polls: dict[str, ChatMessage] = {}
        self._poll_votes: dict[str, dict[int, tuple[int, ...]]] = {}
        self._media_groups = itertools.count(13_000_000_000_000_001)
        self._file_numbers = itertools.count(1)
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self.saved_files: list[Path] = []
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.bot_settings: dict[str, Any] = {}
        # faults, flood limits and records
        self._faults: dict[str, deque[_Fault]] = {}
        self._holds: dict[str, deque[Hold]] = {}
        self._rate_limit: float | None = None
        self._recent_sends: deque[float] = deque()
        self.rate_limited_count = 0
        self.requests: list[RecordedRequest] = []
        self._changed = _Signal()
        self._updates_signal = _Signal()
        self._last_activity = time.monotonic()
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on loopback; port 0 picks a free port."""
        app = web.Application(client_max_size=UPLOAD_LIMIT + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._serve_file)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self.host = host
        self.port = int(runner.addresses[0][1])
        self._closing = False
        if self._webhook_url and self._webhook_task is None:  # started again with a webhook set
            self._webhook_task = asyncio.create_task(self._push_updates(), name="emulator-webhook")

    async def stop(self) -> None:
        """Answer pending long polls, stop pushing to a webhook and stop listening."""
        self.release_pollers()
        for holds in self._holds.values():
            for hold in holds:
                hold.release()
        await self._stop_webhook_pusher()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def release_pollers(self) -> None:
        """Answer long polls at once from now on, so that a polling bot stops without waiting."""
        self._closing = True
        self._updates_signal.notify()

    def resume_pollers(self) -> None:
        """Undo `release_pollers`: long polls wait for updates again (a restarted bot)."""
        self._closing = False

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """The Bot API root for python-telegram-bot, which appends the token itself."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def webhook_url(self) -> str:
        """The webhook the bot set ("" while it polls)."""
        return self._webhook_url

    @property
    def base_file_url(self) -> str:
        """The root of file downloads, for python-telegram-bot's `base_file_url`."""
        return f"http://{self.host}:{self.port}/file/bot"

    # ------------------------------------------------------------------ people and chats

    @property
    def users(self) -> Mapping[int, User]:
        """The simulated users by id (their private chat id is their user id)."""
        return self._users

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str = "Anak",
        username: str | None = None,
        language_code: str = "id",
        last_name: str | None = None,
    ) -> User:
        """Register (or update) a simulated user the bot may write to."""
        if user_id <= 0:
            raise ValueError(f"user ids are positive, got {user_id}")
        user = User(
            id=user_id, first_name=first_name, is_bot=False, last_name=last_name,
            username=username, language_code=language_code,
        )
        self._users[user_id] = user
        return user

    def add_group(self, chat_id: int, title: str, *, kind: str = "supergroup", username: str | None = None) -> Chat:
        """Register a group the bot is a member of (group ids are negative)."""
        if chat_id >= 0:
            raise ValueError(f"group chat ids are negative, got {chat_id}")
        chat = Chat(id=chat_id, type=kind, title=title, username=username)
        self._groups[chat_id] = chat
        self._kicked.discard(chat_id)  # added back after `kick_bot`
        return chat

    def kick_bot(self, chat_id: int) -> None:
        """The bot is removed from a group: every request about it is refused with 403, as Telegram does."""
        self._kicked.add(chat_id)

    def block(self, user_id: int) -> None:
        """The user blocks the bot: everything sent to them is refused with 403."""
        self._blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        """The user unblocks the bot."""
        self._blocked.discard(user_id)

    # ------------------------------------------------------------------ faults and flood limits

    def fail_next(
        self,
        method: str,
        count: int = 1,
        error_code: int = 429,
        retry_after: int | None = 1,
        description: str | None = None,
        *,
        network: bool = False,
    ) -> None:
        """Refuse the next `count` calls of a method (429 by default; network=True drops the connection)."""
        key = method.lower()
        self._faults.setdefault(key, deque()).append(_Fault(count, error_code, retry_after, description, network))

    def hold_next(self, method: str) -> Hold:
        """Hold the next call of a method until `release()`; `arrived` is set when it comes in."""
        hold = Hold(method)
        self._holds.setdefault(method.lower(), deque()).append(hold)
        return hold

    def set_rate_limit(self, per_second: float | None) -> None:
        """Refuse sends beyond this many per rolling second with 429 (None: no limit)."""
        self._rate_limit = per_second
        self._recent_sends.clear()

    # ------------------------------------------------------------------ records

    @property
    def refused(self) -> list[RecordedRequest]:
        """The requests that were answered with an error."""
        return [record for record in self.requests if not record.ok]

    def unexpected_refusals(self) -> list[RecordedRequest]:
        """Refused requests the test did not provoke (no block, fault or flood limit behind them)."""
        return [record for record in self.requests if not record.ok and not record.expected]

    def requests_for(self, method: str) -> list[RecordedRequest]:
        """The recorded requests of one method (case-insensitive)."""
        key = method.lower()
        return [record for record in self.requests if record.method.lower() == key]

    def clear_records(self) -> None:
        """Forget the recorded requests."""
        self.requests.clear()

    @property
    def pending_callbacks(self) -> list[str]:
        """Callback query ids the bot has not answered yet."""
        return list(self._open_queries)

    @property
    def pending_updates(self) -> int:
        """Updates injected but not yet confirmed by the bot."""
        return len(self._updates)

    def my_commands(self, scope: Mapping[str, Any] | None = None, language_code: str = "") -> list[dict[str, Any]]:
        """The command menu set for a scope and language."""
        return list(self.commands.get(self._commands_key(scope, language_code), []))

    # ------------------------------------------------------------------ reading the chats

    def messages(self, chat_id: int) -> list[ChatMessage]:
        """Every message of a chat, both directions, in order (deleted ones flagged)."""
        return list(self._history.get(chat_id, ()))

    def bot_messages(self, chat_id: int) -> list[ChatMessage]:
        """The bot's messages in a chat that were not deleted."""
        return [m for m in self._history.get(chat_id, ()) if m.from_bot and not m.deleted]

    def last_bot_message(self, chat_id: int) -> ChatMessage | None:
        """The bot's most recent message in a chat that was not deleted."""
        for message in reversed(self._history.get(chat_id, ())):
            if message.from_bot and not message.deleted:
                return message
        return None

    def message(self, chat_id: int, message_id: int) -> ChatMessage | None:
        """One message by chat and id."""
        return self._by_key.get((chat_id, message_id))

    def mark(self) -> int:
        """The current point in time of the emulator, for `after=` and `bot_events_since`."""
        return self._tick

    def bot_events_since(self, mark: int, chat_id: int | None = None) -> list[BotEvent]:
        """What the bot sent, edited or deleted after a mark, in order."""
        if chat_id is None:
            ticks, events = self._event_ticks, self._events
        else:
            ticks, events = self._chat_events.get(chat_id, ([], []))
        return events[bisect.bisect_right(ticks, mark) :]

    @property
    def waiting_pollers(self) -> int:
        """How many getUpdates calls are waiting for updates right now (the bot is idle and listening)."""
        return self._waiting_pollers

    def bot_messages_since(self, mark: int, chat_id: int | None = None) -> list[ChatMessage]:
        """The bot's messages sent or edited after a mark, each once, as they are now."""
        found: dict[tuple[int, int], ChatMessage] = {}
        for event in self.bot_events_since(mark, chat_id):
            key = (event.chat_id, event.message.message_id)
            if key not in found:
                found[key] = self._by_key[key]
        return list(found.values())

    def is_delivered(self, update_id: int) -> bool:
        """Whether the bot has fetched an update with getUpdates."""
        return update_id <= self._last_delivered_update_id

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0, *, what: str | None = None) -> None:
        """Wait until a predicate holds, re-checked whenever something happens; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"{what or 'condition'} not met within {timeout}s\n{self.describe_recent()}"
                )
            await self._changed.wait(remaining)

    async def wait_quiet(self, quiet: float = 0.2, timeout: float = 5.0) -> bool:
        """Wait until the bot has made no request for `quiet` seconds; False if it never settles."""
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            idle = now - self._last_activity
            if idle >= quiet:
                return True
            if now >= deadline:
                return False
            await self._changed.wait(min(quiet - idle, deadline - now))

    async def next_bot_message(self, chat_id: int, *, after: int | None = None, timeout: float = 5.0) -> ChatMessage:
        """The first message the bot sends or edits in a chat after a mark (a snapshot of it).

        Without `after`, the mark is the later of the last injected update (in any chat) and the
        message this method last returned for this chat, so `emu.send_text(7, "/start")` followed
        by `await emu.next_bot_message(7)` is race-free, and calling it again returns the next one.
        """
        mark = max(self._last_injection_tick, self._cursors.get(chat_id, 0)) if after is None else after

        def first() -> BotEvent | None:
            return next((e for e in self.bot_events_since(mark, chat_id) if e.kind != "deleted"), None)

        try:
            await self.wait_for(lambda: first() is not None, timeout, what=f"a bot message in chat {chat_id}")
        except TimeoutError as exc:
            refused = [r for r in self.requests if r.tick >= mark and not r.ok]
            detail = f"; refused since the mark: {refused}" if refused else ""
            raise TimeoutError(f"{exc}{detail}") from None
        event = first()
        assert event is not None
        self._cursors[chat_id] = event.tick
        return event.message

    def describe_recent(self, count: int = 8) -> str:
        """A short account of the latest requests, for error messages."""
        lines = [
            f"  {r.method} {'ok' if r.ok else f'REFUSED {r.error_code} {r.error}'} {self._short(r.params)}"
            for r in self.requests[-count:]
        ]
        return "last requests:\n" + ("\n".join(lines) if lines else "  (none)")

    @staticmethod
    def _short(params: Mapping[str, Any]) -> str:
        text = json.dumps(params, ensure_ascii=False, default=str)
        return text if len(text) <= 160 else text[:157] + "..."

    # ------------------------------------------------------------------ injecting what people do

    def send_text(
        self, user_id: int, text: str, *, chat_id: int | None = None, reply_to: int | None = None
    ) -> ChatMessage:
        """A user sends a text; a leading /command gets its bot_command entity like in Telegram."""
        entities: list[dict[str, Any]] = []
        command = _COMMAND.match(text)
        if command:
            entities.append({"type": "bot_command", "offset": 0, "length": len(command.group(0))})
        message = self._user_message(user_id, chat_id, kind="text", text=text, entities=entities)
        message.reply_to_message_id = reply_to
        if self._group_delivers(message, command):
            self._deliver_message(message)
        return message

    def send_photo(
        self, user_id: int, *, caption: str | None = None, chat_id: int | None = None, content: bytes | None = None
    ) -> ChatMessage:
        """A user sends a photo (stored, so the bot can download or resend it by file_id)."""
        stored = self._store_file(content or b"\xff\xd8\xff\xe0 sandbox photo", "photo.jpg", "photo", save=False)
        message = self._user_message(user_id, chat_id, kind="photo", text=caption or "", file_id=stored.file_id)
        if self._group_delivers(message, None):
            self._deliver_message(message)
        return message

    def send_document(
        self,
        user_id: int,
        filename: str,
        content: bytes,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        mime_type: str | None = None,
    ) -> ChatMessage:
        """A user sends a file."""
        stored = self._store_file(content, filename, "document", mime_type, save=False)
        message = self._user_message(
            user_id, chat_id, kind="document", text=caption or "", file_id=stored.file_id, document_name=filename
        )
        if self._group_delivers(message, None):
            self._deliver_message(message)
        return message

    def send_sticker(self, user_id: int, *, emoji: str = "😀", chat_id: int | None = None) -> ChatMessage:
        """A user sends a sticker."""
        stored = self._store_file(b"RIFF sandbox sticker", "sticker.webp", "sticker", save=False)
        message = self._user_message(user_id, chat_id, kind="sticker", text=emoji, file_id=stored.file_id)
        if self._group_delivers(message, None):
            self._deliver_message(message)
        return message

    def send_media(
        self, user_id: int, kind: str, *, caption: str | None = None, chat_id: int | None = None
    ) -> ChatMessage:
        """A user sends a video, voice note, round video note, animation (GIF) or audio file."""
        if kind not in USER_MEDIA_KINDS:
            raise ValueError(f"kind must be one of {USER_MEDIA_KINDS}, not {kind!r}")
        stored = self._store_file(f"sandbox {kind}".encode(), f"{kind}{_DEFAULT_SUFFIX[kind]}", kind, save=False)
        text = "" if kind == "video_note" else caption or ""  # a video note has no caption
        message = self._user_message(user_id, chat_id, kind=kind, text=text, file_id=stored.file_id)
        if self._group_delivers(message, None):
            self._deliver_message(message)
        return message

    def send_location(
        self, user_id: int, latitude: float = -1.2654, longitude: float = 116.8312, *, chat_id: int | None = None
    ) -> ChatMessage:
        """A user shares a location (Balikpapan by default)."""
        message = self._user_message(user_id, chat_id, kind="location", text="", location=(latitude, longitude))
        if self._group_delivers(message, None):
            self._deliver_message(message)
        return message

    def edit_text(self, user_id: int, message_id: int, new_text: str, *, chat_id: int | None = None) -> ChatMessage:
        """A user edits one of their text messages: an edited_message update."""
        target = chat_id if chat_id is not None else user_id
        message = self._by_key.get((target, message_id))
        if message is None or message.from_bot or message.from_user_id != user_id or message.kind != "text":
            raise LookupError(f"user {user_id} has no text message {message_id} in chat {target}")
        command = _COMMAND.match(new_text)
        message.text = message.plain_text = new_text
        message.entities = [{"type": "bot_command", "offset": 0, "length": len(command.group(0))}] if command else []
        message.edited = True
        message.edit_count += 1
        message.update_id = self._enqueue("edited_message", self._message_obj(message))
        return message

    def press(self, user_id: int, message_id: int, callback_data: str, *, chat_id: int | None = None) -> str:
        """A user presses an inline button of a message with any data (even forged); returns the query id."""
        target = chat_id if chat_id is not None else user_id
        message = self._by_key.get((target, message_id))
        if message is None or message.deleted:
            raise LookupError(f"no message {message_id} in chat {target} to press a button on")
        user = self._ensure_user(user_id)
        query_id = str(next(self._query_ids))
        self._open_queries[query_id] = (target, message_id)
        query = CallbackQuery(
            id=query_id,
            from_user=user,
            chat_instance=str(abs(target) * 7919 + self.bot_id),
            message=self._message_obj(message),
            data=callback_data,
        )
        self._enqueue("callback_query", query)
        return query_id

    def press_button(self, user_id: int, label_or_index: str | int, *, chat_id: int | None = None) -> str:
        """Press a button of the newest bot message with an inline keyboard, by exact label or 1-based index."""
        target = chat_id if chat_id is not None else user_id
        message = self.latest_keyboard_message(target)
        if message is None:
            raise LookupError(f"no bot message with inline buttons in chat {target}")
        buttons = message.buttons()
        labels = [b.label for b in buttons]
        if isinstance(label_or_index, int):
            if not 1 <= label_or_index <= len(buttons):
                raise LookupError(f"no button number {label_or_index}; the buttons are {labels}")
            button = buttons[label_or_index - 1]
        else:
            found = [b for b in buttons if b.label == label_or_index]
            if not found:
                raise LookupError(f"no button {label_or_index!r}; the buttons are {labels}")
            button = found[0]
        if button.callback_data is None:
            raise LookupError(f"button {button.label!r} opens {button.url or 'something else'}; it sends nothing to the bot")
        return self.press(user_id, message.message_id, button.callback_data, chat_id=chat_id)

    def latest_keyboard_message(self, chat_id: int) -> ChatMessage | None:
        """The newest bot message in a chat that has inline buttons."""
        for message in reversed(self._history.get(chat_id, ())):
            if message.from_bot and not message.deleted and message.reply_markup and message.buttons():
                return message
        return None

    def answer_poll(self, user_id: int, poll_id: str, option_ids: Sequence[int]) -> int:
        """A user votes: a poll update, then a poll_answer for a public poll; returns the last update id."""
        message = self._polls.get(poll_id)
        if message is None or message.poll is None:
            raise LookupError(f"no poll {poll_id}")
        poll = message.poll
        options = tuple(option_ids)
        if poll["is_closed"]:
            raise ValueError(f"poll {poll_id} is closed")
        if any(not 0 <= option < len(poll["options"]) for option in options):
            raise ValueError(f"poll {poll_id} has options 0..{len(poll['options']) - 1}, got {list(options)}")
        if len(options) > 1 and not poll["allows_multiple_answers"]:
            raise ValueError(f"poll {poll_id} allows one answer")
        votes = self._poll_votes.setdefault(poll_id, {})
        if user_id in votes and not poll["allows_revoting"]:
            raise ValueError(f"user {user_id} already answered poll {poll_id}, which does not allow revoting")
        user = self._ensure_user(user_id)
        for option in votes.pop(user_id, ()):
            poll["options"][option]["voter_count"] -= 1
        if options:
            votes[user_id] = options
            for option in options:
                poll["options"][option]["voter_count"] += 1
        poll["total_voter_count"] = len(votes)
        # Telegram sends the new poll state to the bot that sent the poll, and who voted if it is public.
        update_id = self._enqueue("poll", Poll.de_json(copy.deepcopy(poll), None))
        if not poll["is_anonymous"]:
            answer = PollAnswer(
                poll_id=poll_id,
                option_ids=options,
                user=user,
                option_persistent_ids=[poll["options"][option]["persistent_id"] for option in options],
            )
            update_id = self._enqueue("poll_answer", answer)
        return update_id

    def poll_votes(self, poll_id: str) -> dict[int, tuple[int, ...]]:
        """Who voted for which options in a poll (user id -> option ids)."""
        return dict(self._poll_votes.get(poll_id, {}))

    def inject_update(self, kind: str, payload: TelegramObject | Mapping[str, Any]) -> int:
        """Enqueue any update (e.g. kind="my_chat_member"); returns its update id."""
        return self._enqueue(kind, payload)

    # ------------------------------------------------------------------ injection helpers

    def _ensure_user(self, user_id: int) -> User:
        user = self._users.get(user_id)
        return user if user is not None else self.add_user(user_id)

    def _next_tick(self) -> int:
        self._tick = next(self._ticks)
        return self._tick

    def _user_message(self, user_id: int, chat_id: int | None, *, kind: str, text: str, **fields: Any) -> ChatMessage:
        self._ensure_user(user_id)
        target = chat_id if chat_id is not None else user_id
        if target < 0 and target not in self._groups:
            self.add_group(target, f"Group {target}")
        elif target > 0 and target != user_id:
            raise ValueError(f"user {user_id} cannot write in the private chat of {target}")
        message = ChatMessage(
            message_id=self._next_tick(), chat_id=target, from_bot=False, date=int(time.time()), text=text,
            kind=kind, plain_text=text, from_user_id=user_id, **fields,
        )
        self._store(message)
        return message

    def _group_delivers(self, message: ChatMessage, command: re.Match[str] | None) -> bool:
        """In a group with privacy mode, only commands, replies to the bot and mentions reach it."""
        if message.chat_id > 0 or not self.group_privacy:
            return True
        if command is not None:
            addressee = command.group(1)
            return addressee is None or addressee.lower() == self.bot_username.lower()
        replied = self._by_key.get((message.chat_id, message.reply_to_message_id or 0))
        if replied is not None and replied.from_bot:
            return True
        return f"@{self.bot_username.lower()}" in message.text.lower()

    def _deliver_message(self, message: ChatMessage) -> None:
        message.update_id = self._enqueue("message", self._message_obj(message))

    def _enqueue(self, kind: str, payload: TelegramObject | Mapping[str, Any]) -> int:
        update_id = next(self._update_ids)
        if isinstance(payload, TelegramObject):
            update = Update(update_id=update_id, **{kind: payload}).to_dict()
        else:
            update = {"update_id": update_id, kind: dict(payload)}
        self._updates.append(_QueuedUpdate(update_id, kind, update))
        self._last_injection_tick = self._tick
        self._updates_signal.notify()
        self._touch()
        return update_id

    def _touch(self) -> None:
        self._last_activity = time.monotonic()
        self._changed.notify()

    # ------------------------------------------------------------------ history and events

    def _store(self, message: ChatMessage) -> None:
        self._history.setdefault(message.chat_id, []).append(message)
        self._by_key[(message.chat_id, message.message_id)] = message

    def _event(self, message: ChatMessage, kind: BotEventKind) -> None:
        tick = self._next_tick()
        snapshot = replace(message, poll=copy.deepcopy(message.poll) if message.poll else None)
        event = BotEvent(tick, message.chat_id, kind, snapshot)
        self._events.append(event)
        self._event_ticks.append(tick)
        ticks, events = self._chat_events.setdefault(message.chat_id, ([], []))
        ticks.append(tick)
        events.append(event)

    def _new_bot_message(self, chat_id: int, **fields: Any) -> ChatMessage:
        message = ChatMessage(message_id=self._next_tick(), chat_id=chat_id, from_bot=True, date=int(time.time()), **fields)
        self._store(message)
        self._event(message, "sent")
        return message

    # ------------------------------------------------------------------ Telegram objects

    def _bot_user(self) -> User:
        return User(id=self.bot_id, first_name=self.bot_name, is_bot=True, username=self.bot_username)

    def _chat(self, chat_id: int) -> Chat:
        group = self._groups.get(chat_id)
        if group is not None:
            return group
        user = self._users.get(chat_id)
        if user is None:
            return Chat(id=chat_id, type="private", first_name="User")
        return Chat(
            id=chat_id, type="private", first_name=user.first_name, last_name=user.last_name, username=user.username
        )

    def _message_obj(self, message: ChatMessage, *, nested: bool = False) -> Message:
        """The Bot API Message for a stored message, built with python-telegram-bot's class."""
        sender = self._bot_user() if message.from_bot else self._users.get(message.from_user_id or 0)
        entities = tuple(_entity(e) for e in message.entities)
        fields: dict[str, Any] = {}
        stored = self._files.get(message.file_id or "")
        if message.kind == "text":
            fields.update(text=message.plain_text, entities=entities)
        elif message.kind == "poll" and message.poll is not None:
            fields["poll"] = Poll.de_json(copy.deepcopy(message.poll), None)
        elif message.kind == "location" and message.location is not None:
            latitude, longitude = message.location
            fields["location"] = Location(longitude=longitude, latitude=latitude)
        elif message.kind == "sticker" and stored is not None:
            fields["sticker"] = Sticker(
                file_id=stored.file_id, file_unique_id=stored.unique_id, width=512, height=512,
                is_animated=False, is_video=False, type="regular", emoji=message.text or None,
            )
        elif stored is not None:
            if message.kind == "photo":
                fields["photo"] = (
                    PhotoSize(stored.file_id, stored.unique_id, 1280, 720, file_size=len(stored.content)),
                )
            elif message.kind in USER_MEDIA_KINDS:
                fields[message.kind] = _media_object(message.kind, stored)
            else:
                fields["document"] = Document(
                    stored.file_id, stored.unique_id, file_name=stored.name, mime_type=stored.mime_type,
                    file_size=len(stored.content),
                )
            if message.plain_text:
                fields.update(caption=message.plain_text, caption_entities=entities)
        markup = message.reply_markup
        if markup and "inline_keyboard" in markup:
            fields["reply_markup"] = InlineKeyboardMarkup.de_json(copy.deepcopy(markup), None)
        if message.reply_to_message_id and not nested:
            replied = self._by_key.get((message.chat_id, message.reply_to_message_id))
            if replied is not None:
                fields["reply_to_message"] = self._message_obj(replied, nested=True)
        if message.forward_from_user_id is not None:
            origin = self._bot_user() if message.forward_from_user_id == self.bot_id else self._users.get(
                message.forward_from_user_id
            )
            if origin is not None:
                fields["forward_origin"] = MessageOriginUser(date=_timestamp(message.date), sender_user=origin)
        return Message(
            message_id=message.message_id,
            date=_timestamp(message.date),
            chat=self._chat(message.chat_id),
            from_user=sender,
            edit_date=_timestamp(int(time.time())) if message.edited else None,
            media_group_id=message.media_group_id,
            has_protected_content=True if message.protect_content else None,
            **fields,
        )

    def _message_dict(self, message: ChatMessage) -> dict[str, Any]:
        return self._message_obj(message).to_dict()

    # ------------------------------------------------------------------ HTTP

    def _unauthorized(self) -> web.Response:
        return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)

    async def _serve_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._unauthorized()
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.Response(body=stored.content, content_type=stored.mime_type or "application/octet-stream")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        requested = request.match_info["method"]
        entry = self._methods.get(requested.lower())
        method = entry[0] if entry is not None else requested
        record = RecordedRequest(method, {})
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            params, uploads = await self._read_params(request, method.lower())
            record.params = {**params, **{k: {"upload": u.filename, "size": len(u.content)} for k, u in uploads.items()}}
            if entry is None:
                raise ApiError(404, "Not Found")
            self._check_schema(method, params, uploads)
            await self._apply_hold(method)
            self._apply_faults(method)
            self._apply_rate_limit(method, params)
            result = entry[1](_Call(method, params, uploads))
            if isinstance(result, Awaitable):
                result = await result
        except ApiError as exc:
            record.ok, record.error, record.error_code, record.expected = False, exc.description, exc.code, exc.expected
            self._record(record)
            body: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
            if exc.retry_after is not None:
                body["parameters"] = {"retry_after": exc.retry_after}
            return web.json_response(body, status=exc.code)
        except _NetworkFault:
            record.ok, record.error, record.error_code, record.expected = False, "connection dropped", 0, True
            self._record(record)
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        except Exception as exc:  # an emulator bug must fail the test, not hang it
            logger.exception("emulator failed on %s", method)
            record.ok, record.error, record.error_code = False, f"Internal Server Error: {exc!r}", 500
            self._record(record)
            return web.json_response({"ok": False, "error_code": 500, "description": record.error}, status=500)
        self._record(record, delivered=result if method == "getUpdates" else None)
        return web.json_response({"ok": True, "result": result})

    def _record(self, record: RecordedRequest, *, delivered: Any = None) -> None:
        record.tick = self._tick
        self.requests.append(record)
        # An empty long poll is the bot idling, not activity.
        if record.method != "getUpdates" or delivered or not record.ok:
            self._last_activity = time.monotonic()
        self._changed.notify()

    async def _read_params(self, request: web.Request, method: str) -> tuple[dict[str, Any], dict[str, _Upload]]:
        raw: dict[str, Any] = dict(request.query)
        uploads: dict[str, _Upload] = {}
        if request.body_exists:
            content_type = request.content_type
            if content_type == "application/json":
                try:
                    body = json.loads(await request.text() or "{}")
                except ValueError:
                    raise ApiError(400, "Bad Request: can't parse JSON request body") from None
                if not isinstance(body, dict):
                    raise ApiError(400, "Bad Request: request body must be a JSON object")
                raw.update(body)
            elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        uploads[key] = _Upload(value.filename, value.file.read(), value.content_type)
                    else:
                        raw[key] = value
        return {key: self._decode(method, key, value) for key, value in raw.items()}, uploads

    def _decode(self, method: str, key: str, value: Any) -> Any:
        """Turn a form value back into the JSON value python-telegram-bot encoded."""
        if not isinstance(value, str):
            return value
        fields = self._schema.get(method) if self._schema is not None else None
        spec = fields.get(key) if fields is not None else None
        if spec is not None:
            if not set(spec.types) - {"String", "InputFile"}:
                return value
        elif key in _STRING_PARAMS:
            return value
        if value in ("true", "false", "True", "False"):
            return value.lower() == "true"
        if value[:1] in "[{" or _JSON_NUMBER.fullmatch(value):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    # ------------------------------------------------------------------ the official schema

    @staticmethod
    def _load_schema(path: Path) -> dict[str, dict[str, _Field]]:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            name.lower(): {
                f["name"]: _Field(tuple(f.get("types", ())), bool(f.get("required"))) for f in method.get("fields", [])
            }
            for name, method in data["methods"].items()
        }

    def _check_schema(self, method: str, params: dict[str, Any], uploads: dict[str, _Upload]) -> None:
        if self._schema is None:
            return
        fields = self._schema.get(method.lower())
        if fields is None:
            raise ApiError(404, "Not Found")
        attached = {m.group(1) for m in re.finditer(r"attach://([\w.-]+)", json.dumps(params, default=str))}
        given = set(params) | (set(uploads) - attached)
        unknown = sorted(given - set(fields))
        if unknown:
            raise ApiError(400, f'Bad Request: unknown parameter "{unknown[0]}" for method {method}')
        missing = sorted(name for name, spec in fields.items() if spec.required and name not in given)
        if missing:
            raise ApiError(400, f'Bad Request: parameter "{missing[0]}" is required')
        for name, value in params.items():
            spec = fields[name]
            if not self._type_matches(value, spec.types):
                raise ApiError(400, f'Bad Request: parameter "{name}" must be {" or ".join(spec.types)}')

    @staticmethod
    def _type_matches(value: Any, types: Iterable[str]) -> bool:
        for kind in types:
            if kind == "Integer" and isinstance(value, int) and not isinstance(value, bool):
                return True
            if kind == "Float" and isinstance(value, int | float) and not isinstance(value, bool):
                return True
            if kind == "Boolean" and isinstance(value, bool):
                return True
            if kind in ("String", "InputFile") and isinstance(value, str):
                return True
            if kind.startswith("Array of") and isinstance(value, list):
                return True
            if kind not in ("Integer", "Float", "Boolean", "String", "InputFile") and isinstance(value, dict):
                return True
        return False

    # ------------------------------------------------------------------ faults and flood limits

    async def _apply_hold(self, method: str) -> None:
        holds = self._holds.get(method.lower())
        if not holds:
            return
        hold = holds.popleft()
        hold.arrived.set()
        self._touch()
        await hold.released.wait()

    def _apply_faults(self, method: str) -> None:
        queue = self._faults.get(method.lower())
        if not queue:
            return
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.popleft()
        if fault.network:
            raise _NetworkFault
        code = fault.error_code
        retry_after = fault.retry_after if code == 429 else None
        default = {
            429: f"Too Many Requests: retry after {retry_after}",
            400: "Bad Request: injected failure",
            403: BLOCKED,
            500: "Internal Server Error",
            502: "Bad Gateway",
        }.get(code, f"Error {code}")
        raise ApiError(code, fault.description or default, retry_after=retry_after, expected=True)

    def _apply_rate_limit(self, method: str, params: Mapping[str, Any]) -> None:
        # Paid broadcasts are exempt from the broadcast limit, as in Telegram.
        if self._rate_limit is None or method not in SEND_METHODS or params.get("allow_paid_broadcast") is True:
            return
        now = time.monotonic()
        while self._recent_sends and now - self._recent_sends[0] >= 1.0:
            self._recent_sends.popleft()
        if len(self._recent_sends) >= self._rate_limit:
            self.rate_limited_count += 1
            raise ApiError(429, "Too Many Requests: retry after 1", retry_after=1, expected=True)
        self._recent_sends.append(now)

    # ------------------------------------------------------------------ validation helpers

    def _resolve_chat(self, params: Mapping[str, Any], key: str = "chat_id", *, writing: bool = True) -> int:
        value = params.get(key)
        if value is None or value == "" or isinstance(value, bool):
            raise ApiError(400, f"Bad Request: {key} is empty")
        if isinstance(value, str):
            if value.startswith("@"):
                found = next((c.id for c in self._groups.values() if c.username and f"@{c.username}" == value), None)
                if found is None:
                    raise ApiError(400, CHAT_NOT_FOUND)
                value = found
            elif re.fullmatch(r"-?\d+", value):
                value = int(value)
        if not isinstance(value, int):
            raise ApiError(400, CHAT_NOT_FOUND)
        if value in self._kicked:
            raise ApiError(403, "Forbidden: bot was kicked from the supergroup chat", expected=True)
        if value in self._groups:
            return value
        if value not in self._users:
            raise ApiError(400, CHAT_NOT_FOUND)
        if writing and value in self._blocked:
            raise ApiError(403, BLOCKED, expected=True)
        return value

    def _formatted(self, text: Any, parse_mode: Any, entities: Any, *, caption: bool) -> FormattedText:
        """Parse a text or caption like Telegram and check its length."""
        what = "message caption" if caption else "message text"
        if text is None or text == "":
            if caption:
                return FormattedText("")
            raise ApiError(400, f"Bad Request: {what} is empty")
        if not isinstance(text, str):
            raise ApiError(400, f"Bad Request: {what} must be a string")
        mode = parse_mode.lower() if isinstance(parse_mode, str) else ""
        if mode == "html":
            try:
                formatted = parse_telegram_html_entities(text)
            except TelegramHtmlError as exc:
                raise ApiError(400, f"Bad Request: can't parse entities: {exc.reason}") from None
        elif mode in ("", "markdown", "markdownv2"):
            # Markdown is not parsed; its visible length is approximated by the raw text.
            if entities is not None and not (
                isinstance(entities, list) and all(isinstance(e, dict) and {"type", "offset", "length"} <= e.keys() for e in entities)
            ):
                raise ApiError(400, "Bad Request: can't parse entities JSON object")
            formatted = FormattedText(text, list(entities or []))
        else:
            raise ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode}")
        formatted = trim_formatted(formatted)
        if not formatted.text and not caption:
            raise ApiError(400, f"Bad Request: {what} is empty")
        if caption and len(formatted.text) > CAPTION_LIMIT:
            raise ApiError(400, "Bad Request: message caption is too long")
        if not caption and len(formatted.text) > TEXT_LIMIT:
            raise ApiError(400, "Bad Request: message is too long")
        return formatted

    def _check_markup(self, markup: Any, *, inline_only: bool = False) -> dict[str, Any] | None:
        """Check a reply_markup like Telegram; return it normalised (None for no keyboard)."""
        if markup is None:
            return None
        if isinstance(markup, str):
            try:
                markup = json.loads(markup)
            except ValueError:
                markup = None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise ApiError(400, "Bad Request: field \"inline_keyboard\" of the InlineKeyboardMarkup should be an Array of Arrays")
            buttons = [button for row in rows for button in row]
            if len(buttons) > INLINE_BUTTONS_LIMIT:
                raise ApiError(400, "Bad Request: reply markup is too long")
            for button in buttons:
                self._check_inline_button(button)
            rows = [row for row in rows if row]
            return {"inline_keyboard": rows} if rows else None
        if inline_only:
            raise ApiError(400, "Bad Request: inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise ApiError(400, "Bad Request: field \"keyboard\" of the ReplyKeyboardMarkup should be an Array of Arrays")
            for row in rows:
                for button in row:
                    label = button if isinstance(button, str) else button.get("text") if isinstance(button, dict) else None
                    if not isinstance(label, str) or not label.strip():
                        raise ApiError(400, "Bad Request: can't parse keyboard button: Text must be non-empty")
            return markup
        if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
            return markup
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")

    @staticmethod
    def _check_inline_button(button: Any) -> None:
        if not isinstance(button, dict):
            raise ApiError(400, "Bad Request: can't parse inline keyboard button: InlineKeyboardButton must be an Object")
        text = button.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: can't parse inline keyboard button: Text must be non-empty")
        actions = [key for key in _BUTTON_ACTIONS if key in button]
        if not actions:
            raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
        if len(actions) > 1:
            raise ApiError(
                400, f"Bad Request: can't parse inline keyboard button: exactly one of {', '.join(actions)} must be used"
            )
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        if "url" in button and not (isinstance(button["url"], str) and _BUTTON_URL.fullmatch(button["url"])):
            raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")

    def _bot_message(self, params: Mapping[str, Any], *, writing: bool = True) -> ChatMessage:
        """The message an edit, delete or stopPoll is about."""
        if params.get("inline_message_id") is not None:
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat_id = self._resolve_chat(params, writing=writing)
        message_id = params.get("message_id")
        message = self._by_key.get((chat_id, message_id)) if isinstance(message_id, int) else None
        if message is None or message.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not message.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _reply_to(self, params: Mapping[str, Any], chat_id: int) -> int | None:
        reply = params.get("reply_parameters")
        if not isinstance(reply, dict):
            return None
        message_id = reply.get("message_id")
        target = reply.get("chat_id", chat_id)
        if (target, message_id) not in self._by_key:
            if reply.get("allow_sending_without_reply"):
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return int(message_id)

    # ------------------------------------------------------------------ files

    def _store_file(
        self, content: bytes, name: str, kind: str, mime_type: str | None = None, *, save: bool
    ) -> _StoredFile:
        number = next(self._file_numbers)
        safe = _safe_filename(name, f"file{_DEFAULT_SUFFIX[kind]}")
        suffix = Path(safe).suffix.lower() or _DEFAULT_SUFFIX[kind]
        guessed = mimetypes.guess_type(safe)[0]
        stored = _StoredFile(
            file_id=f"{_FILE_ID_PREFIX[kind]}{number:08d}",
            unique_id=f"AQAD{number:06d}",
            kind=kind,
            name=name,
            mime_type=mime_type if mime_type and mime_type != "application/octet-stream" else guessed or mime_type,
            content=content,
            file_path=f"{kind}s/file_{number}{suffix}",
        )
        if save and self.files_dir is not None:
            stored.saved_path = self._save_to_disk(safe, content)
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _save_to_disk(self, safe_name: str, content: bytes) -> Path:
        assert self.files_dir is not None
        self.files_dir.mkdir(parents=True, exist_ok=True)
        stem, suffix = Path(safe_name).stem, Path(safe_name).suffix
        path, number = self.files_dir / safe_name, 2
        while path.exists():  # never overwrite: earlier runs and earlier sends stay readable
            path = self.files_dir / f"{stem}-{number}{suffix}"
            number += 1
        path.write_bytes(content)
        self.saved_files.append(path)
        return path

    def _input_file(self, value: Any, uploads: Mapping[str, _Upload], field_name: str, kind: str) -> _StoredFile:
        upload: _Upload | None = None
        if value is None and field_name in uploads:
            upload = uploads[field_name]
        elif isinstance(value, str) and value.startswith("attach://"):
            upload = uploads.get(value.removeprefix("attach://"))
            if upload is None:
                raise ApiError(400, f"Bad Request: file {value} not found in the request")
        elif isinstance(value, str) and value in self._files:
            return self._files[value]
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: failed to get HTTP URL content (the emulator is offline)")
        if upload is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        if not upload.content:
            raise ApiError(400, "Bad Request: file must be non-empty")
        if len(upload.content) > UPLOAD_LIMIT:
            raise ApiError(413, "Request Entity Too Large")
        default = "photo.jpg" if kind == "photo" else "document"
        return self._store_file(upload.content, upload.filename or default, kind, upload.content_type, save=True)

    # ------------------------------------------------------------------ the methods

    def _method_table(self) -> dict[str, tuple[str, Callable[[_Call], Any]]]:
        methods: dict[str, Callable[[_Call], Any]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook,
            "setWebhook": self._set_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "logOut": lambda call: True,
            "close": lambda call: True,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "sendPoll": self._send_poll,
            "stopPoll": self._stop_poll,
            "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "setMyDescription": self._setting("description", 512, "description"),
            "getMyDescription": self._getting("description", "description"),
            "setMyShortDescription": self._setting("short_description", 120, "short_description"),
            "getMyShortDescription": self._getting("short_description", "short_description"),
            "setMyName": self._setting("name", 64, "name"),
            "getMyName": self._getting("name", "name"),
            "getFile": self._get_file,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "sendMediaGroup": self._send_media_group,
            "getChat": self._get_chat,
        }
        return {name.lower(): (name, handler) for name, handler in methods.items()}

    def _get_me(self, call: _Call) -> dict[str, Any]:
        return User(
            id=self.bot_id, first_name=self.bot_name, is_bot=True, username=self.bot_username,
            can_join_groups=True, can_read_all_group_messages=not self.group_privacy,
            supports_inline_queries=False, can_connect_to_business=False, has_main_web_app=False,
        ).to_dict()

    async def _get_updates(self, call: _Call) -> list[dict[str, Any]]:
        params = call.params
        if self._webhook_url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
        offset = params.get("offset")
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) or None
        if isinstance(offset, int) and offset != 0:
            self._confirm(offset)
        # A newer getUpdates terminates an older one, like Telegram (only zombies overlap).
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_signal.notify()
        deadline = time.monotonic() + timeout
        while True:
            batch = self._deliverable(limit)
            remaining = deadline - time.monotonic()
            if batch or self._closing or remaining <= 0:
                break
            if generation != self._poll_generation:
                raise ApiError(
                    409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                    expected=True,
                )
            self._waiting_pollers += 1
            self._changed.notify()
            try:
                await self._updates_signal.wait(remaining)
            finally:
                self._waiting_pollers -= 1
        if batch:
            self._last_delivered_update_id = max(self._last_delivered_update_id, batch[-1].update_id)
        return [queued.payload for queued in batch]

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            while self._updates and self._updates[0].update_id < offset:
                self._updates.popleft()
        else:
            while len(self._updates) > -offset:
                self._updates.popleft()

    def _deliverable(self, limit: int) -> list[_QueuedUpdate]:
        allowed = self._allowed_updates
        batch: list[_QueuedUpdate] = []
        for queued in self._updates:
            wanted = queued.kind in allowed if allowed is not None else queued.kind not in _DEFAULT_EXCLUDED_UPDATES
            if wanted:
                batch.append(queued)
                if len(batch) >= limit:
                    break
        return batch

    def _delete_webhook(self, call: _Call) -> bool:
        self._webhook_url = ""
        self._webhook_secret = None
        if call.params.get("drop_pending_updates") is True:
            self._updates.clear()
        self._updates_signal.notify()  # the pusher sees the URL is gone and ends
        return True

    def _set_webhook(self, call: _Call) -> bool:
        params = call.params
        url = params.get("url")
        if not isinstance(url, str):
            raise ApiError(400, "Bad Request: url is empty")
        if url:
            self._check_webhook_url(url)
        secret = params.get("secret_token")
        if secret is not None and not (isinstance(secret, str) and _SECRET_TOKEN.fullmatch(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) or None
        if params.get("drop_pending_updates") is True:
            self._updates.clear()
        self._webhook_url = url
        self._webhook_secret = secret
        self._webhook_error = None
        if url and (self._webhook_task is None or self._webhook_task.done()):
            self._webhook_task = asyncio.create_task(self._push_updates(), name="emulator-webhook")
        self._updates_signal.notify()
        return True

    @staticmethod
    def _check_webhook_url(url: str) -> None:
        """Telegram's rule, HTTPS on ports 443, 80, 88 or 8443; plain HTTP on loopback for tests."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ApiError(400, "Bad Request: bad webhook: invalid URL") from None
        if parts.hostname in _LOOPBACK_HOSTS and parts.scheme in ("http", "https"):
            return
        if parts.scheme != "https" or not parts.hostname:
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        if port is not None and port not in WEBHOOK_PORTS:
            raise ApiError(400, "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")

    def _get_webhook_info(self, call: _Call) -> dict[str, Any]:
        error = self._webhook_error
        return WebhookInfo(
            url=self._webhook_url,
            has_custom_certificate=False,
            pending_update_count=len(self._updates),
            last_error_date=_timestamp(error[0]) if error else None,
            last_error_message=error[1] if error else None,
            allowed_updates=sorted(self._allowed_updates) if self._allowed_updates else None,
        ).to_dict()

    # ------------------------------------------------------------------ webhook delivery

    async def _push_updates(self) -> None:
        """POST updates to the webhook one at a time, in order; retry a refused one, like Telegram."""
        failures = 0
        while self._webhook_url:
            batch = self._deliverable(1)
            if not batch:
                await self._updates_signal.wait(1.0)
                continue
            queued = batch[0]
            status, error = await self._post_update(queued)
            self.webhook_attempts.append(WebhookAttempt(queued.update_id, status))
            if 200 <= status < 300:
                failures = 0
                if queued in self._updates:
                    self._updates.remove(queued)
                self._last_delivered_update_id = max(self._last_delivered_update_id, queued.update_id)
                self._touch()
                continue
            self._webhook_error = (int(time.time()), error)
            self._touch()
            await asyncio.sleep(self.webhook_retry_delays[min(failures, len(self.webhook_retry_delays) - 1)])
            failures += 1

    async def _post_update(self, queued: _QueuedUpdate) -> tuple[int, str]:
        if self._webhook_client is None:
            self._webhook_client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        headers = {SECRET_HEADER: self._webhook_secret} if self._webhook_secret else {}
        try:
            async with self._webhook_client.post(self._webhook_url, json=queued.payload, headers=headers) as response:
                await response.read()
                return response.status, f"Wrong response from the webhook: {response.status} {response.reason}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = "Connection refused" if isinstance(exc, aiohttp.ClientConnectorError) else type(exc).__name__
            return 0, reason

    async def _stop_webhook_pusher(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._webhook_client is not None:
            await self._webhook_client.close()
            self._webhook_client = None

    def _send_message(self, call: _Call) -> dict[str, Any]:
        params = call.params
        chat_id = self._resolve_chat(params)
        formatted = self._formatted(params.get("text"), params.get("parse_mode"), params.get("entities"), caption=False)
        markup = self._check_markup(params.get("reply_markup"))
        reply_to = self._reply_to(params, chat_id)
        message = self._new_bot_message(
            chat_id, text=params["text"], parse_mode=params.get("parse_mode"), plain_text=formatted.text,
            entities=formatted.entities, reply_markup=markup, reply_to_message_id=reply_to,
            protect_content=params.get("protect_content") is True,
        )
        return self._message_dict(message)

    def _edit_message_text(self, call: _Call) -> dict[str, Any]:
        params = call.params
        message = self._bot_message(params)
        if message.kind != "text":
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        formatted = self._formatted(params.get("text"), params.get("parse_mode"), params.get("entities"), caption=False)
        markup = self._check_markup(params.get("reply_markup"), inline_only=True)
        if (formatted.text, formatted.entities, markup) == (message.plain_text, message.entities, message.reply_markup):
            raise ApiError(400, NOT_MODIFIED, expected=True)
        message.text, message.parse_mode = params["text"], params.get("parse_mode")
        message.plain_text, message.entities, message.reply_markup = formatted.text, formatted.entities, markup
        return self._edited(message)

    def _edit_message_caption(self, call: _Call) -> dict[str, Any]:
        params = call.params
        message = self._bot_message(params)
        if message.kind not in ("photo", "document"):
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption = params.get("caption") or ""
        formatted = self._formatted(caption, params.get("parse_mode"), params.get("caption_entities"), caption=True)
        markup = self._check_markup(params.get("reply_markup"), inline_only=True)
        if (formatted.text, formatted.entities, markup) == (message.plain_text, message.entities, message.reply_markup):
            raise ApiError(400, NOT_MODIFIED, expected=True)
        message.text, message.parse_mode = caption, params.get("parse_mode")
        message.plain_text, message.entities, message.reply_markup = formatted.text, formatted.entities, markup
        return self._edited(message)

    def _edit_message_reply_markup(self, call: _Call) -> dict[str, Any]:
        message = self._bot_message(call.params)
        markup = self._check_markup(call.params.get("reply_markup"), inline_only=True)
        if markup == message.reply_markup:
            raise ApiError(400, NOT_MODIFIED, expected=True)
        message.reply_markup = markup
        return self._edited(message)

    def _edited(self, message: ChatMessage) -> dict[str, Any]:
        message.edited = True
        message.edit_count += 1
        self._event(message, "edited")
        return self._message_dict(message)

    def _delete_message(self, call: _Call) -> bool:
        chat_id = self._resolve_chat(call.params, writing=False)
        message_id = call.params.get("message_id")
        message = self._by_key.get((chat_id, message_id)) if isinstance(message_id, int) else None
        if message is None or message.deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        message.deleted = True
        if message.from_bot:
            self._event(message, "deleted")
        return True

    def _answer_callback_query(self, call: _Call) -> bool:
        query_id = str(call.params.get("callback_query_id", ""))
        if query_id not in self._open_queries:
            raise ApiError(400, QUERY_TOO_OLD)
        text = call.params.get("text")
        if text is not None and len(str(text)) > CALLBACK_ANSWER_LIMIT:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        del self._open_queries[query_id]
        self.answered_callbacks[query_id] = {
            "text": text,
            "show_alert": call.params.get("show_alert") is True,
            "url": call.params.get("url"),
        }
        return True

    def _send_media(self, call: _Call, kind: str) -> dict[str, Any]:
        params = call.params
        chat_id = self._resolve_chat(params)
        caption = params.get("caption")
        formatted = self._formatted(caption, params.get("parse_mode"), params.get("caption_entities"), caption=True)
        markup = self._check_markup(params.get("reply_markup"))
        stored = self._input_file(params.get(kind), call.uploads, kind, kind)
        message = self._new_bot_message(
            chat_id, kind=kind, text=caption or "", parse_mode=params.get("parse_mode"), plain_text=formatted.text,
            entities=formatted.entities, reply_markup=markup, file_id=stored.file_id,
            document_name=stored.name if kind == "document" else None, document_path=stored.saved_path,
            reply_to_message_id=self._reply_to(params, chat_id), protect_content=params.get("protect_content") is True,
        )
        return self._message_dict(message)

    def _send_document(self, call: _Call) -> dict[str, Any]:
        return self._send_media(call, "document")

    def _send_photo(self, call: _Call) -> dict[str, Any]:
        return self._send_media(call, "photo")

    def _send_media_group(self, call: _Call) -> list[dict[str, Any]]:
        params = call.params
        chat_id = self._resolve_chat(params)
        media = params.get("media")
        if not isinstance(media, list) or not all(isinstance(item, dict) for item in media):
            raise ApiError(400, "Bad Request: can't parse media JSON object")
        if not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media specified: must be between 2 and 10")
        kinds = {item.get("type") for item in media}
        if not kinds <= {"photo", "document"}:
            raise ApiError(400, f"Bad Request: unsupported media type {sorted(str(k) for k in kinds)} in the emulator")
        if "document" in kinds and len(kinds) > 1:
            raise ApiError(400, "Bad Request: document can't be mixed with other media types")
        prepared = []
        for item in media:
            formatted = self._formatted(item.get("caption"), item.get("parse_mode"), item.get("caption_entities"), caption=True)
            kind = str(item["type"])
            prepared.append((item, kind, formatted, self._input_file(item.get("media"), call.uploads, "media", kind)))
        group_id = str(next(self._media_groups))
        sent = []
        for item, kind, formatted, stored in prepared:
            message = self._new_bot_message(
                chat_id, kind=kind, text=item.get("caption") or "", parse_mode=item.get("parse_mode"),
                plain_text=formatted.text, entities=formatted.entities, file_id=stored.file_id,
                document_name=stored.name if kind == "document" else None, document_path=stored.saved_path,
                media_group_id=group_id, protect_content=params.get("protect_content") is True,
            )
            sent.append(self._message_dict(message))
        return sent

    def _send_poll(self, call: _Call) -> dict[str, Any]:
        params = call.params
        chat_id = self._resolve_chat(params)
        question = params.get("question")
        if not isinstance(question, str) or not question.strip():
            raise ApiError(400, "Bad Request: poll question must be non-empty")
        if len(question) > POLL_QUESTION_LIMIT:
            raise ApiError(400, "Bad Request: poll question length must not exceed 300")
        options = params.get("options")
        if not isinstance(options, list):
            raise ApiError(400, "Bad Request: can't parse options JSON object")
        texts = [option.get("text") if isinstance(option, dict) else option for option in options]
        if len(texts) < 2:
            raise ApiError(400, "Bad Request: poll must have at least 2 option")
        if len(texts) > 12:
            raise ApiError(400, "Bad Request: poll can't have more than 12 options")
        if any(not isinstance(text, str) or not text.strip() or len(text) > POLL_OPTION_LIMIT for text in texts):
            raise ApiError(400, "Bad Request: poll options length must be 1-100 characters")
        poll_type = params.get("type") or "regular"
        if poll_type not in ("regular", "quiz"):
            raise ApiError(400, "Bad Request: wrong poll type specified")
        multiple = params.get("allows_multiple_answers") is True
        correct = params.get("correct_option_ids")
        if correct is None and params.get("correct_option_id") is not None:  # the pre-9.6 parameter
            correct = [params["correct_option_id"]]
        poll: dict[str, Any] = {
            "id": str(next(self._poll_ids)),
            "question": question,
            "options": [
                {"persistent_id": str(index), "text": text, "voter_count": 0} for index, text in enumerate(texts)
            ],
            "total_voter_count": 0,
            "is_closed": params.get("is_closed") is True,
            "is_anonymous": params.get("is_anonymous") is not False,
            "type": poll_type,
            "allows_multiple_answers": multiple,
            "allows_revoting": params.get("allows_revoting", poll_type != "quiz") is True,
            "members_only": params.get("members_only") is True,
        }
        if poll_type == "quiz":
            if (
                not isinstance(correct, list)
                or not correct
                or (len(correct) > 1 and not multiple)
                or any(not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(texts) for i in correct)
            ):
                raise ApiError(400, "Bad Request: wrong correct option ID specified")
            poll["correct_option_ids"] = correct
        elif correct is not None:
            raise ApiError(400, "Bad Request: correct option ID can be specified only for quizzes")
        explanation = params.get("explanation")
        if explanation is not None:
            if poll_type != "quiz":
                raise ApiError(400, "Bad Request: explanation can be specified only for quizzes")
            formatted = self._formatted(explanation, params.get("explanation_parse_mode"), None, caption=True)
            if len(formatted.text) > POLL_EXPLANATION_LIMIT:
                raise ApiError(400, "Bad Request: explanation length must not exceed 200")
            if formatted.text:
                poll["explanation"] = formatted.text
        if isinstance(params.get("open_period"), int):
            poll["open_period"] = params["open_period"]
        markup = self._check_markup(params.get("reply_markup"))
        message = self._new_bot_message(
            chat_id, kind="poll", text=question, plain_text=question, poll=poll, reply_markup=markup,
            reply_to_message_id=self._reply_to(params, chat_id),
        )
        self._register_poll(message)
        return self._message_dict(message)

    def _stop_poll(self, call: _Call) -> dict[str, Any]:
        message = self._bot_message(call.params)
        if message.poll is None:
            raise ApiError(400, "Bad Request: message with poll to stop not found")
        if message.poll["is_closed"]:
            raise ApiError(400, "Bad Request: poll has already been closed")
        message.poll["is_closed"] = True
        if "reply_markup" in call.params:
            message.reply_markup = self._check_markup(call.params.get("reply_markup"), inline_only=True)
        self._edited(message)
        self._enqueue("poll", Poll.de_json(copy.deepcopy(message.poll), None))
        return Poll.de_json(copy.deepcopy(message.poll), None).to_dict()

    def _send_chat_action(self, call: _Call) -> bool:
        self._resolve_chat(call.params)
        if call.params.get("action") not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope = scope if isinstance(scope, dict) else {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    def _set_my_commands(self, call: _Call) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: too many commands specified")
        for command in commands:
            if not isinstance(command, dict) or not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            description = str(command.get("description", ""))
            if not description.strip() or len(description) > 256:
                raise ApiError(400, "Bad Request: command description must be 1-256 characters")
        self.commands[self._commands_key(call.params.get("scope"), call.params.get("language_code"))] = [
            BotCommand(str(c["command"]), str(c["description"])).to_dict() for c in commands
        ]
        return True

    def _get_my_commands(self, call: _Call) -> list[dict[str, Any]]:
        return self.commands.get(self._commands_key(call.params.get("scope"), call.params.get("language_code")), [])

    def _delete_my_commands(self, call: _Call) -> bool:
        self.commands.pop(self._commands_key(call.params.get("scope"), call.params.get("language_code")), None)
        return True

    def _set_chat_menu_button(self, call: _Call) -> bool:
        chat_id = call.params.get("chat_id")
        if chat_id is not None:
            self._resolve_chat(call.params, writing=False)
        button = call.params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in ("default", "commands", "web_app"):
            raise ApiError(400, "Bad Request: can't parse menu button JSON object")
        self.bot_settings[f"menu_button:{chat_id or ''}"] = button
        return True

    def _get_chat_menu_button(self, call: _Call) -> dict[str, Any]:
        chat_id = call.params.get("chat_id")
        return dict(self.bot_settings.get(f"menu_button:{chat_id or ''}", {"type": "commands"}))

    def _setting(self, key: str, limit: int, param: str) -> Callable[[_Call], bool]:
        def handler(call: _Call) -> bool:
            value = call.params.get(param) or ""
            if not isinstance(value, str) or len(value) > limit:
                raise ApiError(400, f"Bad Request: {param} must be at most {limit} characters")
            self.bot_settings[f"{key}:{call.params.get('language_code') or ''}"] = value
            return True

        return handler

    def _getting(self, key: str, field_name: str) -> Callable[[_Call], dict[str, Any]]:
        def handler(call: _Call) -> dict[str, Any]:
            language = call.params.get("language_code") or ""
            value = self.bot_settings.get(f"{key}:{language}", self.bot_settings.get(f"{key}:", ""))
            if key == "name" and not value:
                value = self.bot_name
            return {field_name: value}

        return handler

    def _get_file(self, call: _Call) -> dict[str, Any]:
        stored = self._files.get(str(call.params.get("file_id", "")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(stored.content) > DOWNLOAD_LIMIT:
            raise ApiError(400, "Bad Request: file is too big")
        return File(stored.file_id, stored.unique_id, file_size=len(stored.content), file_path=stored.file_path).to_dict()

    def _source_message(self, params: Mapping[str, Any], action: str) -> ChatMessage:
        from_chat = self._resolve_chat(params, "from_chat_id", writing=False)
        message_id = params.get("message_id")
        source = self._by_key.get((from_chat, message_id)) if isinstance(message_id, int) else None
        if source is None or source.deleted:
            raise ApiError(400, f"Bad Request: message to {action} not found")
        if source.protect_content:
            raise ApiError(400, "Bad Request: message has protected content and can't be forwarded")
        return source

    def _copy_message(self, call: _Call) -> dict[str, Any]:
        params = call.params
        chat_id = self._resolve_chat(params)
        source = self._source_message(params, "copy")
        text, parse_mode, formatted = source.text, source.parse_mode, FormattedText(source.plain_text, source.entities)
        if "caption" in params and source.kind in ("photo", "document"):
            text, parse_mode = params.get("caption") or "", params.get("parse_mode")
            formatted = self._formatted(text, parse_mode, params.get("caption_entities"), caption=True)
        markup = self._check_markup(params.get("reply_markup"))
        message = self._new_bot_message(
            chat_id, kind=source.kind, text=text, parse_mode=parse_mode, plain_text=formatted.text,
            entities=formatted.entities, reply_markup=markup, file_id=source.file_id,
            document_name=source.document_name, document_path=source.document_path,
            location=source.location, poll=self._copied_poll(source),
            reply_to_message_id=self._reply_to(params, chat_id),
        )
        self._register_poll(message)
        return MessageId(message.message_id).to_dict()

    def _forward_message(self, call: _Call) -> dict[str, Any]:
        params = call.params
        chat_id = self._resolve_chat(params)
        source = self._source_message(params, "forward")
        message = self._new_bot_message(
            chat_id, kind=source.kind, text=source.text, parse_mode=source.parse_mode, plain_text=source.plain_text,
            entities=source.entities, file_id=source.file_id, document_name=source.document_name,
            document_path=source.document_path, location=source.location, poll=self._copied_poll(source),
            forward_from_user_id=self.bot_id if source.from_bot else source.from_user_id,
        )
        self._register_poll(message)
        return self._message_dict(message)

    def _copied_poll(self, source: ChatMessage) -> dict[str, Any] | None:
        """A copied or forwarded poll is a new poll with its own id and no votes."""
        if source.poll is None:
            return None
        poll = copy.deepcopy(source.poll)
        poll.update(id=str(next(self._poll_ids)), total_voter_count=0)
        for option in poll["options"]:
            option["voter_count"] = 0
        return poll

    def _register_poll(self, message: ChatMessage) -> None:
        if message.poll is not None:
            self._polls[str(message.poll["id"])] = message

    def _get_chat(self, call: _Call) -> dict[str, Any]:
        chat = self._chat(self._resolve_chat(call.params, writing=False))
        return ChatFullInfo(
            id=chat.id, type=chat.type, title=chat.title, username=chat.username, first_name=chat.first_name,
            last_name=chat.last_name, accent_color_id=0, max_reaction_count=11,
            accepted_gift_types=AcceptedGiftTypes(False, False, False, False, False),
        ).to_dict()
