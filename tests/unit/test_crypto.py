"""Sealed reply routes and keyed digests: round trip, tamper, wrong key, no plain hashes."""

from __future__ import annotations

import hashlib

import pytest

from db import crypto

SECRET = "unit-test-secret-key-0123456789-abcdefghij"
CHAT = 736251948


def test_a_sealed_route_opens_to_the_same_chat() -> None:
    sealed = crypto.seal_route(SECRET, CHAT)
    assert crypto.open_route(SECRET, sealed) == CHAT
    assert crypto.route_opener(SECRET)(sealed) == CHAT
    assert len(sealed) < 100 and sealed.isascii()


def test_sealing_twice_gives_different_ciphertexts_without_the_id() -> None:
    first, second = crypto.seal_route(SECRET, CHAT), crypto.seal_route(SECRET, CHAT)
    assert first != second
    assert str(CHAT) not in first + second


def test_a_changed_ciphertext_is_refused() -> None:
    sealed = crypto.seal_route(SECRET, CHAT)
    body = sealed[3:]
    flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    with pytest.raises(ValueError, match="does not open"):
        crypto.open_route(SECRET, "v1." + flipped)


def test_another_key_cannot_open_a_route() -> None:
    sealed = crypto.seal_route(SECRET, CHAT)
    with pytest.raises(ValueError):
        crypto.open_route(SECRET + "-other", sealed)


@pytest.mark.parametrize("garbage", ["", "v1.", "v2.abc", "v1.!!!!", "v1.AAAA"])
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(ValueError):
        crypto.open_route(SECRET, garbage)


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
