"""The steps of the report conversation: the draft, its order, and each step's buttons.

Pure helpers for handlers/report_flow.py (no sending, no database). Two steps can be left out:
the category, when the crisis answer's button already named it, and the photos, for the
categories where evidence could be a sexual image of a child (db.reports.NO_PHOTO_CATEGORIES).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.context import BotContext
from db import reports
from handlers.callbacks import encode
from handlers.common import Button, in_rows

STEPS = ("reporter", "category", "danger", "kecamatan", "kelurahan", "place", "when", "description",
         "evidence", "follow", "confirm")
FIXABLE = ("reporter", "category", "danger", "kecamatan", "place", "when", "description", "evidence", "follow")
CHOICES = {"reporter": reports.REPORTER_KINDS, "category": tuple(reports.CATEGORIES),
           "place": tuple(reports.PLACES), "when": reports.HAPPENED}
LABELS = {"reporter": "rep.who.", "category": "rep.cat.", "place": "rep.place.", "when": "rep.when."}
FIELDS = {"reporter": "reporter_kind", "category": "category", "place": "place", "when": "happened"}


@dataclass
class Draft:
    """The answers so far, in memory only."""

    step: str = "reporter"
    reviewing: bool = False  # after the summary, each answer returns to it
    reporter_kind: str = ""
    category: str = ""
    urgent: bool = False
    kecamatan: str | None = None
    kelurahan: str | None = None
    place: str = ""
    happened: str = ""
    description: str = ""
    evidence: list[str] = field(default_factory=list)
    follow_up: bool = False
    category_preset: bool = False  # named by the crisis answer's button: the question is skipped
    told_no_photos: bool = False  # the reporter was told why this report takes no photos
    dropped_photos: int = 0  # photos let go when the category changed to one that takes none


def takes_photos(draft: Draft) -> bool:
    """Tell whether this report has a photo step (not for sexual violence or exploitation)."""
    return reports.takes_photos(draft.category)


def fixable(draft: Draft) -> tuple[str, ...]:
    """The answers the reporter may change from the summary (no photos where none are taken)."""
    return tuple(name for name in FIXABLE if name != "evidence" or takes_photos(draft))


def buttons(context: BotContext, draft: Draft, step: str) -> list[list[Button]]:
    """Return the answer buttons of one step (Back and Cancel are added by the caller)."""
    t, regions = context.text, context.services.regions
    if step in CHOICES:
        per_row = 1 if step == "reporter" else 2
        return in_rows([(t(LABELS[step] + key), encode("rp", step, key)) for key in CHOICES[step]], per_row)
    if step == "danger":
        return [[(t("rep.btn.yes_danger"), encode("rp", "danger", "yes")), (t("rep.btn.no_danger"), encode("rp", "danger", "no"))]]
    if step == "kecamatan":
        rows = in_rows([(name, encode("rp", "kec", i)) for i, name in enumerate(regions.kecamatan)], 2)
        return [*rows, [(t("rep.btn.unknown_place"), encode("rp", "kec", "none"))]]
    if step == "kelurahan":
        names = regions.kelurahan_of(draft.kecamatan or "")
        rows = in_rows([(name, encode("rp", "kel", i)) for i, name in enumerate(names)], 2)
        return [*rows, [(t("rep.btn.whole_kecamatan"), encode("rp", "kel", "none"))]]
    if step == "description":
        return [[(t("rep.btn.next"), encode("rp", "desc"))]] if draft.description else []
    if step == "evidence":
        label = "rep.btn.photos_done" if draft.evidence else "rep.btn.no_photos"
        return [[(t(label), encode("rp", "photos"))]]
    if step == "follow":
        return [[(t("rep.btn.follow_yes"), encode("rp", "follow", "yes"))], [(t("rep.btn.follow_no"), encode("rp", "follow", "no"))]]
    if step == "confirm":
        return [[(t("rep.btn.send"), encode("rp", "send"))], [(t("rep.btn.edit"), encode("rp", "edit"))]]
    if step == "fix":
        return in_rows([(t(f"rep.fix.{name}"), encode("rp", "fix", name)) for name in fixable(draft)], 2)
    return []


def after(draft: Draft, step: str) -> str:
    """Return the step that follows an answer (the summary again while reviewing)."""
    if step == "kecamatan" and draft.kecamatan is not None:
        return "kelurahan"
    if draft.reviewing:
        return "confirm"
    following = STEPS[STEPS.index(step) + 1]
    if following == "kelurahan":
        following = "place"
    if following == "category" and draft.category_preset:
        following = "danger"
    if following == "evidence" and not takes_photos(draft):
        following = "follow"
    return following


def before(draft: Draft) -> str:
    """Return the step that Back leads to."""
    if draft.reviewing or draft.step == "fix":
        return "kecamatan" if draft.step == "kelurahan" else "confirm"
    index = max(STEPS.index(draft.step) - 1, 0)
    previous = STEPS[index]
    if previous == "kelurahan" and draft.kecamatan is None:
        previous = "kecamatan"
    if previous == "category" and draft.category_preset:
        previous = "reporter"
    if previous == "evidence" and not takes_photos(draft):
        previous = "description"
    return previous
