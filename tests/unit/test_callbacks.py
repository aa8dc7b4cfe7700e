"""The callback codec refuses what Telegram or an attacker could send."""

import pytest

from handlers.callbacks import BadCallback, decode, encode


def test_round_trip() -> None:
    press = decode(encode("ev", "signup", 42))
    assert (press.feature, press.action, press.args) == ("ev", "signup", ("42",))
    assert press.int_arg() == 42


def test_encode_refuses_over_64_bytes() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        encode("ev", "signup", "x" * 30, "y" * 30)


def test_encode_refuses_separator_in_argument() -> None:
    with pytest.raises(ValueError):
        encode("ev", "signup", "a:b")


@pytest.mark.parametrize("data", [None, "", "noseparator", "ev::1", "a:b:<script>", "é:x", "x" * 65])
def test_decode_refuses_forged_data(data: str | None) -> None:
    with pytest.raises(BadCallback):
        decode(data)


@pytest.mark.parametrize("arg", ["-1", "1e3", "99999999999999", "abc"])
def test_int_arg_refuses_non_numbers(arg: str) -> None:
    with pytest.raises(BadCallback):
        decode(f"ev:signup:{arg}").int_arg()
