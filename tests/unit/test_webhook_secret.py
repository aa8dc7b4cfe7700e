"""The webhook's secret token: derived from SECRET_KEY, shared by every process, in Telegram's alphabet."""

import re

from bot.webhook import webhook_path, webhook_secret_token
from db.crypto import RATE_PURPOSE, keyed_digest

KEY = "a-deployment-secret-key-of-enough-length-0123"


def test_every_process_derives_the_same_token_in_telegrams_alphabet() -> None:
    token = webhook_secret_token(KEY)
    assert token == webhook_secret_token(str(KEY))
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", token)


def test_the_token_reveals_neither_the_key_nor_another_purposes_key() -> None:
    token = webhook_secret_token(KEY)
    assert token != webhook_secret_token(KEY + "x")
    assert KEY not in token and token != keyed_digest(KEY, RATE_PURPOSE, "x-telegram-bot-api-secret-token")


def test_the_server_listens_on_the_path_of_the_public_url() -> None:
    assert webhook_path("https://bot.example.org/telegram/hook") == "/telegram/hook"
    assert webhook_path("https://bot.example.org") == "/"
