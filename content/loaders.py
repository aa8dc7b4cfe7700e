"""Load the YAML content files into frozen models; errors name the file and the problem."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

CONTENT_DIR = Path(__file__).resolve().parent
LOCALES = ("id", "en")


class ContentError(Exception):
    """A content file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Regions:
    """Kecamatan of the city in order, each with its kelurahan."""

    city: str
    kecamatan: dict[str, tuple[str, ...]]

    def kelurahan_of(self, kecamatan: str) -> tuple[str, ...]:
        """Return the kelurahan of a kecamatan (empty if unknown)."""
        return self.kecamatan.get(kecamatan, ())

    def is_valid(self, kecamatan: str, kelurahan: str | None = None) -> bool:
        """Tell whether a kecamatan (and kelurahan within it) exists."""
        if kecamatan not in self.kecamatan:
            return False
        return kelurahan is None or kelurahan in self.kecamatan[kecamatan]


@dataclass(frozen=True)
class HelpService:
    """A hotline or service, with the date and source of its last check (shown on every line).

    `cite` is the short source name a child sees ("kemkes.go.id"); `source` is the full reference.
    """

    key: str
    name: dict[str, str]
    contact: str
    kind: str
    hours: dict[str, str]
    what: dict[str, str]
    source: str
    verified: date
    emergency: bool
    cite: str = ""


def read_yaml(path: Path) -> Any:
    """Parse one YAML file, turning every failure into a ContentError naming it."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContentError(f"{path.name}: file is missing") from None
    except yaml.YAMLError as exc:
        raise ContentError(f"{path.name}: not valid YAML ({exc})".replace("\n", " ")) from None


def load_regions(path: Path | None = None) -> Regions:
    """Load the kecamatan/kelurahan list."""
    path = path or CONTENT_DIR / "regions" / "balikpapan.yaml"
    data = read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("kecamatan"), dict):
        raise ContentError(f"{path.name}: expected a mapping with 'kecamatan'")
    kecamatan: dict[str, tuple[str, ...]] = {}
    seen: set[str] = set()
    for name, kelurahan in data["kecamatan"].items():
        if not isinstance(kelurahan, list) or not kelurahan:
            raise ContentError(f"{path.name}: kecamatan {name!r} has no kelurahan list")
        for item in kelurahan:
            if not isinstance(item, str) or item in seen:
                raise ContentError(f"{path.name}: kelurahan {item!r} is not a unique name")
            seen.add(item)
        kecamatan[str(name)] = tuple(kelurahan)
    return Regions(city=str(data.get("city", "")), kecamatan=kecamatan)


def _bilingual(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) != set(LOCALES):
        raise ContentError(f"{where}: expected both 'id' and 'en' texts")
    if not all(isinstance(v, str) and v.strip() for v in value.values()):
        raise ContentError(f"{where}: a text is empty")
    return {k: str(v) for k, v in value.items()}


def load_help_services(path: Path | None = None) -> tuple[HelpService, ...]:
    """Load the hotlines shown by /bantuan and after every report."""
    path = path or CONTENT_DIR / "help" / "services.yaml"
    data = read_yaml(path)
    items = data.get("services") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ContentError(f"{path.name}: expected a non-empty 'services' list")
    services = []
    for index, item in enumerate(items, start=1):
        where = f"{path.name}: service {item.get('key', index) if isinstance(item, dict) else index}"
        if not isinstance(item, dict):
            raise ContentError(f"{where}: expected a mapping")
        for field in ("verified", "source", "cite"):
            if not str(item.get(field) or "").strip():
                raise ContentError(
                    f"{where}: no {field!r}: every help line must show the date it was checked"
                    " and the source (full 'source' and a short 'cite') it was checked against"
                )
        try:
            verified = date.fromisoformat(str(item["verified"]))
            services.append(
                HelpService(
                    key=str(item["key"]),
                    name=_bilingual(item["name"], f"{where} name"),
                    contact=str(item["contact"]),
                    kind=str(item["kind"]),
                    hours=_bilingual(item["hours"], f"{where} hours"),
                    what=_bilingual(item["what"], f"{where} what"),
                    source=str(item["source"]),
                    verified=verified,
                    emergency=bool(item.get("emergency", False)),
                    cite=str(item["cite"]).strip(),
                )
            )
        except KeyError as exc:
            raise ContentError(f"{where}: missing field {exc.args[0]!r}") from None
        except ValueError:
            raise ContentError(f"{where}: 'verified' must be a date YYYY-MM-DD") from None
    return tuple(services)
