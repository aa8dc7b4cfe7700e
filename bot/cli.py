"""`forum-anak`: a thin command line over the bot's async functions (SPEC §9)."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import click
from sqlalchemy.exc import SQLAlchemyError

from bot.config import ConfigError, Settings, load_settings
from content.loaders import ContentError

logger = logging.getLogger(__name__)

DEFAULT_WEBHOOK_PORT = 8080


class CliError(click.ClickException):
    """A failure the operator can act on: printed as one line, exit code 1."""

    def show(self, file: Any = None) -> None:
        """Print `forum-anak: <message>` on stderr."""
        click.echo(f"forum-anak: {self.format_message()}", err=True)


def _settings(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        raise CliError(str(exc)) from None


def _db_reason(exc: SQLAlchemyError) -> str:
    # DBAPIError wraps the driver's error in `orig`; other SQLAlchemy errors carry their own text.
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def _run(coro_factory: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    try:
        return asyncio.run(coro_factory())
    except SQLAlchemyError as exc:
        raise CliError(f"database error: {_db_reason(exc)}") from None


def _check_content() -> None:
    from content.check import check_content

    try:
        check_content()
    except ContentError as exc:
        raise CliError(f"content error: {exc}") from None


def _upgrade(settings: Settings) -> None:
    from db.engine import upgrade_database

    try:
        upgrade_database(settings.DATABASE_URL)
    except SQLAlchemyError as exc:
        raise CliError(f"cannot migrate the database: {_db_reason(exc)}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Forum Anak Bot: child participation and protection on Telegram."""


@cli.command()
@click.option("--webhook-url", default=None, metavar="URL",
              help="Webhook mode: the public HTTPS URL Telegram posts updates to (through your proxy).")
@click.option("--port", type=int, default=None, help="Webhook mode: the local port to listen on [default: 8080].")
@click.option("--listen", default="0.0.0.0", show_default=True, help="Address to listen on (webhook and health).")
@click.option("--health-port", type=int, default=None,
              help="Polling mode: serve GET /healthz on this port (webhook mode serves it on --port).")
@click.option("--peers", default=None, metavar="URL,URL,...",
              help="Webhook mode with several processes: the internal URL of every process, same list everywhere.")
@click.option("--self-url", default=None, metavar="URL", help="With --peers: this process's own entry in the list.")
def run(
    webhook_url: str | None, port: int | None, listen: str, health_port: int | None,
    peers: str | None, self_url: str | None,
) -> None:
    """Run the bot: long polling, or webhooks with --webhook-url (needs TELEGRAM_BOT_TOKEN and SECRET_KEY)."""
    serving = _serving_options(webhook_url, port, health_port)
    peer_list = _peer_options(peers, self_url, webhook=webhook_url is not None)
    settings = _settings()
    if not settings.TELEGRAM_BOT_TOKEN:
        raise CliError(
            "TELEGRAM_BOT_TOKEN is not set; get one from @BotFather, or try the bot without one "
            "with `forum-anak sandbox`"
        )
    if not settings.SECRET_KEY:
        raise CliError("SECRET_KEY is not set; run `forum-anak init` to create one in .env")
    from telegram.error import InvalidToken, NetworkError, TelegramError

    from bot.app import build_application
    from bot.logs import configure_logging
    from bot.webhook import BotServer, Webhook, serve, webhook_secret_token

    configure_logging(settings.LOG_FORMAT)
    _check_content()
    _upgrade(settings)
    app = build_application(settings)
    # Plain polling goes through the same server (without a port) for one start-up and shutdown path.
    url, listen_port = serving or ("", None)
    webhook = (
        Webhook(url, webhook_secret_token(settings.SECRET_KEY), peer_list, (self_url or "").rstrip("/"))
        if url else None
    )
    server = BotServer(app, listen=listen, port=listen_port, webhook=webhook)
    try:
        _run(lambda: serve(server))
    except OSError as exc:  # the port is taken, or the address is not ours
        if listen_port is None:
            raise
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise CliError(f"cannot listen on {listen}:{listen_port}: {reason}") from None
    except InvalidToken:  # its message would print the token
        raise CliError("Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather") from None
    except TelegramError as exc:
        what = "is not reachable" if isinstance(exc, NetworkError) else "refused a request"
        reason = exc.message.replace(settings.TELEGRAM_BOT_TOKEN, "***")
        raise CliError(f"Telegram {what} ({settings.TELEGRAM_API_BASE_URL}): {reason}") from None


def _peer_options(peers: str | None, self_url: str | None, *, webhook: bool) -> tuple[str, ...]:
    """Check --peers and --self-url: both or neither, http(s) URLs, and self among the peers."""
    if peers is None and self_url is None:
        return ()
    if not webhook:
        raise CliError("--peers and --self-url are for webhook mode; give --webhook-url too")
    if peers is None or self_url is None:
        raise CliError("--peers and --self-url go together")
    listed = tuple(p.strip().rstrip("/") for p in peers.split(",") if p.strip())
    for url in listed:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise CliError(f"--peers: expected http:// URLs of the processes (got {url!r})")
    if self_url.rstrip("/") not in listed:
        raise CliError("--self-url: expected one of the URLs given with --peers")
    return listed


def _serving_options(webhook_url: str | None, port: int | None, health_port: int | None) -> tuple[str, int] | None:
    """Check the options of `run`: (webhook URL or "", port to listen on), or None for plain polling."""
    for name, value in (("--port", port), ("--health-port", health_port)):
        if value is not None and not 1 <= value <= 65535:
            raise CliError(f"{name}: expected a port from 1 to 65535 (got {value})")
    if webhook_url is None:
        if port is not None:
            raise CliError("--port is for webhook mode; give --webhook-url too (or --health-port for polling)")
        return None if health_port is None else ("", health_port)
    parts = urlsplit(webhook_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(f"--webhook-url: expected an https:// URL such as https://bot.example.org/telegram (got {webhook_url!r})")
    if health_port is not None:
        raise CliError("--health-port is for polling; in webhook mode /healthz is served on --port")
    return webhook_url, port or DEFAULT_WEBHOOK_PORT


@cli.command()
@click.option("--database", default="sqlite:///data/sandbox.db", show_default=True,
              help="Database of the sandbox, kept apart from the real one.")
@click.option("--files-dir", type=click.Path(path_type=Path), default=Path("data/sandbox-files"),
              show_default=True, help="Where files the bot sends are saved.")
def sandbox(database: str, files_dir: Path) -> None:
    """Chat with the real bot in the terminal, against a local Bot API emulator."""
    settings = _settings(DATABASE_URL=database, TELEGRAM_BOT_TOKEN=None)
    _check_content()
    _upgrade(settings)
    from bot.logs import configure_logging
    from bot.sandbox.run import run_sandbox

    configure_logging(settings.LOG_FORMAT, level=logging.WARNING)
    _run(lambda: run_sandbox(settings, files_dir=files_dir))


@cli.command()
@click.option("--env-file", type=click.Path(path_type=Path), default=Path(".env"), show_default=True)
def init(env_file: Path) -> None:
    """Create .env with a new SECRET_KEY (kept if present) and migrate the database."""
    existing = env_file.read_text(encoding="utf-8") if env_file.exists() else ""
    if any(line.startswith("SECRET_KEY=") for line in existing.splitlines()):
        click.echo(f"{env_file}: SECRET_KEY already set, left unchanged")
    else:
        prefix = existing if not existing or existing.endswith("\n") else existing + "\n"
        env_file.write_text(f"{prefix}SECRET_KEY={secrets.token_urlsafe(48)}\n", encoding="utf-8")
        env_file.chmod(0o600)
        click.echo(f"{env_file}: wrote a new SECRET_KEY (keep this file private)")
    settings = _settings(env_file=env_file)
    _upgrade(settings)
    click.echo("database ready")


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations."""
    _upgrade(_settings())
    click.echo("database is up to date")


@cli.group()
def content() -> None:
    """Content (templates, quiz banks, regions, hotlines)."""


@content.command("check")
def content_check() -> None:
    """Validate every template and content file."""
    from content.check import check_content

    try:
        summary = check_content()
    except ContentError as exc:
        raise CliError(f"content error: {exc}") from None
    click.echo(
        f"content OK: {summary.templates} templates and {summary.strings} strings in 2 languages, "
        f"{summary.kecamatan} kecamatan, {summary.kelurahan} kelurahan, "
        f"{summary.help_services} help services, "
        f"{summary.quiz_questions} quiz questions in {summary.quiz_topics} topics"
    )


@cli.command("export")
@click.option("--from", "date_from", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day (WITA).")
@click.option("--to", "date_to", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day (WITA).")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--min-cell", type=click.IntRange(min=0), default=5, show_default=True,
              help="Protect figures: counts from 1 to N-1 print as <N, others carry a fixed random "
                   "adjustment (needs SECRET_KEY); 0 prints exact figures and says so.")
def export(date_from: Any, date_to: Any, fmt: str, out: Path, min_cell: int) -> None:
    """Export the participation indicators of a period (SPEC §8)."""
    settings = _settings()
    if date_to < date_from:
        raise CliError("--to is before --from")
    if min_cell > 0 and not settings.SECRET_KEY:
        raise CliError("protected figures need SECRET_KEY (the record keys come from it); set it, or pass --min-cell 0")
    _upgrade(settings)

    async def work() -> int:
        from bot.exports import write_export
        from db.broadcasts import figures_in_period
        from db.engine import make_engine, session_factory
        from db.indicators import Period, compute, store_closed_months

        engine = make_engine(settings.DATABASE_URL)
        period = Period(date_from.date(), date_to.date(), settings.tz)
        now = datetime.now(UTC)
        try:
            secret = settings.SECRET_KEY
            await store_closed_months(session_factory(engine), period=period, now=now, secret=secret)
            async with session_factory(engine)() as session:
                rows = await compute(session, period=period, now=now, secret=secret)
                runs = await figures_in_period(session, start=period.utc_start, end=period.utc_end)
        finally:
            await engine.dispose()
        try:
            await write_export(rows, out, fmt=fmt, min_cell=min_cell, broadcast_runs=runs)
        except OSError as exc:
            raise CliError(f"cannot write {out}: {exc.strerror}") from None
        return len(rows)

    count = _run(work)
    click.echo(f"wrote {count} figures to {out}")


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
def backup(path: Path, force: bool) -> None:
    """Copy the SQLite database to PATH while the bot runs (consistent, atomic)."""
    settings = _settings()
    source = settings.sqlite_path
    if source is None:
        if settings.DATABASE_URL.startswith("postgres"):
            raise CliError("backup copies a SQLite database; for PostgreSQL use pg_dump (see the README)")
        raise CliError("DATABASE_URL is not a SQLite file; there is nothing to copy")
    if not source.is_file():
        raise CliError(f"no database at {source}; check DATABASE_URL")
    from bot.backup import BackupError, backup_sqlite

    def progress(done: int, total: int) -> None:
        click.echo(f"backup: {done / 2**20:.0f} of about {total / 2**20:.0f} MiB", err=True)

    try:
        result = backup_sqlite(source, path, force=force, progress=progress)
    except BackupError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None
    click.echo(f"backed up {source} to {result.path} ({result.size / 2**20:.1f} MiB, {result.tables} tables)")


@cli.group()
def admin() -> None:
    """Roles and invites."""


def _admin_services(settings: Settings) -> Any:
    from bot.services import build_services

    return build_services(settings)  # the renderer of command menus, and the bot's time zone for months


async def _publish_menus(settings: Settings, renderer: Any, people: list[Any]) -> str | None:
    """Show these people the command menu of their new role; return why not, if it failed."""
    if not people:
        return None
    if not settings.TELEGRAM_BOT_TOKEN:
        return "TELEGRAM_BOT_TOKEN is not set"
    from telegram import Bot
    from telegram.error import TelegramError

    from handlers.commands import publish_for_user

    try:
        async with Bot(settings.TELEGRAM_BOT_TOKEN, base_url=settings.TELEGRAM_API_BASE_URL) as bot:
            for person in people:
                await publish_for_user(bot, renderer, person)
    except TelegramError as exc:
        return str(exc).replace(settings.TELEGRAM_BOT_TOKEN, "***")
    return None


def _menu_note(telegram_id: int, problem: str | None) -> None:
    if problem is not None:
        click.echo(f"note: the Telegram command menu of {telegram_id} was not updated ({problem}); "
                   "the commands of the role are checked on every message anyway", err=True)


@admin.command("add")
@click.argument("telegram_id", type=click.IntRange(min=1))
def admin_add(telegram_id: int) -> None:
    """Make a Telegram user an admin (kept until `admin revoke`, whatever ADMIN_IDS says)."""
    settings = _settings()
    _upgrade(settings)

    async def work() -> tuple[bool, str | None]:
        from db import roles, users
        from db.types import utcnow

        services = _admin_services(settings)
        try:
            async with services.db() as session:
                changed = await roles.add_admin(
                    session, telegram_id=telegram_id, language=settings.DEFAULT_LOCALE, now=utcnow()
                )
                person = await users.get_user(session, telegram_id=telegram_id)
            problem = await _publish_menus(settings, services.renderer, [person] if changed else [])
            return changed, problem
        finally:
            await services.engine.dispose()

    changed, problem = _run(work)
    click.echo(f"{telegram_id} is {'now' if changed else 'already'} an admin")
    _menu_note(telegram_id, problem)


@admin.command("revoke")
@click.argument("telegram_id", type=click.IntRange(min=1))
def admin_revoke(telegram_id: int) -> None:
    """Take a facilitator, staff or admin role back; their open cases return to the queue."""
    settings = _settings()
    _upgrade(settings)

    async def work() -> tuple[Any, str | None]:
        from db import roles
        from db.invites import RoleRefused
        from db.types import utcnow

        services = _admin_services(settings)
        try:
            try:
                async with services.db() as session:
                    revoked = await roles.revoke(session, telegram_id=telegram_id, actor_telegram_id=None, now=utcnow())
            except RoleRefused as exc:
                if exc.code == "revoke_unknown":
                    raise CliError(f"no account with Telegram id {telegram_id}") from None
                raise CliError(f"{telegram_id} holds no facilitator, staff or admin role to take back") from None
            return revoked, await _publish_menus(settings, services.renderer, [revoked.user])
        finally:
            await services.engine.dispose()

    revoked, problem = _run(work)
    now_as = "a child's account" if revoked.new_role == "child" else "a parent/guardian account"
    click.echo(f"{telegram_id}: {revoked.old_role} role taken back; now {now_as}; "
               f"{revoked.cases_returned} open case(s) back in the queue")
    if revoked.old_role == "admin" and telegram_id in settings.ADMIN_IDS:
        click.echo(f"warning: {telegram_id} is still in ADMIN_IDS and becomes an admin again at the next start; "
                   "remove it there", err=True)
    if revoked.old_role == "admin" and revoked.admins_left == 0:
        click.echo("warning: no admin is left; `forum-anak admin add TELEGRAM_ID` makes one", err=True)
    _menu_note(telegram_id, problem)


@admin.command("list")
def admin_list() -> None:
    """Print every facilitator, staff member and admin: Telegram id, role, since (month), how."""
    settings = _settings()
    _upgrade(settings)

    async def work() -> list[Any]:
        from db import roles

        services = _admin_services(settings)
        try:
            async with services.db(commit=False) as session:
                return await roles.list_holders(session)
        finally:
            await services.engine.dispose()

    holders = _run(work)
    if not holders:
        click.echo("no facilitators, staff or admins")
        return
    how = {"invite": "invite code", "admin_ids": "ADMIN_IDS", "admin_add": "admin add", "unknown": "-"}
    click.echo(f"{'TELEGRAM_ID':<15} {'ROLE':<12} {'SINCE':<8} VIA")
    for holder in holders:
        click.echo(f"{holder.telegram_id:<15} {holder.role:<12} {holder.since:<8} {how.get(holder.via, holder.via)}")


@admin.command("invite")
@click.argument("role", type=click.Choice(["facilitator", "staff"]))
def admin_invite(role: str) -> None:
    """Print a one-time invite code for a role (valid 7 days)."""
    settings = _settings()
    _upgrade(settings)

    async def work() -> str:
        from db import audit, invites
        from db.engine import make_engine, session_factory
        from db.types import utcnow

        engine = make_engine(settings.DATABASE_URL)
        try:
            async with session_factory(engine)() as session:
                code = await invites.create_invite(session, role=role, created_by=None, now=utcnow())
                await audit.record(session, actor_telegram_id=None, action="invite.create", subject=role, now=utcnow())
                return code
        finally:
            await engine.dispose()

    code = _run(work)
    click.echo(f"{role} invite code: {code}  (the user types /gabung {code})")


@cli.group()
def events() -> None:
    """Forum Anak events."""


@events.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--facilitator", type=click.IntRange(min=1), default=None,
              help="Telegram id of the facilitator who manages the events (unless an entry names one).")
def events_import(file: Path, facilitator: int | None) -> None:
    """Create the events of a YAML file; nothing is saved if any entry is wrong."""
    settings = _settings()
    _upgrade(settings)
    from bot.event_import import EventFileError, run_import

    try:
        summary = _run(lambda: run_import(settings, file, facilitator=facilitator or 0))
    except EventFileError as exc:
        if len(exc.lines) == 1:
            raise CliError(exc.lines[0]) from None
        for line in exc.lines:
            click.echo(f"forum-anak: {line}", err=True)
        raise CliError(f"{file}: {len(exc.lines)} problem(s), nothing was imported") from None
    click.echo(f"imported {len(summary.created)} event(s); {summary.skipped} already there")


def main() -> NoReturn:
    """Entry point of the `forum-anak` console script."""
    try:
        cli.main(prog_name="forum-anak", standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the promise of SPEC §9: one line, never a traceback
        logger.debug("unexpected failure", exc_info=exc)
        click.echo(f"forum-anak: unexpected error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    sys.exit(0)
