"""Every limit on what people send the bot, in one place, and how text length is counted.

Handlers check these before any database work and answer with a template that names the
limit; domain functions check them again (never trust the caller). Telegram's own limits
are here too, because texts the bot echoes back must fit in them after rendering.

Lengths are counted as Telegram counts them, in UTF-16 code units (`length`): an emoji is one
character to Python and often two to Telegram, and a 2000-"character" story of emoji would
otherwise make a case card that Telegram refuses to deliver.
"""

from __future__ import annotations

from datetime import timedelta

# --- Telegram's limits -------------------------------------------------------------------
TELEGRAM_TEXT_MAX = 4096  # sendMessage / editMessageText, after entity parsing
TELEGRAM_CAPTION_MAX = 1024
TELEGRAM_ALERT_MAX = 200  # answerCallbackQuery text
CALLBACK_DATA_MAX_BYTES = 64

# --- Flood limit per user ------------------------------------------------------------------
# 20 updates in 10 seconds. A child reading and tapping sends one update every few seconds;
# the fastest real bursts are an album (up to 10 photos arrive as 10 updates at once) plus a
# caption and a couple of taps, so a burst of 20 passes whole. Only a script or a finger
# hammering one button goes past it.
FLOOD_UPDATES = 20
FLOOD_WINDOW = timedelta(seconds=10)

# --- Free text typed into the bot ------------------------------------------------------------
REPORT_DESCRIPTION_MAX = 2000  # the story in /lapor
REPORT_MESSAGE_MAX = 2000  # a follow-up message, a staff reply or a case note
REPORT_EVIDENCE_MAX = 5  # photos attached to one report
EVENT_TITLE_MAX = 120
EVENT_DESCRIPTION_MAX = 1000
EVENT_VENUE_MAX = 200
EVENT_CAPACITY_MAX = 5000
# Command arguments (/status CODE, /gabung CODE, /hadir CODE…): codes are short, the rest is ignored.
COMMAND_ARGS_MAX = 5  # arguments after a command that are read at all
COMMAND_ARG_CHARS_MAX = 64  # characters of each argument that are read


def length(text: str) -> int:
    """The length of a plain text as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2
