"""Templates and content files: both locales complete, every template renders, errors are precise."""

import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from content.check import check_content
from content.loaders import CONTENT_DIR, ContentError, load_help_services, load_regions
from content.render import Renderer


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped content."""
    root = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


def test_shipped_content_is_valid() -> None:
    summary = check_content()
    assert summary.kecamatan == 6 and summary.kelurahan == 34
    assert summary.help_services >= 6 and summary.templates > 40


def test_regions_are_balikpapan() -> None:
    regions = load_regions()
    assert list(regions.kecamatan)[0] == "Balikpapan Barat"
    assert regions.is_valid("Balikpapan Timur", "Teritip")
    assert not regions.is_valid("Balikpapan Timur", "Damai")


def test_every_help_service_has_its_own_date_and_source() -> None:
    services = {s.key: s for s in load_help_services()}
    assert {"emergency_112", "sapa_129", "sapa_129_wa", "police_110", "tepsa", "uptd_ppa_balikpapan",
            "healing119", "dp3akb_balikpapan", "puspaga"} <= set(services)
    assert all(s.source and s.cite for s in services.values())
    assert services["dp3akb_balikpapan"].contact == "0816-2200-77"
    assert services["healing119"].contact == "healing119.id"
    # The date is that of the source actually used, so old sources show as old (content review).
    assert str(services["tepsa"].verified) == "2016-08-02" and "2016" in services["tepsa"].source


@pytest.mark.parametrize("field", ["source", "cite", "verified"])
def test_help_service_without_date_or_source_is_named(content_copy: Path, field: str) -> None:
    path = content_copy / "help" / "services.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines.index("  - key: tepsa\n")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("  - key:"))
    kept = [line for i, line in enumerate(lines) if not (start < i < end and line.startswith(f"    {field}:"))]
    assert len(kept) == len(lines) - 1
    path.write_text("".join(kept), encoding="utf-8")
    with pytest.raises(ContentError, match=rf"services.yaml: service tepsa: no '{field}': every help line must show"):
        check_content(content_copy)


def test_help_page_shows_date_and_source_on_each_line() -> None:
    services = load_help_services()
    renderer = Renderer(tz=ZoneInfo("Asia/Makassar"), globals_={"help_services": services})
    for locale, word in (("id", "dicek"), ("en", "checked")):
        for name in ("help/help", "reports/numbers"):
            entries = renderer.render(locale, name).split("•")[-len(services):]  # the help lines come last
            assert len(entries) == len(services), (locale, name)
            for s, entry in zip(services, entries, strict=True):
                assert s.contact in entry and f"{word} {s.verified:%Y-%m}" in entry and s.cite in entry, (locale, s.key)
            assert "Nomor dicek terakhir" not in "".join(entries) and "last checked" not in "".join(entries)


def test_template_missing_in_one_locale_is_named(content_copy: Path) -> None:
    (content_copy / "templates" / "en" / "help" / "help.html").unlink()
    with pytest.raises(ContentError, match=r"en: template 'help/help' exists in one locale only"):
        check_content(content_copy)


def test_invalid_telegram_html_is_named(content_copy: Path) -> None:
    path = content_copy / "templates" / "id" / "menu" / "main.html"
    path.write_text("Halo<br>dunia\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"id/menu/main.html: not valid Telegram HTML"):
        check_content(content_copy)


def test_template_syntax_error_is_named(content_copy: Path) -> None:
    path = content_copy / "templates" / "en" / "menu" / "main.html"
    path.write_text("{% if %}\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"en/menu/main.html"):
        check_content(content_copy)


def test_duplicate_string_key_is_named(content_copy: Path) -> None:
    extra = content_copy / "templates" / "id" / "menu" / "strings.yaml"
    extra.write_text('btn.back: "Kembali lagi"\n', encoding="utf-8")
    with pytest.raises(ContentError, match=r"'btn.back' is defined twice"):
        check_content(content_copy)


def test_broken_regions_file_is_named(content_copy: Path) -> None:
    (content_copy / "regions" / "balikpapan.yaml").write_text("kecamatan: [\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"balikpapan.yaml: not valid YAML"):
        check_content(content_copy)


def test_help_service_without_date_is_named(content_copy: Path) -> None:
    path = content_copy / "help" / "services.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('verified: "2026-02-01"', 'verified: "soon"'), encoding="utf-8")
    with pytest.raises(ContentError, match=r"service emergency_112: 'verified' must be a date"):
        check_content(content_copy)


def test_rendering_escapes_user_values() -> None:
    renderer = Renderer(tz=ZoneInfo("Asia/Makassar"))
    text = renderer.render("id", "onboarding/kelurahan", kecamatan="<b>x</b> & y")
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in text


def test_strict_undefined_fails_loudly() -> None:
    renderer = Renderer(tz=ZoneInfo("Asia/Makassar"))
    with pytest.raises(Exception, match="kecamatan"):
        renderer.render("id", "onboarding/kelurahan")
