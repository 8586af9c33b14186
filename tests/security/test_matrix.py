"""What each role may do to each table, and which functions a console may call, as a table.

Every cell is tried for real by the console's own login (no SET ROLE, raw SQL), presenting a
session opened for a staff member of that role, or none; each try runs in a transaction that
is rolled back, on one database made for this module, so the cells do not see each other.

The tables are read from the catalog: a table added to `backroom`, `backroom_private` or
`backroom_meta` without a row in EXPECTED fails `test_every_table_has_an_expectation`, and so
does a row for a table that is gone. The same holds for functions the login can execute and
ALLOWED_FUNCTIONS.

A cell is one of:
  A  allowed: the statement worked and touched (or, for select, saw) at least one row
  H  hidden by Row Level Security: the statement worked and touched or saw no row, although
     the row it aims at exists (the owner sees it)
  D  denied with an error: insufficient privilege, or a row-level security policy's WITH
     CHECK (both SQLSTATE 42501)
  R  refused with an error by a rule of the schema before a privilege or policy was reached
     (another SQLSTATE); see the cell's note
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
import pytest

from services.identity.console_login import login_of, with_login
from services.store import seed
from tests.conftest import SAMPLE_NIGHT, TEMPLATE, with_database
from tests.sessions import signed_in

ROLES = ("none", "door", "manager", "admin", "support")
COMMANDS = ("select", "insert", "update", "delete", "truncate")
ADMIN_EMAIL = "matrix.admin@backroom.test"

# What every table without a write grant looks like: readable by staff, by nobody else.
READ_ONLY = ("HAAAA", "DDDDD", "DDDDD", "DDDDD", "DDDDD")
NOTHING = ("DDDDD",) * 5

#                                 select   insert   update   delete   truncate
#                        roles:   n d m a s
EXPECTED: dict[str, tuple[str, str, str, str, str]] = {
    "backroom.audit_log": READ_ONLY,  # written by the audit trigger and definers only
    "backroom.audit_operation": READ_ONLY,
    "backroom.booking": ("HAAAA", "DAAAD", "HAAAH", "DDDDD", "DDDDD"),
    "backroom.booking_status": READ_ONLY,
    "backroom.booking_table": ("HAAAA", "DDAAD", "DDDDD", "HHAAH", "DDDDD"),
    "backroom.booking_transition": READ_ONLY,
    "backroom.floor": READ_ONLY,
    "backroom.guest": ("HAAAA", "DAAAD", "HHAAH", "DDDDD", "DDDDD"),
    # none x insert: R, the night it names is hidden, so the hold lies outside it (BR003).
    "backroom.hold": ("HAAAA", "RDAAD", "HHAAH", "HHAAH", "DDDDD"),
    "backroom.night": READ_ONLY,
    "backroom.operation": ("HAAAA", "DAAAD", "HAAAH", "DDDDD", "DDDDD"),
    "backroom.presence": READ_ONLY,  # written by presence_beat and presence_leave
    "backroom.rule_clock": NOTHING,  # written by backroom.claim only
    "backroom.staff": READ_ONLY,  # managed by the admin-only definers
    "backroom.venue": READ_ONLY,
    "backroom.venue_table": READ_ONLY,
    "backroom.waitlist_entry": ("HAAAA", "DDAAD", "HHAAH", "DDDDD", "DDDDD"),
    # The night beside the tables (0019): written by its definer functions only.
    "backroom.guest_list": READ_ONLY,
    "backroom.guest_list_name": READ_ONLY,
    "backroom.headcount": READ_ONLY,
    "backroom.door_count_event": READ_ONLY,
    "backroom.ban": ("HHAAH", "DDDDD", "DDDDD", "DDDDD", "DDDDD"),  # history: managers'
    "backroom.spend": READ_ONLY,
    "backroom.spend_close": READ_ONLY,
    "backroom.alert": READ_ONLY,
    "backroom.alert_dismissal": READ_ONLY,
    "backroom_meta.console_login": NOTHING,
    "backroom_meta.migration": NOTHING,
    "backroom_private.answer": NOTHING,
    "backroom_private.attempt": NOTHING,
    "backroom_private.credential": NOTHING,
    "backroom_private.recovery_code": NOTHING,
    "backroom_private.session": NOTHING,
    "backroom_private.supabase_jwt": NOTHING,
}

TRIGGER = "trigger function: Postgres calls it only as a trigger, never when a client does"

ALLOWED_FUNCTIONS: dict[str, str] = {
    # Who is acting: each tells the caller about its own session, nothing about anyone else.
    "backroom.current_staff_id()": "the staff member of the presented session, or nobody",
    "backroom.current_staff_role()": "the role of the presented session's staff member",
    "backroom.session_staff_id()": "the staff member of the presented token; a wrong token is nobody",
    "backroom.session_holder_id()": "the same, also while the session is locked (reads, no writes)",
    "backroom.session_stepped_up()": "whether the presented session confirmed a code lately",
    "backroom.stepped_up_recently()": "the same, through current_staff_id()",
    "backroom.acting_as_owner()": "whether the caller is the owner connected as itself (never a login)",
    # Signing in and the session's own life.
    "backroom.sign_in(text,text,text)": "the sign-in: password and code checked, throttled, locked in Postgres",
    "backroom.open_night(date)": "a manager's or an admin's session opens a night within the venue's rules",
    "backroom.readiness()": "how far the schema is migrated and whether a venue exists, nothing else",
    "backroom.sign_in_answer(uuid)": "how a committed sign-in went, once, and its session",
    "backroom.confirm_code(text,text)": "a fresh code of the presented session's own staff member",
    "backroom.confirm_answer(uuid)": "how a committed code check went, on the session it was typed on",
    "backroom.lock_session()": "locks the presented session only",
    "backroom.end_session(text)": "ends the presented session only",
    "backroom.supabase_session(text)": "a session for an AAL2 token signed with the project's secret only",
    "backroom.supabase_confirm(text,text)": "a fresh code, proved by a signed token of the session's own user",
    # Staff management: require_admin() refuses anyone but an admin's session (or the owner).
    "backroom.enrol_staff(text,text,text,bytea,integer,bytea,bytea,bytea[])": "admin only",
    "backroom.enrol_totp(text,bytea,bytea[])": "admin only",
    "backroom.update_staff(text,text,boolean)": "admin only",
    "backroom.unlock_staff(text)": "admin only",
    # The console's own work.
    "backroom.log_refusal(text,text,integer,uuid,jsonb)": "a refusal of the session's own staff member",
    "backroom.presence_beat(uuid,text,integer,smallint,smallint,double precision)": "announces the session's own staff member, never a named one",
    "backroom.presence_leave(uuid)": "removes the session's own presence row only",
    "backroom.connection_stats()": "counts of connections by application and state; no query, no user",
    "backroom.sweep()": "expires what is due (lapsed holds, pending bookings past their time), nothing else",
    "backroom.new_ref()": "a random booking reference (the column's default)",
    "backroom.claim(text,integer)": "bumps a counter row the rule triggers lock; the login's table rights "
    "already allow as much locking (LOCK TABLE)",
    # The night beside the tables (0019): each asks the session's role itself and claims its op id.
    "backroom.reading_role()": "the presented session's own role, also while locked (reads only)",
    "backroom.fuzzy_names()": "whether pg_trgm is installed",
    "backroom.log_night_refusal(text,text,integer,uuid,jsonb)": "a refusal of the session's own staff member",
    "backroom.guest_list_create(uuid,integer,text,integer,integer,integer,timestamp with time zone)": "managers and admins",
    "backroom.guest_list_change(uuid,integer,integer,integer,timestamp with time zone)": "managers and admins",
    "backroom.guest_list_add(uuid,integer,jsonb)": "a promoter's own list before its cut-off, or a manager",
    "backroom.guest_list_remove(uuid,integer)": "a promoter's own list before its cut-off, or a manager",
    "backroom.guest_list_check_in(uuid,integer,integer,text,text)": "door and managers; a ban match or passing capacity needs a manager's fresh code",
    "backroom.confirm_booking(text,uuid,integer,integer,integer,numeric)": "confirm in one call, as the console role with the session it is given (invoker)",
    "backroom.check_in_booking(text,uuid,integer,integer,integer,integer,timestamp with time zone,interval)": "check in in one call, as the console role with the session it is given (invoker)",
    "backroom.door_count(uuid,integer,integer,text,text)": "door and managers; passing capacity needs a manager's fresh code and a reason",
    "backroom.door_search(integer,text,integer)": "door, support and managers: list names and bookings",
    "backroom.ban_add(uuid,text,text,text,text,timestamp with time zone)": "managers and admins",
    "backroom.ban_lift(uuid,integer,text)": "managers and admins",
    "backroom.ban_matches(text,text,text)": "door, support and managers: a match's name and reason only",
    "backroom.spend_record(uuid,integer,numeric,text)": "door and managers, on a party that is in",
    "backroom.spend_close_out(uuid,integer,numeric,text,text)": "managers and admins",
    "backroom.alert_send(uuid,integer,text,text,integer)": "managers and admins",
    "backroom.alert_dismiss(uuid,integer,uuid)": "any signed-in, unlocked session, for its console",
    "backroom.alert_clear(uuid,integer)": "managers and admins",
    # Triggers.
    "backroom.audit()": TRIGGER,
    "backroom.booking_before_write()": TRIGGER,
    "backroom.booking_check()": TRIGGER,
    "backroom.booking_created_by_signed_in()": TRIGGER,
    "backroom.booking_ref_fixed()": TRIGGER,
    "backroom.booking_sync_tables()": TRIGGER,
    "backroom.booking_table_before_write()": TRIGGER,
    "backroom.door_changes_only()": TRIGGER,
    "backroom.hold_at_most()": TRIGGER,
    "backroom.hold_before_insert()": TRIGGER,
    "backroom.hold_renewal()": TRIGGER,
    "backroom.notify_change()": TRIGGER,
    "backroom.require_step_up()": TRIGGER,
    "backroom.waitlist_created_by_signed_in()": TRIGGER,
}

SCHEMA_RIGHTS = {
    # schema: (usage, create)
    "backroom": (True, False),
    "backroom_private": (False, False),
    "backroom_meta": (False, False),
    "public": (True, False),
}


@dataclass
class World:
    dsn: str
    owner: asyncpg.Connection
    login: asyncpg.Connection
    tokens: dict[str, str | None]
    staff: dict[str, int | None]
    night: asyncpg.Record
    guest: int
    confirmed: int
    """A confirmed booking without a deposit, on one table: checked in by the update cell."""
    covered: int
    """A confirmed booking on one table: its table is deleted by the delete cell."""
    free_table: int
    first_column: dict[str, str] = field(default_factory=dict)
    """A column each table's generic update sets to itself."""


async def _setup(owner: asyncpg.Connection, dsn: str) -> World:
    await owner.execute(
        "insert into backroom.staff (email, display_name, role) values ($1, 'Matrix Admin', 'admin')",
        ADMIN_EMAIL,
    )
    emails = {role: email for email, _, role in seed.DEMO_STAFF} | {"admin": ADMIN_EMAIL}
    tokens: dict[str, str | None] = {"none": None}
    staff: dict[str, int | None] = {"none": None}
    for role in ROLES[1:]:
        actor = await signed_in(dsn, emails[role])
        assert actor.role == role
        tokens[role], staff[role] = actor.session, actor.staff_id

    night = await owner.fetchrow(
        "select id, starts_at, ends_at from backroom.night where date = $1", SAMPLE_NIGHT
    )
    assert night is not None
    free = [
        r["id"]
        for r in await owner.fetch(
            "select vt.id from backroom.venue_table vt where not exists ("
            " select from backroom.booking_table bt where bt.table_id = vt.id and bt.active"
            " and bt.during && tstzrange($1, $2)) order by vt.id",
            night["starts_at"],
            night["ends_at"],
        )
    ]
    assert len(free) >= 5, free
    single = (
        "select b.id from backroom.booking b where b.night_id = $1 and b.status = 'confirmed'"
        " and (select count(*) from backroom.booking_table x where x.booking_id = b.id) = 1"
        " order by b.deposit, b.id"
    )
    bookings = [r["id"] for r in await owner.fetch(single, night["id"])]
    assert len(bookings) >= 2, bookings
    assert await owner.fetchval("select deposit = 0 from backroom.booking where id = $1", bookings[0])
    guest = await owner.fetchval("insert into backroom.guest (name) values ('Matrix Guest') returning id")

    # A row in every table, so that a cell that sees none is hidden from it, not empty.
    for role, table in zip(ROLES[1:], free[1:], strict=False):
        await owner.execute(
            "insert into backroom.hold (table_id, night_id, during, staff_id, holder, expires_at)"
            " values ($1, $2, tstzrange($3, $4), $5, $6, clock_timestamp() + interval '9 minutes')",
            table,
            night["id"],
            night["starts_at"],
            night["ends_at"],
            staff[role],
            role,
        )
        await owner.execute(
            "insert into backroom.operation (op_id, kind, staff_id) values ($1, 'matrix', $2)",
            uuid.uuid4(),
            staff[role],
        )
    await owner.execute(
        "insert into backroom.presence (console_id, staff_id, staff_name, role, backend_pid)"
        " values ($1, $2, 'Door Team', 'door', pg_backend_pid())",
        uuid.uuid4(),
        staff["door"],
    )
    await owner.execute(
        "insert into backroom.waitlist_entry (night_id, guest_id, party_size) values ($1, $2, 2)",
        night["id"],
        guest,
    )

    # A row in each table of the night (0019).
    promoter = await owner.fetchval(
        "insert into backroom.staff (email, display_name, role)"
        " values ('matrix.promoter@backroom.test', 'Matrix Promoter',"
        " 'promoter') returning id"
    )
    list_id = await owner.fetchval(
        "insert into backroom.guest_list (night_id, name, owner_id, max_names, closes_at, name_count)"
        " values ($1, 'Matrix List', $2, 5, $3, 1) returning id",
        night["id"],
        promoter,
        night["ends_at"],
    )
    name_id = await owner.fetchval(
        "insert into backroom.guest_list_name (list_id, night_id, name)"
        " values ($1, $2, 'Matrix Name') returning id",
        list_id,
        night["id"],
    )
    await owner.execute(
        "insert into backroom.headcount (night_id, capacity, inside) values ($1, 100, 1)", night["id"]
    )
    await owner.execute(
        "insert into backroom.door_count_event (night_id, change, inside_after,"
        " guest_list_name_id) values ($1, 1, 1, $2)",
        night["id"],
        name_id,
    )
    await owner.execute("insert into backroom.ban (name, reason) values ('Matrix Banned', 'fights')")
    await owner.execute(
        "insert into backroom.spend (booking_id, night_id, amount) values ($1, $2, 10)",
        bookings[1],
        night["id"],
    )
    await owner.execute(
        "insert into backroom.spend_close (booking_id, night_id, final_spend, outcome)"
        " values ($1, $2, 10, 'paid')",
        bookings[1],
        night["id"],
    )
    alert = await owner.fetchval(
        "insert into backroom.alert (preset, body, expires_at)"
        " values ('free', 'Matrix', clock_timestamp() + interval '1 hour')"
        " returning id"
    )
    await owner.execute(
        "insert into backroom.alert_dismissal (alert_id, console_id) values ($1, $2)", alert, uuid.uuid4()
    )

    tables = await owner.fetch(
        "select n.nspname || '.' || c.relname as name,"
        " (select attname from pg_attribute a where a.attrelid = c.oid and a.attnum > 0"
        "  and not a.attisdropped and a.attidentity = '' and a.attgenerated = ''"
        "  order by a.attnum limit 1) as first_column,"
        " c.relnamespace = 'backroom'::regnamespace as in_backroom"
        " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname in ('backroom', 'backroom_private', 'backroom_meta') and c.relkind in ('r', 'p')"
    )
    for t in tables:
        if t["in_backroom"]:
            rows = await owner.fetchval(f"select count(*) from {t['name']}")
            assert rows > 0, f"{t['name']} needs a row for its cells to mean anything"

    credential = await login_of(owner)
    assert credential is not None
    login = await asyncpg.connect(with_login(dsn, credential))
    return World(
        dsn=dsn,
        owner=owner,
        login=login,
        tokens=tokens,
        staff=staff,
        night=night,
        guest=guest,
        confirmed=bookings[0],
        covered=bookings[1],
        free_table=free[0],
        first_column={t["name"]: t["first_column"] for t in tables},
    )


@pytest.fixture(scope="module")
async def world(server_dsn: str, template_dsn: str) -> AsyncIterator[World]:
    name = f"t_matrix_{uuid.uuid4().hex[:8]}"
    server = await asyncpg.connect(server_dsn)
    try:
        await server.execute(f"create database {name} template {TEMPLATE}")
    finally:
        await server.close()
    dsn = with_database(server_dsn, name)
    owner = await asyncpg.connect(dsn)
    try:
        made = await _setup(owner, dsn)
        try:
            yield made
        finally:
            await made.login.close()
    finally:
        await owner.close()
        server = await asyncpg.connect(server_dsn)
        try:
            await server.execute(f"drop database if exists {name} with (force)")
        finally:
            await server.close()


# ------------------------------------------------------------------ the statements

Statement = tuple[str, tuple[object, ...]]


def statement(w: World, table: str, command: str, role: str) -> Statement:
    """The statement a cell tries: a real job of the role that may do it, or for a table
    nobody writes, the plainest statement there is (the privilege check comes first)."""
    me = w.staff[role]
    n = w.night
    two_hours = n["starts_at"] + timedelta(hours=2)
    special: dict[tuple[str, str], Callable[[], Statement]] = {
        ("backroom.guest", "insert"): lambda: ("insert into backroom.guest (name) values ('Cell Guest')", ()),
        ("backroom.guest", "update"): lambda: (
            "update backroom.guest set notes = notes where id = $1",
            (w.guest,),
        ),
        # A walk-in: the door's own job, which managers and admins may do too.
        ("backroom.booking", "insert"): lambda: (
            "insert into backroom.booking (night_id, guest_id, party_size, status, starts_at, ends_at)"
            " values ($1, $2, 2, 'arrived', $3, $4)",
            (n["id"], w.guest, n["starts_at"], two_hours),
        ),
        # A check-in: the door's job again.
        ("backroom.booking", "update"): lambda: (
            "update backroom.booking set status = 'arrived' where id = $1",
            (w.confirmed,),
        ),
        ("backroom.booking_table", "insert"): lambda: (
            "insert into backroom.booking_table (booking_id, table_id, during, active)"
            " values ($1, $2, tstzrange($3, $4), true)",
            (w.confirmed, w.free_table, n["starts_at"], n["ends_at"]),
        ),
        ("backroom.booking_table", "delete"): lambda: (
            "delete from backroom.booking_table where booking_id = $1",
            (w.covered,),
        ),
        ("backroom.hold", "insert"): lambda: (
            "insert into backroom.hold (table_id, night_id, during, staff_id, holder)"
            " values ($1, $2, tstzrange($3, $4), $5, 'Cell')",
            (w.free_table, n["id"], n["starts_at"], n["ends_at"], me),
        ),
        # Every hold there is: each role's own, and everyone else's.
        ("backroom.hold", "update"): lambda: ("update backroom.hold set renewed_at = clock_timestamp()", ()),
        ("backroom.hold", "delete"): lambda: ("delete from backroom.hold", ()),
        ("backroom.operation", "insert"): lambda: (
            "insert into backroom.operation (op_id, kind, staff_id) values (gen_random_uuid(), 'cell', $1)",
            (me,),
        ),
        ("backroom.operation", "update"): lambda: ("update backroom.operation set result = result", ()),
        ("backroom.waitlist_entry", "insert"): lambda: (
            "insert into backroom.waitlist_entry (night_id, guest_id, party_size) values ($1, $2, 2)",
            (n["id"], w.guest),
        ),
        ("backroom.waitlist_entry", "update"): lambda: (
            "update backroom.waitlist_entry set notes = notes",
            (),
        ),
    }
    if (table, command) in special:
        return special[(table, command)]()
    column = w.first_column[table]
    return {
        "select": (f"select count(*) from {table}", ()),
        "insert": (f"insert into {table} default values", ()),
        "update": (f"update {table} set {column} = {column}", ()),
        "delete": (f"delete from {table}", ()),
        "truncate": (f"truncate {table}", ()),
    }[command]


class _Undo(Exception):
    """Not an error: how a cell rolls its transaction back, with what it counted."""

    def __init__(self, rows: int) -> None:
        self.rows = rows


async def attempt(w: World, role: str, sql: str, args: tuple[object, ...]) -> tuple[str, str]:
    """The cell's letter, and what happened in words."""
    conn = w.login
    try:
        async with conn.transaction():
            await conn.execute("select set_config('backroom.session', $1, true)", w.tokens[role] or "")
            if sql.startswith("select"):
                rows = int(await conn.fetchval(sql, *args))
            else:
                status = await conn.execute(sql, *args)
                rows = 1 if status.startswith("TRUNCATE") else int(status.split()[-1])
            raise _Undo(rows)
    except _Undo as undo:
        return ("A" if undo.rows > 0 else "H"), f"{undo.rows} row(s)"
    except asyncpg.InsufficientPrivilegeError as err:
        return "D", f"42501 {err}"
    except asyncpg.PostgresError as err:
        return "R", f"{err.sqlstate} {err}"


# ------------------------------------------------------------------ the tests


async def test_every_table_has_an_expectation(world: World) -> None:
    tables = {
        r["name"]
        for r in await world.owner.fetch(
            "select n.nspname || '.' || c.relname as name from pg_class c"
            " join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname in ('backroom', 'backroom_private', 'backroom_meta')"
            " and c.relkind in ('r', 'p', 'v', 'm', 'f')"
        )
    }
    assert sorted(tables - EXPECTED.keys()) == [], "tables with no row in EXPECTED"
    assert sorted(EXPECTED.keys() - tables) == [], "rows in EXPECTED for tables that are gone"


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("table", sorted(EXPECTED))
async def test_cell(world: World, table: str, command: str) -> None:
    expected = EXPECTED[table][COMMANDS.index(command)]
    got, said = [], []
    for role in ROLES:
        sql, args = statement(world, table, command, role)
        letter, what = await attempt(world, role, sql, args)
        got.append(letter)
        said.append(f"{role}: {letter} ({what})")
    assert "".join(got) == expected, f"{table} {command}\n" + "\n".join(said)


def test_every_hidden_cell_is_shown_to_someone() -> None:
    """Hidden means something only if the same statement touches rows for a role allowed it."""
    for table, cells in EXPECTED.items():
        for command, cell in zip(COMMANDS, cells, strict=True):
            assert len(cell) == len(ROLES) and set(cell) <= set("AHDR"), (table, command)
            assert "H" not in cell or "A" in cell, (table, command, cell)


async def test_the_owner_sees_what_no_session_is_shown(world: World) -> None:
    """Reads without a session are refused by policy, not because the tables are empty."""
    for table, cells in EXPECTED.items():
        if cells[0][0] == "H":
            assert await world.owner.fetchval(f"select count(*) from {table}") > 0, table


async def test_a_locked_session_reads_and_writes_nothing_and_an_ended_one_is_nobody(
    world: World,
) -> None:
    """The session's state is checked by Postgres at each statement: a locked console keeps
    its floor behind the lock screen but changes nothing until its own code opens it; an
    ended session is no session at all."""
    actor = await signed_in(world.dsn, seed.DEMO_MANAGER)
    world.tokens["probe"], world.staff["probe"] = actor.session, actor.staff_id
    cells = [
        ("backroom.booking", "select"),
        ("backroom.guest", "insert"),
        ("backroom.hold", "insert"),
        ("backroom.booking", "update"),
    ]

    async def letters() -> str:
        found = ""
        for table, command in cells:
            found += (await attempt(world, "probe", *statement(world, table, command, "probe")))[0]
        return found

    def set_session(change: str) -> str:
        return (
            f"update backroom_private.session set {change} where token_hash = backroom_private.token_hash($1)"
        )

    try:
        assert await letters() == "AAAA"
        await world.owner.execute(set_session("locked = true"), actor.session)
        assert await letters() == "ADDH"
        await world.owner.execute(set_session("locked = false, ended_at = clock_timestamp()"), actor.session)
        assert await letters() == "HDRH"
    finally:
        del world.tokens["probe"], world.staff["probe"]


async def test_every_function_the_login_can_execute_is_allowed_for_a_reason(world: World) -> None:
    rows = await world.login.fetch(
        "select p.oid::regprocedure::text as name, p.prorettype = 'trigger'::regtype as is_trigger"
        " from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
        " where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'"
        "   and has_function_privilege(current_user, p.oid, 'execute')"
        # Functions of an extension (btree_gist's support functions) come with the extension.
        "   and not exists (select from pg_depend d where d.classid = 'pg_proc'::regclass"
        "                   and d.objid = p.oid and d.deptype = 'e')"
    )
    executable = {r["name"]: r["is_trigger"] for r in rows}
    assert sorted(executable.keys() - ALLOWED_FUNCTIONS.keys()) == [], (
        "functions the console login can execute that nobody has said why"
    )
    assert sorted(ALLOWED_FUNCTIONS.keys() - executable.keys()) == [], (
        "allowed functions that no longer exist or are no longer executable"
    )
    for name, reason in ALLOWED_FUNCTIONS.items():
        assert (reason == TRIGGER) == executable[name], f"{name}: a trigger function iff said so"


@pytest.mark.parametrize("name", sorted(n for n, r in ALLOWED_FUNCTIONS.items() if r == TRIGGER))
async def test_a_trigger_function_cannot_be_called(world: World, name: str) -> None:
    with pytest.raises(asyncpg.FeatureNotSupportedError, match="trigger"):
        await world.login.execute(f"select {name}")


async def test_schema_and_database_rights(world: World) -> None:
    for schema, (usage, create) in SCHEMA_RIGHTS.items():
        got = await world.login.fetchrow(
            "select has_schema_privilege(current_user, $1, 'usage') as usage,"
            " has_schema_privilege(current_user, $1, 'create') as create",
            schema,
        )
        assert got is not None and (got["usage"], got["create"]) == (usage, create), schema
    assert (
        await world.login.fetchval(
            "select has_database_privilege(current_user, current_database(), 'create')"
        )
        is False
    )
    other = await world.login.fetch(
        "select nspname from pg_namespace where has_schema_privilege(current_user, oid, 'create')"
        " and nspname not like 'pg_temp%' and nspname not like 'pg_toast_temp%'"
    )
    assert [r["nspname"] for r in other] == [], "schemas the login may create objects in"
