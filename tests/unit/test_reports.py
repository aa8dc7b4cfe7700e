"""Reports and case management on SQLite and PostgreSQL: codes, anonymity, staff actions, alerts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from content.loaders import load_regions
from db import crypto, outbox, reports
from db.models import AuditEntry, Delivery, Report, ReportEvidence, ReportMessage
from tests.helpers.factories import NOW

REGIONS = load_regions().kecamatan
STAFF = 5551
SECRET = "unit-test-secret-key-0123456789-abcdefghij"


def draft(**changes: object) -> reports.ReportDraft:
    values: dict[str, object] = {
        "reporter_kind": "witness", "category": "bullying", "urgent": False, "kecamatan": "Balikpapan Kota",
        "kelurahan": "Damai", "place": "school", "happened": "today", "description": "Temanku dipalak tiap hari.",
    }
    values.update(changes)
    return reports.ReportDraft(**values)  # type: ignore[arg-type]


CODES: dict[int | None, str] = {}  # the code each report's reporter was shown (never stored)


def code_of(report: Report) -> str:
    return CODES[report.id]


async def submit(session: AsyncSession, *, follow_up: bool = True, at=NOW, **changes: object) -> Report:  # type: ignore[no-untyped-def]
    route = crypto.route_sealer(SECRET, 777) if follow_up else None
    report, code = await reports.submit_report(session, draft=draft(**changes), regions=REGIONS, reply_route=route,
                                               secret=SECRET, now=at)
    CODES[report.id] = code
    return report


async def test_a_report_gets_a_code_and_keeps_its_evidence(session: AsyncSession) -> None:
    report = await submit(session, evidence=("AgAC-photo-1", "AgAC-photo-2"))
    assert reports.CODE_PATTERN.match(code_of(report))
    assert report.status == "new" and report.follow_up and report.reply_route
    evidence = (await session.scalars(select(ReportEvidence).where(ReportEvidence.report_id == report.id))).all()
    assert [e.file_id for e in evidence] == ["AgAC-photo-1", "AgAC-photo-2"]
    assert await reports.find_by_code(session, code=code_of(report).lower().replace("-", " "), secret=SECRET) is not None
    # Stored only as a keyed hash: not the code, and not a hash without the key.
    stored = (await session.execute(select(Report.code_hash).where(Report.id == report.id))).scalar_one()
    assert stored == crypto.report_code_hash(SECRET, code_of(report)) != crypto.report_code_hash("other" * 9, code_of(report))
    assert await reports.find_by_code(session, code=code_of(report), secret="another-secret-" * 3) is None


@pytest.mark.parametrize(
    "changes",
    [{"category": "gossip"}, {"place": "moon"}, {"kecamatan": "Jakarta"}, {"kelurahan": "Manggar"},
     {"description": "  "}, {"description": "x" * 2001}, {"reporter_kind": "robot"},
     {"evidence": tuple(f"f{i}" for i in range(6))}],
)
async def test_an_invalid_draft_is_refused(session: AsyncSession, changes: dict[str, object]) -> None:
    with pytest.raises(reports.ReportInvalid):
        await submit(session, **changes)


def test_codes_normalise_and_reject_look_alikes() -> None:
    assert reports.normalize_report_code(" abcd ef23 ") == "ABCD-EF23"
    assert reports.normalize_report_code("ABCD-EF21") is None  # 1 is not in the alphabet
    assert reports.normalize_report_code("ABC") is None


def test_every_category_and_place_maps_to_simfoni() -> None:
    assert set(reports.CATEGORIES.values()) <= {"fisik", "psikis", "seksual", "eksploitasi", "tppo", "penelantaran", "lainnya"}
    assert reports.simfoni_type("sexual") == "seksual" and reports.simfoni_place("home") == "rumah_tangga"
    assert reports.simfoni_place("public") == "fasilitas_umum" and reports.simfoni_type("smoke_free") == "lainnya"


@pytest.mark.parametrize("category", sorted(reports.NO_PHOTO_CATEGORIES))
async def test_sexual_violence_and_exploitation_reports_never_keep_photos(session: AsyncSession, category: str) -> None:
    assert not reports.takes_photos(category) and reports.takes_photos("physical")
    with pytest.raises(reports.ReportInvalid):
        await submit(session, category=category, evidence=("AgAC-photo-1",))
    assert (await session.scalars(select(ReportEvidence))).all() == []
    await submit(session, category=category)  # in words only: fine


async def test_opening_the_evidence_is_audited_and_nothing_is_written_for_no_photos_or_no_case(
    session: AsyncSession,
) -> None:
    with_photos = await submit(session, evidence=("AgAC-photo-1", "AgAC-photo-2"))
    without = await submit(session)
    assert with_photos.id is not None and without.id is not None
    files = await reports.open_evidence(session, report_id=with_photos.id, staff_id=STAFF, now=NOW)
    assert files == ["AgAC-photo-1", "AgAC-photo-2"]
    assert await reports.open_evidence(session, report_id=without.id, staff_id=STAFF, now=NOW) == []
    with pytest.raises(reports.ReportUnknown):
        await reports.open_evidence(session, report_id=without.id + 99, staff_id=STAFF, now=NOW)
    entries = (await session.scalars(select(AuditEntry).where(AuditEntry.action == reports.EVIDENCE_VIEW))).all()
    assert [(e.actor_telegram_id, e.subject) for e in entries] == [(STAFF, f"report:{with_photos.id}")]
    detail = await reports.get_case(session, report_id=with_photos.id)
    assert [h.action for h in detail.history] == [reports.EVIDENCE_VIEW] and detail.views == []


async def test_the_reporter_sees_messages_but_never_notes(session: AsyncSession) -> None:
    report = await submit(session)
    assert report.id is not None
    await reports.add_staff_message(session, report_id=report.id, staff_id=STAFF, text="Halo", note=False, now=NOW)
    await reports.add_staff_message(session, report_id=report.id, staff_id=STAFF, text="rahasia", note=True, now=NOW)
    await reports.add_reporter_message(session, code=code_of(report), secret=SECRET, text="Terima kasih", now=NOW)
    seen = await reports.open_for_reporter(session, code=code_of(report), secret=SECRET, now=NOW)
    assert [(m.kind, m.text) for m in seen.messages] == [("staff", "Halo"), ("reporter", "Terima kasih")]
    assert seen.report.first_response_at == NOW and seen.report.status == "open"


async def test_unknown_and_expired_codes(session: AsyncSession) -> None:
    with pytest.raises(reports.ReportUnknown):
        await reports.open_for_reporter(session, code="ZZZZ-ZZZZ", secret=SECRET, now=NOW)
    report = await submit(session)
    assert report.id is not None
    await reports.close(session, report_id=report.id, staff_id=STAFF, outcome="resolved", now=NOW)
    assert report.reply_route is None
    await reports.open_for_reporter(session, code=code_of(report), secret=SECRET, now=NOW + timedelta(days=29))
    with pytest.raises(reports.ReportExpired):
        await reports.open_for_reporter(session, code=code_of(report), secret=SECRET, now=NOW + timedelta(days=31))


async def test_no_follow_up_means_no_messages_either_way(session: AsyncSession) -> None:
    report = await submit(session, follow_up=False)
    assert report.id is not None
    with pytest.raises(reports.NoFollowUp):
        await reports.add_staff_message(session, report_id=report.id, staff_id=STAFF, text="Halo", note=False, now=NOW)
    with pytest.raises(reports.NoFollowUp):
        await reports.add_reporter_message(session, code=code_of(report), secret=SECRET, text="Halo", now=NOW)
    await reports.add_staff_message(session, report_id=report.id, staff_id=STAFF, text="cek sekolah", note=True, now=NOW)


async def test_staff_actions_are_audited_and_a_closed_case_refuses_more(session: AsyncSession) -> None:
    report = await submit(session)
    assert report.id is not None
    later = NOW + timedelta(minutes=7)
    await reports.acknowledge(session, report_id=report.id, staff_id=STAFF, now=later)
    await reports.assign(session, report_id=report.id, staff_id=STAFF + 1, now=later + timedelta(minutes=1))
    await reports.refer(session, report_id=report.id, staff_id=STAFF, target="uptd_ppa", now=later)
    await reports.close(session, report_id=report.id, staff_id=STAFF, outcome="referred", now=later)
    detail = await reports.get_case(session, report_id=report.id)
    assert [h.action for h in detail.history] == ["report.ack", "report.assign", "report.refer", "report.close"]
    assert {h.actor_telegram_id for h in detail.history} == {STAFF, STAFF + 1}
    # The SLA clock became a duration and its precise start is gone (db/grain.py).
    assert detail.report.first_response_seconds == 7 * 60 and detail.report.received_at is None
    assert detail.report.first_response_at == NOW.replace(minute=0) and detail.report.assigned_to == STAFF + 1
    assert (detail.report.status, detail.report.outcome, detail.report.referred_to) == ("closed", "referred", "uptd_ppa")
    with pytest.raises(reports.ReportClosed):
        await reports.acknowledge(session, report_id=report.id, staff_id=STAFF, now=later)
    with pytest.raises(reports.ReportClosed):
        await reports.add_reporter_message(session, code=code_of(report), secret=SECRET, text="hi", now=later)


async def test_open_cases_urgent_first_then_oldest_and_figures_count_pranks_apart(session: AsyncSession) -> None:
    old = await submit(session, at=NOW - timedelta(hours=5))
    urgent = await submit(session, urgent=True, at=NOW)
    older_urgent = await submit(session, urgent=True, at=NOW - timedelta(hours=1))
    prank = await submit(session, at=NOW - timedelta(hours=9))
    assert prank.id is not None
    await reports.close(session, report_id=prank.id, staff_id=STAFF, outcome="not_genuine", now=NOW)
    assert [r.id for r in await reports.open_cases(session)] == [older_urgent.id, urgent.id, old.id]
    counts = await reports.figures(session)
    assert counts == {"new": 3, "open": 0, "resolved": 0, "referred": 0, "not_genuine": 1}


async def test_urgent_cases_are_realerted_until_acknowledged(session: AsyncSession) -> None:
    urgent = await submit(session, urgent=True)
    await submit(session, urgent=False)
    assert urgent.id is not None
    assert await reports.claim_realerts(session, now=NOW + timedelta(minutes=14)) == []
    claimed = await reports.claim_realerts(session, now=NOW + timedelta(minutes=16))
    assert [r.id for r in claimed] == [urgent.id]
    assert await reports.claim_realerts(session, now=NOW + timedelta(minutes=20)) == []  # once per interval
    assert len(await reports.claim_realerts(session, now=NOW + timedelta(minutes=27))) == 1
    await reports.acknowledge(session, report_id=urgent.id, staff_id=STAFF, now=NOW + timedelta(minutes=28))
    assert await reports.claim_realerts(session, now=NOW + timedelta(hours=2)) == []


async def test_an_undelivered_reply_is_claimed_once(session: AsyncSession) -> None:
    report = await submit(session)
    assert report.id is not None
    _, message = await reports.add_staff_message(session, report_id=report.id, staff_id=STAFF, text="Halo",
                                                 note=False, now=NOW)
    await outbox.enqueue(session, [outbox.new_row(kind="case_reply", text="x", now=NOW, sealed_route=report.reply_route,
                                                  source_id=message.id, dedupe_key=f"case_reply:{message.id}")])
    assert await reports.claim_undelivered(session, now=NOW) == []  # still pending: nothing to tell
    await session.execute(Delivery.__table__.update().values(status="blocked", sealed_route=None))  # type: ignore[attr-defined]
    claimed = await reports.claim_undelivered(session, now=NOW)
    assert [(r.id, m.id) for r, m in claimed] == [(report.id, message.id)]
    assert await reports.claim_undelivered(session, now=NOW) == []


def test_report_tables_have_no_path_to_users() -> None:
    for model in (Report, ReportEvidence, ReportMessage):
        table = model.__table__  # type: ignore[attr-defined]
        targets = {fk.column.table.name for column in table.columns for fk in column.foreign_keys}
        assert targets <= {"reports"}, (table.name, targets)
        names = {c.name for c in table.columns}
        assert not names & {"user_id", "telegram_id", "chat_id", "username", "name", "first_name"}
    assert AuditEntry.__tablename__ == "audit_log"


def test_the_hourly_limit_counts_under_keyed_digests() -> None:
    limit = reports.HourlyLimit(secret=SECRET, purpose="test", limit=2)
    person = 736251948
    for _ in range(2):
        assert limit.allowed(person, NOW)
        limit.hit(person, NOW)
    assert not limit.allowed(person, NOW)
    assert limit.allowed(person + 1, NOW)
    assert all(str(person) not in key for key in limit.keys())
    assert limit.allowed(person, NOW + timedelta(hours=1))  # a new hour forgets the last
    assert limit.keys() == ()
