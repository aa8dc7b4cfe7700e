"""Disclosure control replays the attacks of issue 18 and recovers nothing reliable.

Each attack runs on SQLite and PostgreSQL against real rows; where the outcome depends on the
noise, it is replayed under many deployment secrets (each gives other record keys), and the test
asserts how often the attacker would be right — a fixed list of secrets, so the test is exact.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.exports import write_csv, write_xlsx
from db import disclosure
from db.indicators import INDICATORS, Period, Row, compute
from db.models import QuizAnswer, QuizAttempt, Report
from tests.helpers.factories import make_user
from tests.unit.test_indicators import SECRET, WITA

SECRETS = [f"deployment-secret-{n:03d}-that-is-long-enough-for-hkdf" for n in range(40)]
BY_CODE = {indicator.code: indicator for indicator in INDICATORS}
MARCH_10 = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)
MARCH_21 = datetime(2026, 3, 21, 3, 0, tzinfo=UTC)  # 11:00 WITA on 21 March


def find(rows: list[Row], code: str, period: Period, **dims: str) -> Row:
    """The row of an indicator for a period and dimension values (others ALL)."""
    found = [r for r in rows if r.indicator == code and (r.period_start, r.period_end) == (period.start, period.end)
             and all(r.values[d] == dims.get(d, "ALL") for d in r.values if r.values[d] != "")]
    assert len(found) == 1, (code, dims, found)
    return found[0]


def shown(row: Row, min_cell: int = 5) -> str:
    return disclosure.publish(row, min_cell=min_cell).text


# ---- the method itself ---------------------------------------------------------------------------------


def test_the_table_has_no_bias_and_a_cell_always_gets_the_same_noise() -> None:
    draws = [disclosure.perturbation(20, key) for key in range(disclosure.KEYS)]
    assert sum(draws) == 0 and set(draws) == {-2, -1, 0, 1, 2}
    assert [disclosure.perturbation(20, key) for key in range(disclosure.KEYS)] == draws
    assert disclosure.count(3, 17, min_cell=5).text == "<5"
    assert disclosure.count(3, 17, min_cell=0).text == "3"
    assert disclosure.count(0, 17, min_cell=5).text == "0"
    assert disclosure.rate(0, 0, 0, 0, min_cell=5).text == "–"
    assert disclosure.median(0.0, 0, min_cell=0).text == "–"
    with pytest.raises(ValueError, match="SECRET_KEY"):
        disclosure.count(30, None, min_cell=5)  # rows computed without record keys cannot be protected


def test_a_protected_count_never_shows_one_to_four() -> None:
    for exact in range(0, 40):
        for key in range(disclosure.KEYS):
            published = disclosure.count(exact, key, min_cell=5)
            assert published.text == "<5" or published.number == 0 or published.number >= 5
            if published.number:
                assert abs(published.number - exact) <= 2


async def test_record_keys_in_sql_are_the_keys_in_python(session: AsyncSession) -> None:
    keys = disclosure.record_keys(SECRET)
    ids = [1, 2, 3, 1000, 123_456_789, 2_000_000_000]
    for record_id in ids:
        wide = (await session.execute(select(keys.sql(literal(record_id))))).scalar_one()
        assert int(wide) == keys.wide(record_id)
    assert len({keys.key(i) for i in range(1, 2000)}) == disclosure.KEYS  # every key is used
    assert disclosure.record_keys("another secret").wide(1) != keys.wide(1)


async def test_stored_months_keep_their_cell_keys(session: AsyncSession) -> None:
    # The store packs a rate's four measures into two columns: what comes back is what went in.
    await users_and_quizzes(session, children=6, when=datetime(2026, 10, 10, 3, 0, tzinfo=UTC))
    period = Period(date(2026, 10, 1), date(2026, 11, 30), WITA)
    live = await compute(session, period=period, secret=SECRET)
    after = datetime(2026, 12, 20, tzinfo=UTC)  # October and November are closed
    await compute(session, period=period, secret=SECRET, now=after)
    stored = await compute(session, period=period, secret=SECRET, now=after)

    def keyed(rows: list[Row]) -> list[tuple[object, ...]]:
        return sorted((r.indicator, r.period_start, tuple(r.values.items()), r.value, r.key, r.people) for r in rows)

    assert keyed(stored) == keyed(live)
    assert any(r.key for r in live if r.indicator == "quiz_correct_rate")


# ---- (a) totals minus published parts ------------------------------------------------------------------


async def test_totals_minus_published_parts_do_not_give_back_a_hidden_cell(session: AsyncSession) -> None:
    # ALL 11 − Kota 9 = Barat 2 was the attack on the old export.
    for uid in range(9):
        await make_user(session, 100 + uid, kecamatan="Balikpapan Kota", kelurahan="Damai", now=MARCH_10)
    for uid in range(2):
        await make_user(session, 200 + uid, kecamatan="Balikpapan Barat", kelurahan="Margo Mulyo", now=MARCH_10)
    march = Period(date(2026, 3, 1), date(2026, 3, 31), WITA)
    guesses = Counter()
    for secret in SECRETS:
        rows = await compute(session, period=march, indicators=[BY_CODE["users_registered"]], secret=secret)
        total = shown(find(rows, "users_registered", march))
        kota = shown(find(rows, "users_registered", march, kecamatan="Balikpapan Kota"))
        barat = shown(find(rows, "users_registered", march, kecamatan="Balikpapan Barat"))
        assert barat == "<5"
        assert total != "<5" and kota != "<5"
        guesses[int(total) - int(kota)] += 1
    assert guesses[2] < len(SECRETS) / 2, guesses  # the true hidden count is the attacker's answer at most by luck
    assert len(guesses) >= 3, guesses  # and nothing tells which of the answers is the right one


# ---- (b) two exports whose periods differ by one day ----------------------------------------------------


def report(number: int, *, kelurahan: str, category: str, at: datetime, kecamatan: str = "Balikpapan Barat") -> Report:
    return Report(code_hash=f"hash-{number:06d}", category=category, reporter_kind="self", urgent=False,
                  kecamatan=kecamatan, kelurahan=kelurahan, place="school", happened="today", description="x",
                  language="id", follow_up=False, status="open", created_at=at)


async def test_two_exports_a_day_apart_do_not_reveal_one_report(session: AsyncSession) -> None:
    # One sexual-violence report from Margo Mulyo on 21 March; the rest earlier in the month.
    reports = [report(n, kelurahan="Margo Mulyo", category="perundungan", at=MARCH_10) for n in range(7)]
    reports += [report(100 + n, kelurahan="Baru Ilir", category="kekerasan_seksual", at=MARCH_10) for n in range(7)]
    reports += [report(200 + n, kelurahan="Kariangau", category="kekerasan_fisik", at=MARCH_10) for n in range(2)]
    reports.append(report(999, kelurahan="Margo Mulyo", category="kekerasan_seksual", at=MARCH_21))
    session.add_all(reports)
    await session.flush()
    before = Period(date(2026, 3, 1), date(2026, 3, 20), WITA)
    after = Period(date(2026, 3, 1), date(2026, 3, 21), WITA)
    exact_moves = Counter()
    for secret in SECRETS:
        published = {}
        for period in (before, after):
            rows = await compute(session, period=period, indicators=[BY_CODE["reports_received"]], secret=secret)
            for label, dims in (("kelurahan", {"kecamatan": "Balikpapan Barat", "kelurahan": "Margo Mulyo"}),
                                ("category", {"category": "kekerasan_seksual"}), ("total", {}),
                                ("kariangau", {"kecamatan": "Balikpapan Barat", "kelurahan": "Kariangau"})):
                published[label, period.end] = shown(find(rows, "reports_received", period, **dims))
        assert published["kariangau", before.end] == published["kariangau", after.end] == "<5"
        for label in ("kelurahan", "category", "total"):
            difference = int(published[label, after.end]) - int(published[label, before.end])
            exact_moves[label] += difference == 1
        exact_moves["both"] += all(
            int(published[label, after.end]) - int(published[label, before.end]) == 1 for label in ("kelurahan", "category")
        )
    for label in ("kelurahan", "category", "total"):
        assert exact_moves[label] < len(SECRETS) / 2, exact_moves
    assert exact_moves["both"] < len(SECRETS) / 4, exact_moves  # kelurahan × category: by luck only


async def test_the_same_records_always_publish_the_same_value(session: AsyncSession) -> None:
    # Overlapping periods holding the same records cannot be averaged: they all say the same.
    session.add_all([report(n, kelurahan="Margo Mulyo", category="perundungan", at=MARCH_10) for n in range(12)])
    await session.flush()
    values = set()
    for end in range(11, 32):  # 21 periods, every one holding the same twelve reports
        period = Period(date(2026, 3, 1), date(2026, 3, end), WITA)
        rows = await compute(session, period=period, indicators=[BY_CODE["reports_received"]], secret=SECRET)
        values.add(shown(find(rows, "reports_received", period)))
    assert len(values) == 1


# ---- (c) two exports around one child's quiz answer -----------------------------------------------------


async def users_and_quizzes(session: AsyncSession, *, children: int, when: datetime, first_id: int = 300) -> None:
    """Children of 13–15 in Kota who each answered four questions, two of them right."""
    for n in range(children):
        user = await make_user(session, first_id + n, age_band="13_15", now=when)
        attempt = QuizAttempt(user_id=user.id, topic="kha", question_ids="a,b,c,d", total=4, score=2,
                              status="completed", started_at=when, completed_at=when)
        session.add(attempt)
        await session.flush()
        session.add_all([QuizAnswer(attempt_id=attempt.id, question_id=q, option=0, correct=q in "ab", answered_at=when)
                         for q in "abcd"])
    await session.flush()


async def test_two_exports_around_one_childs_quiz_do_not_reveal_it(session: AsyncSession) -> None:
    await users_and_quizzes(session, children=8, when=MARCH_10)
    child = await make_user(session, 900, age_band="13_15", now=MARCH_10)
    attempt = QuizAttempt(user_id=child.id, topic="kla", question_ids="z", total=1, score=1, status="completed",
                          started_at=MARCH_21, completed_at=MARCH_21)
    session.add(attempt)
    await session.flush()
    session.add(QuizAnswer(attempt_id=attempt.id, question_id="z", option=0, correct=True, answered_at=MARCH_21))
    await session.flush()
    before = Period(date(2026, 3, 1), date(2026, 3, 20), WITA)
    after = Period(date(2026, 3, 1), date(2026, 3, 21), WITA)
    quiz = [BY_CODE["quiz_participants"], BY_CODE["quiz_correct_rate"]]
    one_more_player = rate_rose = 0
    for secret in SECRETS:
        first = await compute(session, period=before, indicators=quiz, secret=secret)
        second = await compute(session, period=after, indicators=quiz, secret=secret)
        players = [int(shown(find(rows, "quiz_participants", p, age_band="13_15"))) for rows, p in
                   ((first, before), (second, after))]
        one_more_player += players[1] - players[0] == 1
        rates = [float(shown(find(rows, "quiz_correct_rate", p, age_band="13_15"))) for rows, p in
                 ((first, before), (second, after))]
        rate_rose += rates[1] > rates[0]  # the attacker's reading: "the child's answer was right"
    assert one_more_player < len(SECRETS) / 2
    # Exact figures would say "rose" every time (17/33 > 16/32); the noise makes it a weak guess.
    assert rate_rose < 0.8 * len(SECRETS)


# ---- (d) a rate is hidden by the number of children, not of answers ------------------------------------


async def test_one_girls_quiz_rate_is_hidden_however_many_answers_she_gave(session: AsyncSession) -> None:
    await users_and_quizzes(session, children=6, when=MARCH_10)
    girl = await make_user(session, 950, age_band="16_17", gender="female", now=MARCH_10)
    for month, answers in ((MARCH_10, [True, True, False, False]), (MARCH_10 + timedelta(days=31), [True, False, False])):
        attempt = QuizAttempt(user_id=girl.id, topic="kha", question_ids="x", total=len(answers), score=0,
                              status="completed", started_at=month, completed_at=month)
        session.add(attempt)
        await session.flush()
        session.add_all([QuizAnswer(attempt_id=attempt.id, question_id=f"q{i}", option=0, correct=ok, answered_at=month)
                         for i, ok in enumerate(answers)])
    await session.flush()
    spring = Period(date(2026, 3, 1), date(2026, 4, 30), WITA)  # two months: 3/7 from one girl
    rows = await compute(session, period=spring, secret=SECRET)
    hers = find(rows, "quiz_correct_rate", spring, age_band="16_17")
    assert hers.base == 7 and round(hers.value, 2) == 42.86  # what the old export printed
    assert shown(hers) == "<5" and shown(hers, min_cell=0) == "42.9"
    everyone = find(rows, "quiz_correct_rate", spring)
    assert shown(everyone) != "<5"  # seven children: published, to one decimal
    assert len(shown(everyone).split(".")[1]) == 1


async def test_a_median_needs_five_reports_and_an_empty_month_shows_a_dash(session: AsyncSession) -> None:
    lone = report(1, kelurahan="Margo Mulyo", category="kekerasan_seksual", at=MARCH_10)
    lone.first_response_seconds = 9000  # 2.5 h
    session.add(lone)
    await session.flush()
    spring = Period(date(2026, 3, 1), date(2026, 4, 30), WITA)
    rows = await compute(session, period=spring, indicators=[BY_CODE["report_first_response_hours_median"]],
                         secret=SECRET)
    code = "report_first_response_hours_median"
    assert shown(find(rows, code, spring, category="kekerasan_seksual")) == "<5"
    april = Period(date(2026, 4, 1), date(2026, 4, 30), WITA)
    assert shown(find(rows, code, april)) == "–" and shown(find(rows, code, april), min_cell=0) == "–"


# ---- (e) charts and every file go through the same module ----------------------------------------------


async def test_charts_and_files_publish_the_same_protected_values(session: AsyncSession, tmp_path: Path) -> None:
    import openpyxl

    for uid in range(7):
        await make_user(session, 500 + uid, kecamatan="Balikpapan Kota", kelurahan="Damai", now=MARCH_10)
    for uid in range(2):
        await make_user(session, 600 + uid, kecamatan="Balikpapan Barat", kelurahan="Margo Mulyo", now=MARCH_10)
    period = Period(date(2026, 3, 1), date(2026, 4, 30), WITA)
    rows = await compute(session, period=period, secret=SECRET)
    write_csv(rows, tmp_path / "k.csv")
    table = list(csv.reader((tmp_path / "k.csv").read_text(encoding="utf-8").splitlines()))
    kota_csv = next(r[-1] for r in table if r[0] == "users_registered" and r[1:3] == ["2026-03-01", "2026-04-30"]
                    and r[3] == "Balikpapan Kota" and r[4] == "ALL")
    write_xlsx(rows, tmp_path / "k.xlsx")
    book = openpyxl.load_workbook(tmp_path / "k.xlsx")
    chart_data = {row[0]: row[1] for row in book["Grafik"].iter_rows(min_row=4, max_row=10, values_only=True) if row[0]}
    assert chart_data["Balikpapan Barat"] == "<5"  # drawn as a gap, never as 2
    assert str(chart_data["Balikpapan Kota"]) == kota_csv
    months = {row[0]: row[1] for row in book["Grafik"].iter_rows(min_row=22, max_row=30, values_only=True) if row[0]}
    assert months["2026-04"] == 0 and months["2026-03"] not in (1, 2, 3, 4)
    numbers = [cell for sheet in book for line in sheet.iter_rows(values_only=True) for cell in line
               if isinstance(cell, int | float)]
    assert not any(0 < n < 5 for n in numbers)  # no exact small count anywhere in the workbook
    drawn = disclosure.protected_rows(rows, min_cell=5)  # what /statistik draws
    assert not any(0 < r.value < 5 for r in drawn if r.is_count)
    kota = find(drawn, "users_registered", period, kecamatan="Balikpapan Kota")
    assert str(int(kota.value)) == kota_csv


async def test_exact_export_says_so_on_every_sheet(session: AsyncSession, tmp_path: Path) -> None:
    import openpyxl

    await make_user(session, 700, now=MARCH_10)
    rows = await compute(session, period=Period(date(2026, 3, 1), date(2026, 3, 31), WITA))
    write_xlsx(rows, tmp_path / "exact.xlsx", min_cell=0)
    book = openpyxl.load_workbook(tmp_path / "exact.xlsx")
    for sheet in book:
        texts = [cell for line in sheet.iter_rows(max_row=3, values_only=True) for cell in line if isinstance(cell, str)]
        assert any("TANPA perlindungan" in text for text in texts), sheet.title
    with pytest.raises(ValueError, match="SECRET_KEY"):
        write_csv(rows, tmp_path / "unkeyed.csv", min_cell=5)  # no keys, no protected file
