"""Indicators against hand-computed values, with ALL totals, WITA month boundaries and small cells.

The exact values are checked on the computed rows; what a file shows goes through
db/disclosure.py (tests/unit/test_disclosure.py replays the attacks on it).
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.exports import write_csv
from db import outbox
from db.indicators import HEADER, Period, compute
from tests.helpers.factories import make_user

WITA = ZoneInfo("Asia/Makassar")
SECRET = "unit-test-secret-key-that-is-long-enough-0123456789"
OCT_31_2330_WITA = datetime(2026, 10, 31, 15, 30, tzinfo=UTC)
NOV_01_0030_WITA = datetime(2026, 10, 31, 16, 30, tzinfo=UTC)
NOV_15 = datetime(2026, 11, 15, 4, 0, tzinfo=UTC)
DEC_02 = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)


async def data(session: AsyncSession) -> None:
    """Hand-made: 6 registered users, 1 pending child, 3 broadcast deliveries."""
    await make_user(session, 1, kecamatan="Balikpapan Kota", kelurahan="Damai", now=OCT_31_2330_WITA)
    await make_user(session, 2, kecamatan="Balikpapan Kota", kelurahan="Damai", now=NOV_01_0030_WITA)
    await make_user(session, 3, kecamatan="Balikpapan Kota", kelurahan="Prapatan", gender="male", now=NOV_15)
    await make_user(session, 4, kecamatan="Balikpapan Timur", kelurahan="Manggar", age_band="10_12", now=NOV_15)
    await make_user(session, 5, role="parent", kecamatan="Balikpapan Timur", kelurahan="Manggar", now=NOV_15)
    await make_user(session, 6, kecamatan="Balikpapan Utara", kelurahan="Batu Ampar", now=DEC_02)
    await make_user(session, 7, consented=False, now=NOV_15)  # pending: never counted
    rows = [
        outbox.new_row(kind="broadcast", text="x", now=NOV_15, chat_id=uid, user_id=uid) for uid in (2, 3, 4)
    ]
    await outbox.enqueue(session, rows)
    claimed = await outbox.claim_batch(session, now=NOV_15, limit=10)
    await outbox.record_outcomes(
        session,
        outcomes=[outbox.Outcome(claimed[0].id, outbox.Result.SENT), outbox.Outcome(claimed[1].id, outbox.Result.SENT),
                  outbox.Outcome(claimed[2].id, outbox.Result.BLOCKED)],
        now=NOV_15,
    )


def value(rows, code, start, end, **dims):  # type: ignore[no-untyped-def]
    wanted = {d: dims.get(d, "ALL") for d in ("kecamatan", "kelurahan", "age_band", "gender", "role")}
    found = [r for r in rows if r.indicator == code and (r.period_start, r.period_end) == (start, end) and
             all(r.values[d] == v for d, v in wanted.items())]
    assert len(found) <= 1, found
    return found[0].value if found else 0


async def test_users_registered_by_month_in_wita(session: AsyncSession) -> None:
    await data(session)
    rows = await compute(session, period=Period(date(2026, 11, 1), date(2026, 12, 31), WITA))
    whole = (date(2026, 11, 1), date(2026, 12, 31))
    nov = (date(2026, 11, 1), date(2026, 11, 30))
    assert value(rows, "users_registered", *whole) == 5  # user 1 joined on 31 October (WITA)
    assert value(rows, "users_registered", *nov) == 4  # user 2 joined 00:30 WITA on 1 November
    assert value(rows, "users_registered", date(2026, 12, 1), date(2026, 12, 31)) == 1
    assert value(rows, "users_registered", *nov, kecamatan="Balikpapan Kota") == 2
    assert value(rows, "users_registered", *nov, kecamatan="Balikpapan Kota", kelurahan="Damai") == 1
    assert value(rows, "users_registered", *nov, kecamatan="Balikpapan Timur") == 2
    assert value(rows, "users_registered", *nov, role="parent") == 1
    assert value(rows, "users_registered", *nov, gender="male") == 1
    assert value(rows, "users_registered", *nov, age_band="10_12") == 1


async def test_broadcast_delivered_and_failed(session: AsyncSession) -> None:
    await data(session)
    rows = await compute(session, period=Period(date(2026, 11, 1), date(2026, 11, 30), WITA))
    nov = (date(2026, 11, 1), date(2026, 11, 30))
    assert value(rows, "broadcast_delivered", *nov) == 2
    assert value(rows, "broadcast_delivered", *nov, kecamatan="Balikpapan Kota") == 2
    assert value(rows, "broadcast_failed", *nov) == 1
    assert value(rows, "broadcast_failed", *nov, kecamatan="Balikpapan Timur") == 1


async def test_csv_header_and_small_cells(session: AsyncSession, tmp_path: Path) -> None:
    await data(session)
    rows = await compute(session, period=Period(date(2026, 11, 1), date(2026, 11, 30), WITA), secret=SECRET)
    path = tmp_path / "export.csv"
    write_csv(rows, path, min_cell=3)
    with path.open(encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    assert tuple(table[0]) == HEADER
    assert ",".join(table[0]) == "indicator,period_start,period_end,kecamatan,kelurahan,age_band,gender,role,category,value"
    total = next(r for r in table if r[0] == "users_registered" and r[3:9] == ["ALL"] * 5 + [""])
    assert total[-1] == "<3" or abs(int(total[-1]) - 4) <= 2  # 4 is not small: perturbed by at most 2
    kota = next(r for r in table if r[0] == "users_registered" and r[3] == "Balikpapan Kota" and r[4] == "ALL")
    assert kota[-1] == "<3"
    assert not any(r[-1] in ("1", "2") for r in table[1:-1])  # no count under the threshold, anywhere
    assert table[-1][0] == "note" and "<3" in table[-1][-1]
    write_csv(rows, path, min_cell=0)
    with path.open(encoding="utf-8") as handle:
        exact = list(csv.reader(handle))
    kota = next(r for r in exact if r[0] == "users_registered" and r[3] == "Balikpapan Kota" and r[4] == "ALL")
    assert kota[-1] == "2"
    total = next(r for r in exact if r[0] == "users_registered" and r[3:9] == ["ALL"] * 5 + [""])
    assert total[-1] == "4"
    assert exact[-1][0] == "note" and "TANPA perlindungan" in exact[-1][-1]


async def test_xlsx_has_summary_groups_and_native_charts(session: AsyncSession, tmp_path: Path) -> None:
    import zipfile

    import openpyxl

    from bot.exports import write_xlsx

    await data(session)
    rows = await compute(session, period=Period(date(2026, 11, 1), date(2026, 12, 31), WITA), secret=SECRET)
    path = tmp_path / "export.xlsx"
    write_xlsx(rows, path, min_cell=3)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Ringkasan", "Participation", "Broadcasts", "Quizzes", "Reports", "Events", "Siaran",
                               "Grafik"]
    summary = {row[0].value: row[3].value for row in book["Ringkasan"].iter_rows(min_row=6) if row[0].value}
    assert summary["users_registered"] == "<3" or abs(summary["users_registered"] - 5) <= 2
    assert summary["broadcast_delivered"] == "<3"
    assert summary["report_first_response_hours_median"] == "–"  # no reports: no 0.00 h
    participation = list(book["Participation"].iter_rows(values_only=True))
    assert "<3" in participation[0][0]  # every sheet says how its figures are protected
    assert participation[1] == HEADER
    with zipfile.ZipFile(path) as archive:
        charts = [name for name in archive.namelist() if name.startswith("xl/charts/chart")]
        axes = [archive.read(name).decode() for name in charts]
    assert len(charts) == 4
    assert sum('formatCode="0"' in chart for chart in axes) == 3  # whole-number axes (the pie has none)
    # It prints: A4 landscape, one page wide, the note and column names repeated on every page.
    for sheet in book.worksheets:
        assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.paperSize == 9, sheet.title
        setup = sheet.page_setup  # fitToWidth 1 is the default, written as nothing
        assert sheet.sheet_properties.pageSetUpPr.fitToPage and setup.fitToWidth in (None, 1) and setup.fitToHeight == 0
    assert book["Participation"].print_title_rows == "$1:$2" and book["Ringkasan"].print_title_rows == "$1:$5"
    # The long protection note is wrapped inside the table's width: on one line it widened the
    # printed page and shrank every figure to an unreadable size (seen in LibreOffice's PDF).
    assert any(str(r).startswith("A1:") for r in book["Participation"].merged_cells.ranges)
    assert book["Participation"]["A1"].alignment.wrap_text


async def test_xlsx_lists_each_broadcast_with_its_figures(session: AsyncSession, tmp_path: Path) -> None:
    import openpyxl

    from bot.exports import write_xlsx
    from db import broadcasts
    from db.broadcasts import Audience

    await data(session)
    await broadcasts.create(session, author_telegram_id=999_999, text="x", audience=Audience(), schedule="now", now=NOV_15, tz=WITA)
    [run_id] = await broadcasts.fire_due(session, now=NOV_15, tz=WITA, quiet=None)
    claimed = await outbox.claim_batch(session, now=NOV_15, limit=100)
    await outbox.record_outcomes(
        session, outcomes=[outbox.Outcome(item.id, outbox.Result.SENT) for item in claimed[:4]], now=NOV_15
    )
    period = Period(date(2026, 11, 1), date(2026, 11, 30), WITA)
    runs = await broadcasts.figures_in_period(session, start=period.utc_start, end=period.utc_end)
    path = tmp_path / "export.xlsx"
    write_xlsx(await compute(session, period=period), path, broadcast_runs=runs, min_cell=0)
    sheet = list(openpyxl.load_workbook(path)["Siaran"].iter_rows(values_only=True))
    assert sheet[2][:8] == (run_id, "2026-11-15 04:00", 5, 4, 0, 0, 1, 0)
    write_xlsx(await compute(session, period=period, secret=SECRET), path, broadcast_runs=runs)
    sheet = list(openpyxl.load_workbook(path)["Siaran"].iter_rows(values_only=True))
    assert sheet[2][:8] == (run_id, "2026-11-15 04:00", 5, "<5", 0, 0, "<5", 0)


async def test_event_indicators(session: AsyncSession) -> None:
    from datetime import timedelta

    from content.loaders import load_regions
    from db import events, users
    from db.events import EventDraft

    await data(session)
    regions = load_regions().kecamatan
    start = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

    def draft(title: str, kecamatan: str, kelurahan: str) -> EventDraft:
        return EventDraft(title=title, description="x", starts_at=start, ends_at=start + timedelta(hours=2),
                          venue="Aula", kecamatan=kecamatan, kelurahan=kelurahan, capacity=10)

    manager = await make_user(session, 50, role="staff", now=NOV_15)
    held = await events.create_event(session, draft=draft("Diskusi", "Balikpapan Kota", "Damai"), created_by=50,
                                     regions=regions, now=NOV_15)
    dropped = await events.create_event(session, draft=draft("Batal", "Balikpapan Timur", "Manggar"), created_by=50,
                                        regions=regions, now=NOV_15)
    assert held.id is not None and dropped.id is not None
    people = [await users.get_user(session, telegram_id=uid) for uid in (2, 3, 4)]
    for person in people:
        assert person is not None
        await events.sign_up(session, event_id=held.id, user=person, now=NOV_15)
    assert people[2] is not None and people[0] is not None
    await events.cancel_signup(session, event_id=held.id, user=people[2], now=NOV_15)
    await events.check_in(session, code=held.checkin_code, user=people[0], now=start)
    await events.cancel_event(session, event_id=dropped.id, by=manager, now=NOV_15)

    rows = await compute(session, period=Period(date(2026, 11, 1), date(2026, 11, 30), WITA))
    nov = (date(2026, 11, 1), date(2026, 11, 30))
    assert value(rows, "event_signups", *nov) == 2
    assert value(rows, "event_signups", *nov, kecamatan="Balikpapan Kota") == 2
    assert value(rows, "event_attendance", *nov) == 1
    held_rows = [r for r in rows if r.indicator == "events_held" and (r.period_start, r.period_end) == nov]
    total = next(r for r in held_rows if r.values["kecamatan"] == "ALL")
    assert total.value == 1 and total.values["age_band"] == "" and total.values["gender"] == ""
    assert next(r for r in held_rows if r.values["kecamatan"] == "Balikpapan Kota").value == 1


async def test_quiz_indicators(session: AsyncSession, tmp_path: Path) -> None:
    from db.models import QuizAnswer, QuizAttempt

    await data(session)
    two = await users_by_telegram(session, 2)
    three = await users_by_telegram(session, 3)
    done = QuizAttempt(user_id=two, topic="kha", question_ids="kha-01,kha-02,kha-03", total=3, score=2,
                       status="completed", started_at=NOV_15, completed_at=NOV_15)
    again = QuizAttempt(user_id=two, topic="ktr", question_ids="ktr-01", total=1, score=0, status="active", started_at=NOV_15)
    open_one = QuizAttempt(user_id=three, topic="kla", question_ids="kla-01,kla-02", total=2, score=0, status="active",
                           started_at=NOV_15)
    session.add_all([done, again, open_one])
    await session.flush()
    answers = [(done, "kha-01", True), (done, "kha-02", True), (done, "kha-03", False),
               (open_one, "kla-01", False), (open_one, "kla-02", False)]
    session.add_all([QuizAnswer(attempt_id=a.id, question_id=q, option=0, correct=c, answered_at=NOV_15)
                     for a, q, c in answers])
    await session.flush()
    rows = await compute(session, period=Period(date(2026, 11, 1), date(2026, 11, 30), WITA), secret=SECRET)
    nov = (date(2026, 11, 1), date(2026, 11, 30))
    assert value(rows, "quiz_participants", *nov) == 2  # user 2 played twice, counted once
    assert value(rows, "quiz_completed", *nov) == 1
    assert value(rows, "quiz_correct_rate", *nov) == 40.0  # 2 right of 5 answers
    assert value(rows, "quiz_correct_rate", *nov, kecamatan="Balikpapan Kota") == 40.0
    path = tmp_path / "quiz.csv"
    write_csv(rows, path, min_cell=0)
    table = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    rate = next(r for r in table if r[0] == "quiz_correct_rate" and r[3] == "ALL" and r[5] == "ALL")
    assert rate[-1] == "40.0"  # exact, rounded for reading
    write_csv(rows, path, min_cell=3)  # five answers, but two children: too few to publish a rate
    table = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    rate = next(r for r in table if r[0] == "quiz_correct_rate" and r[3] == "ALL" and r[5] == "ALL")
    assert rate[-1] == "<3"


async def users_by_telegram(session: AsyncSession, telegram_id: int) -> int:
    from db import users

    user = await users.get_user(session, telegram_id=telegram_id)
    assert user is not None and user.id is not None
    return user.id


async def test_report_indicators_and_the_response_median(session: AsyncSession) -> None:
    from datetime import timedelta

    from db.models import Report

    def report(code: str, kecamatan: str, category: str, *, response_hours: float | None,
               outcome: str | None) -> Report:
        return Report(
            code_hash=code, category=category, reporter_kind="self", urgent=False, kecamatan=kecamatan, place="school",
            happened="today", description="x", language="id", follow_up=False,
            status="closed" if outcome else "open", outcome=outcome, created_at=NOV_15,
            first_response_seconds=int(response_hours * 3600) if response_hours is not None else None,
            closed_at=NOV_15 + timedelta(days=1) if outcome else None,
        )

    session.add_all([
        report("AAAA-AAAA", "Balikpapan Kota", "perundungan", response_hours=2, outcome="resolved"),
        report("BBBB-BBBB", "Balikpapan Kota", "perundungan_daring", response_hours=4, outcome="not_genuine"),
        report("CCCC-CCCC", "Balikpapan Timur", "kekerasan_fisik", response_hours=None, outcome=None),
    ])
    await session.flush()
    rows = await compute(session, period=Period(date(2026, 11, 1), date(2026, 11, 30), WITA))

    def figure(code: str, **dims: str) -> float:
        wanted = {"kecamatan": "ALL", "kelurahan": "ALL", "category": "ALL"} | dims
        [row] = [r for r in rows if r.indicator == code and all(r.values[d] == v for d, v in wanted.items())]
        return row.value

    assert figure("reports_received") == 3
    assert figure("reports_received", kecamatan="Balikpapan Kota") == 2
    assert figure("reports_received", category="kekerasan_fisik") == 1
    assert figure("reports_closed") == 1 and figure("reports_not_genuine") == 1
    assert figure("report_first_response_hours_median") == 3.0  # median of 2 h and 4 h
    assert figure("report_first_response_hours_median", kecamatan="Balikpapan Kota") == 3.0
    assert figure("report_first_response_hours_median", category="perundungan") == 2.0
