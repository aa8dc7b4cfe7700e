"""Anonymous reports and their case management (SPEC §4).

Anonymity is structural: no function here takes the reporter's Telegram id, and the report
tables have no column that could hold it. The only way back to the reporter is the sealed
reply route (db/crypto.py) that the caller passes in already encrypted. Rate limits count in
memory under keyed HMACs (`HourlyLimit`), so nothing on disk ties a person to a report time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db import audit, crypto, grain, limits
from db.codes import random_code
from db.crypto import keyed_digest
from db.errors import DomainError, InvalidChoice
from db.models import AuditEntry, Delivery, Report, ReportEvidence, ReportMessage, ReportStatus

# Category -> SIMFONI-PPA violence type (domain-notes §3), so staff record it without re-coding.
CATEGORIES: dict[str, str] = {
    "bullying": "psikis",
    "cyberbullying": "psikis",
    "physical": "fisik",
    "psychological": "psikis",
    "sexual": "seksual",
    "neglect": "penelantaran",
    "exploitation": "eksploitasi",
    "smoke_free": "lainnya",
    "other": "lainnya",
}
# Categories whose evidence could be a sexual image of a child: no photo step, no photos kept
# (content-review.md, NCMEC sextortion guidance). Staff hear it in words; a screenshot of a threat
# is worth keeping, but on the child's phone, not here.
NO_PHOTO_CATEGORIES = frozenset({"sexual", "exploitation"})
# Place type -> SIMFONI-PPA place.
PLACES: dict[str, str] = {
    "school": "sekolah",
    "home": "rumah_tangga",
    "online": "lainnya",
    "public": "fasilitas_umum",
    "other": "lainnya",
}
REPORTER_KINDS = ("self", "witness", "guardian", "other")
HAPPENED = ("today", "yesterday", "this_week", "this_month", "earlier", "ongoing")
OUTCOMES = ("resolved", "referred", "not_genuine")
REFERRALS = ("uptd_ppa", "police", "school", "health")

DESCRIPTION_MAX = limits.REPORT_DESCRIPTION_MAX  # the numbers live in db/limits.py
MESSAGE_MAX = limits.REPORT_MESSAGE_MAX
EVIDENCE_MAX = limits.REPORT_EVIDENCE_MAX
STATUS_DAYS_AFTER_CLOSE = 30  # a closed report's code stops working after this
VIEW = "report.view"  # the audit action of opening a case card
EVIDENCE_VIEW = "report.evidence_view"  # the audit action of opening a case's evidence photos
REALERT_AFTER = timedelta(minutes=15)
REALERT_EVERY = timedelta(minutes=10)

CODE_PATTERN = re.compile(r"^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$")


class ReportUnknown(DomainError):
    """No report has this code."""

    code = "report_unknown"


class ReportExpired(DomainError):
    """The report was closed long ago; its code no longer opens it."""

    code = "report_expired"


class ReportClosed(DomainError):
    """The case is closed: no more messages or actions."""

    code = "report_closed"


class NoFollowUp(DomainError):
    """The reporter chose no follow-up, so nobody can write to them."""

    code = "report_no_follow_up"


class ReportInvalid(DomainError):
    """A draft is missing an answer or has one that is not allowed."""

    code = "report_invalid"


@dataclass(frozen=True)
class ReportDraft:
    """The answers of one report, validated by `submit_report`."""

    reporter_kind: str
    category: str
    urgent: bool
    kecamatan: str | None
    kelurahan: str | None
    place: str
    happened: str
    description: str
    language: str = "id"
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class CaseDetail:
    """A case with everything staff see: evidence, messages, notes and the action history."""

    report: Report
    evidence: list[ReportEvidence]
    messages: list[ReportMessage]
    history: list[AuditEntry] = field(default_factory=list)  # staff actions, oldest first
    views: list[AuditEntry] = field(default_factory=list)  # each opening of the card, oldest first


def takes_photos(category: str) -> bool:
    """Tell whether a report of this category may carry evidence photos."""
    return category not in NO_PHOTO_CATEGORIES


def simfoni_type(category: str) -> str:
    """Return the SIMFONI-PPA violence type of a category."""
    return CATEGORIES.get(category, "lainnya")


def simfoni_place(place: str) -> str:
    """Return the SIMFONI-PPA place of a place type."""
    return PLACES.get(place, "lainnya")


def normalize_report_code(text: str) -> str | None:
    """Turn a typed code (any case, spaces or no dash) into `XXXX-XXXX`, or None if it cannot be one."""
    compact = re.sub(r"[\s\-_]", "", text.strip().upper())
    if len(compact) != 8:
        return None
    code = f"{compact[:4]}-{compact[4:]}"
    return code if CODE_PATTERN.match(code) else None


def _validate(draft: ReportDraft, regions: dict[str, tuple[str, ...]]) -> None:
    if draft.category not in CATEGORIES or draft.place not in PLACES:
        raise ReportInvalid()
    if draft.reporter_kind not in REPORTER_KINDS or draft.happened not in HAPPENED:
        raise ReportInvalid()
    if draft.kecamatan is not None and draft.kecamatan not in regions:
        raise ReportInvalid()
    if draft.kelurahan is not None and (draft.kecamatan is None or draft.kelurahan not in regions[draft.kecamatan]):
        raise ReportInvalid()
    if not draft.description.strip() or limits.length(draft.description) > DESCRIPTION_MAX:
        raise ReportInvalid()
    if len(draft.evidence) > EVIDENCE_MAX or draft.language not in ("id", "en"):
        raise ReportInvalid()
    if draft.evidence and not takes_photos(draft.category):
        raise ReportInvalid()


async def submit_report(
    session: AsyncSession,
    *,
    draft: ReportDraft,
    regions: dict[str, tuple[str, ...]],
    reply_route: Callable[[int], str] | None,
    secret: str,
    now: datetime,
) -> tuple[Report, str]:
    """Store a report with a fresh reference code; return it and the code (for the reporter only).

    Only a keyed hash of the code is stored (`secret` is SECRET_KEY), so neither staff nor a copy
    of the database can read a code back. `reply_route` seals the reporter's chat for the new
    report's id (db/crypto.route_sealer), so the route opens for this report only; this module
    never sees the chat.
    """
    _validate(draft, regions)
    while True:  # 32^8 codes: a collision is rare, but a second try costs nothing
        code = random_code()
        hashed = crypto.report_code_hash(secret, code)
        if await session.scalar(select(Report.id).where(Report.code_hash == hashed)) is None:
            break
    report = Report(
        code_hash=hashed, category=draft.category, reporter_kind=draft.reporter_kind, urgent=draft.urgent,
        kecamatan=draft.kecamatan, kelurahan=draft.kelurahan, place=draft.place, happened=draft.happened,
        description=draft.description.strip(), language=draft.language, follow_up=reply_route is not None,
        status=ReportStatus.NEW, created_at=grain.hour(now), received_at=now,
        last_alerted_at=now,
    )
    session.add(report)
    await session.flush()
    assert report.id is not None
    if reply_route is not None:  # sealed now that the id it is bound to exists, same transaction
        report.reply_route = reply_route(report.id)
    for file_id in draft.evidence:
        session.add(ReportEvidence(report_id=report.id, file_id=file_id[:200], kind="photo"))
    await session.flush()
    return report, code


async def find_by_code(session: AsyncSession, *, code: str, secret: str) -> Report | None:
    """Return the report with this (typed) code, if any."""
    normal = normalize_report_code(code)
    if normal is None:
        return None
    hashed = crypto.report_code_hash(secret, normal)
    result: Report | None = await session.scalar(select(Report).where(Report.code_hash == hashed))
    return result


async def open_for_reporter(session: AsyncSession, *, code: str, secret: str, now: datetime) -> CaseDetail:
    """Return what the holder of a code may see: the report and the messages (never notes)."""
    report = await find_by_code(session, code=code, secret=secret)
    if report is None:
        raise ReportUnknown()
    if report.closed_at is not None and now - report.closed_at > timedelta(days=STATUS_DAYS_AFTER_CLOSE):
        raise ReportExpired()
    messages = [m for m in await _messages(session, report) if m.kind != "note"]
    return CaseDetail(report=report, evidence=[], messages=messages)


async def add_reporter_message(session: AsyncSession, *, code: str, secret: str, text: str, now: datetime) -> Report:
    """Add the reporter's answer to their case (only with follow-up, only while open)."""
    detail = await open_for_reporter(session, code=code, secret=secret, now=now)
    report = detail.report
    if not report.follow_up:
        raise NoFollowUp()
    if report.status == ReportStatus.CLOSED:
        raise ReportClosed()
    if not text.strip() or limits.length(text) > MESSAGE_MAX:
        raise ReportInvalid()
    assert report.id is not None
    # The hour only: the reporter's answer is their activity (db/grain.py).
    session.add(ReportMessage(report_id=report.id, kind="reporter", text=text.strip(), created_at=grain.hour(now)))
    await session.flush()
    return report


async def _messages(session: AsyncSession, report: Report) -> list[ReportMessage]:
    query = select(ReportMessage).where(ReportMessage.report_id == report.id).order_by(ReportMessage.id)
    return list((await session.scalars(query)).all())


async def record_view(session: AsyncSession, *, report_id: int, staff_id: int, now: datetime) -> None:
    """Write to the audit log that a staff member opened a case card (reading is access too)."""
    await audit.record(session, actor_telegram_id=staff_id, action=VIEW, now=now, subject=_subject(report_id))


async def open_evidence(session: AsyncSession, *, report_id: int, staff_id: int, now: datetime) -> list[str]:
    """Return a case's evidence photos (file ids) for a staff member and audit the opening.

    Nothing is written when the case does not exist (ReportUnknown) or has no photos (empty list).
    """
    if await session.get(Report, report_id) is None:
        raise ReportUnknown()
    files = list((await session.scalars(
        select(ReportEvidence.file_id).where(ReportEvidence.report_id == report_id).order_by(ReportEvidence.id)
    )).all())
    if files:
        await audit.record(session, actor_telegram_id=staff_id, action=EVIDENCE_VIEW, now=now,
                           subject=_subject(report_id))
    return files


async def get_case(session: AsyncSession, *, report_id: int) -> CaseDetail:
    """Return a case with evidence, messages, notes, and its actions and views from the audit log."""
    report = await session.get(Report, report_id)
    if report is None:
        raise ReportUnknown()
    evidence = list((await session.scalars(
        select(ReportEvidence).where(ReportEvidence.report_id == report_id).order_by(ReportEvidence.id)
    )).all())
    entries = list((await session.scalars(
        select(AuditEntry).where(AuditEntry.subject == _subject(report_id)).order_by(AuditEntry.id)
    )).all())
    return CaseDetail(
        report=report, evidence=evidence, messages=await _messages(session, report),
        history=[e for e in entries if e.action != VIEW], views=[e for e in entries if e.action == VIEW],
    )


async def open_cases(session: AsyncSession, *, limit: int = 30) -> list[Report]:
    """List cases not closed: urgent first, then oldest first."""
    query = (
        select(Report).where(Report.status != ReportStatus.CLOSED)
        .order_by(Report.urgent.desc(), Report.created_at, Report.id)  # type: ignore[attr-defined]
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def figures(session: AsyncSession) -> dict[str, int]:
    """Count cases: open, waiting for a first look, and closed by outcome (not genuine apart)."""
    counts = {"new": 0, "open": 0, **{outcome: 0 for outcome in OUTCOMES}}
    rows = (await session.execute(
        select(Report.status, Report.outcome, func.count()).group_by(Report.status, Report.outcome)
    )).all()
    for status, outcome, n in rows:
        key = outcome if status == ReportStatus.CLOSED else status
        if key in counts:
            counts[key] += int(n)
    return counts


def _subject(report_id: int | None) -> str:
    return f"report:{report_id}"


async def _staff_action(
    session: AsyncSession, *, report_id: int, staff_id: int, action: str, now: datetime, detail: str | None = None
) -> Report:
    """Load an open case, mark it seen (first response, acknowledged) and audit the action."""
    report = await session.get(Report, report_id)
    if report is None:
        raise ReportUnknown()
    if report.status == ReportStatus.CLOSED:
        raise ReportClosed()
    if report.first_response_at is None:
        # The SLA clock stops: its precise start becomes a duration and is erased, so no exact
        # arrival time stays in the database once staff have acted (db/grain.py).
        start = report.received_at or report.created_at
        report.first_response_seconds = max(0, int((now - start).total_seconds()))
        report.first_response_at = grain.hour(now)
        report.received_at = report.last_alerted_at = None
    if report.status == ReportStatus.NEW:
        report.status = ReportStatus.OPEN
        report.acknowledged_at = grain.hour(now)
    await audit.record(session, actor_telegram_id=staff_id, action=f"report.{action}", now=now,
                       subject=_subject(report.id), detail=detail)
    return report


async def acknowledge(session: AsyncSession, *, report_id: int, staff_id: int, now: datetime) -> Report:
    """Acknowledge a case (stops urgent re-alerts)."""
    return await _staff_action(session, report_id=report_id, staff_id=staff_id, action="ack", now=now)


async def assign(session: AsyncSession, *, report_id: int, staff_id: int, now: datetime) -> Report:
    """Assign a case to the acting staff member."""
    report = await _staff_action(session, report_id=report_id, staff_id=staff_id, action="assign", now=now)
    report.assigned_to = staff_id
    await session.flush()
    return report


async def add_staff_message(
    session: AsyncSession, *, report_id: int, staff_id: int, text: str, note: bool, now: datetime
) -> tuple[Report, ReportMessage]:
    """Add a message to the reporter (needs follow-up) or a staff-only note."""
    if not text.strip() or limits.length(text) > MESSAGE_MAX:
        raise ReportInvalid()
    current = await session.get(Report, report_id)
    if current is not None and not note and (not current.follow_up or current.reply_route is None):
        raise NoFollowUp()
    report = await _staff_action(session, report_id=report_id, staff_id=staff_id,
                                 action="note" if note else "reply", now=now)
    message = ReportMessage(report_id=report_id, kind="note" if note else "staff", staff_telegram_id=staff_id,
                            text=text.strip(), created_at=now)
    session.add(message)
    await session.flush()
    return report, message


async def refer(session: AsyncSession, *, report_id: int, staff_id: int, target: str, now: datetime) -> Report:
    """Record a referral (UPTD PPA, police, school, health service)."""
    if target not in REFERRALS:
        raise InvalidChoice()
    report = await _staff_action(session, report_id=report_id, staff_id=staff_id, action="refer", now=now,
                                 detail=target)
    report.referred_to = target
    await session.flush()
    return report


async def close(session: AsyncSession, *, report_id: int, staff_id: int, outcome: str, now: datetime) -> Report:
    """Close a case with an outcome; the reply route is erased, nobody will write again."""
    if outcome not in OUTCOMES:
        raise InvalidChoice()
    report = await _staff_action(session, report_id=report_id, staff_id=staff_id, action="close", now=now,
                                 detail=outcome)
    report.status, report.outcome, report.closed_at = ReportStatus.CLOSED, outcome, now
    report.reply_route = None
    await session.flush()
    return report


async def claim_realerts(
    session: AsyncSession, *, now: datetime, after: timedelta = REALERT_AFTER, every: timedelta = REALERT_EVERY
) -> list[Report]:
    """Claim urgent cases nobody acknowledged for `after`, at most once per `every` each.

    The claim is one conditional UPDATE per case, so two schedulers never alert twice.
    """
    query = select(Report).where(
        Report.urgent.is_(True),  # type: ignore[attr-defined]
        Report.status == ReportStatus.NEW,
        Report.received_at <= now - after,  # type: ignore[operator]
        or_(Report.last_alerted_at.is_(None), Report.last_alerted_at <= now - every),  # type: ignore[union-attr]
    )
    claimed = []
    for report in (await session.scalars(query)).all():
        seen = report.last_alerted_at
        guard = Report.last_alerted_at.is_(None) if seen is None else Report.last_alerted_at == seen  # type: ignore[union-attr]
        result = await session.execute(
            update(Report).where(and_(Report.id == report.id, guard)).values(last_alerted_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            await session.refresh(report)
            claimed.append(report)
    return claimed


async def claim_undelivered(
    session: AsyncSession, *, now: datetime, kind: str = "case_reply"
) -> list[tuple[Report, ReportMessage]]:
    """Claim staff messages the outbox could not deliver (blocked or failed), each once."""
    table = Delivery.__table__  # type: ignore[attr-defined]
    query = (
        select(ReportMessage, Report)
        .join(Report, Report.id == ReportMessage.report_id)  # type: ignore[arg-type]
        .join(table, and_(table.c.kind == kind, table.c.source_id == ReportMessage.id))
        .where(ReportMessage.undelivered_told_at.is_(None), table.c.status.in_(["blocked", "failed"]))  # type: ignore[union-attr]
    )
    claimed = []
    for message, report in (await session.execute(query)).all():
        result = await session.execute(
            update(ReportMessage)
            .where(ReportMessage.id == message.id, ReportMessage.undelivered_told_at.is_(None))  # type: ignore[union-attr]
            .values(undelivered_told_at=now).execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append((report, message))
    return claimed


class HourlyLimit:
    """Count actions per person per clock hour, in memory, under keyed HMACs (never the id).

    Kept in memory on purpose: nothing that could tie a person to the time of a report reaches
    the disk, not even under the key. The costs: a restart resets the counts, and with several
    bot processes each counts alone; both are fine for an abuse brake.
    """

    def __init__(self, *, secret: str, purpose: str, limit: int) -> None:
        self.secret = secret
        self.purpose = purpose
        self.limit = limit
        self._hour = ""
        self._counts: dict[str, int] = {}

    def _key(self, person: int, now: datetime) -> str:
        hour = now.strftime("%Y%m%d%H")
        if hour != self._hour:  # a new hour: forget the last one entirely
            self._hour, self._counts = hour, {}
        return keyed_digest(self.secret, self.purpose, person, hour)

    def allowed(self, person: int, now: datetime) -> bool:
        """Tell whether this person may act again this hour."""
        return self._counts.get(self._key(person, now), 0) < self.limit

    def hit(self, person: int, now: datetime) -> None:
        """Count one action."""
        key = self._key(person, now)
        self._counts[key] = self._counts.get(key, 0) + 1

    def keys(self) -> Sequence[str]:
        """The bucket keys held now (for tests: never an id)."""
        return tuple(self._counts)
