"""Jinja2 environments per locale: every word a user reads comes from here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from content.loaders import CONTENT_DIR, LOCALES, ContentError, read_yaml

TEMPLATES_DIR = CONTENT_DIR / "templates"
STRINGS_FILE = "strings.yaml"


class Renderer:
    """Renders message templates (`<feature>/<name>.html`) and short strings (`strings.yaml`).

    Short strings (button labels, command descriptions) are Jinja templates too, compiled
    from one YAML file per locale so that a translator sees them side by side.
    """

    def __init__(
        self,
        *,
        tz: ZoneInfo,
        default_locale: str = "id",
        templates_dir: Path = TEMPLATES_DIR,
        globals_: dict[str, Any] | None = None,
        undefined: type[jinja2.Undefined] = jinja2.StrictUndefined,
    ) -> None:
        self.default_locale = default_locale
        self.tz = tz
        self.templates_dir = templates_dir
        self.blind = undefined is not jinja2.StrictUndefined
        self._envs: dict[str, jinja2.Environment] = {}
        self._strings: dict[str, dict[str, jinja2.Template | str]] = {}
        for locale in LOCALES:
            env = jinja2.Environment(
                loader=jinja2.FileSystemLoader(templates_dir / locale),
                autoescape=True,
                undefined=undefined,
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=False,
                auto_reload=False,  # templates change with a deploy, not while running: no stat() per render
            )
            env.filters["wita"] = self._format_time
            env.filters["wita_date"] = self._format_date
            env.globals["locale"] = locale
            env.globals["t"] = self._label_function(locale)
            env.globals.update(globals_ or {})
            self._envs[locale] = env
            # Short strings are plain text (button labels, command descriptions, and values put into
            # a message template, which escapes them once): escaping them here as well showed
            # "Tom &amp; Jerry" on a button (issue 17, item 12).
            self._strings[locale] = self._load_strings(env.overlay(autoescape=False), templates_dir / locale)

    @staticmethod
    def _load_strings(env: jinja2.Environment, root: Path) -> dict[str, jinja2.Template | str]:
        # One `strings.yaml` at the locale root plus one per feature folder; keys are global.
        compiled: dict[str, jinja2.Template | str] = {}
        for path in sorted(root.rglob(STRINGS_FILE)):
            where = f"{root.name}/{path.relative_to(root)}"
            data = read_yaml(path)
            if not isinstance(data, dict):
                raise ContentError(f"{where}: expected a mapping of strings")
            for key, text in data.items():
                if not isinstance(text, str):
                    raise ContentError(f"{where}: {key!r} is not a string")
                if key in compiled:
                    raise ContentError(f"{where}: {key!r} is defined twice")
                if "{" not in text:  # plain text (most button labels): no template to render each time
                    compiled[str(key)] = text.strip()
                    continue
                try:
                    compiled[str(key)] = env.from_string(text)
                except jinja2.TemplateSyntaxError as exc:
                    raise ContentError(f"{where}: {key!r}: {exc}") from None
        return compiled

    def _label_function(self, locale: str) -> Callable[..., str]:
        def t(key: str, **values: Any) -> str:
            return self.text(locale, key, **values)

        return t

    def _format_time(self, value: datetime, fmt: str = "%d-%m-%Y %H:%M") -> str:
        if isinstance(value, jinja2.Undefined):  # blind rendering by the content check
            return str(value)
        return value.astimezone(self.tz).strftime(fmt) + " WITA"

    def _format_date(self, value: datetime) -> str:
        if isinstance(value, jinja2.Undefined):
            return str(value)
        return value.astimezone(self.tz).strftime("%d-%m-%Y")

    def locale(self, locale: str | None) -> str:
        """Return a supported locale, falling back to the default."""
        return locale if locale in self._envs else self.default_locale

    def env(self, locale: str) -> jinja2.Environment:
        """Return the Jinja environment of a locale."""
        return self._envs[self.locale(locale)]

    def render(self, locale: str | None, name: str, **values: Any) -> str:
        """Render `<name>.html` in a locale, trimmed."""
        template = self.env(self.locale(locale)).get_template(f"{name}.html")
        return template.render(**values).strip()

    def text(self, locale: str | None, key: str, **values: Any) -> str:
        """Render one short string (a button label, a command description)."""
        try:
            template = self._strings[self.locale(locale)][key]
        except KeyError:
            if self.blind and key.endswith(".x"):  # a key built from a sample value (content check)
                return key
            raise ContentError(f"{self.locale(locale)}/{STRINGS_FILE}: no string {key!r}") from None
        return template if isinstance(template, str) else template.render(**values).strip()

    def template_names(self, locale: str) -> set[str]:
        """List the message templates of a locale, without the `.html` suffix."""
        root = self.templates_dir / locale
        return {str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.html")}

    def string_keys(self, locale: str) -> set[str]:
        """List the short-string keys of a locale."""
        return set(self._strings[locale])
