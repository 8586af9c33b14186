"""Sign-in decided by Postgres (backroom.sign_in and sessions), tried as a console would.

Every call below is made by the console's own login, with nothing but what a console has:
no password hash, no TOTP secret, no way to name who it is except a session token. The
attacks on a colleague's account (burning codes, keeping them locked out, what an unknown
email leaves behind) are in test_outsider.py.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pyotp
import pytest

from services.identity.console_login import read_login, with_login
from tests.sessions import db_confirm, db_sign_in

ITERATIONS = 1000  # the least the database accepts: tests sign in often


@dataclass
class Enrolled:
    id: int
    email: str
    password: str
    secret: str
    recovery: list[str]

    def code(self, offset_steps: int = 0) -> str:
        return pyotp.TOTP(self.secret).at(time.time() + 30 * offset_steps)


async def enrol(
    owner: asyncpg.Connection, email: str, role: str = "door", password: str = "a long password"
) -> Enrolled:
    secret = pyotp.random_base32()
    salt = os.urandom(16)
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)
    recovery = [f"code{i:06d}" for i in range(3)]
    hashes = [hashlib.sha256(c.encode()).digest() for c in recovery]
    sid = await owner.fetchval(
        "select backroom.enrol_staff($1, $2, $3, $4, $5, $6, $7, $8)",
        email,
        email.split("@")[0].title(),
        role,
        salt,
        ITERATIONS,
        key,
        base64.b32decode(secret),
        hashes,
    )
    return Enrolled(sid, email, password, secret, recovery)


@pytest.fixture
async def login_dsn(dsn: str) -> str:
    login = await read_login(dsn)
    assert login is not None
    return with_login(dsn, login)


@pytest.fixture
async def console(login_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(login_dsn)
    yield conn
    await conn.close()


async def sign_in(conn: asyncpg.Connection, email: str, password: str, code: str) -> asyncpg.Record:
    return await db_sign_in(conn, email, password, code)


async def present(conn: asyncpg.Connection, token: str | None) -> int | None:
    await conn.execute("select set_config('backroom.session', $1, false)", token or "")
    staff: int | None = await conn.fetchval("select backroom.session_staff_id()")
    return staff


async def away_from_step_edge() -> None:
    """Codes are made here and checked there: keep both in one time step."""
    left = 30 - time.time() % 30
    if left < 2:
        await asyncio.sleep(left + 0.2)


async def test_a_right_password_and_code_give_a_session_that_only_its_token_opens(
    admin: asyncpg.Connection, console: asyncpg.Connection
) -> None:
    kim = await enrol(admin, "kim@backroom.test")
    await away_from_step_edge()
    row = await sign_in(console, kim.email, kim.password, kim.code())
    assert row["outcome"] == "ok" and row["staff_id"] == kim.id and row["role"] == "door"
    assert len(row["token"]) == 64
    assert await present(console, row["token"]) == kim.id
    assert await present(console, None) is None
    other_last = "1" if row["token"].endswith("0") else "0"
    assert await present(console, row["token"][:-1] + other_last) is None
    stored = await admin.fetchval(
        "select count(*) from backroom_private.session where token_hash = $1", row["token"].encode()
    )
    assert stored == 0, "the token itself is never stored"


async def test_a_code_is_taken_once_on_every_console(
    login_dsn: str, admin: asyncpg.Connection, console: asyncpg.Connection
) -> None:
    kim = await enrol(admin, "kim@backroom.test")
    await away_from_step_edge()
    code = kim.code()
    assert (await sign_in(console, kim.email, kim.password, code))["outcome"] == "ok"
    other = await asyncpg.connect(login_dsn)
    try:
        assert (await sign_in(other, kim.email, kim.password, code))["outcome"] == "failed"
    finally:
        await other.close()


@pytest.mark.parametrize(("offset", "outcome"), [(-1, "ok"), (1, "ok"), (-2, "failed"), (2, "failed")])
async def test_one_step_of_drift_either_side_and_no_more(
    admin: asyncpg.Connection, console: asyncpg.Connection, offset: int, outcome: str
) -> None:
    kim = await enrol(admin, "kim@backroom.test")
    await away_from_step_edge()
    assert (await sign_in(console, kim.email, kim.password, kim.code(offset)))["outcome"] == outcome


async def test_full_width_digits_are_the_same_code(
    admin: asyncpg.Connection, console: asyncpg.Connection
) -> None:
    kim = await enrol(admin, "kim@backroom.test")
    await away_from_step_edge()
    wide = "".join(chr(0xFF10 + int(d)) for d in kim.code())
    assert (await sign_in(console, kim.email, kim.password, wide))["outcome"] == "ok"


async def test_wrong_password_wrong_code_and_unknown_email_all_read_the_same(
    admin: asyncpg.Connection, console: asyncpg.Connection
) -> None:
    kim = await enrol(admin, "kim@backroom.test")
    await away_from_step_edge()
    answers = [
        await sign_in(console, kim.email, "not the password", kim.code()),
        await sign_in(console, kim.email, kim.password, "000000"),
        await sign_in(console, "kim@backroom.tset", kim.password, kim.code()),
    ]
    assert {tuple(a.values()) for a in answers} == {("failed", *[None] * 8)}


async def test_forty_at_once_are_counted_one_by_one(login_dsn: str, admin: asyncpg.Connection) -> None:
    kim = await enrol(admin, "kim@backroom.test")
    conns = [await asyncpg.connect(login_dsn) for _ in range(40)]
    try:
        answers = await asyncio.gather(*(sign_in(c, kim.email, "wrong guess", "123456") for c in conns))
    finally:
        await asyncio.gather(*(c.close() for c in conns))
    evaluated = await admin.fetchval(
        "select count(*) from backroom_private.attempt where reason = 'bad_password'"
    )
    # After five failures the next waits a second: one more may come due while forty queue.
    assert 5 <= evaluated <= 6, evaluated
    assert sum(a["outcome"] == "throttled" for a in answers) == 40 - evaluated


async def test_a_recovery_code_works_once_and_asks_for_re_enrolment(
    admin: asyncpg.Connection, console: asyncpg.Connection
) -> None:
    kim = await enrol(admin, "kim@backroom.test")
    first = await sign_in(console, kim.email, kim.password, kim.recovery[0].upper())
    assert first["outcome"] == "ok" and first["used_recovery"] and first["must_reenrol"]
    again = await sign_in(console, kim.email, kim.password, kim.recovery[0])
    assert again["outcome"] == "failed"


async def test_a_locked_session_is_nobody_until_its_own_code_opens_it(
    admin: asyncpg.Connection, console: asyncpg.Connection
) -> None:
    kim = await enrol(admin, "kim@backroom.test")
    sam = await enrol(admin, "sam@backroom.test")
    await away_from_step_edge()
    token = (await sign_in(console, kim.email, kim.password, kim.code()))["token"]
    await present(console, token)
    await console.execute("select backroom.lock_session()")
    assert await present(console, token) is None
    wrong = await db_confirm(console, "unlock", sam.code())
    assert wrong["outcome"] == "failed"
    await asyncio.sleep(30 - time.time() % 30 + 0.2)  # the sign-in took this step's code
    right = await db_confirm(console, "unlock", kim.code())
    assert right["outcome"] == "ok"
    assert await present(console, token) == kim.id


async def test_step_up_needs_a_fresh_code_of_the_session(
    admin: asyncpg.Connection, console: asyncpg.Connection
) -> None:
    kim = await enrol(admin, "kim@backroom.test", role="manager")
    await away_from_step_edge()
    await present(console, (await sign_in(console, kim.email, kim.password, kim.code()))["token"])
    assert await console.fetchval("select backroom.session_stepped_up()") is False
    replay = await db_confirm(console, "step_up", kim.code())
    assert replay["outcome"] == "failed"
    await asyncio.sleep(30 - time.time() % 30 + 0.2)
    ok = await db_confirm(console, "step_up", kim.code())
    assert ok["outcome"] == "ok"
    assert await console.fetchval("select backroom.session_stepped_up()") is True


async def test_without_a_session_no_code_can_be_confirmed(console: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await db_confirm(console, "step_up", "123456")


async def test_signing_out_ends_the_session(admin: asyncpg.Connection, console: asyncpg.Connection) -> None:
    kim = await enrol(admin, "kim@backroom.test")
    await away_from_step_edge()
    token = (await sign_in(console, kim.email, kim.password, kim.code()))["token"]
    await present(console, token)
    await console.execute("select backroom.end_session()")
    assert await present(console, token) is None


async def test_a_disabled_account_ends_its_sessions_at_once(
    admin: asyncpg.Connection, console: asyncpg.Connection
) -> None:
    kim = await enrol(admin, "kim@backroom.test")
    await away_from_step_edge()
    token = (await sign_in(console, kim.email, kim.password, kim.code()))["token"]
    await admin.execute("update backroom.staff set active = false where id = $1", kim.id)
    assert await present(console, token) is None


async def test_enrolment_needs_an_admin(console: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await console.execute(
            "select backroom.enrol_staff('x@y.z', 'X', 'admin', $1, 1000, $2, $3, '{}')",
            os.urandom(16),
            os.urandom(32),
            os.urandom(20),
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(secret: bytes, claims: dict[str, object], alg: str = "HS256") -> str:
    import hmac
    import json

    head = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    sig = _b64(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


async def test_only_a_token_signed_with_the_projects_secret_is_believed(admin: asyncpg.Connection) -> None:
    secret = os.urandom(32)
    await admin.execute("select backroom_meta.set_supabase_jwt_secret($1)", secret)
    now = int(time.time())
    good = {
        "sub": "00000000-0000-0000-0000-000000000001",
        "role": "authenticated",
        "aal": "aal2",
        "exp": now + 60,
    }

    async def believed(token: str) -> bool:
        verified: bool = await admin.fetchval(
            "select backroom_private.verified_claims($1) is not null", token
        )
        return verified

    assert await believed(_jwt(secret, good))
    assert not await believed(_jwt(os.urandom(32), good)), "another secret"
    assert not await believed(_jwt(secret, {**good, "exp": now - 1})), "expired"
    assert not await believed(_jwt(secret, {**good, "role": "service_role"})), "not a user"
    assert not await believed(_jwt(secret, good, alg="none")), "alg none"
    head, body, _ = _jwt(secret, good).split(".")
    assert not await believed(f"{head}.{body}."), "no signature"
    forged = _b64(b'{"sub":"x","role":"authenticated","aal":"aal2","exp":9999999999}')
    assert not await believed(f"{head}.{forged}.{_jwt(secret, good).split('.')[2]}"), "claims swapped"
    for nonsense in ("", "a.b", "a.b.c", "...", "é.é.é", f"{head}.{head}.{head}"):
        assert not await believed(nonsense)


async def test_the_console_cannot_store_a_jwt_secret(console: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await console.execute("select backroom_meta.set_supabase_jwt_secret($1)", os.urandom(32))


@pytest.mark.parametrize("level", ["repeatable read", "serializable"])
async def test_attempts_are_counted_only_at_read_committed(
    admin: asyncpg.Connection, console: asyncpg.Connection, level: str
) -> None:
    """A snapshot older than the lock on the address would miss a rival's failures."""
    kim = await enrol(admin, "kim@backroom.test")
    async with console.transaction(isolation=level.replace(" ", "_")):  # type: ignore[arg-type]
        with pytest.raises(asyncpg.ActiveSQLTransactionError):
            await sign_in(console, kim.email, "wrong guess", "123456")
    assert await admin.fetchval("select count(*) from backroom_private.attempt") == 0
