"""`/kuis_statistik [topic]`: per-question figures for facilitators, weakest questions first."""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from db import quizzes
from handlers.common import command_args, respond
from handlers.quizzes import bank_of

SHOWN_QUESTIONS = 15  # keeps the message well under Telegram's 4096 characters


async def quiz_stats_command(update: Update, context: BotContext) -> None:
    """Show answers and share right per topic and for the weakest questions."""
    bank = bank_of(context)
    args = command_args(context)
    topic = args[0].lower() if args else None
    if topic is not None and bank.topic(topic) is None:
        text = context.render("quiz/stats_usage", topics=[t.key for t in bank.topics])
        await respond(update, context, text)
        return
    async with context.db() as session:
        figures = await quizzes.question_figures(session, topic=topic)
    known = bank.questions
    text = context.render(
        "quiz/stats",
        topic=topic,
        topics=quizzes.topic_figures(figures),
        titles={t.key: t.title[context.locale] for t in bank.topics},
        questions=figures[:SHOWN_QUESTIONS],
        hidden=max(0, len(figures) - SHOWN_QUESTIONS),
        texts={qid: q.text[context.locale] for qid, q in known.items()},
    )
    await respond(update, context, text)
