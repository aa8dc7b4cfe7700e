"""`/wilayah` (staff and admins): the areas and events a facilitator may broadcast to.

    /wilayah ID                    list them
    /wilayah ID Balikpapan Kota    add a kecamatan or kelurahan (or `#12` for event 12)
    /wilayah ID hapus Balikpapan Kota   remove one (also `remove`)
The rules live in db/scopes.py; this only parses and answers.
"""

from __future__ import annotations

from telegram import Update

from bot.context import BotContext
from db import scopes, users
from db.errors import DomainError
from db.models import Role
from handlers.common import respond

REMOVE_WORDS = ("hapus", "remove")


def _parse_target(words: list[str], known_areas: set[str]) -> tuple[str, str] | None:
    """(kind, value) from the words after the id: `#12` is an event, else a known area name."""
    name = " ".join(words).strip()
    if name.startswith("#") and name[1:].isascii() and name[1:].isdigit():
        return scopes.EVENT, str(int(name[1:]))
    matches = [area for area in known_areas if area.casefold() == name.casefold()]
    return (scopes.AREA, matches[0]) if matches else None


async def scope_command(update: Update, context: BotContext) -> None:
    """Handle /wilayah: list, add or remove a facilitator's areas and events."""
    assert context.user is not None
    args = list(context.args or [])
    if not args or not args[0].isascii() or not args[0].isdigit():
        await respond(update, context, context.render("broadcasts/scope_usage"))
        return
    telegram_id = int(args[0])
    words = args[1:]
    removing = bool(words) and words[0].casefold() in REMOVE_WORDS
    if removing:
        words = words[1:]
    regions = context.services.regions
    known = set(regions.kecamatan) | {kel for names in regions.kecamatan.values() for kel in names}
    target = _parse_target(words, known) if words else None
    if words and target is None:
        await respond(update, context, context.render("broadcasts/scope_unknown_area", area=" ".join(words)[:60]))
        return
    changed = None
    try:
        async with context.db() as session:
            facilitator = await users.get_user(session, telegram_id=telegram_id)
            if facilitator is None or facilitator.role != Role.FACILITATOR:
                await respond(update, context, context.render("broadcasts/scope_not_facilitator"))
                return
            if target is not None and removing:
                changed = await scopes.remove(session, facilitator_telegram_id=telegram_id, kind=target[0],
                                              value=target[1])
            elif target is not None:
                changed = await scopes.assign(session, facilitator=facilitator, kind=target[0], value=target[1],
                                              by=context.user, today=context.now().astimezone(context.services.settings.tz).date())
            rows = await scopes.listing(session, facilitator_telegram_id=telegram_id)
    except DomainError as exc:
        await respond(update, context, context.render(f"errors/{exc.code}"))
        return
    await respond(update, context, context.render(
        "broadcasts/scope_list", telegram_id=telegram_id, rows=rows, changed=changed, removing=removing,
    ))

