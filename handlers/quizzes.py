"""`/kuis`: pick a topic, answer one question at a time, read why, get a score and the leaderboard.

Questions are inline buttons, not native quiz polls: the explanation then stays in the chat as a
message (a poll shows it only as a brief pop-up), every answer carries its attempt in the
callback data so stale and double presses are refused on the server, and the same flow works in
the sandbox chat and older clients. Registered players' quizzes are rows (db/quizzes.py); a
guest's (unregistered or a child waiting for consent) lives in `context.user_data` only.
"""

from __future__ import annotations

import hashlib
import logging
import random
import secrets

from telegram import Update

from bot.context import BotContext
from content.quizzes import Question, QuizBank
from db import quizzes
from db.quizzes import AnswerResult, Progress
from db.users import is_pending_child, is_registered
from handlers.callbacks import BadCallback, ascii_number, decode, encode
from handlers.common import Button, answer_query, in_rows, keyboard, refuse, respond

logger = logging.getLogger(__name__)

BANK_KEY = "quiz_bank"
GUEST_KEY = "quiz_guest"
QUIZ_LENGTH = 7
LEADERBOARD_SIZE = 5
LETTERS = "ABCDEFGHIJ"
BUTTON_TEXT = 56  # option text shown on a button; the full text is in the message


def bank_of(context: BotContext) -> QuizBank:
    """Return the Application's quiz bank (loaded and validated by `handlers.register`)."""
    bank: QuizBank = context.application.bot_data[BANK_KEY]
    return bank


def _is_guest(context: BotContext) -> bool:
    return not is_registered(context.user) or context.user is None or context.user.id is None


def _user_id(context: BotContext) -> int:
    assert context.user is not None and context.user.id is not None
    return context.user.id


async def _active(context: BotContext) -> Progress | None:
    if _is_guest(context):
        guest = context.user_data.get(GUEST_KEY) if context.user_data is not None else None
        return guest if isinstance(guest, Progress) and not guest.completed else None
    async with context.db() as session:
        return await quizzes.active_progress(session, user_id=_user_id(context))


async def quiz_command(update: Update, context: BotContext) -> None:
    """Handle /kuis, the `kuis` deep link and the menu button: resume or pick a topic."""
    progress = await _active(context)
    if progress is not None and progress.current is not None:
        rows = [[(context.text("quiz.btn.resume"), encode("qz", "resume", progress.key))],
                [(context.text("quiz.btn.restart"), encode("qz", "restart", progress.key))]]
        await respond(update, context, context.render("quiz/resume", progress=progress,
                                                      title=_title(context, progress.topic)), keyboard(rows))
        return
    await _show_topics(update, context)


async def _show_topics(update: Update, context: BotContext, *, edit: bool = True) -> None:
    bank = bank_of(context)
    if not bank.topics:
        await refuse(update, context, "quiz_empty")
        return
    buttons: list[Button] = [(f"📚 {t.title[context.locale]}", encode("qz", "topic", t.key)) for t in bank.topics]
    buttons.append((context.text("quiz.btn.mixed"), encode("qz", "topic", quizzes.MIXED)))
    text = context.render("quiz/topics", guest=_is_guest(context))
    await respond(update, context, text, keyboard(in_rows(buttons, 2)), edit=edit)


def _title(context: BotContext, topic: str) -> str:
    found = bank_of(context).topic(topic)
    return found.title[context.locale] if found is not None else context.text("quiz.mixed")


async def on_button(update: Update, context: BotContext) -> None:
    """Start a topic, resume, restart, answer, or open the topic list (every press re-checked)."""
    assert update.callback_query is not None
    press = decode(update.callback_query.data)
    try:
        if press.action in ("menu", "more"):  # "more" and "again" leave the score on screen
            await _show_topics(update, context, edit=press.action == "menu")
        elif press.action in ("topic", "again") and press.args:
            await _start(update, context, press.args[0], edit=press.action == "topic")
        elif press.action in ("resume", "restart") and press.args:
            await _resume_or_restart(update, context, press.action, press.args[0])
        elif press.action == "ans" and len(press.args) == 3:
            await _answer(update, context, press.args[0], press.args[1], press.int_arg(2))
        else:
            raise BadCallback("unknown quiz action")
    except BadCallback:
        await refuse(update, context, "stale_button")


async def _start(update: Update, context: BotContext, topic: str, *, edit: bool) -> None:
    bank = bank_of(context)
    if topic != quizzes.MIXED and bank.topic(topic) is None:
        raise BadCallback("unknown topic")
    age_band = context.user.age_band if context.user is not None else None
    picked = [q.id for q in bank.pick(None if topic == quizzes.MIXED else topic, age_band, QUIZ_LENGTH)]
    if not picked:
        await refuse(update, context, "quiz_empty")
        return
    if _is_guest(context):
        progress = Progress(key=f"g{secrets.randbelow(10**9)}", topic=topic, question_ids=tuple(picked))
        context.user_data[GUEST_KEY] = progress  # type: ignore[index]
    else:
        async with context.db() as session:
            progress = await quizzes.start_attempt(
                session, user_id=_user_id(context), topic=topic, question_ids=picked, now=context.now())
    await _ask(update, context, progress, edit=edit)


async def _resume_or_restart(update: Update, context: BotContext, action: str, key: str) -> None:
    progress = await _active(context)
    if progress is None or progress.key != key:
        await refuse(update, context, "quiz_stale")
        return
    if action == "resume":
        await _ask(update, context, progress, edit=True)
        return
    if _is_guest(context):
        context.user_data.pop(GUEST_KEY, None)  # type: ignore[union-attr]
    else:
        async with context.db() as session:
            await quizzes.abandon_active(session, user_id=_user_id(context))
    await _show_topics(update, context)


async def _ask(update: Update, context: BotContext, progress: Progress, *, edit: bool) -> None:
    question = bank_of(context).questions.get(progress.current or "")
    if question is None:  # the bank changed under an old quiz
        await refuse(update, context, "quiz_stale")
        return
    locale = context.locale
    order = display_order(progress.key, question)
    rows = [
        [(context.text("quiz.btn.option", letter=LETTERS[shown], text=_short(question.options[i][locale])),
          encode("qz", "ans", progress.key, question.id, i))]
        for shown, i in enumerate(order)
    ]
    text = context.render("quiz/question", question=question, progress=progress, letters=LETTERS, order=order,
                          title=_title(context, question.topic))
    await respond(update, context, text, keyboard(rows), edit=edit)


def display_order(key: str, question: Question) -> list[int]:
    """Shuffle a question's options, the same way every time within one quiz.

    The bank often puts the right answer first or second; shuffling keeps "always press A" from
    working. Buttons carry the bank's option number, so records never depend on the order shown.
    """
    seed = int.from_bytes(hashlib.sha256(f"{key}:{question.id}".encode()).digest()[:8], "big")
    order = list(range(len(question.options)))
    random.Random(seed).shuffle(order)  # noqa: S311 (a display order, not a secret)
    return order


def _short(text: str) -> str:
    return text if len(text) <= BUTTON_TEXT else text[: BUTTON_TEXT - 1].rstrip() + "…"


async def _answer(update: Update, context: BotContext, key: str, question_id: str, option: int) -> None:
    question = bank_of(context).questions.get(question_id)
    if question is None or option >= len(question.options):
        raise BadCallback("unknown question or option")
    right = option == question.correct
    if _is_guest(context):
        guest = context.user_data.get(GUEST_KEY) if context.user_data is not None else None
        if not isinstance(guest, Progress) or guest.key != key:
            await refuse(update, context, "quiz_stale")
            return
        progress: Progress | None
        progress, result = quizzes.apply_answer(guest, question_id=question_id, option=option, correct=right)
        context.user_data[GUEST_KEY] = progress  # type: ignore[index]
    else:
        if ascii_number(key) is None:
            raise BadCallback("not an attempt id")
        async with context.db() as session:
            progress, result = await quizzes.record_answer(
                session, attempt_id=int(key), user_id=_user_id(context), question_id=question_id,
                option=option, correct=right, now=context.now())
    if result == AnswerResult.ALREADY:
        await answer_query(update, context, context.render("errors/quiz_already"), alert=True)
        return
    if result == AnswerResult.STALE or progress is None:
        await refuse(update, context, "quiz_stale")
        return
    order = display_order(key, question)
    feedback = context.render("quiz/feedback", question=question, chosen=option, right=right,
                              chosen_letter=LETTERS[order.index(option)], correct_letter=LETTERS[order.index(question.correct)])
    await respond(update, context, feedback)
    if progress.current is not None:
        await _ask(update, context, progress, edit=False)
    else:
        await _finish(update, context, progress)


async def _finish(update: Update, context: BotContext, progress: Progress) -> None:
    guest = _is_guest(context)
    board: list[quizzes.KelurahanScore] = []
    if not guest:
        async with context.db() as session:
            board = await quizzes.leaderboard(session)
    own = context.user.kelurahan if context.user is not None and not guest else None
    top = [row for row in board if row.rank is not None][:LEADERBOARD_SIZE]
    mine = next((row for row in board if row.kelurahan == own), None)
    text = context.render("quiz/result", progress=progress, guest=guest, top=top, mine=mine,
                          pending=is_pending_child(context.user), min_players=quizzes.LEADERBOARD_MIN_PLAYERS,
                          title=_title(context, progress.topic))
    rows = [[(context.text("quiz.btn.again"), encode("qz", "again", progress.topic))],
            [(context.text("quiz.btn.other"), encode("qz", "more"))]]
    await respond(update, context, text, keyboard(rows), edit=False)
