"""Postgres checks every Supabase access token itself (migration 0011), on the
console's own connection as the console role: only a token signed with the
project's JWT secret, unexpired, at aal2, of an active staff member buys a
session (`backroom.supabase_session`), and only a fresh TOTP verification of
that session's own staff member confirms a code on it
(`backroom.supabase_confirm`). Whoever has everything a console has, but no
staff member's password and code, can write any token they like: none of these
get them anywhere."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from console.wiring import supabase_ready
from services.identity.accounts import lock_session
from services.identity.roles import Role
from services.store.db import Actor, Database
from services.supabase.auth import AuthUser, DatabaseSessions
from tests.supabase.conftest import JWT_KEY, SupabaseDb
from tests.supabase.standins import mint, staff_claims


@pytest.fixture
async def db(supabase_db: SupabaseDb) -> AsyncIterator[Database]:
    database = Database(supabase_db.dsn, max_size=2)
    await database.open()
    yield database
    await database.close()


@pytest.fixture
async def owner(supabase_db: SupabaseDb) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(supabase_db.dsn)
    yield conn
    await conn.close()


def token(sub: str, **claims: Any) -> str:
    return mint(JWT_KEY, {**staff_claims(sub), **claims})


async def sessions_held(owner: asyncpg.Connection) -> int:
    return int(await owner.fetchval("select count(*) from backroom_private.session"))


async def stepped_up(db: Database, actor: Actor) -> bool:
    async with db.transaction(actor, readonly=True) as conn:
        return bool(await conn.fetchval("select backroom.session_stepped_up()"))


async def acting_for(db: Database, actor: Actor) -> int | None:
    async with db.transaction(actor, readonly=True) as conn:
        found = await conn.fetchval("select backroom.session_staff_id()")
    return None if found is None else int(found)


async def signed_in(db: Database, user: str) -> Actor:
    actor = await DatabaseSessions(db).open(AuthUser(user, None, token(user)))
    assert actor is not None
    return actor


async def test_a_verified_aal2_token_of_a_linked_staff_member_buys_a_session(
    db: Database, supabase_db: SupabaseDb
) -> None:
    actor = await signed_in(db, supabase_db.door_user)
    assert (actor.staff_id, actor.role) == (supabase_db.door_id, "door")
    assert actor.session and "session" not in repr(actor)
    assert await acting_for(db, actor) == supabase_db.door_id
    # Another sign-in of the same user is another session.
    again = await signed_in(db, supabase_db.door_user)
    assert again.session != actor.session


def forgeries(supabase_db: SupabaseDb) -> dict[str, str]:
    door, manager = supabase_db.door_user, supabase_db.manager_user
    honest = token(door).split(".")
    swapped = token(manager).split(".")[1]
    return {
        "another secret": mint(b"a secret that is not the project's", staff_claims(manager)),
        "alg none": mint(b"", staff_claims(manager), alg="none"),
        "alg none with a signature": ".".join(
            [mint(b"", {}, alg="none").split(".")[0], honest[1], honest[2]]
        ),
        "aal1": token(manager, aal="aal1", amr=[{"method": "password", "timestamp": int(time.time())}]),
        "expired": token(manager, exp=int(time.time()) - 5),
        "role anon": token(manager, role="anon"),
        "another user's sub under my signature": ".".join([honest[0], swapped, honest[2]]),
        "a user who is not staff": token(supabase_db.stranger_user),
        "not a token": "not.a.token",
        "empty": "",
    }


@pytest.mark.parametrize(
    "forged",
    [
        "another secret",
        "alg none",
        "alg none with a signature",
        "aal1",
        "expired",
        "role anon",
        "another user's sub under my signature",
        "a user who is not staff",
        "not a token",
        "empty",
    ],
)
async def test_a_forged_token_gets_no_session(
    db: Database, owner: asyncpg.Connection, supabase_db: SupabaseDb, forged: str
) -> None:
    before = await sessions_held(owner)
    user = AuthUser(supabase_db.manager_user, None, forgeries(supabase_db)[forged])
    assert await DatabaseSessions(db).open(user) is None
    assert await sessions_held(owner) == before


async def test_without_a_stored_secret_no_token_gets_a_session(
    db: Database, owner: asyncpg.Connection, supabase_db: SupabaseDb
) -> None:
    stored = await owner.fetchval("select secret from backroom_private.supabase_jwt")
    await owner.execute("delete from backroom_private.supabase_jwt")
    try:
        user = AuthUser(supabase_db.door_user, None, token(supabase_db.door_user))
        assert await DatabaseSessions(db).open(user) is None
        # The console sees nothing of it: whether a secret is stored is the owner's business.
        assert await supabase_ready(db)
    finally:
        await owner.execute("select backroom_meta.set_supabase_jwt_secret($1)", stored)


async def test_no_console_can_read_or_set_the_secret(db: Database) -> None:
    for sql in (
        "select secret from backroom_private.supabase_jwt",
        "select backroom_meta.set_supabase_jwt_secret('0123456789abcdef0123')",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with db.transaction(Actor()) as conn:
                await conn.execute(sql)


@pytest.mark.parametrize("purpose", ["step_up", "unlock"])
async def test_a_fresh_totp_verification_of_my_own_confirms_a_code(
    db: Database, supabase_db: SupabaseDb, purpose: str
) -> None:
    me = await signed_in(db, supabase_db.door_user)
    if purpose == "unlock":
        await lock_session(db, me)
        assert await acting_for(db, me) is None, "a locked session acts for nobody"
    assert not await stepped_up(db, me)
    assert await DatabaseSessions(db).confirm(me, purpose, token(supabase_db.door_user))
    assert await stepped_up(db, me)
    assert await acting_for(db, me) == supabase_db.door_id


@pytest.mark.parametrize("case", ["stale amr", "password only", "forged", "expired"])
async def test_a_stale_or_forged_token_confirms_nothing(
    db: Database, supabase_db: SupabaseDb, case: str
) -> None:
    me = await signed_in(db, supabase_db.door_user)
    now = int(time.time())
    sub = supabase_db.door_user
    presented = {
        # Signed in (and verified) five minutes ago, refreshed since: not a fresh code.
        "stale amr": token(
            sub,
            amr=[{"method": "totp", "timestamp": now - 300}, {"method": "password", "timestamp": now - 300}],
        ),
        "password only": token(sub, amr=[{"method": "password", "timestamp": now}]),
        "forged": mint(b"a secret that is not the project's", staff_claims(sub)),
        "expired": token(sub, exp=now - 5),
    }[case]
    sessions = DatabaseSessions(db)
    assert not await sessions.confirm(me, "step_up", presented)
    assert not await stepped_up(db, me)
    await lock_session(db, me)
    assert not await sessions.confirm(me, "unlock", presented)
    assert await acting_for(db, me) is None, "still locked"


async def test_another_staff_members_fresh_token_does_not_step_up_my_session(
    db: Database, supabase_db: SupabaseDb
) -> None:
    me = await signed_in(db, supabase_db.door_user)
    manager = await signed_in(db, supabase_db.manager_user)
    theirs = token(supabase_db.manager_user)
    sessions = DatabaseSessions(db)
    assert not await sessions.confirm(me, "step_up", theirs)
    assert not await stepped_up(db, me)
    await lock_session(db, me)
    assert not await sessions.confirm(me, "unlock", theirs)
    assert await acting_for(db, me) is None
    # Their token is good for their own session, and only theirs.
    assert await sessions.confirm(manager, "step_up", theirs)
    assert await stepped_up(db, manager) and not await stepped_up(db, me)


async def test_a_token_confirms_nothing_without_a_session(db: Database, supabase_db: SupabaseDb) -> None:
    sessions = DatabaseSessions(db)
    assert not await sessions.confirm(Actor(), "step_up", token(supabase_db.door_user))
    forged = Actor(staff_id=supabase_db.door_id, name="Door", role=Role.DOOR, session="made up")
    assert not await sessions.confirm(forged, "step_up", token(supabase_db.door_user))


async def test_a_supabase_database_is_ready_and_a_plain_one_is_not(db: Database, dsn: str) -> None:
    assert await supabase_ready(db)
    plain = Database(dsn, max_size=1)
    await plain.open()
    try:
        assert not await supabase_ready(plain)
    finally:
        await plain.close()
