"""The night's writes under faults (as tests/integration/test_write_outcomes.py does for
bookings): a count whose answer is lost is asked back by its operation id and reported
done; one frozen inside COMMIT is unknown, and the retry with the same id counts once."""

from __future__ import annotations

import asyncio

import asyncpg

from services.bookings import new_op_id
from services.errors import OutcomeUnknown
from services.night import NightServices
from tests.conftest import fixed_clock
from tests.integration.write_outcomes import (
    CALL_BOUND,
    Proxied,
    committing,
    refusals_of,
    release_commits,
    stored_result,
)
from tests.night_helpers import Crew, Night


async def inside(admin: asyncpg.Connection, night: Night) -> int:
    return int(
        await admin.fetchval(
            "select coalesce((select inside from backroom.headcount where night_id = $1), 0)", night.id
        )
    )


async def test_a_count_whose_answer_is_lost_is_reported_done_and_counts_once(
    proxied: Proxied, admin: asyncpg.Connection, crew: Crew, ahead: Night, slow_commit: None
) -> None:
    night = NightServices(proxied.db, fixed_clock)
    op_id = new_op_id()
    task = asyncio.ensure_future(night.headcount.count_in(crew.door, ahead.id, 2, op_id=op_id))
    await committing(admin, proxied.login, task)
    proxied.proxy.hold_answers()
    async with asyncio.timeout(CALL_BOUND):
        done = await task
    assert done.inside == 2
    async with asyncio.timeout(CALL_BOUND):
        again = await night.headcount.count_in(crew.door, ahead.id, 2, op_id=op_id)
    assert again == done
    assert await inside(admin, ahead) == 2
    assert await refusals_of(admin, op_id) == 0


async def test_a_count_frozen_in_commit_is_unknown_and_the_retry_counts_once(
    proxied: Proxied, admin: asyncpg.Connection, crew: Crew, ahead: Night, slow_commit: None
) -> None:
    night = NightServices(proxied.db, fixed_clock)
    op_id = new_op_id()
    task = asyncio.ensure_future(night.headcount.count_in(crew.door, ahead.id, 3, op_id=op_id))
    await committing(admin, proxied.login, task)
    proxied.proxy.hang()
    async with asyncio.timeout(CALL_BOUND):
        try:
            await task
            raise AssertionError("a frozen commit cannot be reported done")
        except OutcomeUnknown as unknown:
            assert unknown.op_id == op_id
    proxied.proxy.resume()
    await release_commits(admin)
    await stored_result(admin, op_id)
    async with asyncio.timeout(CALL_BOUND):
        again = await night.headcount.count_in(crew.door, ahead.id, 3, op_id=op_id)
    assert again.inside == 3
    assert await inside(admin, ahead) == 3
