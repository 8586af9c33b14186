"""Fixtures the sign-in, lock and handover tests share: a console with an identity
service and nobody signed in, and two enrolled staff members."""

from __future__ import annotations

import pytest

from console.wiring import Services
from services.identity.accounts import Enrolment, IdentityService
from services.store.db import Actor, Database

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
