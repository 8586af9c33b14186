"""Migration 0006 on both setups: plain Postgres (nothing changes) and a
database with Supabase's auth schema, API role, Realtime and publication
(tests/supabase/stub_sql.py), where the same policies hold for a request
that carries a Supabase JWT."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from services.live.feed import Change
from services.store import migrations
from services.supabase import setup as supabase_setup
from tests.supabase.conftest import SupabaseDb

FREE_TABLE = 11  # 2 to 6 guests, nothing booked on the sample night


@pytest.fixture
async def sb(supabase_db: SupabaseDb) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the Supabase-like database whose work is rolled back after the test."""
    conn = await asyncpg.connect(supabase_db.dsn)
    tx = conn.transaction()
    await tx.start()
    yield conn
    await tx.rollback()
    await conn.close()


async def session_of(conn: asyncpg.Connection, staff_id: int) -> str:
    """A session token for the staff member, opened by the owner (as a sign-in would)."""
    return str(await conn.fetchval("select backroom_meta.open_session($1)", staff_id))


async def as_console(conn: asyncpg.Connection, staff_id: int) -> None:
    """The console's way: its own role, presenting the staff member's session."""
    token = await session_of(conn, staff_id)
    await conn.execute(
        "select set_config('role', 'backroom_console', true), set_config('backroom.session', $1, true)", token
    )


async def as_api_user(conn: asyncpg.Connection, user_id: str) -> None:
    """PostgREST's and Realtime's way: role authenticated, the JWT's sub in a setting."""
    await conn.execute(
        "select set_config('role', 'authenticated', true), set_config('request.jwt.claim.sub', $1, true)",
        user_id,
    )


async def reset(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "reset role; select set_config('request.jwt.claim.sub', '', true),"
        " set_config('backroom.session', '', true)"
    )


async def new_booking(conn: asyncpg.Connection, status: str, table: int = FREE_TABLE) -> int:
    night = await conn.fetchrow("select id, starts_at from backroom.night order by date limit 1")
    assert night is not None
    guest = await conn.fetchval("insert into backroom.guest (name) values ('Ada Test') returning id")
    starts, ends = night["starts_at"], night["starts_at"] + timedelta(hours=2)
    booking = await conn.fetchval(
        "insert into backroom.booking (night_id, guest_id, party_size, status, starts_at, ends_at)"
        " values ($1, $2, 4, $3, $4, $5) returning id",
        night["id"],
        guest,
        status,
        starts,
        ends,
    )
    await conn.execute(
        "insert into backroom.booking_table (booking_id, table_id, during, active)"
        " values ($1, $2, tstzrange($3, $4), true)",
        booking,
        table,
        starts,
        ends,
    )
    return int(booking)


async def attempt(conn: asyncpg.Connection, status: str) -> int:
    """A booking in a savepoint, so a refusal leaves the test's transaction usable."""
    async with conn.transaction():
        return await new_booking(conn, status)


# Plain Postgres ------------------------------------------------------------------------


async def test_on_plain_postgres_0006_changes_nothing(admin: asyncpg.Connection) -> None:
    applied = {r["version"] for r in await admin.fetch("select version from backroom_meta.migration")}
    assert 6 in applied
    assert not await admin.fetchval(
        "select exists (select from pg_attribute where attrelid = 'backroom.staff'::regclass"
        " and attname = 'auth_user_id')"
    )
    source = await admin.fetchval(
        "select prosrc from pg_proc where oid = 'backroom.current_staff_id()'::regprocedure"
    )
    assert "auth" not in source
    assert await admin.fetchval("select count(*) from pg_trigger where tgname like '%broadcast'") == 0
    assert (
        await admin.fetchval(
            "select count(*) from pg_policy where 'authenticated' = any"
            " (select rolname from pg_roles where oid = any (polroles))"
        )
        == 0
    )
    assert await admin.fetchval("select backroom_meta.enable_supabase()") == []
    assert not (await supabase_setup.state(admin)).linked


@pytest.mark.parametrize(("role", "allowed"), [("door", False), ("manager", True)])
async def test_plain_policies_a_door_user_cannot_create_a_pending_booking(
    admin: asyncpg.Connection, role: str, allowed: bool
) -> None:
    staff_id = await admin.fetchval(
        "select id from backroom.staff where role = $1 and email like '%backroom.demo'", role
    )
    async with admin.transaction():
        await as_console(admin, staff_id)
        if allowed:
            assert await attempt(admin, "pending") > 0
        else:
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
                await attempt(admin, "pending")
            # ...but a walk-in, seated at once, is the door's job.
            assert await attempt(admin, "arrived") > 0


# With Supabase ----------------------------------------------------------------------------


async def test_with_supabase_everything_is_set_up_and_can_be_run_again(sb: asyncpg.Connection) -> None:
    state = await supabase_setup.state(sb)
    assert state.auth and state.api_role and state.realtime and state.publication and state.linked
    assert state.linked_staff == 2
    assert set(state.published_tables) == {
        "venue",
        "floor",
        "venue_table",
        "night",
        "booking",
        "booking_table",
        "hold",
    }
    assert state.broadcast_triggers == await sb.fetchval(
        "select count(*) from pg_trigger where tgfoid = 'backroom.notify_change()'::regprocedure"
    )
    policies_before = await sb.fetchval("select count(*) from pg_policy")
    again = await supabase_setup.enable(sb)
    assert len(again) == 5
    assert await sb.fetchval("select count(*) from pg_policy") == policies_before
    assert (await supabase_setup.state(sb)).published_tables == state.published_tables
    unsafe = await sb.fetch(
        "select p.oid::regprocedure::text as f from pg_proc p where p.prosecdef"
        " and p.pronamespace in ('backroom'::regnamespace, 'backroom_meta'::regnamespace)"
        " and not exists (select from unnest(p.proconfig) c where c like 'search_path=%pg_temp')"
    )
    assert unsafe == [], "every definer keeps pg_temp last after enabling Supabase again"


@pytest.mark.parametrize(("who", "allowed"), [("door", False), ("manager", True)])
async def test_with_a_supabase_jwt_the_same_policies_hold(
    sb: asyncpg.Connection, supabase_db: SupabaseDb, who: str, allowed: bool
) -> None:
    user = supabase_db.door_user if who == "door" else supabase_db.manager_user
    await as_api_user(sb, user)
    expected = supabase_db.door_id if who == "door" else supabase_db.manager_id
    assert await sb.fetchval("select backroom.current_staff_id()") == expected
    assert await sb.fetchval("select backroom.current_staff_role()") == who
    if allowed:
        booking = await attempt(sb, "pending")
        await reset(sb)
        created_by = await sb.fetchval("select created_by from backroom.booking where id = $1", booking)
        assert created_by == supabase_db.manager_id
        audited = await sb.fetchval(
            "select staff_id from backroom.audit_log where entity = 'booking'"
            " and entity_id = $1 and operation = 'insert'",
            booking,
        )
        assert audited == supabase_db.manager_id
    else:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await attempt(sb, "pending")


async def test_the_console_way_still_works_on_supabase(
    sb: asyncpg.Connection, supabase_db: SupabaseDb
) -> None:
    await as_console(sb, supabase_db.door_id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await attempt(sb, "pending")
    await reset(sb)
    await as_console(sb, supabase_db.manager_id)
    assert await attempt(sb, "pending") > 0


async def test_a_jwt_is_not_outranked_by_a_console_session(
    sb: asyncpg.Connection, supabase_db: SupabaseDb
) -> None:
    manager = await session_of(sb, supabase_db.manager_id)
    await as_api_user(sb, supabase_db.door_user)
    await sb.execute("select set_config('backroom.session', $1, true)", manager)
    assert await sb.fetchval("select backroom.current_staff_role()") == "door"
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await attempt(sb, "pending")


async def test_an_app_user_who_is_not_staff_reads_nothing(
    sb: asyncpg.Connection, supabase_db: SupabaseDb
) -> None:
    await as_api_user(sb, supabase_db.stranger_user)
    assert await sb.fetchval("select backroom.current_staff_id()") is None
    for table in ("booking", "guest", "staff", "audit_log", "venue_table"):
        assert await sb.fetchval(f"select count(*) from backroom.{table}") == 0, table
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with sb.transaction():
            await sb.execute("insert into backroom.guest (name) values ('Sneaky')")
    await reset(sb)
    await as_api_user(sb, supabase_db.door_user)
    assert await sb.fetchval("select count(*) from backroom.booking") > 0
    # Never the credentials or the project's JWT secret, for anyone through the API.
    for query in (
        "select * from backroom_private.credential limit 1",
        "select secret from backroom_private.supabase_jwt",
        "select backroom_meta.set_supabase_jwt_secret('0123456789abcdef0123')",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with sb.transaction():
                await sb.fetchval(query)


async def test_door_staff_through_the_api_change_status_only(
    sb: asyncpg.Connection, supabase_db: SupabaseDb
) -> None:
    await as_console(sb, supabase_db.manager_id)
    booking = await attempt(sb, "confirmed")
    await reset(sb)
    await as_api_user(sb, supabase_db.door_user)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="door staff"):
        async with sb.transaction():
            await sb.execute("update backroom.booking set party_size = 5 where id = $1", booking)
    await sb.execute("update backroom.booking set status = 'arrived' where id = $1", booking)


async def test_each_change_is_broadcast_with_the_notify_payload(
    sb: asyncpg.Connection, supabase_db: SupabaseDb
) -> None:
    before = await sb.fetchval("select count(*) from realtime.messages")
    await as_console(sb, supabase_db.manager_id)
    booking = await attempt(sb, "pending")
    await reset(sb)
    rows = await sb.fetch(
        "select topic, event, private, extension, payload from realtime.messages"
        " order by inserted_at offset $1",
        before,
    )
    assert rows and all(
        (r["topic"], r["event"], r["private"], r["extension"])
        == ("backroom:changes", "change", True, "broadcast")
        for r in rows
    )
    sent = [Change.parse(r["payload"]) for r in rows]
    assert any(c and c.kind == "booking" and c.id == booking and FREE_TABLE in c.tables for c in sent)
    kinds = sorted((c.kind, c.op) for c in sent if c)
    assert ("booking", "insert") in kinds
    # The fields of the NOTIFY a LISTEN console gets, and nothing more (never the row).
    notify_keys = {"kind", "id", "night", "tables", "op", "ts", "version"}
    for r in rows:
        assert set(json.loads(r["payload"])) <= notify_keys


async def test_realtime_topics_are_for_active_staff_only(
    sb: asyncpg.Connection, supabase_db: SupabaseDb
) -> None:
    await sb.execute(
        "insert into realtime.messages (topic, extension, payload, event, private)"
        " values ('backroom:changes', 'broadcast', '{}', 'change', true)"
    )

    async def sees(user: str, topic: str) -> int:
        await reset(sb)
        await as_api_user(sb, user)
        await sb.execute("select set_config('realtime.topic', $1, true)", topic)
        return int(await sb.fetchval("select count(*) from realtime.messages where topic = $1", topic))

    async def may_track(user: str, topic: str) -> bool:
        await reset(sb)
        await as_api_user(sb, user)
        await sb.execute("select set_config('realtime.topic', $1, true)", topic)
        try:
            async with sb.transaction():
                await sb.execute(
                    "insert into realtime.messages (topic, extension, private) values ($1, 'presence', true)",
                    topic,
                )
            return True
        except asyncpg.InsufficientPrivilegeError:
            return False

    assert await sees(supabase_db.door_user, "backroom:changes") >= 1
    assert await sees(supabase_db.stranger_user, "backroom:changes") == 0
    assert await sees(supabase_db.door_user, "someone:else") == 0
    assert await may_track(supabase_db.manager_user, "backroom:presence")
    assert not await may_track(supabase_db.stranger_user, "backroom:presence")
    assert not await may_track(supabase_db.manager_user, "backroom:changes")


async def test_disabled_staff_lose_access_at_once(sb: asyncpg.Connection, supabase_db: SupabaseDb) -> None:
    await sb.execute("update backroom.staff set active = false where id = $1", supabase_db.manager_id)
    await as_api_user(sb, supabase_db.manager_user)
    assert await sb.fetchval("select backroom.current_staff_id()") is None
    assert await sb.fetchval("select count(*) from backroom.booking") == 0
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with sb.transaction():
            await sb.execute("insert into backroom.guest (name) values ('After hours')")


# Linking staff ------------------------------------------------------------------------------


async def test_link_staff_by_email_and_create_on_the_way(sb: asyncpg.Connection) -> None:
    await sb.execute("insert into auth.users (id, email) values (gen_random_uuid(), 'new.host@venue.test')")
    linked = await supabase_setup.link_staff(sb, "New.Host@venue.test", role="manager", name="New Host")
    assert linked.created
    row = await sb.fetchrow(
        "select s.role, s.display_name, u.email,"
        "       exists (select from backroom_private.credential c where c.staff_id = s.id) as own"
        " from backroom.staff s join auth.users u on u.id = s.auth_user_id"
        " where s.email = 'new.host@venue.test'"
    )
    assert row is not None and (row["role"], row["display_name"], row["email"]) == (
        "manager",
        "New Host",
        "new.host@venue.test",
    )
    assert not row["own"]  # no console password: Supabase Auth only
    with pytest.raises(Exception, match="no Supabase Auth user"):
        await supabase_setup.link_staff(sb, "nobody@venue.test", role="door")
    with pytest.raises(Exception, match="not a Supabase user id"):
        await supabase_setup.link_staff(sb, "new.host@venue.test", auth_user_id="42")
    assert await sb.fetchval("select count(*) from backroom.audit_log where operation = 'staff_linked'") == 1


# Supabase CLI migrations ----------------------------------------------------------------------


async def test_exported_migrations_are_idempotent_and_accepted_by_the_console(
    tmp_path: Path, empty_dsn: str
) -> None:
    first = supabase_setup.export_supabase_migrations(tmp_path)
    names = [e.path.name for e in first]
    assert all(e.written for e in first) and len(first) == len(migrations.load())
    assert names == sorted(names)  # the Supabase CLI applies them in name order
    assert all(n.split("_", 1)[0].isdigit() and len(n.split("_", 1)[0]) == 14 for n in names)
    assert first[0].path.parent == tmp_path / "supabase" / "migrations"
    again = supabase_setup.export_supabase_migrations(tmp_path)
    assert [e.path.name for e in again] == names and not any(e.written for e in again)
    # Applied as the Supabase CLI would, each file on its own, in order.
    conn = await asyncpg.connect(empty_dsn)
    try:
        for e in first:
            async with conn.transaction():
                await conn.execute(e.path.read_text())
        await migrations.check_current(conn, "the test database")
        assert await migrations.migrate(conn) == []
    finally:
        await conn.close()
    first[0].path.write_text(first[0].path.read_text() + "\n-- edited\n")
    with pytest.raises(supabase_setup.ExportChanged, match="must stay as it was"):
        supabase_setup.export_supabase_migrations(tmp_path)


def test_a_new_migration_is_exported_after_the_files_already_there(tmp_path: Path) -> None:
    loaded = migrations.load()
    target = tmp_path / "supabase" / "migrations"
    target.mkdir(parents=True)
    (target / "29990101000000_someone_elses.sql").write_text("select 1;\n")
    supabase_setup.export_supabase_migrations(target, loaded=loaded[:2])
    done = supabase_setup.export_supabase_migrations(target, loaded=loaded[:3])
    assert [e.written for e in done] == [False, False, True]
    assert done[2].path.name.startswith("29990101000003_backroom_0003_")
