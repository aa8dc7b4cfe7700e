"""Statistical disclosure control: every figure that leaves the office is published through here.

**Guarantee (for an officer):** a published count never shows 1 to 4 children, reports or
answers (it prints "<5"); every other count carries a small fixed random adjustment (−2 to +2)
that is the same every time the same records are counted, so comparing totals with their parts,
or two exports whose periods differ by a day, cannot tell how many people are in a hidden cell
or whether one child did something; rates and medians appear only when at least 5 people (or
reports) stand behind them.

**Method: the cell key method of the Australian Bureau of Statistics** (TableBuilder). Each
record — an account, a delivery, a quiz answer, a sign-up, a report — carries a fixed
pseudo-random *record key* in 0..255. A cell's key is the sum of its records' keys modulo 256;
its perturbation comes from a fixed lookup table indexed by (cell count, cell key). So:

- the same set of records always publishes the same value: asking again, or asking for an
  overlapping period in which the cell did not change, gives nothing new, and noise cannot be
  averaged away by repetition;
- a total is perturbed from its own key, never summed from the published parts, so
  "ALL − Kota" does not give back a hidden kecamatan;
- one record more or less gives a new cell key, hence fresh noise: the difference of two exports
  is the true difference plus the difference of two independent draws (it equals the truth in
  about a third of cases, and nothing tells the reader which).

Record keys are keyed by SECRET_KEY: the parameters of a keyed hash of the record's id are
derived with HMAC from a HKDF key with its own purpose label (db/crypto.py), so no migration
adds a column and no one without the secret can recompute the noise. The hash runs inside the
aggregation query (SQLite and PostgreSQL have no HMAC), summed per cell next to the count, so
the stored closed months (db/indicator_cache.py) keep their cell keys as they keep their counts.

Counts below the threshold are suppressed (never exact 1..4); a perturbed value that lands below
the threshold is suppressed too, so "<5" also covers a few true 5s and 6s. Zero stays zero.
Rates are computed from a perturbed numerator (keyed by the cell's answers) and rounded to one
decimal; rates and medians need `min_cell` *people* behind them (children, not answers: a
child's seven answers are one child). An empty group prints "–".

**Cost in accuracy:** published counts differ from the exact ones by 0.6 on average (half the
cells are exact, a fifth each ±1, a twentieth each ±2); measured on the benchmark year, see the
README. `min_cell=0` publishes exact figures and every output says so.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, literal

from db.crypto import derive_key

if TYPE_CHECKING:
    from collections.abc import Sequence

    from db.indicators import Row

PURPOSE = "indicator-record-key/v1"
KEYS = 256  # record and cell keys are in 0..KEYS-1
_PRIME = 2_147_483_647  # 2^31 - 1: products of two residues stay below 2^62 (64-bit SQL integers)
EMPTY = "–"

# The perturbation table: 256 entries with mean 0 and variance 0.8. Half of the keys leave the
# count as it is, 51 add one, 51 take one, 13 add two, 13 take two.
_TABLE: tuple[int, ...] = tuple([0] * 128 + [1] * 51 + [-1] * 51 + [2] * 13 + [-2] * 13)
assert len(_TABLE) == KEYS and sum(_TABLE) == 0


@dataclass(frozen=True)
class RecordKeys:
    """The secret parameters of the keyed record hash (derived from SECRET_KEY)."""

    a: int
    b: int
    c: int
    d: int

    def sql(self, column: Any) -> Any:
        """The record's wide key (0..2^31-2) as a SQL expression; its key is this mod KEYS.

        Cells sum the wide keys (64-bit safe for billions of rows) and reduce them at the end:
        the sum of the records' keys mod KEYS is the wide sum mod KEYS. Two rounds, the second
        quadratic, so that neighbouring ids get unrelated keys.
        """
        first = (column * literal(self.a, BigInteger()) + literal(self.b, BigInteger())) % _PRIME
        return ((first * first) % _PRIME * literal(self.c, BigInteger()) + literal(self.d, BigInteger())) % _PRIME

    def wide(self, record_id: int) -> int:
        """`sql` computed in Python (for tests and checks)."""
        first = (record_id * self.a + self.b) % _PRIME
        return ((first * first) % _PRIME * self.c + self.d) % _PRIME

    def key(self, record_id: int) -> int:
        """The record key in 0..KEYS-1."""
        return self.wide(record_id) % KEYS


@lru_cache(maxsize=8)
def record_keys(secret: str) -> RecordKeys:
    """The record-key parameters of a deployment, derived from its SECRET_KEY."""
    key = derive_key(secret, PURPOSE)
    numbers = [
        int.from_bytes(hmac.new(key, label.encode(), hashlib.sha256).digest()[:8], "big") % (_PRIME - 1) + 1
        for label in ("a", "b", "c", "d")
    ]
    return RecordKeys(*numbers)


def perturbation(count: int, cell_key: int) -> int:
    """The fixed adjustment of a cell with `count` records and cell key `cell_key`."""
    return _TABLE[(cell_key + 97 * count) % KEYS]


@dataclass(frozen=True)
class Published:
    """A figure as it may be published: the text to print, and the number (None when hidden)."""

    text: str
    number: float | None

    @property
    def hidden(self) -> bool:
        """True when the figure is suppressed or empty (print the text, chart nothing)."""
        return self.number is None


def count(value: float, cell_key: int | None, *, min_cell: int) -> Published:
    """Publish a count: exact with min_cell 0; else "<N" below N, otherwise perturbed."""
    exact = round(value)
    if min_cell <= 0 or exact == 0:
        return Published(str(exact), float(exact))
    if cell_key is None:
        raise ValueError("protected figures need record keys: compute them with SECRET_KEY")
    hidden = Published(f"<{min_cell}", None)
    if exact < min_cell:
        return hidden
    published = exact + perturbation(exact, cell_key % KEYS)
    return hidden if published < min_cell else Published(str(published), float(published))


def rate(numerator: float, denominator: float, people: float, cell_key: int | None, *, min_cell: int) -> Published:
    """Publish a percentage: "–" with no data, "<N" with fewer than N people, else one decimal."""
    if denominator <= 0:
        return Published(EMPTY, None)
    hits = round(numerator)
    if min_cell > 0:
        if people < min_cell:
            return Published(f"<{min_cell}", None)
        if cell_key is None:
            raise ValueError("protected figures need record keys: compute them with SECRET_KEY")
        hits = min(max(hits + perturbation(round(denominator), cell_key % KEYS), 0), round(denominator))
    value = round(100.0 * hits / denominator, 1)
    return Published(f"{value:.1f}", value)


def median(value: float, people: float, *, min_cell: int) -> Published:
    """Publish a median: "–" with no data, "<N" with fewer than N people, else one decimal."""
    if people <= 0:
        return Published(EMPTY, None)
    if min_cell > 0 and people < min_cell:
        return Published(f"<{min_cell}", None)
    shown = round(value, 1)
    return Published(f"{shown:.1f}", shown)


def publish(row: Row, *, min_cell: int) -> Published:
    """Publish one indicator row (count, rate or median) under threshold `min_cell`."""
    if row.is_count:
        return count(row.value, row.key, min_cell=min_cell)
    people = row.people if row.people is not None else 0.0
    if row.base is not None and row.kind == "rate":
        return rate(row.value * row.base / 100.0, row.base, people, row.key, min_cell=min_cell)
    return median(row.value, people, min_cell=min_cell)


def publish_all(rows: Sequence[Row], *, min_cell: int) -> list[Published]:
    """Publish every row (the one path of CSV, XLSX cells, XLSX charts and /statistik)."""
    return [publish(row, min_cell=min_cell) for row in rows]


def csv_rows(rows: Sequence[Row], *, min_cell: int) -> list[list[str]]:
    """The rows in the CSV's column order with their published values."""
    out = []
    for row, shown in zip(rows, publish_all(rows, min_cell=min_cell), strict=True):
        cells = row.as_csv()
        cells[-1] = shown.text
        out.append(cells)
    return out


def protected_rows(rows: Sequence[Row], *, min_cell: int) -> list[Row]:
    """Copies of the rows holding their published numbers (hidden ones as 0), for drawings."""
    return [replace(row, value=shown.number or 0.0)
            for row, shown in zip(rows, publish_all(rows, min_cell=min_cell), strict=True)]


def note(min_cell: int) -> str:
    """The line every sheet and the CSV carry about how its figures are protected."""
    if min_cell <= 0:
        return ("Angka persis, TANPA perlindungan sel kecil (--min-cell 0): jangan dibagikan ke luar kantor. "
                "Exact figures, NOT protected: do not share outside the office.")
    return (f"Angka dilindungi: jumlah 1 sampai {min_cell - 1} ditulis <{min_cell}, jumlah lain digeser acak tetap "
            f"(-2 sampai +2); persentase dan median hanya dari {min_cell} orang atau lebih; '–' = tidak ada data. "
            f"Protected: counts under {min_cell} print as <{min_cell}, other counts carry a fixed random "
            f"adjustment of -2 to +2; rates and medians need {min_cell} people; '–' = no data.")


def mean_absolute_error(rows: Sequence[Row], *, min_cell: int) -> tuple[float, int]:
    """Mean |exact − published| over the counts that are published as numbers, and how many."""
    gaps = [abs(row.value - shown.number) for row, shown in zip(rows, publish_all(rows, min_cell=min_cell), strict=True)
            if row.is_count and shown.number is not None and row.value > 0]
    return (sum(gaps) / len(gaps) if gaps else 0.0), len(gaps)


def threshold(value: float, *, min_cell: int) -> Published:
    """Publish a count that has no record keys: "<N" from 1 to N-1, exact otherwise.

    Only for figures outside the indicator cells (the per-broadcast delivery sheet), which carry
    no place, age or gender; everything else goes through `count`.
    """
    exact = round(value)
    if min_cell > 0 and 0 < exact < min_cell:
        return Published(f"<{min_cell}", None)
    return Published(str(exact), float(exact))
