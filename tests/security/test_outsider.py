"""Issue 12's attacks, made exactly as an outsider holding a console's credential would make
them: asyncpg with the console login's connection string (what `backroom db console-url`
prints), raw SQL, no helper of the app's. They have no staff member's password or code.

Each attack is refused, and where it can, the test shows that the same statement works for
the legitimate session, so a refusal is the check doing its work, not a statement that could
never work. On a design where identity is a setting the client writes, each of these fails.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import asyncpg
import pyotp
import pytest

from services.identity.console_login import read_login, with_login
from services.store import seed
from tests.conftest import SAMPLE_NIGHT
from tests.sessions import db_confirm, db_sign_in, signed_in

T = TypeVar("T")

ITERATIONS = 1000  # the least the database accepts: these tests sign in often
PASSWORD = "correct horse battery"
ADMIN_EMAIL = "alex.admin@backroom.test"
DOOR_EMAIL = seed.DEMO_STAFF[1][0]
SUPPORT_EMAIL = seed.DEMO_STAFF[2][0]
HOLD_MOST = timedelta(minutes=10)
"""The longest a hold may run from its last renewal (0009)."""

Outsider = Callable[[], Awaitable[asyncpg.Connection]]


# ------------------------------------------------------------------ what the outsider has


@pytest.fixture
async def login_dsn(dsn: str) -> str:
    login = await read_login(dsn)
    assert login is not None
    return with_login(dsn, login)


@pytest.fixture
async def outsider(login_dsn: str) -> AsyncIterator[Outsider]:
    """Connections made with the console's credential, and nothing else."""
    opened: list[asyncpg.Connection] = []

    async def connect() -> asyncpg.Connection:
        conn = await asyncpg.connect(login_dsn)
        opened.append(conn)
        assert (await conn.fetchval("select current_user")).endswith("_login")
        return conn

    yield connect
    for conn in opened:
        await conn.close()


@pytest.fixture
async def conn(outsider: Outsider) -> asyncpg.Connection:
    return await outsider()


async def present(conn: asyncpg.Connection, token: str | None) -> None:
    """What every console transaction does: present a session token (here for the whole
    connection, which a client may equally do)."""
    await conn.execute("select set_config('backroom.session', $1, false)", token or "")


async def who(conn: asyncpg.Connection) -> tuple[int | None, str | None]:
    row = await conn.fetchrow(
        "select backroom.current_staff_id() as id, backroom.current_staff_role() as role"
    )
    assert row is not None
    return row["id"], row["role"]


class _Undo(Exception):
    """Rolls a transaction back once it has shown what it could do."""


async def rolled_back(conn: asyncpg.Connection, work: Callable[[], Awaitable[T]]) -> T:
    """`work` in a transaction that is rolled back; its result."""
    results: list[T] = []
    try:
        async with conn.transaction():
            results.append(await work())
            raise _Undo
    except _Undo:
        pass
    return results[0]


@dataclass
class Enrolled:
    id: int
    email: str
    password: str
    secret: str

    def code(self, steps: int = 0) -> str:
        return pyotp.TOTP(self.secret).at(time.time() + 30 * steps)


async def enrol(admin: asyncpg.Connection, email: str, role: str) -> Enrolled:
    """An account enrolled by the owner, whose password and authenticator the test knows."""
    secret = pyotp.random_base32()
    salt = os.urandom(16)
    key = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), salt, ITERATIONS)
    sid = await admin.fetchval(
        "select backroom.enrol_staff($1, $2, $3, $4, $5, $6, $7, $8)",
        email,
        email.split("@")[0].replace(".", " ").title(),
        role,
        salt,
        ITERATIONS,
        key,
        base64.b32decode(secret),
        [hashlib.sha256(b"recovery01").digest()],
    )
    return Enrolled(sid, email, PASSWORD, secret)


async def away_from_step_edge() -> None:
    """Codes are made here and checked there: keep both in one time step."""
    left = 30 - time.time() % 30
    if left < 3:
        await asyncio.sleep(left + 0.2)


async def sign_in(conn: asyncpg.Connection, email: str, password: str, code: str) -> asyncpg.Record:
    return await db_sign_in(conn, email, password, code)


@pytest.fixture
async def alex(admin: asyncpg.Connection) -> int:
    """An admin, the account an outsider would most like to be."""
    found: int = await admin.fetchval(
        "insert into backroom.staff (email, display_name, role) values ($1, 'Alex Admin', 'admin')"
        " returning id",
        ADMIN_EMAIL,
    )
    return found


async def a_booking(admin: asyncpg.Connection, *, paid: bool) -> asyncpg.Record:
    row = await admin.fetchrow(
        "select b.id, b.ref, b.deposit, bt.table_id from backroom.booking b"
        " join backroom.booking_table bt on bt.booking_id = b.id"
        " join backroom.night n on n.id = b.night_id"
        " where n.date = $1 and b.status = 'confirmed' and (b.deposit > 0) = $2"
        " and (select count(*) from backroom.booking_table x where x.booking_id = b.id) = 1"
        " order by b.id limit 1",
        SAMPLE_NIGHT,
        paid,
    )
    assert row is not None
    return row


async def sample_night(admin: asyncpg.Connection) -> asyncpg.Record:
    row = await admin.fetchrow(
        "select id, starts_at, ends_at from backroom.night where date = $1", SAMPLE_NIGHT
    )
    assert row is not None
    return row


async def free_table(admin: asyncpg.Connection, night: asyncpg.Record) -> int:
    found: int = await admin.fetchval(
        "select vt.id from backroom.venue_table vt where not exists ("
        " select from backroom.booking_table bt where bt.table_id = vt.id and bt.active"
        " and bt.during && tstzrange($1, $2)) and vt.min_party <= 2 and vt.max_party >= 2"
        " order by vt.id limit 1",
        night["starts_at"],
        night["ends_at"],
    )
    assert found is not None
    return found


async def audit_rows(admin: asyncpg.Connection) -> int:
    n: int = await admin.fetchval("select count(*) from backroom.audit_log")
    return n


# ------------------------------------------------------------------ naming a staff member


def _claims(sub: str) -> str:
    return json.dumps({"sub": sub, "role": "authenticated", "aal": "aal2", "exp": int(time.time()) + 3600})


NAMINGS: dict[str, Callable[[int], str]] = {
    "backroom.staff_id": lambda staff: str(staff),
    "request.jwt.claims": lambda staff: _claims(f"00000000-0000-0000-0000-{staff:012d}"),
    "request.jwt.claim.sub": lambda staff: f"00000000-0000-0000-0000-{staff:012d}",
    "request.jwt.claim.role": lambda staff: "authenticated",
    "backroom.session": lambda staff: str(staff),  # the id where the token goes
}


@pytest.mark.parametrize("setting", sorted(NAMINGS))
async def test_no_setting_names_a_staff_member(
    conn: asyncpg.Connection, admin: asyncpg.Connection, dsn: str, alex: int, setting: str
) -> None:
    door = await admin.fetchval("select id from backroom.staff where email = $1", DOOR_EMAIL)
    await conn.execute("select set_config($1, $2, false)", setting, NAMINGS[setting](alex))

    async def promote_and_add() -> tuple[int, int]:
        await conn.execute("select backroom.update_staff($1, 'admin', null)", DOOR_EMAIL)
        new = await conn.fetchval(
            "select backroom.enrol_staff('eve@backroom.test', 'Eve', 'admin', $1, 1000, $2, $3, '{}')",
            os.urandom(16),
            os.urandom(32),
            os.urandom(20),
        )
        guest = await conn.fetchval("insert into backroom.guest (name) values ('Eve Guest') returning id")
        return new, guest

    assert await who(conn) == (None, None)
    assert await conn.fetchval("select count(*) from backroom.staff") == 0
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await rolled_back(conn, promote_and_add)
    assert await admin.fetchval("select role from backroom.staff where id = $1", door) == "door"
    assert await admin.fetchval("select count(*) from backroom.staff where email = 'eve@backroom.test'") == 0

    # The same statements, with the same setting still in place, for the admin's real session.
    real = await signed_in(dsn, ADMIN_EMAIL)
    await present(conn, real.session)
    if setting != "backroom.session":
        assert await conn.fetchval("select current_setting($1)", setting) == NAMINGS[setting](alex)
    assert await who(conn) == (alex, "admin")
    new, guest = await rolled_back(conn, promote_and_add)
    assert new and guest


async def test_the_role_setting_cannot_be_taken(conn: asyncpg.Connection, admin: asyncpg.Connection) -> None:
    """'role' is what Supabase's identity keys on: only a member of a role can set it."""
    owner = await admin.fetchval("select current_user")
    for role in ("authenticated", "service_role", owner, "pg_read_all_data", "pg_write_all_data"):
        exists = await admin.fetchval("select exists (select from pg_roles where rolname = $1)", role)
        with pytest.raises(asyncpg.PostgresError) as err:
            await conn.execute("select set_config('role', $1, false)", role)
        # A role that exists is refused for want of membership; one that does not, as unknown.
        assert err.value.sqlstate == ("42501" if exists else "22023"), (role, err.value)
    await conn.execute("select set_config('role', 'backroom_console', false)")  # its own role: allowed
    assert await conn.fetchval("select current_user") == "backroom_console"
    assert await who(conn) == (None, None)


async def test_no_other_role_or_session_user_is_reachable(
    conn: asyncpg.Connection, admin: asyncpg.Connection
) -> None:
    me = await conn.fetchval("select current_user")
    others = [
        r["rolname"]
        for r in await admin.fetch(
            "select rolname from pg_roles where rolname not in ($1, 'backroom_console') order by 1", me
        )
    ]
    assert others, "the server has other roles, the owner among them"
    for role in others:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f'set role "{role}"')
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(f'set session authorization "{role}"')
    for back in ("reset role", "set role none", "reset session authorization"):
        await conn.execute(back)
        assert await conn.fetchval("select current_user") == me
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval("select count(*) from backroom_private.credential")


# ------------------------------------------------------------------ tokens


async def test_a_forged_or_guessed_token_is_nobody(
    conn: asyncpg.Connection, admin: asyncpg.Connection, dsn: str, alex: int
) -> None:
    real = await signed_in(dsn, ADMIN_EMAIL)
    ended = await signed_in(dsn, ADMIN_EMAIL)
    expired = await signed_in(dsn, ADMIN_EMAIL)
    assert real.session and ended.session and expired.session
    await admin.execute(
        "update backroom_private.session set ended_at = now()"
        " where token_hash = backroom_private.token_hash($1)",
        ended.session,
    )
    await admin.execute(
        "update backroom_private.session set expires_at = now() - interval '1 second'"
        " where token_hash = backroom_private.token_hash($1)",
        expired.session,
    )
    forged = [
        secrets.token_hex(32),
        "0" * 64,
        "",
        str(alex),
        real.session[:-1] + ("0" if real.session[-1] != "0" else "1"),
        real.session.upper(),
        " " + real.session,
        hashlib.sha256(real.session.encode()).hexdigest(),  # what the database keeps
        real.session + "'; select 1; --",
        ended.session,
        expired.session,
    ]
    for token in forged:
        await present(conn, token)
        assert await who(conn) == (None, None), token
        assert await conn.fetchval("select backroom.session_staff_id()") is None, token
        assert await conn.fetchval("select count(*) from backroom.booking") == 0, token
    await present(conn, real.session)
    assert await who(conn) == (alex, "admin")
    assert await conn.fetchval("select count(*) from backroom.booking") > 0


# ------------------------------------------------------------------ the owner's and the secrets


async def test_nothing_private_or_of_the_owners_is_readable(
    conn: asyncpg.Connection, admin: asyncpg.Connection, dsn: str, alex: int
) -> None:
    tables = [
        r["name"]
        for r in await admin.fetch(
            "select format('%I.%I', n.nspname, c.relname) as name from pg_class c"
            " join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname in ('backroom_private', 'backroom_meta') and c.relkind in ('r', 'p', 'v')"
        )
    ]
    assert "backroom_meta.console_login" in tables and "backroom_private.credential" in tables
    # An admin's session opens nothing private either.
    for token in (None, (await signed_in(dsn, ADMIN_EMAIL)).session):
        await present(conn, token)
        for table in tables:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(f"select * from {table}")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval("select password from backroom_meta.console_login")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("select rolpassword from pg_authid")
    # What the catalog shows of the login's own password is a mask.
    assert await conn.fetchval("select rolpassword from pg_roles where rolname = current_user") == "********"
    columns = {
        r["attname"]
        for r in await admin.fetch(
            "select attname from pg_attribute where attrelid = 'backroom.staff'::regclass and attnum > 0"
            " and not attisdropped and has_column_privilege($1, attrelid, attnum, 'select')",
            await conn.fetchval("select current_user"),
        )
    }
    assert columns == {"id", "email", "display_name", "role", "active", "created_at"}


async def test_no_function_of_the_owners_schemas_can_be_called(
    conn: asyncpg.Connection, admin: asyncpg.Connection, dsn: str, alex: int
) -> None:
    calls = [
        r["call"]
        for r in await admin.fetch(
            "select format('select %I.%I(%s)', n.nspname, p.proname,"
            "  coalesce((select string_agg(format('null::%s', format_type(t, null)), ', ' order by i)"
            "            from unnest(p.proargtypes::oid[]) with ordinality as a(t, i)), '')) as call"
            " from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
            " where n.nspname in ('backroom_meta', 'backroom_private') and p.prokind = 'f'"
        )
    ]
    assert any("backroom_meta.ensure_console_login" in c for c in calls)
    assert any("backroom_meta.open_session" in c for c in calls)
    assert any("backroom_private.totp_at" in c for c in calls)
    for token in (None, (await signed_in(dsn, ADMIN_EMAIL)).session):
        await present(conn, token)
        for call in calls:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(call)
    assert await admin.fetchval("select count(*) from backroom_private.session") == 1


# ------------------------------------------------------------------ the audit trail


async def test_the_audit_trail_cannot_be_changed_by_anyone_signed_in_or_not(
    conn: asyncpg.Connection, admin: asyncpg.Connection, dsn: str, alex: int
) -> None:
    rows = await audit_rows(admin)
    last = await admin.fetchval("select max(id) from backroom.audit_log")
    for token in (None, (await signed_in(dsn, ADMIN_EMAIL)).session):
        await present(conn, token)
        for sql in (
            "delete from backroom.audit_log",
            "update backroom.audit_log set operation = 'expire', staff_id = null",
            "insert into backroom.audit_log (staff_id, operation, entity) values (1, 'sign_in', 'staff')",
            "insert into backroom.audit_log (staff_id, operation, entity)"
            " overriding system value values (1, 'sign_in', 'staff')",
            "truncate backroom.audit_log",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql)
    assert await audit_rows(admin) == rows
    assert await admin.fetchval("select max(id) from backroom.audit_log") == last


async def test_no_sign_in_row_can_be_forged(
    conn: asyncpg.Connection, admin: asyncpg.Connection, dsn: str
) -> None:
    manager = await signed_in(dsn, seed.DEMO_MANAGER)
    booking = await a_booking(admin, paid=False)
    rows = await audit_rows(admin)
    await present(conn, manager.session)
    # Not as the operation of a change...
    with pytest.raises(asyncpg.PostgresError) as err:
        async with conn.transaction():
            await conn.execute("select set_config('backroom.op', 'sign_in', true)")
            await conn.execute("update backroom.booking set notes = 'x' where id = $1", booking["id"])
    assert err.value.sqlstate == "BR011"
    # ...nor as a refusal...
    with pytest.raises(asyncpg.PostgresError) as err:
        await conn.execute(
            "select backroom.log_refusal('sign_in', 'staff', $1, null, '{}')", manager.staff_id
        )
    assert err.value.sqlstate in ("BR011", "22023")
    # ...nor through the functions that wrote them for the console before.
    for gone in (
        "select backroom.record_sign_in($1, 'x@y.z', true, 'totp')",
        "select backroom.record_step_up($1)",
        "select backroom.take_totp_step($1, 1)",
    ):
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await conn.execute(gone, manager.staff_id)
    assert await audit_rows(admin) == rows
    # A sign-in that failed is recorded as failed, under the colleague it was tried for.
    await sign_in(conn, seed.DEMO_MANAGER, "a guess", "123456")
    assert (
        await admin.fetchval("select operation from backroom.audit_log order by id desc limit 1")
        == "sign_in_failed"
    )


async def test_a_change_is_audited_under_the_session_whoever_a_setting_names(
    conn: asyncpg.Connection, admin: asyncpg.Connection, dsn: str, alex: int
) -> None:
    door = await signed_in(dsn, DOOR_EMAIL)
    booking = await a_booking(admin, paid=False)
    await present(conn, door.session)
    await conn.execute("select set_config('backroom.staff_id', $1, false)", str(alex))
    await conn.execute("update backroom.booking set status = 'arrived' where id = $1", booking["id"])
    assert (
        await admin.fetchval("select updated_by from backroom.booking where id = $1", booking["id"])
        == door.staff_id
    )
    row = await admin.fetchrow(
        "select staff_id, operation from backroom.audit_log"
        " where entity = 'booking' and entity_id = $1 order by id desc limit 1",
        booking["id"],
    )
    assert row is not None
    assert dict(row) == {"staff_id": door.staff_id, "operation": "update"}
    await conn.execute("select backroom.log_refusal('check_in', 'booking', $1, null, '{}')", booking["id"])
    row = await admin.fetchrow("select staff_id, operation from backroom.audit_log order by id desc limit 1")
    assert row is not None
    assert dict(row) == {"staff_id": door.staff_id, "operation": "refused:check_in"}


# ------------------------------------------------------------------ step-up


async def test_a_step_up_needs_a_fresh_code_of_the_sessions_own_staff_member(
    outsider: Outsider, admin: asyncpg.Connection, dsn: str
) -> None:
    max_ = await enrol(admin, "max.manager@backroom.test", "manager")
    sam = await enrol(admin, "sam.support@backroom.test", "support")
    paid = await a_booking(admin, paid=True)
    conn, theirs = await outsider(), await outsider()
    await away_from_step_edge()
    first = max_.code()
    signed = await sign_in(conn, max_.email, max_.password, first)
    assert signed["outcome"] == "ok"
    await present(conn, signed["token"])

    async def cancel() -> None:
        # A paid deposit's booking is cancelled saying what becomes of the deposit (0018).
        await conn.execute(
            "update backroom.booking set status = 'cancelled', cancel_reason = 'x',"
            " deposit_outcome = 'kept' where id = $1",
            paid["id"],
        )

    async def give_up_the_deposit_then_cancel() -> None:
        await conn.execute(
            "update backroom.booking set deposit = 0, deposit_paid = false where id = $1", paid["id"]
        )
        await cancel()

    async def refused() -> None:
        for attack in (cancel, give_up_the_deposit_then_cancel):
            with pytest.raises(asyncpg.PostgresError) as err:
                await rolled_back(conn, attack)
            assert err.value.sqlstate == "BR010", attack.__name__
        assert await conn.fetchval("select backroom.stepped_up_recently()") is False

    await refused()
    near = {max_.code(step) for step in (-1, 0, 1, 2)}
    wrong = next(c for c in ("000000", "111111", "222222") if c not in near)
    for code in ("", wrong, first):  # the last is the code that signed in: spent
        row = await db_confirm(conn, "step_up", code)
        assert row["outcome"] == "failed", code
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("update backroom_private.session set stepped_up_at = now()")
    # A colleague's fresh code steps up the colleague's session, not this one.
    sams = await sign_in(theirs, sam.email, sam.password, sam.code())
    await present(theirs, sams["token"])
    assert (await db_confirm(theirs, "step_up", sam.code(1)))["outcome"] == "ok"
    await refused()

    fresh = await db_confirm(conn, "step_up", max_.code(1))
    assert fresh["outcome"] == "ok"
    await rolled_back(conn, give_up_the_deposit_then_cancel)
    await cancel()
    assert (
        await admin.fetchval("select status from backroom.booking where id = $1", paid["id"]) == "cancelled"
    )


# ------------------------------------------------------------------ a colleague's account


async def test_a_colleagues_codes_cannot_be_burnt(
    conn: asyncpg.Connection, admin: asyncpg.Connection
) -> None:
    kim = await enrol(admin, "kim.door@backroom.test", "door")
    await away_from_step_edge()
    code = kim.code()
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("update backroom_private.credential set totp_last_step = 9223372036854775807")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db_confirm(conn, "unlock", code)
    # Without the password, even the right code is never taken...
    for step in (0, 1, -1):
        assert (await sign_in(conn, kim.email, "a guess", kim.code(step)))["outcome"] == "failed"
    assert (
        await admin.fetchval(
            "select totp_last_step from backroom_private.credential where staff_id = $1", kim.id
        )
        == 0
    )
    # ...so Kim's own sign-in with it still works.
    row = await sign_in(conn, kim.email, kim.password, code)
    assert row["outcome"] == "ok" and row["staff_id"] == kim.id


async def backdate(admin: asyncpg.Connection, staff_id: int, by: timedelta) -> None:
    """Time passes for the account: its attempts and its lock move into the past."""
    await admin.execute(
        "update backroom_private.attempt set at = at - $2::interval where staff_id = $1", staff_id, by
    )
    await admin.execute(
        "update backroom_private.credential set locked_until = locked_until - $2::interval,"
        " count_failures_from = count_failures_from - $2::interval where staff_id = $1",
        staff_id,
        by,
    )


async def test_a_colleague_is_locked_out_for_one_window_at_most(
    conn: asyncpg.Connection, admin: asyncpg.Connection
) -> None:
    kim = await enrol(admin, "kim.door@backroom.test", "door")
    outcomes = []
    for _ in range(10):
        await backdate(admin, kim.id, timedelta(seconds=61))  # past any throttle, inside the window
        outcomes.append((await sign_in(conn, kim.email, "a guess", "123456"))["outcome"])
    assert outcomes[-1] == "locked" and outcomes[:-1] == ["failed"] * 9
    until = await admin.fetchval(
        "select locked_until from backroom_private.credential where staff_id = $1", kim.id
    )
    assert timedelta(minutes=14) < until - datetime.now(UTC) <= timedelta(minutes=15, seconds=5)

    # Trying on while locked, in a burst, the right password and code too, does not move the lock.
    await away_from_step_edge()
    for password in ("a guess", kim.password, "another guess"):
        row = await sign_in(conn, kim.email, password, kim.code())
        assert row["outcome"] == "locked" and row["locked_until"] == until
    # Nor does one try every 14 minutes.
    await backdate(admin, kim.id, timedelta(minutes=14))
    row = await sign_in(conn, kim.email, kim.password, kim.code())
    assert row["outcome"] == "locked" and row["locked_until"] == until - timedelta(minutes=14)
    # The window is over: Kim gets in at once, neither throttled nor locked again.
    await backdate(admin, kim.id, timedelta(minutes=1, seconds=5))
    await away_from_step_edge()
    row = await sign_in(conn, kim.email, kim.password, kim.code())
    assert row["outcome"] == "ok", dict(row)


async def test_a_failed_try_cannot_be_rolled_back_to_go_uncounted(
    outsider: Outsider, admin: asyncpg.Connection
) -> None:
    """The answer comes only after the try is committed: no transaction learns how its own
    try went, so none can roll back its failures and guess without end."""
    conn = await outsider()
    kim = await enrol(admin, "kim.manager@backroom.test", "manager")
    await away_from_step_edge()
    for password in (kim.password, "a guess"):
        tx = conn.transaction()
        await tx.start()
        handle = await conn.fetchval("select backroom.sign_in($1, $2, $3)", kim.email, password, kim.code())
        with pytest.raises(asyncpg.InvalidTransactionStateError):
            await conn.fetchrow("select * from backroom.sign_in_answer($1)", handle)
        await tx.rollback()
        # Rolled back: there is no answer to give any more, and no session was opened.
        row = await conn.fetchrow("select * from backroom.sign_in_answer($1)", handle)
        assert row is not None
        assert row["outcome"] == "failed" and row["token"] is None
    assert (
        await admin.fetchval("select count(*) from backroom_private.session where staff_id = $1", kim.id) == 0
    )
    # Answered, a failure is counted: the sixth try in a row is throttled, right or wrong.
    for _ in range(5):
        assert (await sign_in(conn, kim.email, "a guess", "123456"))["outcome"] == "failed"
    assert (await sign_in(conn, kim.email, kim.password, kim.code()))["outcome"] == "throttled"


async def test_nothing_in_the_checking_transaction_tells_a_right_try_from_a_wrong_one(
    outsider: Outsider, admin: asyncpg.Connection, dsn: str
) -> None:
    """What a transaction can see of its own try (its own writes' counts, the audit rows a
    signed-in door account reads) is the same for the right password and code as for a
    guess."""
    conn = await outsider()
    door = await signed_in(dsn, DOOR_EMAIL)
    await present(conn, door.session)
    kim = await enrol(admin, "kim.admin@backroom.test", "admin")
    await away_from_step_edge()

    async def seen(password: str, code: str) -> tuple[object, ...]:
        counts = (
            "select relname, n_tup_ins, n_tup_upd, n_tup_del from pg_stat_xact_user_tables order by relname"
        )

        async def work() -> tuple[object, ...]:
            # The counts may still hold earlier transactions' (they are sent on at intervals).
            before = {r["relname"]: tuple(r)[1:] for r in await conn.fetch(counts)}
            await conn.fetchval("select backroom.sign_in($1, $2, $3)", kim.email, password, code)
            after = {r["relname"]: tuple(r)[1:] for r in await conn.fetch(counts)}
            written = tuple(
                sorted(
                    (name, tuple(a - b for a, b in zip(n, before.get(name, (0, 0, 0)), strict=True)))
                    for name, n in after.items()
                    if n != before.get(name)
                )
            )
            audit = await conn.fetch(
                "select operation, after from backroom.audit_log where entity = 'staff' and entity_id = $1",
                kim.id,
            )
            return written, tuple(tuple(r) for r in audit)

        result = await rolled_back(conn, work)
        assert isinstance(result, tuple)
        return result

    right = await seen(kim.password, kim.code())
    assert right == await seen("a guess", kim.code())
    assert right == await seen(kim.password, "000000" if kim.code() != "000000" else "111111")


async def test_a_check_left_open_holds_a_colleague_for_seconds_only(
    outsider: Outsider, admin: asyncpg.Connection
) -> None:
    kim = await enrol(admin, "kim.door@backroom.test", "door")
    holder, colleague = await outsider(), await outsider()
    tx = holder.transaction()
    await tx.start()
    await holder.fetchval("select backroom.sign_in($1, 'a guess', '123456')", kim.email)
    started = time.monotonic()
    with pytest.raises(asyncpg.LockNotAvailableError):
        await sign_in(colleague, kim.email, kim.password, kim.code())
    assert time.monotonic() - started < 5
    await tx.rollback()
    await away_from_step_edge()
    assert (await sign_in(colleague, kim.email, kim.password, kim.code()))["outcome"] == "ok"


# ------------------------------------------------------------------ holds


async def test_a_hold_cannot_outlive_the_hold_limit(
    conn: asyncpg.Connection, admin: asyncpg.Connection, dsn: str
) -> None:
    manager = await signed_in(dsn, seed.DEMO_MANAGER)
    n = await sample_night(admin)
    table = await free_table(admin, n)
    await present(conn, manager.session)
    hold = await conn.fetchrow(
        "insert into backroom.hold (table_id, night_id, during, staff_id, holder, expires_at)"
        " values ($1, $2, tstzrange($3, 'infinity'), $4, 'Me', 'infinity') returning id, during, expires_at",
        table,
        n["id"],
        n["starts_at"],
        manager.staff_id,
    )
    assert hold is not None
    assert hold["expires_at"] <= datetime.now(UTC) + HOLD_MOST + timedelta(seconds=5)
    assert hold["during"].upper == n["ends_at"], "a hold lies within its night"
    renewed = await conn.fetchval(
        "update backroom.hold set expires_at = 'infinity' where id = $1 returning expires_at", hold["id"]
    )
    assert renewed <= datetime.now(UTC) + HOLD_MOST + timedelta(seconds=5)
    # Once lapsed, the sweep that any console runs takes it away.
    await admin.execute(
        "update backroom.hold set expires_at = clock_timestamp() - interval '1 second' where id = $1",
        hold["id"],
    )
    await present(conn, None)
    await conn.fetchval("select backroom.sweep()")
    assert await admin.fetchval("select count(*) from backroom.hold where id = $1", hold["id"]) == 0


# ------------------------------------------------------------------ the door's limits


async def test_door_staff_move_no_table_and_nobody_changes_a_ref(
    outsider: Outsider, admin: asyncpg.Connection, dsn: str
) -> None:
    door, manager = await signed_in(dsn, DOOR_EMAIL), await signed_in(dsn, seed.DEMO_MANAGER)
    booking = await a_booking(admin, paid=False)
    n = await sample_night(admin)
    free = await free_table(admin, n)
    before = await admin.fetch("select * from backroom.booking_table order by booking_id, table_id")
    conn, boss = await outsider(), await outsider()
    await present(conn, door.session)
    await present(boss, manager.session)

    for session in (conn, boss):  # nobody moves a table by update: a move deletes and inserts
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await session.execute(
                "update backroom.booking_table set table_id = $1 where booking_id = $2", free, booking["id"]
            )
    add = (
        "insert into backroom.booking_table (booking_id, table_id, during, active)"
        " values ($1, $2, tstzrange($3, $4), true)",
        booking["id"],
        free,
        n["starts_at"],
        n["ends_at"],
    )
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute(*add)
    assert (
        await conn.execute("delete from backroom.booking_table where booking_id = $1", booking["id"])
        == "DELETE 0"
    )
    for session in (conn, boss):
        with pytest.raises(asyncpg.PostgresError) as err:
            await session.execute("update backroom.booking set ref = 'HACKED' where id = $1", booking["id"])
        assert err.value.sqlstate == "BR012"
    assert await admin.fetch("select * from backroom.booking_table order by booking_id, table_id") == before
    assert (
        await admin.fetchval("select ref from backroom.booking where id = $1", booking["id"])
        == booking["ref"]
    )

    # A manager's session moves it: the same statements, done the way a move is done.
    async def move() -> str:
        await boss.execute("delete from backroom.booking_table where booking_id = $1", booking["id"])
        return str(await boss.execute(*add))

    assert await rolled_back(boss, move) == "INSERT 0 1"
    # And the door seats its own walk-in, table and all, in one transaction.
    async with conn.transaction():
        guest = await conn.fetchval("insert into backroom.guest (name) values ('Pat Walker') returning id")
        walk_in = await conn.fetchval(
            "insert into backroom.booking (night_id, guest_id, party_size, status, starts_at, ends_at)"
            " values ($1, $2, 2, 'arrived', $3, $4) returning id",
            n["id"],
            guest,
            n["starts_at"],
            n["ends_at"],
        )
        await conn.execute(
            "insert into backroom.booking_table (booking_id, table_id, during, active)"
            " values ($1, $2, tstzrange($3, $4), true)",
            walk_in,
            free,
            n["starts_at"],
            n["ends_at"],
        )
    # ...but adds no table to it later.
    other = await free_table(admin, n)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute(
            "insert into backroom.booking_table (booking_id, table_id, during, active)"
            " values ($1, $2, tstzrange($3, $4), true)",
            walk_in,
            other,
            n["starts_at"],
            n["ends_at"],
        )


async def test_door_staff_change_nothing_but_arrivals(
    conn: asyncpg.Connection, admin: asyncpg.Connection, dsn: str
) -> None:
    door = await signed_in(dsn, DOOR_EMAIL)
    booking = await a_booking(admin, paid=True)
    await present(conn, door.session)

    async def change(what: str) -> object:
        return await rolled_back(
            conn, lambda: conn.execute(f"update backroom.booking set {what} where id = $1", booking["id"])
        )

    for what in (
        "party_size = party_size + 1",
        "deposit = 0",
        "notes = 'comped'",
        "min_spend = 0",
        "starts_at = starts_at + interval '1 hour'",
        "status = 'cancelled', cancel_reason = 'x'",
        "guest_id = guest_id + 1",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await change(what)
    assert await change("status = 'arrived'") == "UPDATE 1"
    assert await change("status = 'no_show'") == "UPDATE 1"


# ------------------------------------------------------------------ what a change is recorded as


async def test_the_operation_of_an_audit_row_comes_from_the_closed_list(
    conn: asyncpg.Connection, admin: asyncpg.Connection, dsn: str
) -> None:
    manager = await signed_in(dsn, seed.DEMO_MANAGER)
    booking = await a_booking(admin, paid=False)
    rows = await audit_rows(admin)
    await present(conn, manager.session)

    async def cancel_as(op: str) -> None:
        await conn.execute("select set_config('backroom.op', $1, true)", op)
        await conn.execute(
            "update backroom.booking set status = 'cancelled', cancel_reason = 'x' where id = $1",
            booking["id"],
        )

    for op in (
        "expire",
        "made-up",
        "sign_in",
        "account_locked",
        "seed",
        "refused:cancel",
        "Cancel",
        "cancel ",
        "x" * 10_000,
    ):
        with pytest.raises(asyncpg.PostgresError) as err:
            async with conn.transaction():
                await cancel_as(op)
        assert err.value.sqlstate == "BR011", op[:20]
    with pytest.raises(asyncpg.PostgresError) as err:  # a name on the list, but not this change's
        async with conn.transaction():
            await conn.execute("select set_config('backroom.op', 'cancel', true)")
            await conn.execute("update backroom.booking set notes = 'quiet' where id = $1", booking["id"])
    assert err.value.sqlstate == "BR011"
    assert await audit_rows(admin) == rows
    async with conn.transaction():
        await cancel_as("cancel")
    row = await admin.fetchrow(
        "select staff_id, operation from backroom.audit_log"
        " where entity = 'booking' and entity_id = $1 order by id desc limit 1",
        booking["id"],
    )
    assert row is not None
    assert dict(row) == {"staff_id": manager.staff_id, "operation": "cancel"}


# ------------------------------------------------------------------ refusals and presence


async def test_refusals_and_presence_are_written_for_the_session_only(
    outsider: Outsider, admin: asyncpg.Connection, dsn: str
) -> None:
    manager, door = await signed_in(dsn, seed.DEMO_MANAGER), await signed_in(dsn, DOOR_EMAIL)
    rows = await audit_rows(admin)
    nobody = await outsider()
    await nobody.execute("select set_config('backroom.staff_id', $1, false)", str(manager.staff_id))
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await nobody.execute("select backroom.log_refusal('cancel', 'booking', 1, null, '{}')")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await nobody.fetchval("select backroom.presence_beat(gen_random_uuid(), 'floor', null, null, null)")
    for old in (
        "select backroom.presence_beat(gen_random_uuid(), $1::int, 'x', 'admin', 'floor', null,"
        " null::smallint, null::smallint, 10::float8)",
    ):
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await nobody.fetchval(old, manager.staff_id)
    assert await audit_rows(admin) == rows
    assert await admin.fetchval("select count(*) from backroom.presence") == 0

    # The door's session, with the setting naming the manager: written for the door.
    theirs = await outsider()
    await present(theirs, door.session)
    await theirs.execute("select set_config('backroom.staff_id', $1, false)", str(manager.staff_id))
    await theirs.execute("select backroom.log_refusal('check_in', 'booking', 1, null, '{}')")
    row = await admin.fetchrow("select staff_id from backroom.audit_log order by id desc limit 1")
    assert row is not None
    assert row["staff_id"] == door.staff_id
    console = "00000000-0000-0000-0000-000000000012"
    mine = await outsider()
    await present(mine, manager.session)
    await mine.fetchval("select backroom.presence_beat($1::uuid, 'floor', null, null, null)", console)
    presence = await admin.fetchrow("select staff_id, role from backroom.presence")
    assert presence is not None
    assert dict(presence) == {
        "staff_id": manager.staff_id,
        "role": "manager",
    }
    # A colleague neither takes over the manager's live console nor ends it.
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await theirs.fetchval("select backroom.presence_beat($1::uuid, 'door', null, null, null)", console)
    await theirs.execute("select backroom.presence_leave($1::uuid)", console)
    await nobody.execute("select backroom.presence_leave($1::uuid)", console)
    assert await admin.fetchval("select staff_id from backroom.presence") == manager.staff_id


# ------------------------------------------------------------------ what was typed


async def test_an_unknown_email_is_not_stored_as_typed(
    conn: asyncpg.Connection, admin: asyncpg.Connection
) -> None:
    typed = "  Hunter2-Is-My-Password!  "  # a password typed into the email field
    attempts = await admin.fetchval("select count(*) from backroom_private.attempt")
    row = await sign_in(conn, typed, "whatever", "123456")
    assert row["outcome"] == "failed"
    assert await admin.fetchval("select count(*) from backroom_private.attempt") == attempts + 1
    recorded = await admin.fetchrow("select * from backroom_private.attempt order by id desc limit 1")
    assert recorded is not None
    assert bytes(recorded["email_hash"]) == hashlib.sha256(typed.strip().lower().encode()).digest()
    assert recorded["staff_id"] is None and recorded["reason"] == "unknown_email"
    kept = " ".join(
        [str(dict(recorded))]
        + [
            r["t"]
            for r in await admin.fetch(
                "select coalesce(before::text, '') || coalesce(after::text, '') as t from backroom.audit_log"
            )
        ]
    )
    assert "hunter2" not in kept.lower()
    audit = await admin.fetchrow("select staff_id, after from backroom.audit_log order by id desc limit 1")
    assert audit is not None
    assert audit["staff_id"] is None and json.loads(audit["after"]) == {"reason": "unknown_email"}
