"""python-telegram-bot's request layer on aiohttp: the same Bot API calls for less CPU.

PTB ships one backend, HTTPX. Measured under the load benchmark (`benchmarks/updates.py`),
HTTPX with its httpcore/anyio/h11 stack was the largest single cost of an update: every
answer, edit and getUpdates passes through it. PTB documents `BaseRequest` for other networking
backends; this one is that interface on the aiohttp client the delivery engine already uses
(`bot/bulk_sender.py`). PTB keeps doing everything above the wire: building the parameters,
reading `ok`/`error_code`, and raising its own exceptions (`BadRequest`, `Forbidden`,
`RetryAfter`, ...) from the status and the answer; here only timeouts and connection failures
are mapped, to `TimedOut` and `NetworkError` like HTTPXRequest does.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
from telegram._utils.defaultvalue import DefaultValue  # what BaseRequest's signature uses
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

JSON_HEADERS = {"Content-Type": "application/json"}


class AiohttpRequest(BaseRequest):
    """A pooled aiohttp session speaking the Bot API for python-telegram-bot."""

    __slots__ = ("_connections", "_connect_timeout", "_last_start", "_media_write_timeout", "_read_timeout",
                 "_session", "_spacing")

    def __init__(
        self,
        *,
        connections: int = 256,
        read_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        media_write_timeout: float | None = 20.0,
        spacing: float = 0.0,
    ) -> None:
        """`spacing`: the least time in seconds from the start of one request to the next."""
        self._connections = connections
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._media_write_timeout = media_write_timeout
        self._spacing = spacing
        self._last_start = float("-inf")
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout in seconds (PTB adds the long-poll timeout for getUpdates)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (again after a shutdown)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request; return the HTTP status and the raw answer."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        if self._spacing:
            loop = asyncio.get_running_loop()
            if (wait := self._last_start + self._spacing - loop.time()) > 0:
                await asyncio.sleep(wait)
            self._last_start = loop.time()
        body: aiohttp.FormData | bytes | None = None
        headers = None
        if request_data is not None and request_data.contains_files:
            body = aiohttp.FormData(request_data.json_parameters)
            for name, (filename, content, mime_type) in request_data.multipart_data.items():
                body.add_field(name, content, filename=filename, content_type=mime_type)
        elif request_data is not None and request_data.parameters:
            # One JSON body, which the Bot API accepts, instead of a form whose fields PTB
            # JSON-encodes one by one and aiohttp then URL-encodes: a tenth of a request's CPU.
            body, headers = json.dumps(request_data.parameters).encode(), JSON_HEADERS
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        if isinstance(body, aiohttp.FormData) and isinstance(write_timeout, DefaultValue) and read is not None and self._media_write_timeout:
            read = max(read, self._media_write_timeout)  # aiohttp has no write timeout: an upload waits longer
        connect = self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)
        try:
            async with self._session.request(method, url, data=body, headers=headers, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
