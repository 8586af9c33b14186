"""The console's own login, attacked with exactly what a console holds: its connection string."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from console.cli import main
from services.identity.console_login import read_login, with_login
from services.store import seed
from tests.sessions import signed_in


async def console_dsn(owner_dsn: str) -> str:
    """The address a console given the owner's ends up using."""
    login = await read_login(owner_dsn)
    assert login is not None
    return with_login(owner_dsn, login)


@pytest.fixture
async def login(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(await console_dsn(dsn))
    yield conn
    await conn.close()


async def test_a_console_given_the_owners_address_connects_as_its_own_login(
    login: asyncpg.Connection, admin: asyncpg.Connection
) -> None:
    me = await login.fetchval("select current_user")
    owner = await admin.fetchval(
        "select nspowner::regrole::text from pg_namespace where nspname = 'backroom'"
    )
    assert me != owner and me.endswith("_login")
    flags = await login.fetchrow(
        "select rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication "
        "from pg_roles where rolname = current_user"
    )
    assert flags is not None
    assert not any(flags.values())
    member_of = await admin.fetch(
        "select r.rolname from pg_auth_members m join pg_roles r on r.oid = m.roleid "
        "where m.member = $1::regrole",
        me,
    )
    assert [r["rolname"] for r in member_of] == ["backroom_console"]


@pytest.mark.parametrize("escape", ["reset role", "set role none", "set session authorization default"])
async def test_no_way_back_to_more_than_the_console_role(login: asyncpg.Connection, escape: str) -> None:
    await login.execute(escape)
    assert (
        await login.fetchval(
            "select pg_has_role(current_user, nspowner, 'member') from pg_namespace where nspname = 'backroom'"
        )
        is False
    )
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await login.execute("delete from backroom.audit_log")


async def test_the_owner_cannot_be_taken_on(login: asyncpg.Connection, admin: asyncpg.Connection) -> None:
    owner = await admin.fetchval("select current_user")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await login.execute(f'set role "{owner}"')


@pytest.mark.parametrize(
    "statement",
    [
        "select * from backroom_meta.console_login",
        "select * from backroom_meta.migration",
        "delete from backroom.audit_log",
        "update backroom.audit_log set operation = 'expire'",
        "truncate backroom.audit_log",
        "select backroom_meta.ensure_console_login()",
        "select backroom_private.sha1('abc')",
        "create table public.planted (id int)",
    ],
)
async def test_the_login_reaches_nothing_of_the_owners(login: asyncpg.Connection, statement: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await login.execute(statement)


async def test_door_limits_hold_when_the_console_role_is_not_taken(
    login: asyncpg.Connection, admin: asyncpg.Connection, dsn: str
) -> None:
    """Skipping SET ROLE used to skip the door's limits (they checked current_user)."""
    door = await signed_in(dsn, seed.DEMO_STAFF[1][0])
    booking = await admin.fetchrow(
        "select id, party_size from backroom.booking where status in ('pending', 'confirmed') limit 1"
    )
    assert booking is not None
    await login.execute("select set_config('backroom.session', $1, false)", door.session)
    assert await login.fetchval("select current_user") != "backroom_console"
    assert await login.fetchval("select backroom.current_staff_role()") == "door"
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await login.execute(
            "update backroom.booking set party_size = party_size + 1 where id = $1", booking["id"]
        )
    assert (
        await admin.fetchval("select party_size from backroom.booking where id = $1", booking["id"])
        == booking["party_size"]
    )


def test_backroom_db_console_url_prints_a_login_that_is_not_the_owner(
    dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "console-url", "--database-url", dsn]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("postgresql://") and "_login:" in printed
    assert "postgres@" not in printed


def test_console_url_needs_the_owner(dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    console_url = asyncio.run(console_dsn(dsn))
    assert main(["db", "console-url", "--database-url", console_url]) == 2
    assert "owner" in capsys.readouterr().err


async def test_the_consoles_services_given_the_owners_address_run_as_the_login(services: object) -> None:
    from console.wiring import Services

    assert isinstance(services, Services)
    async with services.db.connection() as conn:
        assert (await conn.fetchval("select current_user")).endswith("_login")


async def test_a_console_started_with_the_console_url_runs_and_signs_in(
    dsn: str, admin: asyncpg.Connection
) -> None:
    """The owner's credential is for migrations only: a venue's console, given nothing but
    the address `backroom db console-url` prints, checks the schema, opens and signs in."""
    import time

    import pyotp

    from console.wiring import open_services
    from services.identity.accounts import IdentityService
    from services.store.db import Database, SchemaMissing
    from services.store.provision import check_ready
    from tests.conftest import fixed_clock

    address = await console_dsn(dsn)
    owner = Database(dsn, max_size=1)
    await owner.open()
    try:
        ann = await IdentityService(owner).add_staff(
            None, email="ann@backroom.test", name="Ann", role="manager", password="correct horse battery"
        )
    finally:
        await owner.close()
    await check_ready(address)
    services = await open_services(address, own_accounts=True, clock=fixed_clock)
    try:
        identity = services.identity
        assert isinstance(identity, IdentityService)
        left = 30 - time.time() % 30
        if left < 3:
            import asyncio

            await asyncio.sleep(left + 0.2)
        session = await identity.sign_in(ann.email, "correct horse battery", pyotp.TOTP(ann.secret).now())
        services.actor = session.actor
        night = await services.floor.tonight()
        assert night is not None, "signed in, the console reads the night"
    finally:
        await services.db.close()

    # A schema behind this console's migrations: the console says who must do what.
    await admin.execute(
        "delete from backroom_meta.migration"
        " where version = (select max(version) from backroom_meta.migration)"
    )
    with pytest.raises(SchemaMissing, match="backroom db migrate"):
        await check_ready(address)
