"""Staff side of reports: short alerts in STAFF_CHAT_ID, case cards in private, `/kasus`, case
buttons, evidence, re-alert jobs.

The staff group is shared, so it gets only a short alert: case number, urgency, category, age,
and a link that opens the case in the staff member's private chat (`?start=case_<id>`). Never
the story, evidence, notes, replies, history or the reporter's code. Everything else about a case
is sent only in a private chat with a staff member, with protect_content (Telegram then lets
nobody forward or save it), and each opening of a card or of its photos is audited. A case
button pressed in a group (an old card) gets a pop-up, never the card.

Every button press is re-checked (BUTTONS wraps `on_button` in the staff-role guard, so a
non-staff member of the staff group is refused), and every action is audited in db/reports.py.
Messages to the staff chat leave through the outbox (bot/delivery.py).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import BotContext
from bot.services import Services
from db import outbox, reports, roles
from db.errors import DomainError
from db.models import Report, ReportStatus
from handlers.callbacks import BadCallback, decode, encode
from handlers.common import (
    STAFF_ROLES,
    Button,
    answer_query,
    has_role,
    in_rows,
    keyboard,
    newest_that_fit,
    refuse,
    respond,
)

logger = logging.getLogger(__name__)

HISTORY_SHOWN = 10
MESSAGES_SHOWN = 5
LINK_PREFIX = "case_"  # the deep link `?start=case_<id>` (registered in handlers/__init__.py)
_CASE_NUMBER = re.compile(r"[0-9]{1,12}")  # ASCII digits only: "²".isdigit() is True


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


def case_rows(services: Services, locale: str, report: Report, *, evidence_count: int = 0) -> list[list[Button]]:
    """The action buttons of a case (only the photos and a way back to the list once it is closed)."""
    def t(key: str, **values: Any) -> str:
        return services.renderer.text(locale, key, **values)

    listing = [(t("case.btn.list"), encode("case", "list"))]
    evidence = [[(t("case.btn.evidence", count=evidence_count), encode("case", "evidence", report.id))]
                ] if evidence_count else []
    if report.status == ReportStatus.CLOSED:
        return [*evidence, listing]
    writing = [(t("case.btn.note"), encode("case", "note", report.id))]
    if report.follow_up:
        writing.insert(0, (t("case.btn.reply"), encode("case", "reply", report.id)))
    return [
        [(t("case.btn.ack"), encode("case", "ack", report.id)), (t("case.btn.assign"), encode("case", "assign", report.id))],
        *evidence,
        writing,
        [(t("case.btn.refer"), encode("case", "refer", report.id)), (t("case.btn.close"), encode("case", "close", report.id))],
        listing,
    ]


def case_link(services: Services, report_id: int) -> str:
    """The deep link that opens a case in the private chat with the bot."""
    return f"https://t.me/{services.bot_username}?start={LINK_PREFIX}{report_id}"


def _open_privately(services: Services, locale: str, report_id: int) -> dict[str, Any]:
    label = services.renderer.text(locale, "case.btn.open")
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, url=case_link(services, report_id))]]).to_dict()


def age_of(elapsed: timedelta) -> tuple[str, int]:
    """How old a case is, as a unit and a whole number of it ("now" under two minutes)."""
    minutes = max(int(elapsed.total_seconds() // 60), 0)
    if minutes < 2:
        return "now", 0
    if minutes < 60:
        return "minutes", minutes
    if minutes < 48 * 60:
        return "hours", minutes // 60
    return "days", minutes // (24 * 60)


async def alert_rows(services: Services, session: AsyncSession, report: Report, *, now: datetime,
                     realert: bool = False) -> list[dict[str, Any]]:
    """Outbox rows of the short alert (number, urgency, category, age, a private link).

    To the staff group, or privately to every staff member and admin when there is none or the
    bot cannot reach it (db/roles.staff_recipients).
    """
    assert report.id is not None
    locale = services.settings.DEFAULT_LOCALE
    unit, age = age_of(now - (report.received_at or report.created_at))  # created_at holds the hour only
    text = services.renderer.render(locale, "cases/alert", report=report, unit=unit, age=age, realert=realert)
    return [outbox.new_row(kind="case_alert", text=text, now=now, chat_id=chat, source_id=report.id,
                           reply_markup=_open_privately(services, locale, report.id),
                           dedupe_key=f"case_alert:{report.id}:{chat}:{int(now.timestamp())}")
            for chat in await _staff_chats(services, session)]


async def staff_notice_row(services: Services, session: AsyncSession, report: Report, name: str, *, now: datetime,
                           dedupe: str) -> list[dict[str, Any]]:
    """Outbox rows telling staff only the case number, with a private link (to whom as alerts)."""
    if report.id is None:
        return []
    locale = services.settings.DEFAULT_LOCALE
    text = services.renderer.render(locale, name, number=report.id)
    return [outbox.new_row(kind="case_notice", text=text, now=now, chat_id=chat, source_id=report.id,
                           reply_markup=_open_privately(services, locale, report.id), dedupe_key=f"{dedupe}:{chat}")
            for chat in await _staff_chats(services, session)]


async def _staff_chats(services: Services, session: AsyncSession) -> list[int]:
    chats = await roles.staff_recipients(session, staff_chat=services.settings.STAFF_CHAT_ID,
                                         staff_chat_ok=services.staff_chat_ok)
    if not chats:
        logger.warning("no staff group and no staff member: nobody is alerted about reports")
    return chats


async def in_private(update: Update, context: BotContext) -> bool:
    """Tell whether this is a private chat; elsewhere, say briefly that cases open only there."""
    chat = update.effective_chat
    if chat is not None and chat.type == "private":
        return True
    text = context.render("cases/private_only")
    if update.callback_query is not None:
        await answer_query(update, context, text, alert=True)
    else:
        await respond(update, context, text, edit=False)
    return False


async def cases_command(update: Update, context: BotContext) -> None:
    """Handle /kasus: open cases, urgent first then oldest, and the figures (not genuine apart)."""
    if not await in_private(update, context):
        return
    async with context.db() as session:
        items = await reports.open_cases(session)
        figures = await reports.figures(session)
    t = context.text
    rows = [[(t("case.btn.item", mark=_mark(r), number=r.id, category=t(f"rep.cat.{r.category}")),
              encode("case", "show", r.id))] for r in items]
    text = context.render("cases/list", cases=items, figures=figures)
    await respond(update, context, text, keyboard(rows) if rows else None, protect=True)


async def open_from_link(update: Update, context: BotContext) -> None:
    """Open the case of a `?start=case_<id>` link (the staff group's alert) in the private chat."""
    if not has_role(context, STAFF_ROLES):
        await refuse(update, context)
        return
    if not await in_private(update, context):
        return
    number = (context.args or [""])[0].removeprefix(LINK_PREFIX)
    if not _CASE_NUMBER.fullmatch(number):
        await respond(update, context, context.render("cases/unknown"))
        return
    assert context.user is not None  # has_role above
    staff, now = context.user.telegram_id, context.now()
    try:
        async with context.db() as session:
            await reports.record_view(session, report_id=int(number), staff_id=staff, now=now)
            detail = await reports.get_case(session, report_id=int(number))
    except reports.ReportUnknown:
        await respond(update, context, context.render("cases/unknown"))
        return
    await _show(update, context, detail)


async def _show(update: Update, context: BotContext, detail: reports.CaseDetail) -> None:
    """Send or edit in the case card, protected (staff's private chat only)."""
    services, locale, count = context.services, context.locale, len(detail.evidence)
    text = card_text(services, locale, detail.report, evidence_count=count, detail=detail)
    rows = case_rows(services, locale, detail.report, evidence_count=count)
    await respond(update, context, text, keyboard(rows), protect=True)


async def send_evidence(update: Update, context: BotContext, report_id: int) -> None:
    """Send a case's photos to the staff member's private chat, protected; the opening is audited."""
    assert context.user is not None and update.effective_chat is not None
    try:
        async with context.db() as session:
            files = await reports.open_evidence(session, report_id=report_id, staff_id=context.user.telegram_id,
                                                now=context.now())
    except DomainError as exc:
        await refuse(update, context, exc.code)
        return
    if not files:
        await answer_query(update, context, context.text("case.no_evidence"), alert=True)
        return
    await answer_query(update, context)
    for number, file_id in enumerate(files, start=1):
        caption = context.render("cases/evidence_caption", number=number, total=len(files), case=report_id)
        await context.bot.send_photo(update.effective_chat.id, file_id, caption=caption, protect_content=True)


def _mark(report: Report) -> str:
    if report.urgent:
        return "🚨"
    return "🆕" if report.status == ReportStatus.NEW else "📂"


ACTIONS = {"ack": reports.acknowledge, "assign": reports.assign}


async def on_button(update: Update, context: BotContext) -> None:
    """Show a case or act on it (acknowledge, assign, refer, close); staff only, re-checked here."""
    assert update.callback_query is not None and context.user is not None
    if not await in_private(update, context):  # an old card in a group: never render it there
        return
    press = decode(update.callback_query.data)
    if press.action == "list":
        await cases_command(update, context)
        return
    report_id, staff, now, t = press.int_arg(0), context.user.telegram_id, context.now(), context.text
    if press.action == "evidence":
        await send_evidence(update, context, report_id)
        return
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
        text = context.render(f"cases/{press.action}_pick", number=report.id)
        await respond(update, context, text, keyboard(rows), protect=True)
        return
    if press.action != "show":
        await answer_query(update, context, t("case.done"))
    await _show(update, context, detail)


async def realert_urgent(services: Services, now: datetime) -> int:
    """Re-alert the staff chat about urgent cases nobody acknowledged; return how many."""
    rows: list[dict[str, Any]] = []
    async with services.db() as session:
        for report in await reports.claim_realerts(session, now=now):
            rows += await alert_rows(services, session, report, now=now, realert=True)
        await outbox.enqueue(session, rows)
    if rows:
        services.wake_delivery()
    return len(rows)


async def tell_undelivered(services: Services, now: datetime) -> int:
    """Tell the staff chat about replies that could not reach their reporter; return how many."""
    rows: list[dict[str, Any]] = []
    async with services.db() as session:
        for report, message in await reports.claim_undelivered(session, now=now):
            rows += await staff_notice_row(services, session, report, "cases/undelivered", now=now,
                                           dedupe=f"case_undelivered:{message.id}")
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
