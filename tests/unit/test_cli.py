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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--webhook-url", "ftp://bot.example.org/hook"], "forum-anak: --webhook-url: expected an https:// URL"),
        (["--webhook-url", "bot.example.org/hook"], "forum-anak: --webhook-url: expected an https:// URL"),
        (["--webhook-url", "https://bot.example.org/hook", "--port", "70000"], "forum-anak: --port: expected a port from 1 to 65535 (got 70000)"),
        (["--webhook-url", "https://bot.example.org/hook", "--port", "0"], "forum-anak: --port: expected a port from 1 to 65535 (got 0)"),
        (["--health-port", "-1"], "forum-anak: --health-port: expected a port from 1 to 65535 (got -1)"),
        (["--port", "8080"], "forum-anak: --port is for webhook mode"),
        (["--webhook-url", "https://bot.example.org/hook", "--health-port", "9000"], "forum-anak: --health-port is for polling"),
        (["--peers", "http://10.0.0.1:8081", "--self-url", "http://10.0.0.1:8081"], "forum-anak: --peers and --self-url are for webhook mode"),
        (["--webhook-url", "https://bot.example.org/hook", "--peers", "http://a:1,http://b:1"], "forum-anak: --peers and --self-url go together"),
        (["--webhook-url", "https://bot.example.org/hook", "--peers", "http://a:1,b:1", "--self-url", "http://a:1"], "forum-anak: --peers: expected http:// URLs"),
        (["--webhook-url", "https://bot.example.org/hook", "--peers", "http://a:1,http://b:1", "--self-url", "http://c:1"], "forum-anak: --self-url: expected one of the URLs"),
    ],
)
def test_run_refuses_wrong_webhook_options_in_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = forum_anak(tmp_path, "run", *args, TELEGRAM_BOT_TOKEN="123456:TEST-token-for-cli", SECRET_KEY="k" * 40)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr


@pytest.mark.parametrize("serving", [(), ("--health-port", "8081")], ids=["polling", "polling-with-health"])
def test_run_names_telegram_when_it_is_unreachable(tmp_path: Path, serving: tuple[str, ...]) -> None:
    result = forum_anak(
        tmp_path, "run", *serving, TELEGRAM_BOT_TOKEN="123456:TEST-token-for-cli",
        SECRET_KEY="k" * 40, TELEGRAM_API_BASE_URL="http://127.0.0.1:1/bot",
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Unclosed" not in result.stderr  # the bot's HTTP sessions are closed on the way out
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("forum-anak: Telegram is not reachable (http://127.0.0.1:1/bot): ")
    assert "TEST-token-for-cli" not in result.stderr
