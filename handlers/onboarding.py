"""First contact: language, privacy notice, role, guardian consent, profile, then the menu.

Private chats only: the questions ask a child's age, place and gender, so in a group `/start`
(with any payload) and every `ob:` button get a link to the private chat (handlers/private_only.py).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update

from bot.context import BotContext
from db import users
from db.errors import DomainError, InvalidChoice
from db.users import Step
from handlers import consent, menu
from handlers.callbacks import Callback, decode, encode
from handlers.commands import publish_for_user
from handlers.common import Button, in_rows, keyboard, refuse, respond
from handlers.privacy import erase_account


async def start(update: Update, context: BotContext) -> None:
    """Handle /start with an optional deep-link payload."""
    payload = (context.args or [""])[0][:64]
    if payload.startswith("wali_"):
        await consent.open_guardian_link(update, context, payload.removeprefix("wali_"))
        return
    deep_link = menu.deep_link_target(context, payload)
    if deep_link is not None:
        await deep_link(update, context)
        return
    await show_step(update, context)


async def show_step(update: Update, context: BotContext) -> None:
    """Ask the next onboarding question, or show the menu when onboarding is complete."""
    step = users.next_step(context.user)
    if step == Step.DONE:
        await menu.show_menu(update, context)
        return
    if step == Step.GUARDIAN:
        await consent.show_guardian_step(update, context)
        return
    text, markup = _question(context, step)
    await respond(update, context, text, markup)


def _question(context: BotContext, step: Step) -> tuple[str, InlineKeyboardMarkup]:
    t = context.text
    regions = context.services.regions
    buttons: list[Button]
    if step == Step.LANGUAGE:
        buttons = [(t("btn.lang_id"), encode("ob", "lang", "id")), (t("btn.lang_en"), encode("ob", "lang", "en"))]
        return context.render("onboarding/language"), keyboard([buttons])
    if step == Step.PRIVACY:
        rows = [[(t("btn.agree"), encode("ob", "priv", "yes"))], [(t("btn.disagree"), encode("ob", "priv", "no"))]]
        keep_days = context.services.settings.RETENTION_INACTIVE_DAYS
        return context.render("onboarding/privacy", keep_days=keep_days), keyboard(rows)
    if step == Step.ROLE:
        buttons = [(t(f"role.{r}"), encode("ob", "role", r)) for r in ("child", "parent")]
        return context.render("onboarding/role"), keyboard(in_rows(buttons, 1))
    if step == Step.AGE:
        buttons = [(t(f"age.{b}"), encode("ob", "age", b)) for b in users.CHILD_AGE_BANDS]
        return context.render("onboarding/age"), keyboard(in_rows(buttons, 2))
    if step == Step.KECAMATAN:
        buttons = [(name, encode("ob", "kec", i)) for i, name in enumerate(regions.kecamatan)]
        return context.render("onboarding/kecamatan"), keyboard(in_rows(buttons, 2))
    if step == Step.KELURAHAN:
        assert context.user is not None and context.user.kecamatan is not None
        names = regions.kelurahan_of(context.user.kecamatan)
        buttons = [(name, encode("ob", "kel", i)) for i, name in enumerate(names)]
        rows = [*in_rows(buttons, 2), [(t("btn.back"), encode("ob", "kec", "back"))]]
        return context.render("onboarding/kelurahan", kecamatan=context.user.kecamatan), keyboard(rows)
    buttons = [(t(f"gender.{g}"), encode("ob", "gen", g)) for g in users.GENDERS]
    return context.render("onboarding/gender"), keyboard(in_rows(buttons, 2))


async def on_button(update: Update, context: BotContext) -> None:
    """Record one onboarding answer from a button, then ask the next question."""
    assert update.callback_query is not None and update.effective_user is not None
    press = decode(update.callback_query.data)
    if press.action == "next":
        await show_step(update, context)
        return
    try:
        async with context.db() as session:
            if press.action == "lang":
                context.user = await users.start_account(
                    session, telegram_id=update.effective_user.id, language=press.args[0], now=context.now()
                )
            elif context.user is None:
                raise InvalidChoice()
            elif press.action == "priv":
                await _privacy_answer(update, context, session, press)
                if context.user is None:
                    return
            elif press.action == "role":
                await users.choose_role(session, user=context.user, role=press.args[0], now=context.now())
            else:
                await _profile_answer(context, session, press)
    except (DomainError, IndexError):
        await refuse(update, context, "stale_button")
        await show_step(update, context)
        return
    if users.is_registered(context.user) or press.action == "lang":
        assert context.user is not None
        await publish_for_user(context.bot, context.services.renderer, context.user)
    await show_step(update, context)


async def _privacy_answer(
    update: Update, context: BotContext, session: AsyncSession, press: Callback
) -> None:
    assert context.user is not None
    if press.args[0] == "yes":
        await users.accept_privacy(session, user=context.user, now=context.now())
        return
    await erase_account(context.services, session, context.user, now=context.now())
    context.user = None
    await respond(update, context, context.render("onboarding/privacy_declined"))


async def _profile_answer(context: BotContext, session: AsyncSession, press: Callback) -> None:
    assert context.user is not None
    regions = context.services.regions
    user = context.user
    if press.action == "age":
        await users.set_profile(session, user=user, regions=regions.kecamatan, age_band=press.args[0])
    elif press.action == "kec" and press.args[0] == "back":
        await users.clear_location(session, user=user)
    elif press.action == "kec":
        names = list(regions.kecamatan)
        index = press.int_arg()
        if index >= len(names):
            raise InvalidChoice()
        await users.set_profile(session, user=user, regions=regions.kecamatan, kecamatan=names[index])
    elif press.action == "kel":
        names_kel = regions.kelurahan_of(user.kecamatan or "")
        index = press.int_arg()
        if index >= len(names_kel):
            raise InvalidChoice()
        await users.set_profile(session, user=user, regions=regions.kecamatan, kelurahan=names_kel[index])
    elif press.action == "gen":
        await users.set_profile(session, user=user, regions=regions.kecamatan, gender=press.args[0])
    else:
        raise InvalidChoice()
