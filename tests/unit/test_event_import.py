"""`forum-anak events import`: good files create events; broken ones name each entry and field."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.event_import import EventFileError, import_events, parse_entries, read_entries
from content.loaders import load_regions
from db import events
from tests.helpers.databases import sqlite_url
from tests.helpers.factories import NOW

WITA = ZoneInfo("Asia/Makassar")
REGIONS = load_regions().kecamatan

GOOD = """
events:
  - title: Diskusi Hak Anak
    description: Ngobrol santai soal hak anak.
    start: "2030-11-25 16:00"
    end: "18:00"
    venue: Aula Kelurahan Damai
    kecamatan: Balikpapan Kota
    kelurahan: Damai
    capacity: 30
    age_bands: [10_12, "13_15"]
    signup_deadline: "2030-11-24 20:00"
    facilitator: 777
  - title: Lomba Poster Anti Rokok
    description: Gambar poster Kawasan Tanpa Rokok.
    start: 2030-12-01 09:00:00
    end: "01/12/2030 12.00"
    venue: Taman Bekapai
    kecamatan: Balikpapan Selatan
    capacity: 50
"""

BROKEN = """
events:
  - title: Diskusi Hak Anak
    description: Ngobrol santai.
    start: "2030-11-25 16:00"
    end: 15:00
    venue: Aula
    kecamatan: Balikpapan Kota
    kelurahan: Manggar
    capacity: tiga puluh
  - just a line
  - title: ""
    description: Tanpa judul.
    start: "kemarin"
    end: "2030-11-26 10:00"
    venue: Aula
    kecamatan: Atlantis
    capacity: 10
    colour: red
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "events.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_entries_become_drafts(tmp_path: Path) -> None:
    drafts = parse_entries(read_entries(write(tmp_path, GOOD)), regions=REGIONS, now=NOW, tz=WITA, facilitator=5)
    (first, owner1), (second, owner2) = drafts
    assert (owner1, owner2) == (777, 5)
    assert first.starts_at.astimezone(WITA).strftime("%d-%m-%Y %H:%M") == "25-11-2030 16:00"
    assert first.ends_at - first.starts_at == timedelta(hours=2) and first.age_bands == ("10_12", "13_15")
    assert first.signup_deadline is not None and first.kelurahan == "Damai"
    assert second.starts_at.astimezone(WITA).hour == 9 and second.ends_at.astimezone(WITA).hour == 12
    assert second.kelurahan is None and second.signup_deadline is None


def test_broken_entries_are_named_field_by_field(tmp_path: Path) -> None:
    with pytest.raises(EventFileError) as caught:
        parse_entries(read_entries(write(tmp_path, BROKEN)), regions=REGIONS, now=NOW, tz=WITA, facilitator=0)
    lines = caught.value.lines
    assert "entry 1 ('Diskusi Hak Anak'): field 'end': is not a date and time" in lines[0]
    assert 'put the time in quotes' in lines[0]
    assert "entry 1 ('Diskusi Hak Anak'): field 'capacity': must be a whole number from 1 to 5000" in lines
    assert "entry 2: expected a mapping of fields" in lines
    assert any(line.startswith("entry 3 (''): field 'colour': is not a known field") for line in lines)
    assert any(line.startswith("entry 3 (''): field 'title': is missing") for line in lines)
    assert any(line.startswith("entry 3 (''): field 'start': is not a date and time") for line in lines)
    # an entry whose fields parse is checked by the domain rules too
    with pytest.raises(EventFileError) as caught:
        parse_entries(
            [{"title": "A", "description": "B", "start": "2030-01-02 10:00", "end": "09:00", "venue": "C",
              "kecamatan": "Balikpapan Kota", "kelurahan": "Manggar", "capacity": 0}],
            regions=REGIONS, now=NOW, tz=WITA, facilitator=0,
        )
    assert set(caught.value.lines) == {
        "entry 1 ('A'): field 'end': must be after the start",
        "entry 1 ('A'): field 'kelurahan': is not a known name (see content/regions/balikpapan.yaml)",
        "entry 1 ('A'): field 'capacity': must be a whole number from 1 to 5000",
    }


@pytest.mark.parametrize("text", ["", "events: []", "events: [", "other: 1"])
def test_unusable_files_are_one_line(tmp_path: Path, text: str) -> None:
    with pytest.raises(EventFileError) as caught:
        read_entries(write(tmp_path, text))
    assert len(caught.value.lines) == 1 and "events.yaml" in caught.value.lines[0]


async def test_import_creates_all_or_nothing_and_twice_is_harmless(session: AsyncSession, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    summary = await import_events(session, path=path, regions=REGIONS, now=NOW, tz=WITA, facilitator=5)
    assert len(summary.created) == 2 and summary.skipped == 0
    again = await import_events(session, path=path, regions=REGIONS, now=NOW, tz=WITA, facilitator=5)
    assert again.created == () and again.skipped == 2
    stored = await events.upcoming(session, now=NOW)
    assert [e.title for e in stored] == ["Diskusi Hak Anak", "Lomba Poster Anti Rokok"]
    assert stored[0].created_by == 777 and stored[0].capacity == 30


def test_cli_imports_a_good_file_and_refuses_a_broken_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SECRET_", "DATABASE_"))}
    env["DATABASE_URL"] = sqlite_url(tmp_path)
    exe = str(Path(sys.executable).parent / "forum-anak")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "broken.yaml").write_text(BROKEN, encoding="utf-8")
    result = run("events", "import", "good.yaml", "--facilitator", "5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported 2 event(s); 0 already there"
    result = run("events", "import", "broken.yaml")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("forum-anak: entry 1 ('Diskusi Hak Anak'): field 'end':")
    assert lines[-1] == f"forum-anak: broken.yaml: {len(lines) - 1} problem(s), nothing was imported"
    result = run("events", "import", "missing.yaml")
    assert result.returncode == 1 and result.stderr.strip() == "forum-anak: missing.yaml: file not found"
