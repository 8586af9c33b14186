"""Staff identity through IdentityService on real Postgres, which decides
every sign-in: enrolment, codes once per step on every console, recovery
codes, throttling and lockout, staff management, step-up and lock, and the
role matrix in Python and in SQL. Codes follow the database's clock (real
time), so each test keeps clear of a step's edge."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator

import asyncpg
import pyotp
import pytest

from services.bookings import BookingService, GuestDetails
from services.errors import NotAllowed
from services.identity.accounts import (
    AccountLocked,
    Enrolment,
    IdentityService,
    SessionEnded,
    SignInError,
    SignInFailed,
    Throttled,
    end_session,
    lock_session,
)
from services.identity.permissions import (
    ALLOWED,
    NIGHT_DOOR_OPERATIONS,
    PROMOTER_OPERATIONS,
    Role,
    may,
)
from services.store.db import Actor, Database
from tests.conftest import fixed_clock
from tests.sessions import signed_in

PASSWORD = "correct horse battery"


async def away_from_step_edge() -> None:
    """Codes are made here and checked there: keep both in one time step."""
    left = 30 - time.time() % 30
    if left < 3:
        await asyncio.sleep(left + 0.2)


def code(enrolment: Enrolment, steps: int = 0) -> str:
    """The code of now, or of `steps` time steps on (one step on is within the drift)."""
    return pyotp.TOTP(enrolment.secret).at(time.time() + 30 * steps)


@pytest.fixture
async def db(dsn: str) -> AsyncIterator[Database]:
    database = Database(dsn)
    await database.open()
    yield database
    await database.close()


@pytest.fixture
def identity(db: Database) -> IdentityService:
    return IdentityService(db)


@pytest.fixture
async def ann(identity: IdentityService) -> Enrolment:
    enrolment = await identity.add_staff(
        None, email="Ann@Backroom.test", name="Ann", role="manager", password=PASSWORD
    )
    await away_from_step_edge()
    return enrolment


async def test_enrolment_gives_a_working_authenticator(
    ann: Enrolment, identity: IdentityService, admin: asyncpg.Connection
) -> None:
    assert ann.email == "ann@backroom.test"
    assert ann.uri.startswith("otpauth://totp/Backroom:ann%40backroom.test?secret=")
    assert len(ann.recovery_codes) == 10 and len(set(ann.recovery_codes)) == 10
    assert "█" in ann.qr_text() or "▀" in ann.qr_text()
    row = await admin.fetchrow(
        "select c.* from backroom_private.credential c join backroom.staff s on s.id = c.staff_id"
        " where s.email = $1",
        ann.email,
    )
    assert row is not None
    assert bytes(row["totp_secret"]) == base64.b32decode(ann.secret)
    assert PASSWORD.encode() not in bytes(row["password_key"]) and len(row["password_salt"]) >= 16
    session = await identity.sign_in("ann@backroom.test", PASSWORD, code(ann))
    assert session.actor.name == "Ann" and session.actor.role == "manager"
    assert session.actor.session and session.actor.session not in repr(session.actor)
    assert not session.must_reenrol


async def test_the_session_token_is_who_acts(ann: Enrolment, identity: IdentityService, db: Database) -> None:
    session = await identity.sign_in(ann.email, PASSWORD, code(ann))
    async with db.transaction(session.actor) as conn:
        assert await conn.fetchval("select backroom.current_staff_id()") == session.actor.staff_id
    # The staff id alone, as a console would have named someone before: nobody.
    bare = Actor(staff_id=session.actor.staff_id, name="Ann", role=Role.MANAGER)
    async with db.transaction(bare) as conn:
        assert await conn.fetchval("select backroom.current_staff_id()") is None
        await conn.execute("select set_config('backroom.staff_id', $1, true)", str(bare.staff_id))
        assert await conn.fetchval("select backroom.current_staff_id()") is None


async def test_a_code_is_accepted_once_on_every_console(
    ann: Enrolment, identity: IdentityService, dsn: str
) -> None:
    now = code(ann)
    await identity.sign_in(ann.email, PASSWORD, now)
    other_db = Database(dsn)
    await other_db.open()
    try:
        second_console = IdentityService(other_db)
        with pytest.raises(SignInFailed):
            await second_console.sign_in(ann.email, PASSWORD, now)
        # Full-width digits are the same code, not a way around it.
        full_width = "".join(chr(ord(c) + 0xFEE0) for c in now)
        with pytest.raises(SignInFailed):
            await second_console.sign_in(ann.email, PASSWORD, full_width)
        # The previous step's code is older than the one used: refused too.
        with pytest.raises(SignInFailed):
            await second_console.sign_in(ann.email, PASSWORD, code(ann, -1))
        # The next step is fresh.
        await second_console.sign_in(ann.email, PASSWORD, code(ann, 1))
    finally:
        await other_db.close()


async def test_full_width_digits_of_a_fresh_code_are_read_as_digits(
    ann: Enrolment, identity: IdentityService
) -> None:
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code(ann))
    await identity.sign_in(ann.email, PASSWORD, f" {full_width} ")


@pytest.mark.parametrize(("steps", "accepted"), [(-1, True), (1, True), (-2, False), (2, False)])
async def test_drift_of_one_step_is_accepted_and_of_two_refused(
    ann: Enrolment, identity: IdentityService, steps: int, accepted: bool
) -> None:
    if accepted:
        await identity.sign_in(ann.email, PASSWORD, code(ann, steps))
    else:
        with pytest.raises(SignInFailed):
            await identity.sign_in(ann.email, PASSWORD, code(ann, steps))


async def test_the_message_never_says_what_was_wrong(
    ann: Enrolment, identity: IdentityService, admin: asyncpg.Connection
) -> None:
    messages = set()
    for email, password, typed in (
        ("nobody@backroom.test", PASSWORD, code(ann)),
        (ann.email, "wrong password!", code(ann)),
        (ann.email, PASSWORD, "000000" if code(ann) != "000000" else "111111"),
    ):
        with pytest.raises(SignInFailed) as err:
            await identity.sign_in(email, password, typed)
        messages.add(str(err.value))
    assert messages == {"The email, password or code is not right."}
    audited = await admin.fetch(
        "select operation, after from backroom.audit_log where operation like 'sign_in%' order by id"
    )
    assert [a["operation"] for a in audited] == ["sign_in_failed"] * 3
    assert [json.loads(a["after"])["reason"] for a in audited] == [
        "unknown_email",
        "bad_password",
        "bad_code",
    ]
    assert "nobody" not in json.dumps([dict(a) for a in audited], default=str)


async def age_attempts(admin: asyncpg.Connection, seconds: int) -> None:
    """Move every attempt into the past, as if time had gone by."""
    await admin.execute("update backroom_private.attempt set at = at - make_interval(secs => $1)", seconds)


async def test_throttling_then_lockout_then_unlock(
    ann: Enrolment, identity: IdentityService, admin: asyncpg.Connection
) -> None:
    for _ in range(5):
        with pytest.raises(SignInFailed):
            await identity.sign_in(ann.email, "wrong password!", "123456")
    with pytest.raises(Throttled) as throttled:
        await identity.sign_in(ann.email, PASSWORD, code(ann))
    assert 1 <= throttled.value.wait_seconds <= 2
    locked = None
    for _ in range(6):
        await age_attempts(admin, 61)
        try:
            await identity.sign_in(ann.email, "wrong password!", "123456")
        except AccountLocked as err:
            locked = err
            break
        except SignInFailed:
            continue
    assert locked is not None, "ten failures in fifteen minutes lock the account"
    assert "locked" in str(locked) and "until" in str(locked)
    # Even the right credentials are refused while locked, and do not push the lock on.
    with pytest.raises(AccountLocked) as again:
        await identity.sign_in(ann.email, PASSWORD, code(ann))
    assert again.value.until == locked.until
    # An admin (here the owner) lifts it; the failures before no longer count.
    await identity.unlock(None, ann.email)
    await identity.sign_in(ann.email, PASSWORD, code(ann))


async def test_recovery_code_works_once_and_asks_to_re_enrol(
    ann: Enrolment, identity: IdentityService
) -> None:
    recovery = ann.recovery_codes[3]
    session = await identity.sign_in(ann.email, PASSWORD, recovery.upper())
    assert session.used_recovery_code and session.must_reenrol
    with pytest.raises(SignInFailed):
        await identity.sign_in(ann.email, PASSWORD, recovery)


async def test_disabled_staff_cannot_sign_in_and_their_sessions_end(
    ann: Enrolment, identity: IdentityService, db: Database
) -> None:
    session = await identity.sign_in(ann.email, PASSWORD, code(ann))
    await identity.disable(None, ann.email)
    async with db.transaction(session.actor) as conn:
        assert await conn.fetchval("select backroom.current_staff_id()") is None
    await identity.enable(None, ann.email)
    with pytest.raises(SessionEnded):
        await identity.verify_code(session.actor, code(ann, 1))
    await identity.sign_in(ann.email, PASSWORD, code(ann, 1))


async def test_a_new_role_needs_a_new_sign_in(
    ann: Enrolment, identity: IdentityService, db: Database
) -> None:
    session = await identity.sign_in(ann.email, PASSWORD, code(ann))
    await identity.set_role(None, ann.email, "door")
    async with db.transaction(session.actor) as conn:
        assert await conn.fetchval("select backroom.current_staff_role()") is None


async def test_reset_totp_replaces_the_secret(ann: Enrolment, identity: IdentityService) -> None:
    fresh = await identity.reset_totp(None, ann.email)
    assert fresh.secret != ann.secret
    with pytest.raises(SignInFailed):
        await identity.sign_in(ann.email, PASSWORD, code(ann))
    await identity.sign_in(ann.email, PASSWORD, code(fresh))


async def test_step_up_needs_a_fresh_code_of_the_same_session(
    ann: Enrolment, identity: IdentityService, db: Database
) -> None:
    session = await identity.sign_in(ann.email, PASSWORD, code(ann))
    with pytest.raises(SignInError, match="used already"):
        await identity.verify_code(session.actor, code(ann))
    await identity.verify_code(session.actor, code(ann, 1))
    async with db.transaction(session.actor) as conn:
        assert await conn.fetchval("select backroom.stepped_up_recently()") is True


async def test_a_locked_session_reads_and_changes_nothing_until_its_code(
    ann: Enrolment, identity: IdentityService, db: Database
) -> None:
    session = await identity.sign_in(ann.email, PASSWORD, code(ann))
    await lock_session(db, session.actor)
    async with db.transaction(session.actor) as conn:
        assert await conn.fetchval("select count(*) from backroom.night") > 0
        assert await conn.fetchval("select backroom.current_staff_role()") is None
    await identity.verify_code(session.actor, code(ann, 1), "unlock")
    async with db.transaction(session.actor) as conn:
        assert await conn.fetchval("select backroom.current_staff_role()") == "manager"
    await end_session(db, session.actor)
    with pytest.raises(SessionEnded):
        await identity.verify_code(session.actor, code(ann, 1), "unlock")


async def test_only_admins_manage_staff(identity: IdentityService, db: Database, dsn: str) -> None:
    boss = await identity.add_staff(
        None, email="boss@backroom.test", name="Boss", role="admin", password=PASSWORD
    )
    await away_from_step_edge()
    session = await identity.sign_in(boss.email, PASSWORD, code(boss))
    await identity.add_staff(
        session.actor, email="dan@backroom.test", name="Dan", role="door", password=PASSWORD
    )
    await identity.set_role(session.actor, "dan@backroom.test", "manager")
    listed = {s.email: s.role for s in await identity.list_staff(session.actor)}
    assert listed["dan@backroom.test"] == "manager"
    manager = await signed_in(dsn, "duty.manager@backroom.demo")
    with pytest.raises(NotAllowed, match="only an admin"):
        await identity.add_staff(
            manager, email="eve@backroom.test", name="Eve", role="admin", password=PASSWORD
        )
    # And Postgres refuses it too, when Python is bypassed.
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with db.transaction(manager) as conn:
            await conn.execute(
                "select backroom.enrol_staff('eve@backroom.test', 'Eve', 'admin', $1, 20000, $2, $3, '{}')",
                b"s" * 16,
                b"k" * 32,
                b"t" * 20,
            )


# The role matrix, through the services and by raw SQL as the console role ----------

OPERATIONS = sorted(set().union(*ALLOWED.values()) - {"manage_staff"})


@pytest.mark.parametrize("role", list(Role))
def test_role_matrix_in_python(role: Role) -> None:
    expected = {
        Role.DOOR: {"check_in", "seat_walk_in", "no_show", "correct_arrivals", "reverse_no_show"}
        | NIGHT_DOOR_OPERATIONS,
        Role.SUPPORT: {"alert_dismiss"},
        Role.PROMOTER: set(PROMOTER_OPERATIONS),
    }.get(role, set(OPERATIONS))
    assert {op for op in OPERATIONS if may(role, op)} == expected


async def staff_of(admin: asyncpg.Connection, role: str) -> Actor:
    """A new staff member of `role` with a live session (the owner opens it)."""
    sid = await admin.fetchval(
        "insert into backroom.staff (email, display_name, role) values ($1, $2, $3) returning id",
        f"{role}.matrix@backroom.test",
        f"{role.title()} Matrix",
        role,
    )
    token = await admin.fetchval("select backroom_meta.open_session($1)", sid)
    return Actor(staff_id=sid, name=f"{role.title()} Matrix", role=Role(role), session=token)


SQL_CASES = {
    "create pending booking": (
        "with g as (insert into backroom.guest (name) values ('M') returning id)"
        " insert into backroom.booking (night_id, guest_id, party_size, starts_at, ends_at)"
        " select n.id, g.id, 2, n.starts_at, n.ends_at from backroom.night n, g where n.date = '2026-11-20'",
        {"manager", "admin"},
    ),
    "walk-in (booking that starts arrived)": (
        "with g as (insert into backroom.guest (name) values ('W') returning id)"
        " insert into backroom.booking (night_id, guest_id, party_size, status, starts_at, ends_at)"
        " select n.id, g.id, 2, 'arrived', n.starts_at, n.ends_at from backroom.night n, g where n.date = '2026-11-20'",
        {"door", "manager", "admin"},
    ),
    "check in (status arrived)": (
        "update backroom.booking set status = 'arrived', arrived_count = 1 where id = "
        "(select b.id from backroom.booking b join backroom.night n on n.id = b.night_id"
        " where n.date = '2026-11-20' and b.status = 'confirmed' order by b.id limit 1)",
        {"door", "manager", "admin"},
    ),
    "edit a booking's notes": (
        "update backroom.booking set notes = 'edited' where id = "
        "(select min(id) from backroom.booking where status = 'confirmed')",
        {"manager", "admin"},
    ),
    "cancel": (
        "update backroom.booking set status = 'cancelled', cancel_reason = 'x' where id = "
        "(select min(id) from backroom.booking where status = 'confirmed' and deposit = 0)",
        {"manager", "admin"},
    ),
    "hold a table": (
        "insert into backroom.hold (table_id, night_id, during, holder, expires_at)"
        " select 11, n.id, tstzrange(n.starts_at, n.ends_at), 'x', clock_timestamp() + interval '30 s'"
        " from backroom.night n where n.date = '2026-11-20'",
        {"manager", "admin"},
    ),
}


@pytest.mark.parametrize("case", list(SQL_CASES))
@pytest.mark.parametrize("role", ["door", "manager", "admin", "support", "promoter"])
async def test_role_matrix_in_sql(admin: asyncpg.Connection, role: str, case: str) -> None:
    actor = await staff_of(admin, role)
    sql, allowed = SQL_CASES[case]
    tx = admin.transaction()
    await tx.start()
    try:
        await admin.execute(
            "select set_config('role', 'backroom_console', true), set_config('backroom.session', $1, true)",
            actor.session,
        )
        if role in allowed:
            result = await admin.execute(sql)
            assert not result.endswith(" 0"), f"{role} should be able to: {case}"
        else:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                result = await admin.execute(sql)
                # A policy that hides rows from UPDATE shows as 0 rows, not an error.
                if result.endswith(" 0"):
                    raise asyncpg.InsufficientPrivilegeError("no rows visible for update")
    finally:
        await tx.rollback()


async def test_door_staff_through_the_service(admin: asyncpg.Connection, dsn: str) -> None:
    door = await staff_of(admin, "door")
    db = Database(dsn)
    await db.open()
    try:
        svc = BookingService(db, fixed_clock)
        night = await admin.fetchrow("select id, starts_at from backroom.night where date = '2026-11-20'")
        assert night is not None
        with pytest.raises(NotAllowed):
            await svc.create(
                door,
                night_id=night["id"],
                table_ids=[11],
                party_size=2,
                starts_at=night["starts_at"],
                guest=GuestDetails("No"),
            )
        confirmed = await admin.fetchrow(
            "select id, version from backroom.booking where night_id = $1 and status = 'confirmed'"
            " order by id limit 1",
            night["id"],
        )
        assert confirmed is not None
        b = await svc.check_in(door, confirmed["id"], confirmed["version"], 1)
        assert b.arrived_count == 1
        # A door actor whose role check in Python was wrong is still stopped by Postgres.
        pretend = Actor(staff_id=door.staff_id, name=door.name, role=Role.MANAGER, session=door.session)
        other = await admin.fetchrow(
            "select id, version from backroom.booking where night_id = $1 and status = 'confirmed'"
            " order by id limit 1",
            night["id"],
        )
        assert other is not None
        with pytest.raises(NotAllowed, match="refused this for your role"):
            await svc.cancel(pretend, other["id"], other["version"], "not allowed")
        with pytest.raises(NotAllowed, match="refused this for your role"):
            await svc.move(pretend, b.id, b.version, party_size=b.party_size + 1)
    finally:
        await db.close()


async def test_cancelling_a_deposit_needs_a_fresh_code(
    ann: Enrolment, identity: IdentityService, db: Database, admin: asyncpg.Connection
) -> None:
    from services.errors import StepUpRequired

    session = await identity.sign_in(ann.email, PASSWORD, code(ann))
    svc = BookingService(db)
    night = await admin.fetchrow("select id, starts_at from backroom.night where date = '2026-11-20'")
    assert night is not None
    b = await svc.create(
        session.actor,
        night_id=night["id"],
        table_ids=[11],
        party_size=4,
        starts_at=night["starts_at"],
        guest=GuestDetails("Deposit"),
        deposit=100,
    )
    with pytest.raises(StepUpRequired, match="fresh code"):
        await svc.cancel(session.actor, b.id, b.version, "Guest called")
    await identity.verify_code(session.actor, code(ann, 1))
    cancelled = await svc.cancel(session.actor, b.id, b.version, "Guest called", deposit="kept")
    assert cancelled.status.value == "cancelled"
    # Without a deposit no code is asked for.
    free = await svc.create(
        session.actor,
        night_id=night["id"],
        table_ids=[12],
        party_size=4,
        starts_at=night["starts_at"],
        guest=GuestDetails("No deposit"),
    )
    await admin.execute("update backroom_private.session set stepped_up_at = null")
    await svc.cancel(session.actor, free.id, free.version, "Changed plans")
