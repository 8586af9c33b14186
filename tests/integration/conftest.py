"""Fixtures the integration tests share: booking and report services over the test's
console, staff of each role, the night's fixtures (services for the night, a night
ahead on the database's clock, its crew; see tests/night_helpers.py), and a console
behind a proxy that can go silent, with a COMMIT that waits (see write_outcomes.py).

Where a module needs a different fixture of the same name, it defines its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

import asyncpg
import pytest

from console.wiring import Services
from services.bookings import BookingService
from services.identity.console_login import login_of
from services.night import NightServices
from services.reports import ReportService
from services.store.db import Actor, Database, describe
from tests.conftest import fixed_clock
from tests.faults import SilentProxy
from tests.integration.write_outcomes import COMMAND_BOUND, Proxied, release_commits, settled_setting
from tests.night_helpers import Crew, Night
from tests.sessions import new_staff


@pytest.fixture
def bookings(services: Services) -> BookingService:
    return BookingService(services.db, services.clock)


@pytest.fixture
def reports(services: Services) -> ReportService:
    return services.reports


@pytest.fixture
async def staff(admin: asyncpg.Connection) -> dict[str, Actor]:
    actors = {}
    for name, role in (("Maya", "manager"), ("Nico", "manager"), ("Dora", "door"), ("Sam", "support")):
        actors[name] = await new_staff(admin, f"{name.lower()}@backroom.test", name, role)
    return actors


@pytest.fixture
def night_svc(services: Services) -> NightServices:
    return NightServices(services.db, fixed_clock)


@pytest.fixture
async def ahead(admin: asyncpg.Connection) -> Night:
    """A night that begins tomorrow by the database's clock."""
    row = await admin.fetchrow(
        "insert into backroom.night (venue_id, date, starts_at, ends_at)"
        " values (1, current_date + 60, clock_timestamp() + interval '1 day',"
        "         clock_timestamp() + interval '1 day 5 hours')"
        " returning id, starts_at, ends_at"
    )
    assert row is not None
    return Night(row["id"], row["starts_at"], row["ends_at"])


@pytest.fixture
async def crew(admin: asyncpg.Connection) -> Crew:
    async def one(email: str, name: str, role: str) -> Actor:
        return await new_staff(admin, f"{email}@night.test", name, role)

    return Crew(
        manager=await one("mia", "Mia Manager", "manager"),
        door=await one("dan", "Dan Door", "door"),
        door2=await one("dora", "Dora Door", "door"),
        support=await one("sam", "Sam Support", "support"),
        promoter=await one("pia", "Pia Promoter", "promoter"),
        promoter2=await one("paz", "Paz Promoter", "promoter"),
    )


@pytest.fixture
async def proxied(dsn: str, admin: asyncpg.Connection) -> AsyncIterator[Proxied]:
    login = await login_of(admin)
    assert login is not None, "the admin fixture is the owner"
    target = describe(dsn)
    assert target.port is not None
    proxy = SilentProxy(target.port)
    port = await proxy.start()
    tcp = (
        f"postgresql://{quote(login.role, safe='')}:{quote(login.password, safe='')}"
        f"@127.0.0.1:{port}/{quote(target.database, safe='')}"
    )
    db = Database(tcp, min_size=1, max_size=3, command_timeout=COMMAND_BOUND)
    await db.open()
    try:
        yield Proxied(proxy, db, BookingService(db, fixed_clock), login.role)
    finally:
        await db.close()
        await proxy.close()


@pytest.fixture
async def slow_commit(
    proxied: Proxied,
    admin: asyncpg.Connection,
    dsn: str,
) -> AsyncIterator[None]:
    """The proxied login's COMMIT waits, after its commit record is written, for a
    synchronous standby that does not exist: it finishes only when the standby is no
    longer asked for, or its process is terminated (committed either way). Other
    sessions keep synchronous_commit off, so they do not wait."""
    database = describe(dsn).database
    await admin.execute(f"alter role {proxied.login} in database {database} set synchronous_commit = on")
    await admin.execute("alter system set synchronous_standby_names = 'backroom_nobody'")
    await admin.execute("select pg_reload_conf()")
    await settled_setting(admin, "backroom_nobody")
    await proxied.db.pool.expire_connections()
    try:
        yield
    finally:
        await release_commits(admin)
        await admin.execute(f"alter role {proxied.login} in database {database} reset synchronous_commit")
