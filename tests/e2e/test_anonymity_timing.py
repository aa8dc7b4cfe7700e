"""Issue 17, item 1: a report cannot be linked to an account by time (SQLite and PostgreSQL).

The attack, as a security review played it on a backup: take the report's time and look for the
account whose activity lies just before it. Here 40 children use the bot through a morning,
one of them reports, answers staff with /status and then plays a quiz; a newcomer joins and
reports at once. Every join the review tried (and a few more) must find no single candidate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.sandbox.emulator import BotApiEmulator
from db import grain, quizzes, users
from db.models import Report, User
from tests.e2e.conftest import BotHarness, running_bot
from tests.e2e.test_reports import STAFF, send_report, to_summary, walk
from tests.helpers.clock import FakeClock
from tests.helpers.databases import postgres_database, sqlite_url

pytestmark = pytest.mark.e2e

CHILDREN = range(5001, 5041)  # 40 registered, active children
REPORTER = 5017
NEWCOMER = 6001
# The next day (24 November 2026), in WITA: the children use the bot from 08:00.
MORNING = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 08:00 WITA
WINDOW = timedelta(minutes=30)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
async def any_bot(
    request: pytest.FixtureRequest, emulator: BotApiEmulator, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[BotHarness]:
    """A running bot on a fresh SQLite file or a fresh PostgreSQL database."""
    with ExitStack() as stack:
        url = sqlite_url(tmp_path) if request.param == "sqlite" else stack.enter_context(postgres_database())
        async with running_bot(emulator, url, clock) as harness:
            yield harness


def aware(value: datetime | str) -> datetime:
    """A time read with plain SQL, as aware UTC (SQLite gives text without a zone)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def times(connection: AsyncConnection, sql: str) -> list[tuple[int, datetime]]:
    """Rows of (telegram id or row id, time) from an attacker's query."""
    rows = (await connection.execute(text(sql))).all()
    return [(int(row[0]), aware(row[1])) for row in rows if row[1] is not None]


def near(candidates: list[tuple[int, datetime]], moment: datetime, before: timedelta, after: timedelta) -> set[int]:
    """The ids whose time falls from `before` ahead of `moment` to `after` past it."""
    return {who for who, at in candidates if moment - before <= at <= moment + after}


async def a_morning_of_activity(bot: BotHarness) -> None:
    """Yesterday 40 children registered; this morning each of them uses the bot once or twice."""
    for child in CHILDREN:
        await bot.user(child)
    for number, child in enumerate(CHILDREN):
        if child == REPORTER:
            continue  # the reporter's first update of the day is the report itself
        bot.clock.set(MORNING + timedelta(minutes=7 * number))  # 08:00 … 12:33 WITA
        msg = await bot.send(child, "/menu")
        assert msg.buttons(), msg.text


async def test_no_join_of_person_times_and_report_times_singles_out_the_reporter(any_bot: BotHarness) -> None:
    bot = any_bot
    await bot.user(STAFF, role="staff")
    await a_morning_of_activity(bot)

    # 12:03 WITA: the reporter, idle since yesterday, reports, gets a reply and answers it.
    bot.clock.set(MORNING + timedelta(hours=4, minutes=3))
    code = await walk(bot, REPORTER)
    async with bot.services.db() as session:
        reporter = await session.get(User, await user_id_of(bot, REPORTER))
        assert reporter is not None
        assert reporter.last_seen_at == grain.day(MORNING - timedelta(days=1))  # the report wrote nothing
    bot.clock.advance(timedelta(minutes=20))
    await bot.deliver()
    await bot.send(STAFF, f"/start case_{await report_id(bot)}")
    await bot.press(STAFF, "✉️ Balas pelapor")
    await bot.send(STAFF, "Terima kasih, kamu aman sekarang?")
    await bot.deliver()
    bot.clock.advance(timedelta(minutes=47))  # 13:10 WITA
    msg = await bot.send(REPORTER, f"/status {code}")
    assert "kamu aman sekarang" in msg.text
    await bot.press(REPORTER, "✍️ Balas petugas")
    assert "sudah sampai" in (await bot.send(REPORTER, "Iya, aku aman.")).text
    # 13:12: and then a quiz, as children do.
    bot.clock.advance(timedelta(minutes=2))
    user_id = await user_id_of(bot, REPORTER)
    async with bot.services.db() as session:
        await quizzes.start_attempt(session, user_id=user_id, topic="kha", question_ids=["kha-01"], now=bot.clock.now())
    async with bot.services.db() as session:  # the reporter's own, non-report update is recorded
        reporter = await session.get(User, user_id)
        assert reporter is not None and reporter.last_seen_at == grain.day(MORNING - timedelta(days=1))
    await bot.send(REPORTER, "/menu")
    async with bot.services.db() as session:
        reporter = await session.get(User, user_id)
        assert reporter is not None and reporter.last_seen_at == grain.day(MORNING)

    # 14:00: a newcomer opens the bot, signs up and reports at once.
    bot.clock.set(MORNING + timedelta(hours=6))
    await bot.user(NEWCOMER)
    bot.clock.advance(timedelta(minutes=2))
    await to_summary(bot, NEWCOMER)
    await send_report(bot, NEWCOMER)

    async with bot.services.engine.connect() as connection:
        reports = await times(connection, "SELECT id, created_at FROM reports ORDER BY id")
        [(_, first), (_, second)] = reports
        messages = await times(connection, "SELECT id, created_at FROM report_messages WHERE kind = 'reporter'")
        [(_, answered)] = messages
        last_seen = await times(connection, "SELECT telegram_id, last_seen_at FROM users")
        joined = await times(connection, "SELECT telegram_id, created_at FROM users")
        privacy = await times(connection, "SELECT telegram_id, privacy_accepted_at FROM users")
        consent = await times(connection, "SELECT telegram_id, consent_at FROM users")
        quiz = await times(connection, "SELECT u.telegram_id, q.started_at FROM quiz_attempts q "
                                        "JOIN users u ON u.id = q.user_id")
        answers = await times(connection, "SELECT u.telegram_id, a.answered_at FROM quiz_answers a "
                                          "JOIN quiz_attempts q ON q.id = a.attempt_id JOIN users u ON u.id = q.user_id")
        audit = await times(connection, "SELECT actor_telegram_id, at FROM audit_log WHERE actor_telegram_id IS NOT NULL")
        sent = await times(connection, "SELECT chat_id, created_at FROM deliveries WHERE chat_id IS NOT NULL")
        everything = [row for found in (last_seen, joined, privacy, consent, quiz, answers) for row in found]

    def not_singled_out(found: set[int], what: str) -> None:
        assert len(found) != 1, f"{what} points at exactly {found}"

    # The review's query: activity within 30 minutes before the report.
    not_singled_out(near(last_seen, first, WINDOW, timedelta(0)), "last_seen_at before the report")
    # ... and every other person-side time, before or after, for both reports and the answer.
    for moment in (first, second, answered):
        for width in (timedelta(minutes=5), WINDOW, timedelta(hours=2)):
            not_singled_out(near(everything, moment, width, width), f"person times around {moment}")
            # Staff act on cases by design; the reporters appear in neither list.
            assert not {REPORTER, NEWCOMER} & near(audit + sent, moment, width, width)
    # The coarse joins: the same day of activity, the same month of joining.
    same_day = {who for who, at in last_seen if at == grain.day(first)}
    assert len(same_day) > 1  # everyone active that day (the reporter, too, after their /menu)
    joined_then = {who for who, at in joined if at == grain.month(second)}
    assert NEWCOMER in joined_then and len(joined_then) > 1

    # And structurally: no person-side time finer than its grain, no reporter-side time finer
    # than the hour, so a later feature's row cannot line up either.
    for who, at in last_seen + quiz + answers:
        assert at == grain.day(at), (who, at)
    for who, at in joined + privacy + consent:
        assert at == grain.month(at), (who, at)
    for _, at in [*reports, *messages]:
        assert at == grain.hour(at)
    async with bot.services.db() as session:
        report = await session.get(Report, await report_id(bot))
        assert report is not None and report.received_at is None  # the SLA clock became a duration
        assert report.first_response_seconds == 20 * 60


async def user_id_of(bot: BotHarness, telegram_id: int) -> int:
    """The account row of a Telegram user."""
    async with bot.services.db() as session:
        user = await users.get_user(session, telegram_id=telegram_id)
    assert user is not None and user.id is not None
    return user.id


async def report_id(bot: BotHarness) -> int:
    """The first case's number."""
    async with bot.services.engine.connect() as connection:
        return int((await connection.execute(text("SELECT min(id) FROM reports"))).scalar_one())
