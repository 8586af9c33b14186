"""The ban list against real Postgres: managers add and lift bans; the door finds
probable matches (fuzzy name, exact phone or email) with the reason, never the
history; checking in a listed guest who matches needs a manager's override."""

from __future__ import annotations

import asyncpg
import pytest

from services.errors import BanMatch, InvalidInput, NotAllowed, StepUpRequired
from services.night import NightServices
from services.store.db import acting_for
from tests.night_helpers import Crew, Night, console_login, staff_id, step_up


async def test_the_door_sees_a_probable_match_and_its_reason_only(
    dsn: str, admin: asyncpg.Connection, night_svc: NightServices, crew: Crew
) -> None:
    bans = night_svc.bans
    fuzzy = await admin.fetchval("select backroom.fuzzy_names()")
    assert fuzzy == await admin.fetchval(
        "select exists (select from pg_available_extensions where name = 'pg_trgm')"
    )
    bid = await bans.add(
        crew.manager,
        name="John Smith",
        phone="+44 7700 900123",
        email="JS@example.com",
        reason="Fighting, 3 Oct",
    )
    await bans.add(crew.manager, name="Old Ban", reason="Lapsed", expires_at=None)
    with acting_for(crew.door):
        by_phone = await bans.matches("Somebody Else", phone="07700900123".replace("0", "+44 ", 1))
        assert [(m.ban_id, m.matched_on, m.reason) for m in by_phone] == [(bid, "phone", "Fighting, 3 Oct")]
        assert [m.matched_on for m in await bans.matches("X Y", email="js@EXAMPLE.com ")] == ["email"]
        assert [m.name for m in await bans.matches("john smith")] == ["John Smith"]
        if fuzzy:
            assert [m.name for m in await bans.matches("Jon Smith")] == ["John Smith"]
        assert await bans.matches("Maria Lopez") == []
        assert "BANNED?" in (await bans.matches("John Smith"))[0].warning
        # The history is not the door's: no rows of the ban list, none of its audit rows.
        assert await bans.history() == []
        async with night_svc.ops.db.transaction() as conn:
            assert await conn.fetchval("select count(*) from backroom.audit_log where entity = 'ban'") == 0
    with acting_for(crew.support):
        assert [m.name for m in await bans.matches("John Smith")] == ["John Smith"]
        assert await bans.history() == []
    with acting_for(crew.manager):
        [first, second] = await bans.history()
        assert (second.name, second.added_by) == ("John Smith", "Mia Manager")
        assert first.name == "Old Ban"
    assert (
        await admin.fetchval(
            "select count(*) from backroom.audit_log where entity = 'ban'"
            " and operation = 'ban_add' and staff_id = $1",
            crew.manager.staff_id,
        )
        == 2
    )
    conn = await console_login(dsn, crew.door)
    try:
        assert await conn.fetchval("select count(*) from backroom.ban") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("update backroom.ban set lifted_at = now()")
    finally:
        await conn.close()


async def test_only_managers_keep_the_list_and_a_lifted_or_lapsed_ban_matches_no_one(
    admin: asyncpg.Connection, night_svc: NightServices, crew: Crew
) -> None:
    bans = night_svc.bans
    with pytest.raises(NotAllowed):
        await bans.add(crew.door, name="Some One", reason="x")
    with pytest.raises(InvalidInput):
        await bans.add(crew.manager, name="Some One", reason=" ")
    bid = await bans.add(crew.manager, name="Some One", reason="Theft")
    lapsing = await bans.add(crew.manager, name="Brief Ban", reason="Rude")
    await admin.execute(
        "update backroom.ban set expires_at = clock_timestamp() - interval '1 minute' where id = $1", lapsing
    )
    await bans.lift(crew.manager, bid, "Apologised")
    with acting_for(crew.door):
        assert await bans.matches("Some One") == []
        assert await bans.matches("Brief Ban") == []
    with acting_for(crew.manager):
        lifted = next(b for b in await bans.history() if b.id == bid)
        assert lifted.lift_reason == "Apologised" and lifted.lifted_at is not None


async def test_checking_in_a_listed_guest_who_matches_a_ban_needs_a_managers_override(
    admin: asyncpg.Connection, night_svc: NightServices, crew: Crew, ahead: Night
) -> None:
    await night_svc.bans.add(crew.manager, name="Vince Vega", reason="Threatened staff")
    async with night_svc.ops.db.transaction(crew.manager) as conn:
        closes = await conn.fetchval("select clock_timestamp() + interval '1 hour'")
    lid = await night_svc.lists.create_list(
        crew.manager,
        night_id=ahead.id,
        name="Pia's",
        owner_id=staff_id(crew.promoter),
        max_names=5,
        max_plus_ones=2,
        closes_at=closes,
    )
    (vince,) = await night_svc.lists.add_pasted(crew.promoter, lid, "Vince Vega +1")
    with pytest.raises(BanMatch, match="Threatened staff") as refused:
        await night_svc.lists.check_in(crew.door, vince, 2)
    assert refused.value.ban_name == "Vince Vega"
    with pytest.raises(StepUpRequired):
        await night_svc.lists.check_in(crew.door, vince, 2, override_reason="Manager said so")
    await step_up(admin, crew.manager)
    done = await night_svc.lists.check_in(crew.manager, vince, 2, override_reason="Spoke to him: calm")
    assert done.arrived == 2
    row = await admin.fetchrow("select override_reason from backroom.guest_list_name where id = $1", vince)
    assert row is not None and row["override_reason"] == "Spoke to him: calm"
    audited = await admin.fetchval(
        "select after->>'override_reason' from backroom.audit_log where operation = 'guest_list_check_in'"
        " and entity = 'guest_list_name' and staff_id = $1",
        crew.manager.staff_id,
    )
    assert audited == "Spoke to him: calm"
    # The service-side check for booking check-ins and walk-ins says the same.
    with acting_for(crew.door):
        with pytest.raises(BanMatch):
            await night_svc.bans.require_clear(crew.door, "Vince Vega")
        with pytest.raises(StepUpRequired):
            await night_svc.bans.require_clear(crew.door, "Vince Vega", override_reason="ok")
        await night_svc.bans.require_clear(crew.door, "Someone Fine")
