"""Fixtures of the night's tests (see tests/night_helpers.py)."""

from __future__ import annotations

import asyncpg
import pytest

from console.wiring import Services
from services.night import NightServices
from services.store.db import Actor
from tests.conftest import fixed_clock
from tests.night_helpers import Crew, Night
from tests.sessions import new_staff


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
