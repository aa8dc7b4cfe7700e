"""The /statistik chart: participation by kecamatan and month, drawn with matplotlib (Agg)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence

from db.indicators import Row

CODE = "users_registered"


def participation_png(rows: Sequence[Row], *, title: str, ylabel: str, empty: str) -> bytes:
    """Grouped bars: one group per month, one bar per kecamatan; large type for phone screens."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    monthly = [r for r in rows if r.indicator == CODE and r.values["kecamatan"] not in ("ALL", "", "-")
               and r.values["kelurahan"] == "ALL" and r.period_start.day == 1
               and r.period_end.month == r.period_start.month and r.period_end.year == r.period_start.year]
    months = sorted({r.period_start for r in monthly})
    kecamatan = sorted({r.values["kecamatan"] for r in monthly})
    values = {(r.period_start, r.values["kecamatan"]): r.value for r in monthly}
    figure, axes = plt.subplots(figsize=(7.5, 9), dpi=110)
    width = 0.8 / max(1, len(kecamatan))
    for index, name in enumerate(kecamatan):
        xs = [m + index * width for m in range(len(months))]
        axes.bar(xs, [values.get((month, name), 0) for month in months], width,
                 label=name.replace("Balikpapan ", ""))
    axes.set_xticks([m + 0.4 - width / 2 for m in range(len(months))])
    axes.set_xticklabels([month.strftime("%b\n%Y") for month in months], fontsize=12)
    axes.set_title(title, fontsize=16, pad=12)
    axes.set_ylabel(ylabel, fontsize=13)
    axes.tick_params(axis="y", labelsize=12)
    if kecamatan:
        axes.legend(fontsize=12, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
    else:
        axes.text(0.5, 0.5, empty, ha="center", va="center", fontsize=16, transform=axes.transAxes)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


async def participation_png_async(rows: Sequence[Row], *, title: str, ylabel: str, empty: str) -> bytes:
    """`participation_png` in a worker thread."""
    return await asyncio.to_thread(participation_png, rows, title=title, ylabel=ylabel, empty=empty)
