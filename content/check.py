"""`forum-anak content check`: every template renders in both locales and every data file loads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from content.loaders import CONTENT_DIR, LOCALES, ContentError, load_help_services, load_regions
from content.quizzes import load_quiz_bank
from content.render import Renderer
from content.safety import load_detector

TELEGRAM_TEXT_LIMIT = 4096
BUTTON_LABEL_LIMIT = 64


class _Sample(jinja2.ChainableUndefined):
    """Stands in for any template variable, so that every template can be rendered blind."""

    def __str__(self) -> str:
        return "x"

    def __iter__(self) -> Any:
        return iter(())


@dataclass(frozen=True)
class ContentSummary:
    """What the check found, for the command's one-line report."""

    templates: int
    strings: int
    kecamatan: int
    kelurahan: int
    help_services: int
    quiz_topics: int = 0
    quiz_questions: int = 0


def _telegram_html_problem(text: str) -> str | None:
    from bot.sandbox.telegram_html import TelegramHtmlError, parse_telegram_html

    try:
        plain = parse_telegram_html(text)
    except TelegramHtmlError as exc:
        return f"not valid Telegram HTML ({exc})"
    if len(plain) > TELEGRAM_TEXT_LIMIT:
        return f"longer than {TELEGRAM_TEXT_LIMIT} characters"
    return None


def check_content(root: Path = CONTENT_DIR) -> ContentSummary:
    """Validate every content file under `root`; raise ContentError naming the first problem."""
    regions = load_regions(root / "regions" / "balikpapan.yaml")
    services = load_help_services(root / "help" / "services.yaml")
    bank = load_quiz_bank(root / "quizzes")
    load_detector(root / "safety")  # the crisis phrases and lexicon (content/safety/)
    renderer = Renderer(
        tz=ZoneInfo("Asia/Makassar"),
        templates_dir=root / "templates",
        globals_={"help_services": services, "regions": regions},
        undefined=_Sample,
    )
    names = {locale: renderer.template_names(locale) for locale in LOCALES}
    keys = {locale: renderer.string_keys(locale) for locale in LOCALES}
    for kind, sets in (("template", names), ("string", keys)):
        missing = sets["id"] ^ sets["en"]
        if missing:
            name = sorted(missing)[0]
            where = "en" if name in sets["id"] else "id"
            raise ContentError(f"{where}: {kind} {name!r} exists in one locale only")
    for locale in LOCALES:
        env = renderer.env(locale)
        for name in sorted(names[locale]):
            try:
                text = env.get_template(f"{name}.html").render(sample_values())
            except jinja2.TemplateError as exc:
                raise ContentError(f"{locale}/{name}.html: {exc}") from None
            problem = _telegram_html_problem(text.strip())
            if problem:
                raise ContentError(f"{locale}/{name}.html: {problem}")
        for key in sorted(keys[locale]):
            try:
                label = renderer.text(locale, key, number=1, n=1)
            except jinja2.TemplateError as exc:
                raise ContentError(f"{locale}/strings.yaml: {key!r}: {exc}") from None
            if not label or len(label) > BUTTON_LABEL_LIMIT:
                raise ContentError(f"{locale}/strings.yaml: {key!r} is empty or too long")
    return ContentSummary(
        templates=len(names["id"]),
        strings=len(keys["id"]),
        kecamatan=len(regions.kecamatan),
        kelurahan=sum(len(v) for v in regions.kecamatan.values()),
        help_services=len(services),
        quiz_topics=len(bank.topics),
        quiz_questions=len(bank.questions),
    )


def sample_values() -> dict[str, Any]:
    """Typical values templates receive; anything else renders as a placeholder."""
    from db.models import User

    now = datetime(2026, 11, 23, 2, 30, tzinfo=UTC)
    user = User(
        telegram_id=1, language="id", role="child", age_band="13_15", kecamatan="Balikpapan Kota",
        kelurahan="Damai", gender="female", privacy_accepted_at=now, consent_status="given",
        consent_method="guardian", consent_at=now, subscribed=True, created_at=now, last_seen_at=now,
    )
    return {"user": user, "now": now, "expires": now, "role": "facilitator", "number": 1, "n": 1}
