"""The /statistik chart: every month of the period, hidden counts marked "<5", whole-number ticks,
month names in the reader's language (drawn for real with matplotlib, then inspected)."""

from __future__ import annotations

from datetime import date
from unittest import mock

from bot import charts
from bot.charts import ChartText, months_between
from db.indicators import Row

TEXT = ChartText(title="Pendaftar", ylabel="Jumlah", empty="Belum ada data",
                 month_names="Jan Feb Mar Apr Mei Jun Jul Agu Sep Okt Nov Des".split())


def row(month: date, kecamatan: str, value: float) -> Row:
    end = months_between(month, month)[0].replace(day=28)
    return Row(charts.CODE, month, end, {"kecamatan": kecamatan, "kelurahan": "ALL"}, value, key=7)


def test_months_between_covers_every_month_across_a_year_end() -> None:
    assert months_between(date(2026, 11, 15), date(2027, 2, 3)) == [
        date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)]


def test_the_chart_shows_empty_months_marks_hidden_counts_and_uses_whole_ticks() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    drawn: dict[str, object] = {}
    real_close = plt.close

    def keep(figure: object) -> None:  # inspect the figure instead of closing it at once
        drawn["figure"] = figure

    rows = [row(date(2026, 5, 1), "Balikpapan Kota", 2), row(date(2026, 7, 1), "Balikpapan Kota", 40)]
    with mock.patch.object(plt, "close", keep):
        png = charts.participation_png(rows, months=months_between(date(2026, 5, 1), date(2026, 8, 31)),
                                       text=TEXT, min_cell=5)
    assert png.startswith(b"\x89PNG")
    figure = drawn["figure"]
    axes = figure.axes[0]  # type: ignore[attr-defined]
    labels = [t.get_text() for t in axes.get_xticklabels()]
    assert labels == ["Mei\n2026", "Jun\n2026", "Jul\n2026", "Agu\n2026"]  # June and August have no sign-ups
    texts = [t.get_text() for t in axes.texts]
    assert "<5" in texts and "2" not in texts  # the count of 2 is never shown
    heights = sorted(p.get_height() for p in axes.patches if p.get_height() > 0)
    assert 2 not in heights and heights[-1] >= 35  # the hidden bar is low, the other is its perturbed value
    ticks = axes.get_yticks()
    assert all(float(t).is_integer() for t in ticks)
    real_close(figure)
