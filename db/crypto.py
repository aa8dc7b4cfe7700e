"""Keys for anonymous reports, all derived from SECRET_KEY: sealed reply routes and keyed HMACs.

Pure functions, no I/O. Each use of the secret gets its own key through HKDF with a purpose
label, so a key that leaks for one purpose (say, rate-limit keys) reveals nothing of another.
The reply route (a reporter's chat id) is sealed with AES-GCM: authenticated encryption, so a
changed or forged ciphertext is refused instead of opening to some other chat.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ROUTE_PURPOSE = "report-reply-route/v1"
RATE_PURPOSE = "report-rate-limit/v1"
_VERSION = "v1."
_NONCE_BYTES = 12


def derive_key(secret: str, purpose: str) -> bytes:
    """Derive a 32-byte key for one purpose from the deployment's SECRET_KEY (HKDF-SHA256)."""
    if not secret:
        raise ValueError("SECRET_KEY is empty")
    return _derive(secret, purpose)


@lru_cache(maxsize=16)
def _derive(secret: str, purpose: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"forum-anak/{purpose}".encode())
    return hkdf.derive(secret.encode())


def seal_route(secret: str, chat_id: int) -> str:
    """Encrypt a chat id with a fresh random nonce; the result is ASCII and under 100 characters."""
    key = derive_key(secret, ROUTE_PURPOSE)
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, str(int(chat_id)).encode(), ROUTE_PURPOSE.encode())
    return _VERSION + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def open_route(secret: str, sealed: str) -> int:
    """Decrypt a sealed route back to the chat id; raise ValueError if it is not ours or was changed."""
    if not sealed.startswith(_VERSION):
        raise ValueError("unknown route format")
    body = sealed[len(_VERSION):]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, TypeError):
        raise ValueError("route is not valid base64") from None
    if len(raw) <= _NONCE_BYTES:
        raise ValueError("route too short")
    key = derive_key(secret, ROUTE_PURPOSE)
    try:
        plain = AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], ROUTE_PURPOSE.encode())
    except InvalidTag:
        raise ValueError("route does not open with this key") from None
    return int(plain.decode())


def route_opener(secret: str) -> Callable[[str], int]:
    """Return a function that opens sealed routes with this secret (for the delivery engine)."""

    def opener(sealed: str) -> int:
        return open_route(secret, sealed)

    return opener


def keyed_digest(secret: str, purpose: str, *parts: object) -> str:
    """Return HMAC-SHA256 of the parts under a purpose key: a rate-limit key that is no plain hash."""
    key = derive_key(secret, purpose)
    message = "\x1f".join(str(part) for part in parts).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
