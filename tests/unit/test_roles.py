"""Roles given and taken back (db/roles.py) on SQLite and PostgreSQL: revoke, ADMIN_IDS, the list, the audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from content.loaders import load_regions
from db import crypto, invites, reports, roles, users
from db.models import AuditEntry, Report
from tests.helpers.factories import NOW, make_user

REGIONS = load_regions().kecamatan
SECRET = "unit-test-secret-key-0123456789-abcdefghij"


async def new_case(session: AsyncSession) -> Report:
    draft = reports.ReportDraft(
        reporter_kind="witness", category="bullying", urgent=False, kecamatan="Balikpapan Kota", kelurahan="Damai",
        place="school", happened="today", description="Temanku dipalak tiap hari.",
    )
    report, _code = await reports.submit_report(session, draft=draft, regions=REGIONS,
                                                reply_route=crypto.route_sealer(SECRET, 777), secret=SECRET, now=NOW)
    return report


async def actions(session: AsyncSession, subject: str) -> list[str]:
    entries = await session.execute(
        select(AuditEntry.action).where(AuditEntry.subject == subject).order_by(AuditEntry.id)
    )
    return list(entries.scalars())


async def test_revoking_staff_makes_a_parent_and_returns_open_cases(session: AsyncSession) -> None:
    await make_user(session, 50, role="staff")
    await make_user(session, 1, role="admin")
    kept, closed = await new_case(session), await new_case(session)
    for case in (kept, closed):
        await reports.assign(session, report_id=case.id, staff_id=50, now=NOW)  # type: ignore[arg-type]
    await reports.close(session, report_id=closed.id, staff_id=50, outcome="resolved", now=NOW)  # type: ignore[arg-type]

    revoked = await roles.revoke(session, telegram_id=50, actor_telegram_id=1, now=NOW + timedelta(hours=1))

    assert (revoked.old_role, revoked.new_role, revoked.cases_returned) == ("staff", "parent", 1)
    person = await users.get_user(session, telegram_id=50)
    assert person is not None and person.role == "parent" and person.age_band == "adult"
    assert not users.is_registered(person)  # asked for a kecamatan next time, like any new parent
    await session.refresh(kept)
    await session.refresh(closed)
    assert kept.assigned_to is None and closed.assigned_to == 50  # a closed case keeps its history
    assert await actions(session, "50") == ["role.revoke"]
    assert "report.unassign" in await actions(session, f"report:{kept.id}")


async def test_a_revoked_child_band_account_stays_a_child(session: AsyncSession) -> None:
    # Left from before children were refused codes: consented child, then staff.
    person = await make_user(session, 51, role="parent")
    person.role, person.age_band = "staff", "13_15"
    revoked = await roles.revoke(session, telegram_id=51, actor_telegram_id=None, now=NOW)
    assert revoked.new_role == "child"


@pytest.mark.parametrize(("telegram_id", "code"), [(404, "revoke_unknown"), (52, "revoke_nothing")])
async def test_nothing_to_revoke_is_refused(session: AsyncSession, telegram_id: int, code: str) -> None:
    await make_user(session, 52, role="parent")
    with pytest.raises(invites.RoleRefused) as caught:
        await roles.revoke(session, telegram_id=telegram_id, actor_telegram_id=1, now=NOW)
    assert caught.value.code == code


async def test_the_last_admin_cannot_revoke_themselves_in_the_bot(session: AsyncSession) -> None:
    await make_user(session, 1, role="admin")
    with pytest.raises(invites.RoleRefused) as caught:
        await roles.revoke(session, telegram_id=1, actor_telegram_id=1, now=NOW)
    assert caught.value.code == "revoke_last_admin"
    await make_user(session, 2, role="admin")
    assert (await roles.revoke(session, telegram_id=1, actor_telegram_id=1, now=NOW)).admins_left == 1
    # The operator's command line may remove the last one, and is told (bot/cli.py).
    assert (await roles.revoke(session, telegram_id=2, actor_telegram_id=None, now=NOW)).admins_left == 0


async def test_admin_ids_removal_is_honoured_but_an_operator_added_admin_stays(session: AsyncSession) -> None:
    changed = await roles.sync_admins(session, telegram_ids=[10, 11], language="id", now=NOW)
    assert sorted(u.telegram_id for u in changed) == [10, 11]
    assert await roles.add_admin(session, telegram_id=12, language="id", now=NOW)
    await make_user(session, 13, role="admin")  # an admin from before: ADMIN_IDS made it, unrecorded

    later = NOW + timedelta(days=1)
    changed = await roles.sync_admins(session, telegram_ids=[10], language="id", now=later)

    assert sorted(u.telegram_id for u in changed) == [11, 13]
    for telegram_id, role in ((10, "admin"), (11, "parent"), (12, "admin"), (13, "parent")):
        assert (await users.get_user(session, telegram_id=telegram_id)).role == role  # type: ignore[union-attr]
    assert await actions(session, "11") == ["admin.ids_add", "admin.ids_remove"]
    assert await actions(session, "12") == ["admin.add"]
    assert await roles.sync_admins(session, telegram_ids=[10], language="id", now=later) == []


async def test_an_admin_listed_again_after_an_operator_add_follows_admin_ids(session: AsyncSession) -> None:
    await roles.add_admin(session, telegram_id=12, language="id", now=NOW)
    await roles.revoke(session, telegram_id=12, actor_telegram_id=None, now=NOW + timedelta(hours=1))
    await roles.sync_admins(session, telegram_ids=[12], language="id", now=NOW + timedelta(hours=2))
    await roles.sync_admins(session, telegram_ids=[], language="id", now=NOW + timedelta(hours=3))
    assert (await users.get_user(session, telegram_id=12)).role == "parent"  # type: ignore[union-attr]


async def test_ensure_admins_counts_what_changed(session: AsyncSession) -> None:
    assert await users.ensure_admins(session, telegram_ids=[10, 11], language="id", now=NOW) == 2
    assert await users.ensure_admins(session, telegram_ids=[10], language="id", now=NOW) == 1


async def test_the_list_names_role_month_and_how(session: AsyncSession) -> None:
    await roles.sync_admins(session, telegram_ids=[10], language="id", now=NOW)
    later = NOW + timedelta(days=40)
    code = await invites.create_invite(session, role="staff", created_by=10, now=later)
    person = await make_user(session, 60, role="parent")
    await roles.grant_by_invite(session, user=person, code=code, now=later)
    await make_user(session, 61, role="facilitator")
    await make_user(session, 62, role="child")

    holders = await roles.list_holders(session)

    assert holders == [
        roles.Holder(10, "admin", "2026-11", "admin_ids"),
        roles.Holder(60, "staff", "2027-01", "invite"),
        roles.Holder(61, "facilitator", "2026-11", "unknown"),
    ]
