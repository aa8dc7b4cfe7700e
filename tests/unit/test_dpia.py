"""The DPIA covers every table and column, names none that is gone, and is what the generator writes."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table

from docs.dpia import OUTPUT, load_data_map, model_metadata, problems, render
from docs.dpia.__main__ import main


def metadata_copy() -> MetaData:
    copied = MetaData()
    for table in model_metadata().sorted_tables:
        table.to_metadata(copied)
    return copied


def test_the_data_map_covers_every_table_and_column_of_the_models() -> None:
    assert problems(model_metadata(), load_data_map()) == []


def test_a_new_table_or_column_without_an_entry_is_named() -> None:
    metadata = metadata_copy()
    metadata.tables["users"].append_column(Column("nickname", String(40)))
    Table("pets", metadata, Column("id", Integer, primary_key=True))
    assert problems(metadata, load_data_map()) == [
        "table pets is not in the data map",
        "column users.nickname is not in the data map",
    ]


def test_an_entry_for_a_column_or_table_that_is_gone_is_named() -> None:
    data_map = copy.deepcopy(load_data_map())
    data_map["users"]["columns"]["birth_date"] = {"data": "profile", "purpose": "Never collected."}
    data_map["schools"] = data_map["invites"]
    assert problems(model_metadata(), data_map) == [
        "the data map names column users.birth_date, which no longer exists",
        "the data map names table schools, which no longer exists",
    ]


def test_an_entry_without_purpose_or_with_an_unknown_class_is_named() -> None:
    data_map = copy.deepcopy(load_data_map())
    del data_map["reports"]["retention"]
    data_map["reports"]["columns"]["description"]["data"] = "secret"
    found = problems(model_metadata(), data_map)
    assert found[0] == "table reports: no 'retention' in the data map"
    assert found[1].startswith("column reports.description: needs a purpose and a data class")


def test_docs_dpia_md_is_what_the_generator_writes_now() -> None:
    assert OUTPUT.read_text(encoding="utf-8") == render(), "run `python -m docs.dpia` and commit docs/dpia.md"


def test_the_document_states_the_configured_periods_and_every_column() -> None:
    text = render()
    assert "| `RETENTION_INACTIVE_DAYS` | 730 |" in text and "| `RETENTION_CLOSED_CASE_DAYS` | 365 |" in text
    for table in model_metadata().sorted_tables:
        assert f"### `{table.name}`" in text
        for column in table.columns:
            assert f"| `{column.name}` |" in text
    assert "{" not in text.split("## 5.")[1].split("## 6.")[0]  # no placeholder left unfilled


def test_the_command_checks_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dpia.md"
    assert main(["--check", "--out", str(out)]) == 1
    assert capsys.readouterr().err.strip() == f"dpia: {out} is out of date; run `python -m docs.dpia`"
    assert main(["--out", str(out)]) == 0
    assert main(["--check", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render()
