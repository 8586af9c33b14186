"""A console whose connection to the database goes through a proxy that can go silent,
and ways to wait for its COMMIT: shared by the tests of what a write answers when the
network fails."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg

from services.bookings import BookingService
from services.store.db import Database
from tests.faults import SilentProxy

COMMAND_BOUND = 2.0  # the proxied console's command timeout


CALL_BOUND = 12.0  # a write returns within this, whatever the network does


@dataclass
class Proxied:
    proxy: SilentProxy
    db: Database
    bookings: BookingService
    login: str


async def settled_setting(admin: asyncpg.Connection, value: str) -> None:
    async with asyncio.timeout(CALL_BOUND):
        while True:
            if await admin.fetchval("select current_setting('synchronous_standby_names')") == value:
                return
            await asyncio.sleep(0.02)


async def release_commits(admin: asyncpg.Connection) -> None:
    """No standby asked for any more: commits that waited for one finish."""
    await admin.execute("alter system reset synchronous_standby_names")
    await admin.execute("select pg_reload_conf()")
    await settled_setting(admin, "")


async def stored_result(admin: asyncpg.Connection, op_id: str) -> None:
    """Wait until the operation is committed, with its result."""
    async with asyncio.timeout(CALL_BOUND):
        while True:
            if (
                await admin.fetchval("select result from backroom.operation where op_id = $1::uuid", op_id)
                is not None
            ):
                return
            await asyncio.sleep(0.02)


async def committing(admin: asyncpg.Connection, login: str, task: asyncio.Task[object]) -> int:
    """The pid of the proxied login's backend once it is inside COMMIT."""
    async with asyncio.timeout(CALL_BOUND):
        while True:
            if task.done():
                task.result()
                raise AssertionError("the write ended before its COMMIT was seen")
            pid = await admin.fetchval(
                "select pid from pg_stat_activity where usename = $1 and state = 'active'"
                " and datname = current_database() and client_addr is not null"
                " and query ilike 'commit%'",
                login,
            )
            if pid is not None:
                return int(pid)
            await asyncio.sleep(0.02)


async def refusals_of(admin: asyncpg.Connection, op_id: str) -> int:
    return int(
        await admin.fetchval(
            "select count(*) from backroom.audit_log where op_id = $1::uuid and operation like 'refused:%'",
            op_id,
        )
    )
