"""Sealed reply routes and keyed digests: round trip, tamper, wrong key, no plain hashes."""

from __future__ import annotations

import hashlib

import pytest

from db import crypto

SECRET = "unit-test-secret-key-0123456789-abcdefghij"
CHAT = 736251948


REPORT = crypto.report_binding(41)


def test_a_sealed_route_opens_to_the_same_chat() -> None:
    sealed = crypto.seal_route(SECRET, CHAT, binding=REPORT)
    assert crypto.open_route(SECRET, sealed, binding=REPORT) == CHAT
    assert crypto.route_opener(SECRET)(sealed, REPORT) == CHAT
    assert crypto.route_sealer(SECRET, CHAT)(41) != sealed  # a fresh nonce ...
    assert crypto.open_route(SECRET, crypto.route_sealer(SECRET, CHAT)(41), binding=REPORT) == CHAT  # ... same use
    assert len(sealed) < 100 and sealed.isascii()


def test_sealing_twice_gives_different_ciphertexts_without_the_id() -> None:
    first, second = crypto.seal_route(SECRET, CHAT, binding=REPORT), crypto.seal_route(SECRET, CHAT, binding=REPORT)
    assert first != second
    assert str(CHAT) not in first + second


def test_a_route_opens_only_for_what_it_was_bound_to() -> None:
    # Issue 17, item 9: whoever can write to the database cannot reuse a route elsewhere.
    sealed = crypto.seal_route(SECRET, CHAT, binding=REPORT)
    with pytest.raises(ValueError, match="for this use"):
        crypto.open_route(SECRET, sealed, binding=crypto.report_binding(42))  # copied onto another case
    message = crypto.reseal_for_message(SECRET, sealed, report_id=41, kind="case_reply", text="Kamu aman?")
    assert crypto.open_route(SECRET, message, binding=crypto.message_binding("case_reply", "Kamu aman?")) == CHAT
    for kind, text, media in (("case_reply", "Datang ke alamat ini", None), ("broadcast", "Kamu aman?", None),
                              ("case_reply", "Kamu aman?", "photo")):
        with pytest.raises(ValueError):
            crypto.open_route(SECRET, message, binding=crypto.message_binding(kind, text, media, "file"))
    with pytest.raises(ValueError):  # the outbox copy is no report route either, nor the other way round
        crypto.open_route(SECRET, message, binding=REPORT)
    with pytest.raises(ValueError):
        crypto.open_route(SECRET, sealed, binding=crypto.message_binding("case_reply", "Kamu aman?"))


def test_a_route_sealed_before_binding_opens_only_as_a_reports_own() -> None:
    legacy = crypto._LEGACY + crypto.seal_route(SECRET, CHAT, binding="x")[3:]  # the shape only
    old = _seal_unbound(CHAT)
    assert crypto.open_route(SECRET, old, binding=REPORT, legacy=True) == CHAT
    with pytest.raises(ValueError):
        crypto.open_route(SECRET, old, binding=REPORT)  # the outbox never takes an unbound route
    with pytest.raises(ValueError):
        crypto.open_route(SECRET, legacy, binding=REPORT, legacy=True)


def _seal_unbound(chat_id: int) -> str:
    """A route as sealed before issue 17 (associated data: the purpose label only)."""
    import base64
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    key = crypto.derive_key(SECRET, crypto.ROUTE_PURPOSE)
    sealed = AESGCM(key).encrypt(nonce, str(chat_id).encode(), crypto.ROUTE_PURPOSE.encode())
    return "v1." + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def test_a_changed_ciphertext_is_refused() -> None:
    sealed = crypto.seal_route(SECRET, CHAT, binding=REPORT)
    body = sealed[3:]
    flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    with pytest.raises(ValueError, match="does not open"):
        crypto.open_route(SECRET, "v2." + flipped, binding=REPORT)


def test_another_key_cannot_open_a_route() -> None:
    sealed = crypto.seal_route(SECRET, CHAT, binding=REPORT)
    with pytest.raises(ValueError):
        crypto.open_route(SECRET + "-other", sealed, binding=REPORT)


@pytest.mark.parametrize("garbage", ["", "v1.", "v2.", "v3.abc", "v2.!!!!", "v2.AAAA"])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(ValueError):
        crypto.open_route(SECRET, garbage, binding=REPORT, legacy=True)


def test_keys_differ_by_purpose_and_need_a_secret() -> None:
    assert crypto.derive_key(SECRET, "a") != crypto.derive_key(SECRET, "b")
    assert len(crypto.derive_key(SECRET, "a")) == 32
    with pytest.raises(ValueError):
        crypto.derive_key("", "a")


def test_keyed_digest_is_no_plain_hash_and_depends_on_the_secret() -> None:
    digest = crypto.keyed_digest(SECRET, crypto.RATE_PURPOSE, CHAT, "2026112310")
    plain = {hashlib.sha256(str(CHAT).encode()).hexdigest(), hashlib.sha256(f"{CHAT}2026112310".encode()).hexdigest()}
    assert digest not in plain
    assert digest == crypto.keyed_digest(SECRET, crypto.RATE_PURPOSE, CHAT, "2026112310")
    assert digest != crypto.keyed_digest(SECRET + "x", crypto.RATE_PURPOSE, CHAT, "2026112310")
    assert digest != crypto.keyed_digest(SECRET, crypto.RATE_PURPOSE, CHAT, "2026112311")
