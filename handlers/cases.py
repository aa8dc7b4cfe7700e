"""Staff side of reports: case cards in STAFF_CHAT_ID, `/kasus`, case buttons, re-alert jobs.

Every button press is re-checked (BUTTONS wraps `on_button` in the staff-role guard, so a
non-staff member of the staff group is refused), and every action is audited in db/reports.py.
Messages to the staff chat leave through the outbox (bot/delivery.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from telegram import Update

from bot.context import BotContext
from bot.services import Services
from db import outbox, reports
from db.errors import DomainError
from db.models import Report, ReportStatus
from handlers.callbacks import BadCallback, decode, encode
from handlers.common import (
    Button,
    answer_query,
    in_rows,
    keyboard,
    newest_that_fit,
    refuse,
    respond,
)

logger = logging.getLogger(__name__)

HISTORY_SHOWN = 10
MESSAGES_SHOWN = 5


def card_text(
    services: Services, locale: str, report: Report, *, evidence_count: int,
    detail: reports.CaseDetail | None = None, realert: bool = False, reporter_answered: bool = False,
) -> str:
    """Render a case card; with `detail`, also its latest history and messages, as many as fit."""
    history = detail.history[-HISTORY_SHOWN:] if detail else []
    messages = detail.messages[-MESSAGES_SHOWN:] if detail else []
    views = detail.views if detail else []
    viewers = len({view.actor_telegram_id for view in views})

    def render(hidden: int) -> str:
        # Older messages go first, then older history: the story itself always stays.
        dropped_messages = min(hidden, len(messages))
        return services.renderer.render(
            locale, "cases/card", report=report, evidence_count=evidence_count,
            simfoni_type=reports.simfoni_type(report.category), simfoni_place=reports.simfoni_place(report.place),
            history=history[hidden - dropped_messages:], messages=messages[dropped_messages:],
            views=views, viewers=viewers,
            realert=realert, reporter_answered=reporter_answered,
        )

    return newest_that_fit(render, len(messages) + len(history))


def case_rows(services: Services, locale: str, report: Report) -> list[list[Button]]:
    """The action buttons of a case (only a way back to the list once it is closed)."""
    def t(key: str) -> str:
        return services.renderer.text(locale, key)

    listing = [(t("case.btn.list"), encode("case", "list"))]
    if report.status == ReportStatus.CLOSED:
        return [listing]
    writing = [(t("case.btn.note"), encode("case", "note", report.id))]
    if report.follow_up:
        writing.insert(0, (t("case.btn.reply"), encode("case", "reply", report.id)))
    return [
        [(t("case.btn.ack"), encode("case", "ack", report.id)), (t("case.btn.assign"), encode("case", "assign", report.id))],
        writing,
        [(t("case.btn.refer"), encode("case", "refer", report.id)), (t("case.btn.close"), encode("case", "close", report.id))],
        listing,
    ]


def _open_button(services: Services, locale: str, report_id: int) -> dict[str, Any]:
    return keyboard([[(services.renderer.text(locale, "case.btn.open"), encode("case", "show", report_id))]]).to_dict()


def alert_rows(
    services: Services, report: Report, evidence: Sequence[str], *, now: datetime, realert: bool = False
) -> list[dict[str, Any]]:
    """Outbox rows for the staff chat: the case card (urgent flagged at the top) and its photos."""
    chat = services.settings.STAFF_CHAT_ID
    if chat is None:
        logger.warning("STAFF_CHAT_ID is not set: staff are not alerted about reports")
        return []
    assert report.id is not None
    locale = services.settings.DEFAULT_LOCALE
    text = card_text(services, locale, report, evidence_count=len(evidence), realert=realert)
    markup = keyboard(case_rows(services, locale, report)).to_dict()
    rows = [outbox.new_row(kind="case_alert", text=text, now=now, chat_id=chat, reply_markup=markup,
                           source_id=report.id, dedupe_key=f"case_alert:{report.id}:{int(now.timestamp())}")]
    if not realert:
        for number, file_id in enumerate(evidence, start=1):
            caption = services.renderer.render(locale, "cases/evidence_caption", code=report.code, number=number)
            rows.append(outbox.new_row(kind="case_evidence", text=caption, now=now, chat_id=chat,
                                       media_kind="photo", media_file_id=file_id, source_id=report.id,
                                       dedupe_key=f"case_evidence:{report.id}:{number}"))
    return rows


def staff_notice_row(services: Services, report: Report, name: str, *, now: datetime, dedupe: str,
                     **values: Any) -> list[dict[str, Any]]:
    """One outbox row for the staff chat with an "Open case" button (none without STAFF_CHAT_ID)."""
    chat = services.settings.STAFF_CHAT_ID
    if chat is None or report.id is None:
        return []
    locale = services.settings.DEFAULT_LOCALE
    text = services.renderer.render(locale, name, code=report.code, **values)
    return [outbox.new_row(kind="case_notice", text=text, now=now, chat_id=chat, source_id=report.id,
                           reply_markup=_open_button(services, locale, report.id), dedupe_key=dedupe)]


async def cases_command(update: Update, context: BotContext) -> None:
    """Handle /kasus: open cases, urgent first then oldest, and the figures (not genuine apart)."""
    async with context.db() as session:
        items = await reports.open_cases(session)
        figures = await reports.figures(session)
    t = context.text
    rows = [[(t("case.btn.item", mark=_mark(r), code=r.code, category=t(f"rep.cat.{r.category}")),
              encode("case", "show", r.id))] for r in items]
    text = context.render("cases/list", cases=items, figures=figures)
    await respond(update, context, text, keyboard(rows) if rows else None)


def _mark(report: Report) -> str:
    if report.urgent:
        return "🚨"
    return "🆕" if report.status == ReportStatus.NEW else "📂"


ACTIONS = {"ack": reports.acknowledge, "assign": reports.assign}


async def on_button(update: Update, context: BotContext) -> None:
    """Show a case or act on it (acknowledge, assign, refer, close); staff only, re-checked here."""
    assert update.callback_query is not None and context.user is not None
    press = decode(update.callback_query.data)
    if press.action == "list":
        await cases_command(update, context)
        return
    report_id, staff, now, t = press.int_arg(0), context.user.telegram_id, context.now(), context.text
    choice = press.args[1] if len(press.args) > 1 else ""
    try:
        async with context.db() as session:
            if press.action in ACTIONS:
                await ACTIONS[press.action](session, report_id=report_id, staff_id=staff, now=now)
            elif press.action == "refto":
                await reports.refer(session, report_id=report_id, staff_id=staff, target=choice, now=now)
            elif press.action == "closeas":
                await reports.close(session, report_id=report_id, staff_id=staff, outcome=choice, now=now)
            elif press.action == "show":
                await reports.record_view(session, report_id=report_id, staff_id=staff, now=now)
            elif press.action not in ("refer", "close"):
                raise BadCallback("unknown case action")
            detail = await reports.get_case(session, report_id=report_id)
    except DomainError as exc:
        await refuse(update, context, exc.code)
        return
    report = detail.report
    back = [(t("btn.back"), encode("case", "show", report_id))]
    if press.action in ("refer", "close") and report.status != ReportStatus.CLOSED:
        options = reports.REFERRALS if press.action == "refer" else reports.OUTCOMES
        prefix, act = ("case.ref.", "refto") if press.action == "refer" else ("case.out.", "closeas")
        rows = [*in_rows([(t(prefix + o), encode("case", act, report_id, o)) for o in options], 2), back]
        await respond(update, context, context.render(f"cases/{press.action}_pick", code=report.code), keyboard(rows))
        return
    if press.action != "show":
        await answer_query(update, context, t("case.done"))
    text = card_text(context.services, context.locale, report, evidence_count=len(detail.evidence), detail=detail)
    await respond(update, context, text, keyboard(case_rows(context.services, context.locale, report)))


async def realert_urgent(services: Services, now: datetime) -> int:
    """Re-alert the staff chat about urgent cases nobody acknowledged; return how many."""
    rows: list[dict[str, Any]] = []
    async with services.db() as session:
        for report in await reports.claim_realerts(session, now=now):
            assert report.id is not None
            detail = await reports.get_case(session, report_id=report.id)
            rows += alert_rows(services, report, [e.file_id for e in detail.evidence], now=now, realert=True)
        await outbox.enqueue(session, rows)
    if rows:
        services.wake_delivery()
    return len(rows)


async def tell_undelivered(services: Services, now: datetime) -> int:
    """Tell the staff chat about replies that could not reach their reporter; return how many."""
    rows: list[dict[str, Any]] = []
    async with services.db() as session:
        for report, message in await reports.claim_undelivered(session, now=now):
            rows += staff_notice_row(services, report, "cases/undelivered", now=now,
                                     dedupe=f"case_undelivered:{message.id}", sent_at=message.created_at)
        await outbox.enqueue(session, rows)
    if rows:
        services.wake_delivery()
    return len(rows)


async def realert_job(context: BotContext) -> None:
    """Job: re-alert unacknowledged urgent cases."""
    await realert_urgent(context.services, context.now())


async def undelivered_job(context: BotContext) -> None:
    """Job: tell staff about undeliverable replies."""
    await tell_undelivered(context.services, context.now())
