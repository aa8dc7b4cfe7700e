"""Retention on real databases: notice first, erasure on the day, activity resets, cases anonymised."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

import handlers.retention
from bot.config import load_settings
from bot.services import Services, build_services
from db import crypto, events, grain, outbox, reports, users
from db.events import EventDraft
from db.indicators import Period, compute
from db.models import AuditEntry, Delivery, Report, ReportEvidence, ReportMessage, Role, User
from handlers.cases import alert_rows, card_text
from handlers.retention import run_retention
from tests.helpers.factories import NOW, make_user

SECRET = "retention-test-secret-that-is-long-enough-0123"
STAFF_CHAT = -100777
DAY = timedelta(days=1)
WITA = ZoneInfo("Asia/Makassar")
# Defaults: erased after 730 idle days, told 30 days before; cases anonymised 365 days after closing.
NOTICE_AT = NOW + 700 * DAY
ERASE_AT = NOW + 730 * DAY


@pytest.fixture
async def services(engine: AsyncEngine, database_url: str) -> AsyncIterator[Services]:
    """The bot's services on the test database, with default retention settings."""
    settings = load_settings(
        env_file=None, DATABASE_URL=database_url, SECRET_KEY=SECRET, STAFF_CHAT_ID=STAFF_CHAT, QUIET_HOURS="off"
    )
    yield build_services(settings, engine=engine)


async def account(services: Services, telegram_id: int, **kwargs: object) -> int:
    async with services.db() as session:
        user = await make_user(session, telegram_id, **kwargs)  # type: ignore[arg-type]
        assert user.id is not None
        return user.id


async def exists(services: Services, telegram_id: int) -> bool:
    async with services.db() as session:
        return await users.get_user(session, telegram_id=telegram_id) is not None


async def notices(services: Services, telegram_id: int) -> list[Delivery]:
    async with services.db() as session:
        query = select(Delivery).where(Delivery.kind == "erasure_notice", Delivery.chat_id == telegram_id)
        return list((await session.scalars(query)).all())


async def test_the_notice_goes_out_once_on_the_day_in_the_users_language(services: Services) -> None:
    await account(services, 11, language="en")
    # Activity is kept as a day (db/grain.py), so idle time is counted in whole local days: the
    # notice goes out from the first moment of the 700th day, not a second before.
    assert (await run_retention(services, now=grain.day(NOTICE_AT) - timedelta(seconds=1))).notified == 0
    run = await run_retention(services, now=grain.day(NOTICE_AT))
    assert (run.notified, run.erased) == (1, 0)
    for later in (NOTICE_AT + timedelta(hours=1), NOTICE_AT + 10 * DAY):
        assert (await run_retention(services, now=later)).notified == 0
    [notice] = await notices(services, 11)
    assert "Your account will be erased" in notice.text
    assert "within 30 days" in notice.text
    assert f"<b>{ERASE_AT.astimezone(WITA):%d-%m-%Y}</b>" in notice.text  # 22-11-2028: 2028 is a leap year
    assert notice.reply_markup is not None and "pv:keep" in notice.reply_markup


async def test_erased_on_the_last_day_not_before(services: Services) -> None:
    await account(services, 12)
    await run_retention(services, now=NOTICE_AT)
    assert (await run_retention(services, now=grain.day(ERASE_AT) - timedelta(seconds=1))).erased == 0
    assert await exists(services, 12)
    assert (await run_retention(services, now=grain.day(ERASE_AT))).erased == 1
    assert not await exists(services, 12)
    assert await notices(services, 12) == []  # the notice went with the account (cascade)


async def test_an_account_is_never_erased_without_the_full_notice_period(services: Services) -> None:
    await account(services, 13)
    long_idle = NOW + 1000 * DAY  # retention switched on late, or the bot was down
    run = await run_retention(services, now=long_idle)
    assert (run.notified, run.erased) == (1, 0)
    assert (await run_retention(services, now=long_idle + 29 * DAY)).erased == 0
    assert (await run_retention(services, now=long_idle + 30 * DAY)).erased == 1


async def test_activity_after_the_notice_keeps_the_account_and_restarts_the_clock(services: Services) -> None:
    await account(services, 14)
    await run_retention(services, now=NOTICE_AT)
    async with services.db() as session:  # any update from the user: the group -1 handler touches
        user = await users.get_user(session, telegram_id=14)
        assert user is not None
        await users.touch(session, user=user, now=NOTICE_AT + 5 * DAY)
    assert (await run_retention(services, now=ERASE_AT)).erased == 0
    assert (await run_retention(services, now=ERASE_AT + 60 * DAY)).notified == 0
    assert await exists(services, 14)
    # A new idle spell earns a new notice, 700 days after the last activity.
    second = NOTICE_AT + 5 * DAY + 700 * DAY
    assert (await run_retention(services, now=second - DAY)).notified == 0
    assert (await run_retention(services, now=second)).notified == 1
    assert len(await notices(services, 14)) == 2


async def test_children_parents_and_unfinished_accounts_go_invited_roles_stay(services: Services) -> None:
    await account(services, 21)  # child with consent
    await account(services, 22, consented=False)  # pending child
    await account(services, 23, role=Role.PARENT)
    async with services.db() as session:  # onboarding never finished
        await users.start_account(session, telegram_id=24, language="id", now=NOW)
    for telegram_id, role in ((31, Role.FACILITATOR), (32, Role.STAFF), (33, Role.ADMIN)):
        await account(services, telegram_id, role=role)
    late = NOW + 2000 * DAY
    assert (await run_retention(services, now=late)).notified == 4
    assert (await run_retention(services, now=late + 30 * DAY)).erased == 4
    assert [await exists(services, t) for t in (21, 22, 23, 24)] == [False] * 4
    assert [await exists(services, t) for t in (31, 32, 33)] == [True] * 3
    assert [await notices(services, t) for t in (31, 32, 33)] == [[], [], []]


async def test_erasure_gives_the_place_to_the_waitlist(services: Services) -> None:
    idle_child = await account(services, 41)
    async with services.db() as session:
        start = ERASE_AT + 7 * DAY
        draft = EventDraft(
            title="Hari Anak", description="Lomba dan diskusi.", starts_at=start, ends_at=start + timedelta(hours=3),
            venue="Dome", kecamatan="Balikpapan Kota", kelurahan="Damai", capacity=1,
        )
        event = await events.create_event(session, draft=draft, created_by=500, regions=services.regions.kecamatan,
                                          now=NOW)
        child = await session.get(User, idle_child)
        assert child is not None and event.id is not None
        assert await events.sign_up(session, event_id=event.id, user=child, now=NOW) == "confirmed"
    await run_retention(services, now=NOTICE_AT)
    waiting = await account(services, 42, now=ERASE_AT - DAY)  # joined recently, gets the waitlist spot
    async with services.db() as session:
        parent = await session.get(User, waiting)
        assert parent is not None
        assert await events.sign_up(session, event_id=event.id, user=parent, now=ERASE_AT - DAY) == "waitlisted"
    assert (await run_retention(services, now=ERASE_AT)).erased == 1
    async with services.db() as session:
        signup = await events.signup_of(session, event_id=event.id, user_id=waiting)
        promoted = await session.scalar(select(Delivery).where(Delivery.kind == "event_promoted"))
    assert signup is not None and signup.status == "confirmed"
    assert promoted is not None and promoted.chat_id == 42


async def test_each_run_is_audited_with_counts_only(services: Services) -> None:
    await account(services, 51)
    await run_retention(services, now=NOW)
    await run_retention(services, now=NOTICE_AT)
    async with services.db() as session:
        entries = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "retention.run")
                                         .order_by(AuditEntry.id))).all()
    assert [e.detail for e in entries] == [
        "notified=0 erased=0 anonymised=0 purged=0 evidence=0", "notified=1 erased=0 anonymised=0 purged=0 evidence=0",
    ]
    assert all(e.actor_telegram_id is None and e.subject is None for e in entries)


async def test_the_notice_waits_for_the_end_of_quiet_hours(engine: AsyncEngine, database_url: str) -> None:
    settings = load_settings(env_file=None, DATABASE_URL=database_url, QUIET_HOURS="21:00-06:00")
    services = build_services(settings, engine=engine)
    await account(services, 61)
    night = datetime(2028, 10, 24, 14, 0, tzinfo=UTC)  # 22:00 WITA, past the notice day
    await run_retention(services, now=night)
    [notice] = await notices(services, 61)
    assert notice.not_before == datetime(2028, 10, 24, 22, 0, tzinfo=UTC)  # 06:00 WITA


# --- closed cases -------------------------------------------------------------------------


async def a_case(services: Services, *, close_at: datetime | None, category: str = "bullying") -> int:
    """A report as the bot makes it: evidence, follow-up route, staff alert, messages, a note."""
    async with services.db() as session:
        draft = reports.ReportDraft(
            reporter_kind="self", category=category, urgent=False, kecamatan="Balikpapan Kota",
            kelurahan="Damai", place="school", happened="today", description="Aku dipukul di kelas 7B SMPN 1",
            evidence=("photo-file-id-1",),
        )
        report, code = await reports.submit_report(session, draft=draft, regions=services.regions.kecamatan,
                                                   reply_route=crypto.route_sealer(SECRET, 777), secret=SECRET, now=NOW)
        assert report.id is not None
        await outbox.enqueue(session, await alert_rows(services, session, report, now=NOW))
        _, reply = await reports.add_staff_message(session, report_id=report.id, staff_id=32, text="Kami dengar.",
                                                   note=False, now=NOW + timedelta(hours=2))
        await outbox.enqueue(session, [outbox.new_row(kind="case_reply", text="Kami dengar.", now=NOW,
                                                      sealed_route=report.reply_route, source_id=reply.id)])
        await reports.add_reporter_message(session, code=code, secret=SECRET, text="Terima kasih", now=NOW + DAY)
        await reports.add_staff_message(session, report_id=report.id, staff_id=32, text="Wali kelas: Bu Sari",
                                        note=True, now=NOW + DAY)
        await reports.assign(session, report_id=report.id, staff_id=32, now=NOW + DAY)
        if close_at is not None:
            await reports.close(session, report_id=report.id, staff_id=32, outcome="referred", now=close_at)
        return report.id


async def indicators(services: Services) -> list[object]:
    async with services.db() as session:
        rows = await compute(session, period=Period(date(2026, 1, 1), date(2027, 12, 31), WITA))
    return sorted((r.indicator, r.period_start, sorted(r.values.items()), r.value) for r in rows)


async def test_old_closed_cases_lose_text_evidence_messages_and_route_not_their_figures(services: Services) -> None:
    closed_at = NOW + 3 * DAY
    old = await a_case(services, close_at=closed_at)
    recent = await a_case(services, close_at=closed_at + 10 * DAY, category="physical")
    still_open = await a_case(services, close_at=None)
    before = await indicators(services)
    assert (await run_retention(services, now=closed_at + 365 * DAY - timedelta(seconds=1))).anonymised == 0
    assert (await run_retention(services, now=closed_at + 365 * DAY)).anonymised == 1
    assert (await run_retention(services, now=closed_at + 366 * DAY)).anonymised == 0  # once
    assert await indicators(services) == before

    async with services.db() as session:
        case = await session.get(Report, old)
        assert case is not None
        assert (case.description, case.reply_route, case.assigned_to) == ("", None, None)
        assert (case.category, case.kecamatan, case.kelurahan, case.status, case.outcome) == (
            "bullying", "Balikpapan Kota", "Damai", "closed", "referred")
        assert case.created_at == NOW and case.closed_at == closed_at and case.first_response_at is not None
        assert case.anonymised_at == closed_at + 365 * DAY
        detail = await reports.get_case(session, report_id=old)
        card = card_text(services, "en", case, evidence_count=len(detail.evidence), detail=detail)
        assert "Anonymised on" in card and "Evidence: 0 photo(s)" in card
        assert "kelas 7B" not in card and "Bu Sari" not in card and "Handled by" not in card
        assert "<b>History</b>" in card  # who acted and when stays: the staff audit log

        async def count(model: type, report_id: int) -> int:
            return int(await session.scalar(
                select(func.count()).select_from(model).where(model.report_id == report_id)  # type: ignore[attr-defined]
            ) or 0)

        assert (await count(ReportEvidence, old), await count(ReportMessage, old)) == (0, 0)
        # The recent case's photos went 30 days after it closed; the open case keeps its own.
        assert (await count(ReportEvidence, recent), await count(ReportEvidence, still_open)) == (0, 1)
        for kept in (recent, still_open):
            assert await count(ReportMessage, kept) == 3
            other = await session.get(Report, kept)
            assert other is not None and other.description.startswith("Aku dipukul")
        texts = (await session.scalars(select(Delivery.text).where(Delivery.kind.startswith("case_")))).all()  # type: ignore[attr-defined]
        files = (await session.scalars(select(Delivery.media_file_id).where(Delivery.kind == "case_evidence"))).all()
    # Two cases keep their short alert and reply in the outbox; nothing of the old one is left.
    # (Evidence never goes to the outbox: staff open it in their private chat.)
    assert len(texts) == 4 and files == []
    assert not any(f"#{old}" in text for text in texts)
    assert all(any(f"#{kept}" in text for text in texts) for kept in (recent, still_open))


async def test_evidence_goes_30_days_after_closing_and_nothing_else_of_the_case(services: Services) -> None:
    # A photo's file id names the child's own message: kept only while staff may still look.
    closed_at = NOW + 3 * DAY
    closed = await a_case(services, close_at=closed_at)
    still_open = await a_case(services, close_at=None)

    async def photos(report_id: int) -> int:
        async with services.db() as session:
            return len(await reports.open_evidence(session, report_id=report_id, staff_id=32, now=NOW))

    assert (await run_retention(services, now=closed_at + 30 * DAY - timedelta(seconds=1))).evidence == 0
    assert await photos(closed) == 1
    assert (await run_retention(services, now=closed_at + 30 * DAY)).evidence == 1
    assert (await photos(closed), await photos(still_open)) == (0, 1)
    async with services.db() as session:
        case = await session.get(Report, closed)
        assert case is not None and case.description.startswith("Aku dipukul") and case.anonymised_at is None


async def test_messages_to_a_chat_no_account_links_to_go_after_30_days(services: Services) -> None:
    child = await account(services, 71)
    async with services.db() as session:
        await outbox.enqueue(session, [
            outbox.new_row(kind="consent", text="Izin ditarik; akunmu dihapus.", now=NOW, chat_id=81),  # sent below
            outbox.new_row(kind="consent", text="Menunggu", now=NOW, chat_id=82, not_before=NOW + 90 * DAY),
            outbox.new_row(kind="case_alert", text="Kasus baru", now=NOW, chat_id=STAFF_CHAT),  # a case's: kept
            outbox.new_row(kind="broadcast", text="Halo", now=NOW, chat_id=71, user_id=child),  # figures: kept
        ])
        [first, *_] = await outbox.claim_batch(session, now=NOW, limit=1)
        await outbox.record_outcomes(session, outcomes=[outbox.Outcome(first.id, outbox.Result.SENT)], now=NOW)
    assert (await run_retention(services, now=NOW + 30 * DAY - timedelta(seconds=1))).purged == 0
    assert (await run_retention(services, now=NOW + 30 * DAY)).purged == 1
    async with services.db() as session:
        left = sorted((await session.scalars(select(Delivery.text))).all())
    assert left == ["Halo", "Kasus baru", "Menunggu"]  # the pending one is not lost


async def test_a_big_backlog_is_worked_through_in_batches(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers.retention, "BATCH", 2)  # one transaction per 2 accounts
    for telegram_id in range(91, 96):
        await account(services, telegram_id)
    assert (await run_retention(services, now=NOTICE_AT)).notified == 5
    assert (await run_retention(services, now=ERASE_AT)).erased == 5
    assert [await exists(services, t) for t in range(91, 96)] == [False] * 5
