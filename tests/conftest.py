"""Shared fixtures: one real Postgres per test session, a fresh database per test.

The server is the embedded one (its own cluster in a temporary directory)
unless BACKROOM_TEST_DATABASE_URL names a Postgres whose user may create
databases and roles. Each test gets a copy of a template database that has
every migration applied and the sample venue seeded for 2026-11-20, and a
console clock fixed at 23:30 that night, so what the screens show is the same
on every run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from console.wiring import Services, open_services
from services.embedded.server import EmbeddedPostgres
from services.models import Night
from services.store import migrations, seed
from services.store.db import Database
from tests import sessions

SAMPLE_NIGHT = date(2026, 11, 20)
FIXED_NOW = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # 23:30 in London (GMT in November)
TEMPLATE = "backroom_template"


def fixed_clock() -> datetime:
    return FIXED_NOW


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the developer's own settings, profiles or data."""
    home = tmp_path_factory.getbasetemp() / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("BACKROOM_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("BACKROOM_DATA_DIR", str(home / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("BACKROOM_TOTP_KEY", raising=False)
    # No test touches the developer's keyring; tests that need one bring a stand-in.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


@pytest.fixture(scope="session")
def server_dsn() -> Iterator[str]:
    """A superuser (or database-creating) DSN on the session's Postgres."""
    external = os.environ.get("BACKROOM_TEST_DATABASE_URL")
    if external:
        sessions.SERVER["dsn"] = external
        yield external
        return
    # Outside pytest's own temp tree: pytest resets that tree's permissions
    # to 0700 when another run starts, and the server runs as its own user.
    data = Path(tempfile.mkdtemp(prefix="backroom-test-pg-"))
    pg = EmbeddedPostgres(
        data,
        # A throwaway cluster: durability buys nothing here, speed does.
        extra_settings={"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"},
    )
    info = pg.start()
    sessions.SERVER["dsn"] = info.dsn()
    try:
        yield info.dsn()
    finally:
        pg.stop()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
async def template_dsn(server_dsn: str) -> str:
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f"drop database if exists {TEMPLATE} with (force)")
        await conn.execute(f"create database {TEMPLATE}")
    finally:
        await conn.close()
    dsn = with_database(server_dsn, TEMPLATE)
    conn = await asyncpg.connect(dsn)
    try:
        await migrations.migrate(conn)
        await seed.seed_venue(conn, seed.load_layout())
        await seed.seed_sample(conn, SAMPLE_NIGHT, days=14)
    finally:
        await conn.close()
    return dsn


async def _fresh_database(server_dsn: str, template: str | None) -> tuple[str, str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server_dsn)
    try:
        clause = f" template {template}" if template else ""
        await conn.execute(f"create database {name}{clause}")
    finally:
        await conn.close()
    return name, with_database(server_dsn, name)


async def _drop_database(server_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f"drop database if exists {name} with (force)")
    finally:
        await conn.close()


@pytest.fixture
async def empty_dsn(server_dsn: str) -> AsyncIterator[str]:
    """A database with nothing in it: no schema, no venue."""
    name, dsn = await _fresh_database(server_dsn, None)
    yield dsn
    await _drop_database(server_dsn, name)


@pytest.fixture
async def dsn(server_dsn: str, template_dsn: str) -> AsyncIterator[str]:
    """A migrated database with the reference venue and sample nights from 2026-11-20."""
    name, fresh = await _fresh_database(server_dsn, TEMPLATE)
    yield fresh
    await _drop_database(server_dsn, name)


@pytest.fixture
async def admin(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the database owner: another client making changes."""
    conn = await asyncpg.connect(dsn)
    yield conn
    await conn.close()


@pytest.fixture
async def owner_db(dsn: str) -> AsyncIterator[Database]:
    """The database owner's pool: first set-up, which a console's own login cannot do."""
    db = Database(dsn, max_size=2)
    await db.open()
    yield db
    await db.close()


@pytest.fixture
async def services(dsn: str) -> AsyncIterator[Services]:
    opened = await open_services(dsn, clock=fixed_clock)
    opened.actor = await sessions.signed_in(dsn, seed.DEMO_MANAGER)
    yield opened
    await opened.db.close()


@pytest.fixture
async def night(services: Services) -> Night:
    """The sample night the services' fixed clock is in."""
    found = await services.floor.tonight()
    assert found is not None and found.date == SAMPLE_NIGHT
    return found
