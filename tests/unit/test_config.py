"""Settings fail fast with one line naming the setting and what is expected."""

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

GOOD_TOKEN = "123456:ABCdefGHIjklMNOpqr"


def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str):  # type: ignore[no-untyped-def]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_settings(env_file=tmp_path / "missing.env")


def test_defaults_follow_the_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(tmp_path, monkeypatch)
    assert settings.DATABASE_URL == "sqlite:///data/forum_anak.db"
    assert settings.TELEGRAM_API_BASE_URL == "https://api.telegram.org/bot"
    assert settings.base_file_url == "https://api.telegram.org/file/bot"
    assert settings.TIMEZONE == "Asia/Makassar"
    assert settings.BROADCAST_RATE == 30
    quiet = settings.quiet_hours
    assert quiet is not None and str(quiet.start) == "21:00:00" and str(quiet.end) == "06:00:00"


def test_env_file_is_read(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(f"TELEGRAM_BOT_TOKEN={GOOD_TOKEN}\nADMIN_IDS=7, 8\nSTAFF_CHAT_ID=-100123\n")
    settings = load_settings(env_file=env)
    assert settings.TELEGRAM_BOT_TOKEN == GOOD_TOKEN
    assert settings.ADMIN_IDS == (7, 8)
    assert settings.STAFF_CHAT_ID == -100123


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TIMEZONE", "Mars/Olympus", "TIMEZONE: expected an IANA time zone"),
        ("DEFAULT_LOCALE", "fr", "DEFAULT_LOCALE:"),
        ("QUIET_HOURS", "9pm-6am", "QUIET_HOURS: expected HH:MM-HH:MM"),
        ("ADMIN_IDS", "12,abc", "ADMIN_IDS: expected comma-separated numeric"),
        ("BROADCAST_RATE", "31", "BROADCAST_RATE: expected at most 30"),
        ("BROADCAST_RATE", "zero", "BROADCAST_RATE:"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL: expected sqlite"),
        ("TELEGRAM_API_BASE_URL", "api.telegram.org", "TELEGRAM_API_BASE_URL: expected an http"),
        ("TELEGRAM_BOT_TOKEN", "not-a-token", "TELEGRAM_BOT_TOKEN: expected a token"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT:"),
        ("RETENTION_INACTIVE_DAYS", "30", "RETENTION_INACTIVE_DAYS: Input should be greater than or equal to 90"),
        ("RETENTION_CLOSED_CASE_DAYS", "7", "RETENTION_CLOSED_CASE_DAYS: Input should be greater than or equal to 30"),
        ("RETENTION_NOTICE_DAYS", "soon", "RETENTION_NOTICE_DAYS:"),
    ],
)
def test_wrong_value_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, monkeypatch, **{name: value})
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_secret_is_never_echoed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, monkeypatch, SECRET_KEY="short-secret-value")
    assert "short-secret-value" not in str(caught.value)
    assert str(caught.value).startswith("SECRET_KEY: expected at least 32 characters")


def test_paid_broadcast_allows_up_to_1000(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(tmp_path, monkeypatch, PAID_BROADCAST="true", BROADCAST_RATE="1000")
    assert settings.BROADCAST_RATE == 1000


def test_quiet_hours_across_midnight(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import time

    quiet = load(tmp_path, monkeypatch).quiet_hours
    assert quiet is not None
    assert quiet.contains(time(22, 0)) and quiet.contains(time(5, 59))
    assert not quiet.contains(time(6, 0)) and not quiet.contains(time(20, 59))


def test_retention_defaults_and_the_notice_must_come_before_the_erasure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load(tmp_path, monkeypatch)
    assert (settings.RETENTION_INACTIVE_DAYS, settings.RETENTION_NOTICE_DAYS, settings.RETENTION_CLOSED_CASE_DAYS) == (
        730, 30, 365)
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, monkeypatch, RETENTION_INACTIVE_DAYS="90", RETENTION_NOTICE_DAYS="90")
    assert str(caught.value) == "RETENTION_NOTICE_DAYS: expected fewer days than RETENTION_INACTIVE_DAYS (90)"


def test_evidence_is_kept_30_days_after_closing_and_never_longer_than_the_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load(tmp_path, monkeypatch).RETENTION_EVIDENCE_DAYS == 30
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, monkeypatch, RETENTION_EVIDENCE_DAYS="400")
    assert str(caught.value) == "RETENTION_EVIDENCE_DAYS: expected at most RETENTION_CLOSED_CASE_DAYS (365)"
