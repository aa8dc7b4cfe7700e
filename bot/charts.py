"""The /statistik chart: participation by kecamatan and month, drawn with matplotlib (Agg).

The numbers are the protected ones (db/disclosure.py), as in every export: a hidden count is
drawn as a low hatched bar labelled "<5", never as its value and never as an empty month. Every
month of the period is on the axis, also those without sign-ups; month names come in the
reader's language; the axis counts people, so its ticks are whole numbers.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from db.disclosure import publish_all
from db.indicators import Row

CODE = "users_registered"


@dataclass(frozen=True)
class ChartText:
    """What the chart says, in the reader's language."""

    title: str
    ylabel: str
    empty: str
    month_names: Sequence[str]  # January .. December, short


def months_between(start: date, end: date) -> list[date]:
    """The first day of every month from start's month to end's month."""
    months, month = [], start.replace(day=1)
    while month <= end:
        months.append(month)
        month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return months


def participation_png(rows: Sequence[Row], *, months: Sequence[date], text: ChartText, min_cell: int) -> bytes:
    """Grouped bars: one group per month, one bar per kecamatan; large type for phone screens."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    monthly = [r for r in rows if r.indicator == CODE and r.values["kecamatan"] not in ("ALL", "", "-")
               and r.values["kelurahan"] == "ALL" and r.period_start.day == 1
               and r.period_end.month == r.period_start.month and r.period_end.year == r.period_start.year]
    shown = dict(zip(((r.period_start, r.values["kecamatan"]) for r in monthly),
                     publish_all(monthly, min_cell=min_cell), strict=True))
    kecamatan = sorted({name for _, name in shown})
    figure, axes = plt.subplots(figsize=(7.5, 9), dpi=110)
    width = 0.8 / max(1, len(kecamatan))
    highest = max((p.number or 0 for p in shown.values()), default=0)
    low = max(highest * 0.04, 0.3)  # the height of a hidden count's bar: visible, clearly not a value
    for index, name in enumerate(kecamatan):
        xs = [m + index * width for m in range(len(months))]
        cells = [shown.get((month, name)) for month in months]
        bars = axes.bar(xs, [c.number or 0 if c else 0 for c in cells], width, label=name.replace("Balikpapan ", ""))
        colour = bars.patches[0].get_facecolor() if bars.patches else None
        for x, cell in zip(xs, cells, strict=True):
            if cell is not None and cell.hidden and cell.text.startswith("<"):
                axes.bar(x, low, width, color="none", edgecolor=colour, hatch="///")
                axes.text(x, low, cell.text, ha="center", va="bottom", fontsize=9)
    axes.set_xticks([m + 0.4 - width / 2 for m in range(len(months))])
    axes.set_xticklabels([f"{text.month_names[m.month - 1]}\n{m.year}" for m in months], fontsize=12)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # people, not fractions of them
    axes.set_ylim(bottom=0, top=max(highest * 1.1, 5))
    axes.set_title(text.title, fontsize=16, pad=12)
    axes.set_ylabel(text.ylabel, fontsize=13)
    axes.tick_params(axis="y", labelsize=12)
    if kecamatan:
        axes.legend(fontsize=12, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
    else:
        axes.text(0.5, 0.5, text.empty, ha="center", va="center", fontsize=16, transform=axes.transAxes)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


async def participation_png_async(rows: Sequence[Row], *, months: Sequence[date], text: ChartText,
                                  min_cell: int) -> bytes:
    """`participation_png` in a worker thread."""
    return await asyncio.to_thread(participation_png, rows, months=months, text=text, min_cell=min_cell)
