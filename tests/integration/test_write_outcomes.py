"""A write's three outcomes under faults, through the real services on a real
Postgres: done, refused (nothing written, with its audit row), or interrupted
(the connection failed; the service asks the database by the operation id
before it says anything, and a retry with the same id never acts twice).

The console's own login talks to Postgres through a loopback proxy that can go
silent (`tests.faults.SilentProxy`); COMMIT is made slow by a deferred
constraint trigger, so a fault can be timed inside it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest

from console.wiring import Services
from services.bookings import GuestDetails, new_op_id
from services.errors import Interrupted, OutcomeUnknown, TableTaken
from services.models import Booking, Night
from services.store.db import ConnectionLost
from tests.integration.write_outcomes import (
    CALL_BOUND,
    Proxied,
    committing,
    refusals_of,
    release_commits,
    stored_result,
)

FREE = 11  # downstairs, 2 to 6, free on the sample night


async def parties_named(admin: asyncpg.Connection, name: str) -> int:
    return int(
        await admin.fetchval(
            "select count(*) from backroom.booking b join backroom.guest g on g.id = b.guest_id"
            " where g.name = $1",
            name,
        )
    )


def walk_in(
    p: Proxied,
    services: Services,
    night: Night,
    name: str,
    op_id: str,
) -> asyncio.Task[Booking]:
    return asyncio.ensure_future(
        p.bookings.seat_walk_in(
            services.actor,
            night_id=night.id,
            party_size=3,
            guest=GuestDetails(name=name),
            table_id=FREE,
            op_id=op_id,
        )
    )


async def test_a_frozen_connection_gives_an_answer_within_the_bound(
    proxied: Proxied, services: Services, night: Night, admin: asyncpg.Connection
) -> None:
    op_id = new_op_id()
    proxied.proxy.hang()
    async with asyncio.timeout(CALL_BOUND):
        with pytest.raises((Interrupted, ConnectionLost)) as caught:
            await proxied.bookings.create(
                services.actor,
                night_id=night.id,
                table_ids=[FREE],
                party_size=4,
                starts_at=night.starts_at + timedelta(hours=1),
                guest=GuestDetails(name="Frozen"),
                op_id=op_id,
            )
    if isinstance(caught.value, Interrupted):
        assert caught.value.op_id == op_id
    else:
        assert isinstance(caught.value, ConnectionLost)
        assert not caught.value.maybe_committed, "a read before the write failed"
    assert "cannot switch" not in str(caught.value) and "__aexit__" not in str(caught.value)
    assert await refusals_of(admin, op_id) == 0

    proxied.proxy.resume()
    async with asyncio.timeout(CALL_BOUND):
        done = await proxied.bookings.create(
            services.actor,
            night_id=night.id,
            table_ids=[FREE],
            party_size=4,
            starts_at=night.starts_at + timedelta(hours=1),
            guest=GuestDetails(name="Frozen"),
            op_id=op_id,
        )
    assert done.table_ids == (FREE,) or list(done.table_ids) == [FREE]
    assert await parties_named(admin, "Frozen") == 1


async def test_a_freeze_inside_commit_is_unknown_and_the_retry_acts_once(
    proxied: Proxied, services: Services, night: Night, admin: asyncpg.Connection, slow_commit: None
) -> None:
    op_id = new_op_id()
    task = walk_in(proxied, services, night, "Held in commit", op_id)
    await committing(admin, proxied.login, task)
    proxied.proxy.hang()  # COMMIT has reached the server; no answer, and no new connection
    async with asyncio.timeout(CALL_BOUND):
        with pytest.raises(OutcomeUnknown) as caught:
            await task
    assert caught.value.op_id == op_id
    assert await refusals_of(admin, op_id) == 0

    # The network comes back and the commit it was waiting in finishes.
    proxied.proxy.resume()
    await release_commits(admin)
    await stored_result(admin, op_id)
    async with asyncio.timeout(CALL_BOUND):
        again = await walk_in(proxied, services, night, "Held in commit", op_id)
    assert again.guest_name == "Held in commit"
    assert await parties_named(admin, "Held in commit") == 1


async def test_a_commit_whose_answer_is_lost_is_reported_done(
    proxied: Proxied, services: Services, night: Night, admin: asyncpg.Connection, slow_commit: None
) -> None:
    op_id = new_op_id()
    task = walk_in(proxied, services, night, "Answer lost", op_id)
    await committing(admin, proxied.login, task)
    # No answer comes back: the service gives up on the connection, ends its server
    # process (which commits on the way out) and finds the operation done.
    proxied.proxy.hold_answers()
    async with asyncio.timeout(CALL_BOUND):
        seated = await task
    assert seated.guest_name == "Answer lost"
    assert await parties_named(admin, "Answer lost") == 1
    assert await refusals_of(admin, op_id) == 0

    async with asyncio.timeout(CALL_BOUND):
        again = await walk_in(proxied, services, night, "Answer lost", op_id)
    assert again.id == seated.id
    assert await parties_named(admin, "Answer lost") == 1


async def test_a_connection_terminated_during_commit_is_reported_done_not_refused(
    proxied: Proxied, services: Services, night: Night, admin: asyncpg.Connection, slow_commit: None
) -> None:
    op_id = new_op_id()
    task = walk_in(proxied, services, night, "Killed in commit", op_id)
    pid = await committing(admin, proxied.login, task)
    assert await admin.fetchval("select pg_terminate_backend($1, 5000)", pid)
    async with asyncio.timeout(CALL_BOUND):
        seated = await task
    assert seated.guest_name == "Killed in commit"
    assert await refusals_of(admin, op_id) == 0
    assert await parties_named(admin, "Killed in commit") == 1

    async with asyncio.timeout(CALL_BOUND):
        again = await walk_in(proxied, services, night, "Killed in commit", op_id)
    assert again.id == seated.id
    assert await parties_named(admin, "Killed in commit") == 1


async def test_a_double_booking_is_still_a_refusal_with_its_audit_row(
    proxied: Proxied, services: Services, night: Night, admin: asyncpg.Connection
) -> None:
    starts = night.starts_at + timedelta(hours=1)
    await proxied.bookings.create(
        services.actor,
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=starts,
        guest=GuestDetails(name="First"),
    )
    op_id = new_op_id()
    with pytest.raises(TableTaken):
        await proxied.bookings.create(
            services.actor,
            night_id=night.id,
            table_ids=[FREE],
            party_size=4,
            starts_at=starts,
            guest=GuestDetails(name="Second"),
            op_id=op_id,
        )
    assert await refusals_of(admin, op_id) == 1
    assert await parties_named(admin, "Second") == 0
