"""Exports of the participation indicators: CSV in the long format of SPEC §8, and XLSX.

XLSX is written with XlsxWriter (native Excel charts, formats, column widths; no Excel needed).
Every figure — CSV value, XLSX cell, XLSX chart data — is published through db/disclosure.py
(perturbed, suppressed or exact with `min_cell=0`), and every sheet and the CSV say which.

Writing runs in a worker thread so that the bot's event loop never waits on a file. Both
writers fill a temporary file beside the target and rename it at the end, so a crash or a kill
mid-export never leaves a half-written file under the requested name.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import os
import tempfile
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from db import disclosure
from db.broadcasts import RunFigures
from db.disclosure import Published
from db.indicators import DIMENSIONS, HEADER, INDICATORS, Row

DEFAULT_MIN_CELL = 5


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is flushed and renamed to `path`.

    The rename is atomic on one file system, so readers see the old file or the whole new one.
    On failure (or a kill) no file appears under `path`; a killed run may leave a hidden
    `.<name>.*.part` file, which the next run neither needs nor touches.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_csv(rows: Sequence[Row], path: Path, *, min_cell: int = DEFAULT_MIN_CELL) -> int:
    """Write the long-format CSV (exact SPEC §8 header); return the number of data rows.

    The last row is a note (indicator `note`, the text in `value`) saying how the figures are
    protected, or that they are exact.
    """
    with atomic_file(path) as temporary, temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        cells = disclosure.csv_rows(rows, min_cell=min_cell)
        writer.writerows(cells)
        writer.writerow(["note", "", "", *([""] * len(DIMENSIONS)), disclosure.note(min_cell)])
    return len(cells)


async def write_export(
    rows: Sequence[Row],
    path: Path,
    *,
    fmt: str,
    min_cell: int = DEFAULT_MIN_CELL,
    broadcast_runs: Sequence[RunFigures] = (),
) -> None:
    """Write CSV or XLSX in a worker thread, so that the event loop keeps serving users."""
    if fmt == "xlsx":
        await asyncio.to_thread(write_xlsx, rows, path, min_cell=min_cell, broadcast_runs=broadcast_runs)
    else:
        await asyncio.to_thread(write_csv, rows, path, min_cell=min_cell)


def write_xlsx(
    rows: Sequence[Row],
    path: Path,
    *,
    min_cell: int = DEFAULT_MIN_CELL,
    title: str = "Forum Anak Bot — indikator partisipasi",
    broadcast_runs: Sequence[RunFigures] = (),
) -> None:
    """Write the workbook: a summary, one sheet per indicator group, native Excel charts."""
    with atomic_file(path) as temporary:
        _write_workbook(rows, temporary, min_cell=min_cell, title=title, broadcast_runs=broadcast_runs)


def _write_workbook(
    rows: Sequence[Row], path: Path, *, min_cell: int, title: str, broadcast_runs: Sequence[RunFigures]
) -> None:
    import xlsxwriter  # imported here: only exports need it

    by_code = {indicator.code: indicator for indicator in INDICATORS}
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": False})
    bold = workbook.add_format({"bold": True, "valign": "top"})
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    number = workbook.add_format({"num_format": "#,##0", "valign": "top"})
    decimal = workbook.add_format({"num_format": "0.0", "valign": "top"})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})

    # Wrapped in a merged cell as wide as the table: a long line would widen the printed page
    # and shrink everything on it to fit.
    note_format = workbook.add_format({"italic": True, "font_color": "#9C0006" if not min_cell else "#375623",
                                       "text_wrap": True, "valign": "top"})
    note = disclosure.note(min_cell)
    shown = dict(zip(map(id, rows), disclosure.publish_all(rows, min_cell=min_cell), strict=True))
    span = _whole_period(rows)  # once: a row is the whole period's or a month's
    whole = [r for r in rows if (r.period_start, r.period_end) == span]
    summary = workbook.add_worksheet("Ringkasan")
    summary.write(0, 0, title, workbook.add_format({"bold": True, "font_size": 14}))
    if rows:
        summary.write(1, 0, f"Periode: {rows[0].period_start.isoformat()} s/d {max(r.period_end for r in rows).isoformat()} (WITA)")
    _note(summary, 2, 3, note, note_format)
    for col, name in enumerate(("Indikator", "Definisi", "Klaster KLA", "Total")):
        summary.write(4, col, name, header)
    for line, indicator in enumerate(INDICATORS, start=5):
        total = next((r for r in whole if r.indicator == indicator.code and _is_total(r)), None)
        summary.write(line, 0, indicator.code, bold)
        summary.write(line, 1, indicator.definition, wrap)
        # XlsxWriter does not size rows to wrapped text (and LibreOffice keeps the default), so
        # a definition of three lines would run into the next row.
        lines = max(len(indicator.definition) // 68, len(indicator.cluster) // 42) + 1
        summary.set_row(line, 15 * lines)
        summary.write(line, 2, indicator.cluster, wrap)
        _write_value(summary, line, 3, total, shown.get(id(total)), number, decimal)
    summary.set_column(0, 0, 30)
    summary.set_column(1, 1, 70)
    summary.set_column(2, 2, 45)
    summary.set_column(3, 3, 12)
    _print_layout(summary, header_row=4, title=title)

    for group in dict.fromkeys(indicator.group for indicator in INDICATORS):
        sheet = workbook.add_worksheet(group.capitalize()[:31])
        _note(sheet, 0, len(HEADER) - 1, note, note_format)
        for col, name in enumerate(HEADER):
            sheet.write(1, col, name, header)
        line = 2
        for row in rows:
            if by_code[row.indicator].group != group:
                continue
            for col, cell in enumerate(row.as_csv()[:-1]):
                sheet.write_string(line, col, cell)
            _write_value(sheet, line, len(HEADER) - 1, row, shown[id(row)], number, decimal)
            line += 1
        sheet.autofilter(1, 0, max(line - 1, 2), len(HEADER) - 1)
        sheet.freeze_panes(2, 0)
        sheet.set_column(0, 0, 26)
        sheet.set_column(1, 2, 12)
        sheet.set_column(3, 4, 22)
        sheet.set_column(5, len(HEADER) - 1, 12)
        _print_layout(sheet, header_row=1, title=title)

    _broadcast_sheet(workbook, broadcast_runs, header, number, min_cell=min_cell, note=(note, note_format))
    _charts(workbook, rows, whole, shown, header, number, note=(note, note_format))
    workbook.close()


def _note(sheet: Any, row: int, last_col: int, text: str, fmt: Any, *, first_col: int = 0) -> None:
    """The protection note across the table's width, wrapped, two lines high."""
    sheet.merge_range(row, first_col, row, last_col, text, fmt)
    sheet.set_row(row, 45)


def _print_layout(sheet: Any, *, header_row: int | None, title: str) -> None:
    """Print as an officer expects: A4 landscape, one page wide, header repeated, page numbers."""
    sheet.set_paper(9)  # A4
    sheet.set_landscape()
    sheet.fit_to_pages(1, 0)  # as wide as one page, as many pages down as it takes
    sheet.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    if header_row is not None:
        sheet.repeat_rows(0, header_row)  # the protection note and the column names on every page
    sheet.set_header(f"&L{title.replace('&', '&&')}&R&A")
    sheet.set_footer("&CHalaman &P / &N")


def _broadcast_sheet(
    workbook: Any, runs: Sequence[RunFigures], header: Any, number: Any, *, min_cell: int, note: tuple[str, Any]
) -> None:
    """Per broadcast occurrence: the delivery figures the author sees in the bot.

    These counts have no record keys (they come from db/broadcasts.py), so they are protected by
    the threshold alone: 1 to min_cell-1 prints as `<min_cell`. They carry no place, age or
    gender, and a broadcast's audience is chosen by its author.
    """
    sheet = workbook.add_worksheet("Siaran")
    _note(sheet, 0, 10, *note)
    names = ("siaran", "waktu (UTC)", "penerima", "terkirim", "gagal", "memblokir", "menunggu",
             "dihentikan", "mulai (UTC)", "selesai (UTC)", "pesan/detik")
    for col, name in enumerate(names):
        sheet.write(1, col, name, header)
    for line, run in enumerate(runs, start=2):
        sheet.write_number(line, 0, run.run_id)
        sheet.write_string(line, 1, run.occurrence_at.strftime("%Y-%m-%d %H:%M"))
        for col, value in enumerate((run.audience, run.sent, run.failed, run.blocked, run.pending, run.cancelled), start=2):
            figure = disclosure.threshold(value, min_cell=min_cell)
            if figure.number is None:
                sheet.write_string(line, col, figure.text)
            else:
                sheet.write_number(line, col, figure.number, number)
        sheet.write_string(line, 8, run.started_at.strftime("%Y-%m-%d %H:%M:%S") if run.started_at else "")
        sheet.write_string(line, 9, run.finished_at.strftime("%Y-%m-%d %H:%M:%S") if run.finished_at else "")
        if run.per_second is not None:
            sheet.write_number(line, 10, round(run.per_second, 1))
    sheet.set_column(0, 0, 9)
    sheet.set_column(1, 1, 18)
    sheet.set_column(2, 7, 11)
    sheet.set_column(8, 9, 20)
    sheet.set_column(10, 10, 12)
    _print_layout(sheet, header_row=1, title="Siaran")


def _is_total(row: Row) -> bool:
    return all(v in ("ALL", "") for v in row.values.values())


def _whole_period(rows: Sequence[Row]) -> tuple[date, date] | None:
    """The export's whole period (its widest row), or None for no rows."""
    if not rows:
        return None
    return min(r.period_start for r in rows), max(r.period_end for r in rows)


def _write_value(
    sheet: Any, line: int, col: int, row: Row | None, shown: Published | None, number: Any, decimal: Any
) -> None:
    """Write a published figure: a number where there is one, its text ("<5", "–") otherwise."""
    if row is None or shown is None:
        sheet.write_string(line, col, disclosure.EMPTY)
    elif shown.number is None:
        sheet.write_string(line, col, shown.text)
    else:
        sheet.write_number(line, col, shown.number, number if row.is_count else decimal)


def _charts(
    workbook: Any, rows: Sequence[Row], whole: Sequence[Row], shown: dict[int, Published], header: Any, number: Any,
    *, note: tuple[str, Any],
) -> None:
    """A data sheet of chart series and the charts drawn from it (native Excel charts).

    The series hold the published figures: a hidden one is written as its text ("<5"), which
    Excel draws as a gap, never as the exact count.
    """
    data = workbook.add_worksheet("Grafik")
    _note(data, 0, 8, *note, first_col=3)
    code = "users_registered"

    def series(cells: list[tuple[str, Published]], top: int, left: int, caption: str) -> tuple[int, int, int]:
        data.write(top, left, caption, header)
        data.write(top, left + 1, "jumlah", header)
        for i, (label, figure) in enumerate(cells, start=1):
            data.write_string(top + i, left, label)
            if figure.number is None:
                data.write_string(top + i, left + 1, figure.text)
            else:
                data.write_number(top + i, left + 1, figure.number, number)
        return top + 1, top + len(cells), left

    def chart(kind: str, title: str, place: str, span: tuple[int, int, int]) -> None:
        first, last, left = span
        if last < first:
            return
        figure = workbook.add_chart({"type": kind})
        figure.add_series({
            "name": title,
            "categories": ["Grafik", first, left, last, left],
            "values": ["Grafik", first, left + 1, last, left + 1],
        })
        figure.set_title({"name": title})
        if kind == "pie":  # no axes: each slice carries its name and share
            figure.set_legend({"position": "bottom"})
        else:  # one series, named by the title; the axis counts whole people from zero
            figure.set_legend({"none": True})
            figure.set_y_axis({"min": 0, "num_format": "0", "major_gridlines": {"visible": True}})
        data.insert_chart(place, figure, {"x_scale": 1.2, "y_scale": 1.1})

    def cells(dimension: str) -> list[tuple[str, Published]]:
        picked = [r for r in whole if r.indicator == code and r.values[dimension] not in ("ALL", "", "-")
                  and all(r.values[d] == "ALL" for d in ("kelurahan", "age_band", "gender", "role") if d != dimension)]
        return sorted(((r.values[dimension], shown[id(r)]) for r in picked), key=lambda c: c[0])

    whole_period = _whole_period(rows)
    months = sorted(
        ((r.period_start.strftime("%Y-%m"), shown[id(r)]) for r in rows
         if r.indicator == code and _is_total(r) and (r.period_start, r.period_end) != whole_period),
        key=lambda c: c[0],
    )
    chart("column", "Pendaftar per kecamatan", "E3", series(cells("kecamatan"), 2, 0, "kecamatan"))
    chart("line", "Pendaftar per bulan", "E20", series(months, 20, 0, "bulan"))
    chart("column", "Pendaftar per kelompok umur", "E38", series(cells("age_band"), 40, 0, "kelompok umur"))
    chart("pie", "Pendaftar per jenis kelamin", "E56", series(cells("gender"), 60, 0, "jenis kelamin"))
    data.set_column(0, 0, 22)
    data.set_column(1, 1, 10)
    _print_layout(data, header_row=None, title="Grafik")
