"""Keys for anonymous reports, all derived from SECRET_KEY: sealed reply routes and keyed HMACs.

Pure functions, no I/O. Each use of the secret gets its own key through HKDF with a purpose
label, so a key that leaks for one purpose (say, rate-limit keys) reveals nothing of another.
The reply route (a reporter's chat id) is sealed with AES-GCM: authenticated encryption, so a
changed or forged ciphertext is refused instead of opening to some other chat.

A route is also *bound* (in the associated data) to what it may be used for, so that whoever can
write to the database but has no key cannot reuse it: the report's route opens only for that
report (`report_binding`), and the copy in an outbox row only for that exact message
(`message_binding`: its kind, text and media). Copied onto another case, or into a delivery with
other words or with buttons, it does not open.
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

ROUTE_PURPOSE = "report-reply-route/v1"  # the key's label (unchanged: the key is the same)
RATE_PURPOSE = "report-rate-limit/v1"
CODE_PURPOSE = "report-code/v1"
_LEGACY = "v1."  # associated data: the purpose label only (routes sealed before issue 17)
_VERSION = "v2."  # associated data: the purpose label and what the route is bound to
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


def report_code_hash(secret: str, code: str) -> str:
    """The stored form of a report's reference code: a keyed HMAC-SHA256 (64 hex characters).

    A code has 40 bits: an unkeyed hash would be reversed from a copied database in hours. Keyed,
    the copy alone opens nothing, and the code itself is shown to the reporter only.
    """
    return hmac.new(derive_key(secret, CODE_PURPOSE), code.encode(), hashlib.sha256).hexdigest()


def report_binding(report_id: int) -> str:
    """What a report's own reply route is bound to: that report."""
    return f"report:{int(report_id)}"


def message_binding(kind: str, text: str, media_kind: str | None = None, media_file_id: str | None = None) -> str:
    """What an outbox copy of a route is bound to: exactly this message (kind, text, media)."""
    digest = hashlib.sha256("\x1f".join((kind, text, media_kind or "", media_file_id or "")).encode()).hexdigest()
    return f"message:{digest}"


def _associated(binding: str) -> bytes:
    if not binding:
        raise ValueError("a route must be bound to something")
    return f"{ROUTE_PURPOSE}\x1f{binding}".encode()


def seal_route(secret: str, chat_id: int, *, binding: str) -> str:
    """Encrypt a chat id for one use (`binding`) with a fresh nonce; ASCII, under 100 characters."""
    key = derive_key(secret, ROUTE_PURPOSE)
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, str(int(chat_id)).encode(), _associated(binding))
    return _VERSION + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def open_route(secret: str, sealed: str, *, binding: str, legacy: bool = False) -> int:
    """Decrypt a route sealed for `binding`; raise ValueError if it is not ours, was changed, or
    was sealed for another use.

    `legacy` also accepts a route sealed before routes were bound (only a report's own route,
    opened to re-seal it for one message: handlers/case_notes.py).
    """
    if sealed.startswith(_VERSION):
        body, associated = sealed[len(_VERSION):], _associated(binding)
    elif legacy and sealed.startswith(_LEGACY):
        body, associated = sealed[len(_LEGACY):], ROUTE_PURPOSE.encode()
    else:
        raise ValueError("unknown route format")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, TypeError):
        raise ValueError("route is not valid base64") from None
    if len(raw) <= _NONCE_BYTES:
        raise ValueError("route too short")
    key = derive_key(secret, ROUTE_PURPOSE)
    try:
        plain = AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], associated)
    except InvalidTag:
        raise ValueError("route does not open with this key for this use") from None
    return int(plain.decode())


def route_sealer(secret: str, chat_id: int) -> Callable[[int], str]:
    """Return what seals this chat for a report once its id is known (db/reports.submit_report).

    The domain never sees the chat id: it only calls this with the new report's id.
    """

    def seal(report_id: int) -> str:
        return seal_route(secret, chat_id, binding=report_binding(report_id))

    return seal


def reseal_for_message(
    secret: str, report_route: str, *, report_id: int, kind: str, text: str,
    media_kind: str | None = None, media_file_id: str | None = None,
) -> str:
    """Open a report's route (in memory only) and seal it again for one outbox message."""
    chat_id = open_route(secret, report_route, binding=report_binding(report_id), legacy=True)
    return seal_route(secret, chat_id, binding=message_binding(kind, text, media_kind, media_file_id))


def route_opener(secret: str) -> Callable[[str, str], int]:
    """Return a function that opens sealed routes with this secret (for the delivery engine)."""

    def opener(sealed: str, binding: str) -> int:
        return open_route(secret, sealed, binding=binding)

    return opener


def keyed_digest(secret: str, purpose: str, *parts: object) -> str:
    """Return HMAC-SHA256 of the parts under a purpose key: a rate-limit key that is no plain hash."""
    key = derive_key(secret, purpose)
    message = "\x1f".join(str(part) for part in parts).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
