"""The lean sender maps Telegram's answers to the exceptions the delivery engine handles."""

import json
from datetime import timedelta

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.bulk_sender import BulkSender, raise_for_answer
from db.outbox import Outgoing


def answer(**body: object) -> bytes:
    return json.dumps(body).encode()


def test_ok_returns() -> None:
    raise_for_answer(200, answer(ok=True, result={}))


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (429, answer(ok=False, error_code=429, description="Too Many Requests", parameters={"retry_after": 7}), RetryAfter),
        (403, answer(ok=False, error_code=403, description="Forbidden: bot was blocked by the user"), Forbidden),
        (400, answer(ok=False, error_code=400, description="Bad Request: chat not found"), BadRequest),
        (502, answer(ok=False, error_code=502, description="Bad Gateway"), NetworkError),
        (502, b"<html>proxy error</html>", NetworkError),
    ],
)
def test_refusals_become_ptb_exceptions(status: int, body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        raise_for_answer(status, body)
    if isinstance(caught.value, RetryAfter):
        assert caught.value.retry_after == timedelta(seconds=7)


def test_payload_matches_the_bot_api() -> None:
    sender = BulkSender(base_url="http://x/bot", token="1:T", paid=True)
    item = Outgoing(1, "broadcast", 5, None, "<b>hi</b>", {"inline_keyboard": []}, "photo", "file-1", 1)
    method, payload = sender._payload(item, 5)
    assert method == "sendPhoto"
    assert payload == {"chat_id": 5, "parse_mode": "HTML", "photo": "file-1", "caption": "<b>hi</b>",
                       "reply_markup": {"inline_keyboard": []}, "allow_paid_broadcast": True}
    text_item = Outgoing(2, "broadcast", 5, None, "hello", None, None, None, 1)
    assert sender._payload(text_item, 5) == ("sendMessage", {"chat_id": 5, "parse_mode": "HTML", "text": "hello",
                                                              "allow_paid_broadcast": True})
