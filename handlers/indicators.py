"""Staff: `/ekspor` sends the indicators as a file, `/statistik` a chart (same numbers as the CLI).

Both always protect (db/disclosure.py, threshold 5): these files and pictures leave the office.
"""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

from telegram import Update

from bot.charts import ChartText, months_between, participation_png_async
from bot.context import BotContext
from bot.exports import DEFAULT_MIN_CELL, write_export
from db import broadcasts
from db.indicators import Period, compute, recent_months, store_closed_months
from db.sqlite_loop import in_background
from handlers.callbacks import decode, encode
from handlers.common import answer_query, keyboard, refuse, respond

PERIODS = ("this_month", "last_month", "this_year", "last_12_months")


def period_of(key: str, today: date, context: BotContext) -> Period:
    """Turn a period button into dates in WITA."""
    tz = context.services.settings.tz
    first = today.replace(day=1)
    if key == "last_month":
        end = first - timedelta(days=1)
        return Period(end.replace(day=1), end, tz)
    if key == "this_year":
        return Period(today.replace(month=1, day=1), today, tz)
    if key == "last_12_months":
        start = (first - timedelta(days=335)).replace(day=1)
        return Period(start, today, tz)
    return Period(first, today, tz)


async def export_command(update: Update, context: BotContext) -> None:
    """Handle /ekspor: choose the period."""
    rows = [[(context.text(f"ex.period.{key}"), encode("ex", "p", key))] for key in PERIODS]
    await respond(update, context, context.render("indicators/choose_period"), keyboard(rows))


@in_background  # a year of figures can take seconds
async def on_button(update: Update, context: BotContext) -> None:
    """Choose the format, then build and send the file."""
    assert update.callback_query is not None and update.effective_chat is not None
    press = decode(update.callback_query.data)
    key = press.args[0] if press.args else ""
    if key not in PERIODS:
        await refuse(update, context, "stale_button")
        return
    if press.action == "p":
        rows = [[(context.text("ex.format.xlsx"), encode("ex", "f", key, "xlsx")),
                 (context.text("ex.format.csv"), encode("ex", "f", key, "csv"))]]
        await respond(update, context, context.render("indicators/choose_format"), keyboard(rows))
        return
    fmt = press.args[1] if len(press.args) > 1 and press.args[1] in ("csv", "xlsx") else "xlsx"
    today = context.now().astimezone(context.services.settings.tz).date()
    period = period_of(key, today, context)
    await respond(update, context, context.render("indicators/working"))
    secret = context.services.settings.SECRET_KEY
    await store_closed_months(context.services.db, period=period, now=context.now(), secret=secret)
    async with context.db() as session:
        figures = await compute(session, period=period, now=context.now(), secret=secret)
        runs = await broadcasts.figures_in_period(session, start=period.utc_start, end=period.utc_end)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"indikator-kla-{period.start.isoformat()}-{period.end.isoformat()}.{fmt}"
        await write_export(figures, path, fmt=fmt, min_cell=DEFAULT_MIN_CELL, broadcast_runs=runs)
        caption = context.render("indicators/caption", period=period, count=len(figures))
        with path.open("rb") as handle:
            await context.bot.send_document(update.effective_chat.id, handle, filename=path.name, caption=caption)


@in_background
async def stats_command(update: Update, context: BotContext) -> None:
    """Handle /statistik: a chart of registrations by kecamatan and month (last six months)."""
    assert update.effective_chat is not None
    await answer_query(update, context)  # from the menu: stop the spinner while the chart is drawn
    today = context.now().astimezone(context.services.settings.tz).date()
    start = (today.replace(day=1) - timedelta(days=150)).replace(day=1)
    async with context.db() as session:
        figures = await compute(session, period=Period(start, today, context.services.settings.tz), now=context.now(),
                                secret=context.services.settings.SECRET_KEY)
    text = ChartText(title=context.text("ex.chart.title"), ylabel=context.text("ex.chart.ylabel"),
                     empty=context.text("ex.chart.empty"), month_names=context.text("ex.chart.months").split())
    png = await participation_png_async(figures, months=months_between(start, today), text=text,
                                        min_cell=DEFAULT_MIN_CELL)
    caption = context.render("indicators/chart_caption", start=start, end=today)
    await context.bot.send_photo(update.effective_chat.id, png, caption=caption)


async def close_months_job(context: BotContext) -> None:
    """Ticker job: store the figures of months that have just closed, so exports stay fast."""
    services = context.services
    await store_closed_months(services.db, period=recent_months(services.now(), services.settings.tz), now=services.now(),
                              secret=services.settings.SECRET_KEY)
