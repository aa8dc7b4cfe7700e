"""Forum Anak Bot: application assembly, command line, scheduler and sandbox."""

import os

# python-telegram-bot 22 returns durations (retry_after, ...) as timedelta when this is set; the
# int form is deprecated and warns, so opt in before telegram is imported anywhere.
os.environ.setdefault("PTB_TIMEDELTA", "1")
