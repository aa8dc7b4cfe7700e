"""Settings of SPEC §2, read from the environment and `.env`, validated at start-up."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
_SECRETS = frozenset({"TELEGRAM_BOT_TOKEN", "SECRET_KEY"})


class ConfigError(Exception):
    """A setting has a wrong value; the message is one line naming it."""


@dataclass(frozen=True)
class QuietHours:
    """A daily window, possibly across midnight, in the configured time zone."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        """Tell whether a local wall-clock time falls inside the window."""
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


class Settings(BaseSettings):
    """Every setting of the deployment; build it with `load_settings()`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=True
    )

    TELEGRAM_BOT_TOKEN: str | None = None
    TELEGRAM_API_BASE_URL: str = DEFAULT_API_BASE_URL
    DATABASE_URL: str = "sqlite:///data/forum_anak.db"
    SECRET_KEY: str | None = None
    ADMIN_IDS: Annotated[tuple[int, ...], NoDecode] = ()
    STAFF_CHAT_ID: int | None = None
    TIMEZONE: str = "Asia/Makassar"
    DEFAULT_LOCALE: Literal["id", "en"] = "id"
    BROADCAST_RATE: int = Field(default=30, ge=1, le=1000)
    PAID_BROADCAST: bool = False
    QUIET_HOURS: str = "21:00-06:00"
    LOG_FORMAT: Literal["console", "json"] = "console"
    # Data retention (UU 27/2022 Art. 16 and 43-44; see README "Security and data protection").
    RETENTION_INACTIVE_DAYS: int = Field(default=730, ge=90, le=3650)
    RETENTION_NOTICE_DAYS: int = Field(default=30, ge=1, le=90)
    RETENTION_CLOSED_CASE_DAYS: int = Field(default=365, ge=30, le=3650)
    RETENTION_EVIDENCE_DAYS: int = Field(default=30, ge=1, le=3650)

    @field_validator("TELEGRAM_BOT_TOKEN", "SECRET_KEY", "STAFF_CHAT_ID", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("TELEGRAM_BOT_TOKEN")
    @classmethod
    def _token_shape(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d+:[A-Za-z0-9_-]{10,}", value):
            raise ValueError("expected a token from @BotFather like 123456:ABC-def...")
        return value

    @field_validator("TELEGRAM_API_BASE_URL")
    @classmethod
    def _url_shape(cls, value: str) -> str:
        if not re.match(r"https?://", value):
            raise ValueError("expected an http:// or https:// URL ending before the token")
        return value

    @field_validator("DATABASE_URL")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if not re.match(r"(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError("expected sqlite:///path or postgresql+psycopg://user@host/db")
        return value

    @field_validator("SECRET_KEY")
    @classmethod
    def _secret_len(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 32:
            raise ValueError("expected at least 32 characters (run `forum-anak init`)")
        return value

    @field_validator("ADMIN_IDS", mode="before")
    @classmethod
    def _admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            if not all(re.fullmatch(r"\d+", p) for p in parts):
                raise ValueError("expected comma-separated numeric Telegram user ids")
            return tuple(int(p) for p in parts)
        return value

    @field_validator("TIMEZONE")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected an IANA time zone such as Asia/Makassar") from None
        return value

    @field_validator("QUIET_HOURS")
    @classmethod
    def _quiet(cls, value: str) -> str:
        if value.strip().lower() in ("", "off", "none"):
            return ""
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError("expected HH:MM-HH:MM such as 21:00-06:00, or 'off'")
        return value.strip()

    @model_validator(mode="after")
    def _rate_ceiling(self) -> Settings:
        if not self.PAID_BROADCAST and self.BROADCAST_RATE > 30:
            raise ValueError(
                "BROADCAST_RATE: expected at most 30 without PAID_BROADCAST=true (Telegram's limit)"
            )
        return self

    @model_validator(mode="after")
    def _notice_before_erasure(self) -> Settings:
        if self.RETENTION_NOTICE_DAYS >= self.RETENTION_INACTIVE_DAYS:
            raise ValueError(
                "RETENTION_NOTICE_DAYS: expected fewer days than RETENTION_INACTIVE_DAYS "
                f"({self.RETENTION_INACTIVE_DAYS})"
            )
        if self.RETENTION_EVIDENCE_DAYS > self.RETENTION_CLOSED_CASE_DAYS:
            raise ValueError(
                "RETENTION_EVIDENCE_DAYS: expected at most RETENTION_CLOSED_CASE_DAYS "
                f"({self.RETENTION_CLOSED_CASE_DAYS})"
            )
        return self

    @property
    def tz(self) -> ZoneInfo:
        """The zone all times are shown and scheduled in."""
        return ZoneInfo(self.TIMEZONE)

    @property
    def quiet_hours(self) -> QuietHours | None:
        """The parsed quiet window, or None when switched off."""
        if not self.QUIET_HOURS:
            return None
        start, end = self.QUIET_HOURS.split("-")
        return QuietHours(time.fromisoformat(start), time.fromisoformat(end))

    @property
    def base_file_url(self) -> str:
        """The file-download root matching TELEGRAM_API_BASE_URL."""
        base = self.TELEGRAM_API_BASE_URL
        if base.endswith("/bot"):
            return base[: -len("/bot")] + "/file/bot"
        return base.rstrip("/") + "/file/bot"

    @property
    def sqlite_path(self) -> Path | None:
        """The database file when DATABASE_URL is SQLite, else None."""
        match = re.match(r"sqlite(\+\w+)?:///(.*)", self.DATABASE_URL)
        if not match or match.group(2) in ("", ":memory:"):
            return None
        return Path(match.group(2))


def load_settings(env_file: str | Path | None = ".env", **overrides: object) -> Settings:
    """Read and validate the settings; raise ConfigError with one line on a wrong value."""
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        if message.startswith(f"{name}:") or not name:
            raise ConfigError(message) from None
        if name in _SECRETS:  # never echo a secret into a log or terminal
            raise ConfigError(f"{name}: {message}") from None
        raise ConfigError(f"{name}: {message} (got {error.get('input')!r})") from None
