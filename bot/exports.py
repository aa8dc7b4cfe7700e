"""Exports of the participation indicators: CSV in the long format of SPEC §8.

Writing runs in a worker thread so that the bot's event loop never waits on a file.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Sequence
from pathlib import Path

from db.indicators import HEADER, Row, suppress_small_cells

DEFAULT_MIN_CELL = 5


def write_csv(rows: Sequence[Row], path: Path, *, min_cell: int = DEFAULT_MIN_CELL) -> int:
    """Write the long-format CSV (exact SPEC §8 header); return the number of data rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        cells = suppress_small_cells(rows, min_cell)
        writer.writerows(cells)
    return len(cells)


async def write_csv_async(rows: Sequence[Row], path: Path, *, min_cell: int = DEFAULT_MIN_CELL) -> int:
    """`write_csv` in a worker thread."""
    return await asyncio.to_thread(write_csv, rows, path, min_cell=min_cell)
