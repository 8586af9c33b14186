"""Fixtures the TUI tests share: a console with an identity service and nobody signed
in, two enrolled staff members, the demo's door staff on the sample night, and the
colour / no-colour parameter of the snapshot tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from console.wiring import Services, open_services
from services.identity.accounts import Enrolment, IdentityService
from services.store.db import Actor, Database
from tests.conftest import fixed_clock
from tests.sessions import signed_in
from tests.tui.door_helpers import DOOR

PASSWORD = "correct horse battery"


@pytest.fixture
def identity(services: Services, owner_db: Database) -> IdentityService:
    """The console with an identity service and nobody signed in: it opens on sign-in."""
    services.identity = IdentityService(services.db, owner=owner_db)
    services.actor = Actor()
    return services.identity


@pytest.fixture
async def dana(identity: IdentityService) -> Enrolment:
    return await identity.add_staff(
        None, email="dana@backroom.test", name="Dana Door", role="door", password=PASSWORD
    )


@pytest.fixture
async def max_(identity: IdentityService) -> Enrolment:
    return await identity.add_staff(
        None, email="max@backroom.test", name="Max Manager", role="manager", password=PASSWORD
    )


@pytest.fixture
async def door(dsn: str) -> AsyncIterator[Services]:
    """Services as the demo's door staff, on the sample night at 23:30."""
    opened = await open_services(dsn, clock=fixed_clock)
    opened.actor = await signed_in(opened.db, DOOR)
    yield opened
    await opened.db.close()


@pytest.fixture(params=["colour", "no-colour"])
def colour(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "no-colour":
        # Read by App.__init__: the app draws without colour.
        monkeypatch.setenv("NO_COLOR", "1")
    return str(request.param)
