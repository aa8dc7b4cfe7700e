"""The command line: one clear line and a non-zero exit on every error."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.databases import sqlite_url


def forum_anak(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the installed console script from an empty directory with a clean environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SECRET_", "DATABASE_"))}
    clean.update(env)
    clean.setdefault("DATABASE_URL", sqlite_url(tmp_path))
    exe = Path(sys.executable).parent / "forum-anak"
    return subprocess.run([str(exe), *args], cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=120)


def test_run_without_token_points_to_the_sandbox(tmp_path: Path) -> None:
    result = forum_anak(tmp_path, "run")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "forum-anak: TELEGRAM_BOT_TOKEN is not set; get one from @BotFather, or try the bot "
        "without one with `forum-anak sandbox`"
    ]


def test_wrong_setting_is_one_line(tmp_path: Path) -> None:
    result = forum_anak(tmp_path, "db", "upgrade", TIMEZONE="Nowhere/City")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("forum-anak: TIMEZONE: expected an IANA time zone")
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = forum_anak(tmp_path, "db", "upgrade", DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_content_check_from_any_directory(tmp_path: Path) -> None:
    result = forum_anak(tmp_path, "content", "check")
    assert result.returncode == 0, result.stderr
    assert "content OK" in result.stdout and "34 kelurahan" in result.stdout


def test_init_writes_a_secret_once_and_migrates(tmp_path: Path) -> None:
    result = forum_anak(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    env = (tmp_path / ".env").read_text()
    assert env.startswith("SECRET_KEY=") and len(env.strip()) > 50
    again = forum_anak(tmp_path, "init")
    assert "already set" in again.stdout
    assert (tmp_path / ".env").read_text() == env


def test_admin_add_and_invite(tmp_path: Path) -> None:
    result = forum_anak(tmp_path, "admin", "add", "4242")
    assert result.returncode == 0 and "4242 is now an admin" in result.stdout
    result = forum_anak(tmp_path, "admin", "add", "4242")
    assert "already an admin" in result.stdout
    result = forum_anak(tmp_path, "admin", "invite", "staff")
    assert result.returncode == 0 and "/gabung" in result.stdout


@pytest.mark.parametrize("args", [["admin", "invite", "admin"], ["admin", "add", "abc"], ["nosuch"]])
def test_usage_errors_exit_non_zero(tmp_path: Path, args: list[str]) -> None:
    result = forum_anak(tmp_path, *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
