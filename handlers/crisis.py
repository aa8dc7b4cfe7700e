"""Crisis words: a private message anywhere in the bot that speaks of self-harm or immediate
danger gets the help message (112, SAPA 129) at once, whatever flow the user is in.

The handler sits in its own early group, so it sees every private text and caption and
never stops the update: the flow the user is in still gets the message afterwards.
The word list (content/safety/crisis_words.yaml, `phrases: {id: [...], en: [...]}`) is
reviewed by people, not guessed by code; matching is on whole words after simple folding.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from telegram import Message, Update
from telegram.ext import MessageHandler, filters

from bot.context import BotContext
from content.loaders import CONTENT_DIR, LOCALES, ContentError, read_yaml
from db import users

logger = logging.getLogger(__name__)

CRISIS_FILE = CONTENT_DIR / "safety" / "crisis_words.yaml"
GROUP = -2  # before the user loader (-1) and every feature (0); handlers in other groups still run
_NOT_LETTERS = re.compile(r"[^\w]+", re.UNICODE)


def fold(text: str) -> str:
    """Lower-case, turn punctuation into spaces and pad, so phrases match on whole words."""
    return " " + " ".join(_NOT_LETTERS.sub(" ", text.lower().replace("_", " ")).split()) + " "


@dataclass(frozen=True)
class CrisisWords:
    """The reviewed phrases of every language, folded for matching."""

    phrases: tuple[str, ...]

    def matches(self, text: str) -> bool:
        """Tell whether a text contains any phrase as whole words."""
        folded = fold(text)
        return any(phrase in folded for phrase in self.phrases)


def load_crisis_words(path: Path | None = None) -> CrisisWords:
    """Load `phrases: {id: [...], en: [...]}`; a broken file stops start-up with its name."""
    path = path or CRISIS_FILE
    data = read_yaml(path)
    phrases = data.get("phrases") if isinstance(data, dict) else None
    if not isinstance(phrases, dict) or not all(isinstance(phrases.get(loc), list) and phrases[loc] for loc in LOCALES):
        raise ContentError(f"{path.name}: expected 'phrases' with non-empty 'id' and 'en' lists")
    folded = []
    for locale in LOCALES:
        for phrase in phrases[locale]:
            if not isinstance(phrase, str) or not phrase.strip():
                raise ContentError(f"{path.name}: an empty or non-text phrase in {locale!r}")
            folded.append(fold(phrase))
    return CrisisWords(tuple(dict.fromkeys(folded)))


class CrisisFilter(filters.MessageFilter):
    """Matches a message whose text or caption contains a crisis phrase."""

    def __init__(self, words: CrisisWords) -> None:
        super().__init__(name="CrisisFilter")
        self.words = words

    def filter(self, message: Message) -> bool:
        """Check the text or the caption."""
        text = message.text or message.caption
        return bool(text) and self.words.matches(text or "")


async def crisis_help(update: Update, context: BotContext) -> None:
    """Send the help message with the emergency numbers, in the user's language."""
    chat, sender = update.effective_chat, update.effective_user
    if chat is None:
        return
    if sender is not None:
        context.telegram_language = sender.language_code
        async with context.db() as session:  # the user loader has not run yet in this group
            context.user = await users.get_user(session, telegram_id=sender.id)
    logger.info("crisis words matched: help numbers sent")
    await context.bot.send_message(chat.id, context.render("reports/crisis"))


def help_filter(words: CrisisWords) -> filters.BaseFilter:
    """Private messages (new or edited) whose text or caption has a crisis phrase."""
    return filters.ChatType.PRIVATE & filters.UpdateType.MESSAGES & CrisisFilter(words)


def handler(words: CrisisWords | None = None) -> MessageHandler[BotContext, None]:
    """The crisis handler for private messages (register it in GROUP)."""
    return MessageHandler(help_filter(words or load_crisis_words()), crisis_help)
