"""Connections to Postgres: opening them, explaining why they fail, and the
transaction every console operation runs in.

Every transaction the console makes runs as the `backroom_console` role
(`SET LOCAL ROLE`), so Row Level Security applies even when the login role in
DATABASE_URL owns the tables.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, cast
from urllib.parse import parse_qs, urlsplit

import asyncpg

CONSOLE_ROLE = "backroom_console"
Isolation = Literal["read_committed", "repeatable_read", "serializable"]
CHANGES_CHANNEL = "backroom_changes"


class DatabaseError(Exception):
    """A failure the user can act on: `str(err)` says what is wrong and what to do."""


class DatabaseUnreachable(DatabaseError):
    pass


class AuthenticationFailed(DatabaseError):
    pass


class SchemaMissing(DatabaseError):
    pass


class PoolerNotSupported(DatabaseError):
    pass


@dataclass(frozen=True)
class Target:
    """Where a DSN points, for messages (never includes the password)."""

    host: str
    port: int | None
    user: str
    database: str

    def __str__(self) -> str:
        where = self.host if self.port is None else f"{self.host}:{self.port}"
        return f"{self.user}@{where}/{self.database}"


def validate_dsn(dsn: str) -> None:
    """Refuse a connection string that is not a postgres URL, before trying it."""
    try:
        parts = urlsplit(dsn)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as err:
        raise DatabaseError(f"The database URL is not valid ({err}). {_URL_FORM}") from None
    if parts.scheme not in ("postgres", "postgresql"):
        raise DatabaseError(f"The database URL must start with postgresql://. {_URL_FORM}")


_URL_FORM = "The form is postgresql://USER:PASSWORD@HOST:PORT/DATABASE."


def describe(dsn: str) -> Target:
    parts = urlsplit(dsn)
    query = parse_qs(parts.query)
    host = parts.hostname or (query.get("host") or ["localhost"])[0]
    port = parts.port
    if port is None and "port" in query:
        port = int(query["port"][0])
    return Target(
        host=host,
        port=port,
        user=parts.username or (query.get("user") or ["?"])[0],
        database=(parts.path or "/").lstrip("/") or "postgres",
    )


def transaction_pooler_reason(dsn: str) -> str | None:
    """Why this DSN looks like a transaction-mode pooler, or None."""
    target = describe(dsn)
    supabase_host = target.host.endswith("pooler.supabase.com") or target.host.endswith(".supabase.co")
    if supabase_host and target.port == 6543:
        return (
            f"{target.host}:6543 is Supabase's transaction-mode pooler. LISTEN/NOTIFY "
            "cannot work through it. Use the session-mode pooler (port 5432 on the same "
            "host) or the direct connection (db.<project>.supabase.co:5432)."
        )
    return None


class ReadOnlyDatabase(DatabaseError):
    pass


class ServerOutOfRoom(DatabaseError):
    """Out of disk, memory or connections: nothing was written."""


_SCHEMA_STATES = {"3F000", "42P01", "42883"}  # no schema, no table, no function


def _condition(err: asyncpg.PostgresError, target: Target, *,
               schema: bool = True) -> DatabaseError | None:
    """What a person can do about the server's own state, as opposed to a rule's refusal."""
    state = getattr(err, "sqlstate", None)
    if state == "25006":
        return ReadOnlyDatabase(
            f"The database {target} is read-only, so nothing was written. It is a standby "
            "server, or writing was turned off (default_transaction_read_only). Connect to the "
            "primary server, or ask whoever runs it to turn writing back on "
            "(default_transaction_read_only = off), then try again.")
    if state == "53100":
        return ServerOutOfRoom(
            f"The database server of {target} has run out of disk space, so nothing was written. "
            "Free space on its disk (or give it a bigger one), then try again.")
    if state == "53200":
        return ServerOutOfRoom(
            f"The database server of {target} ran out of memory, so nothing was written. Try "
            "again when it is less busy, or give it more memory.")
    if state == "53300":
        return ServerOutOfRoom(
            f"The database server of {target} has no connection to spare (max_connections is "
            "reached). Close consoles and scripts that are not in use (`backroom health` counts "
            "them), or raise max_connections, then try again.")
    if schema and (state in _SCHEMA_STATES or (state == "22023" and CONSOLE_ROLE in str(err))):
        return SchemaMissing(
            f"The database {target} has no Backroom schema yet, or only part of it ({err}). "
            "Run `backroom db migrate` first.")
    return None


def explain_refusal(err: BaseException, dsn: str) -> DatabaseError:
    """A failure of a command's work (not of its connection) as a message a person can act on:
    read-only, out of room, schema missing, else what Postgres said."""
    if isinstance(err, DatabaseError):
        # A message of our own around the server's: the server's state comes first.
        cause = err.__cause__
        known = (_condition(cause, describe(dsn), schema=False)
                 if isinstance(cause, asyncpg.PostgresError) else None)
        return known or err
    if isinstance(err, asyncpg.PostgresError) and (known := _condition(err, describe(dsn))):
        return known
    return DatabaseError(f"Postgres at {describe(dsn)} refused this: {err}")


def explain(err: BaseException, dsn: str) -> DatabaseError:
    """Turn a connection failure into a message a person can act on."""
    target = describe(dsn)
    if isinstance(err, DatabaseError):
        return err
    if isinstance(err, asyncpg.PostgresError) and (known := _condition(err, target)) is not None:
        return known
    if isinstance(err, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError):
        return AuthenticationFailed(
            f"Postgres at {target} refused the sign-in for user {target.user!r}: {err}. "
            "Check the user name and password in DATABASE_URL (or the saved profile)."
        )
    if isinstance(err, asyncpg.InvalidCatalogNameError):
        return DatabaseUnreachable(
            f"The database {target.database!r} does not exist on {target.host}. "
            "Create it (createdb) or correct the name in DATABASE_URL."
        )
    if isinstance(err, OSError | asyncio.TimeoutError | socket.gaierror | ConnectionError):
        return DatabaseUnreachable(
            f"Cannot reach Postgres at {target}: {err or type(err).__name__}. "
            "Is the server running, and are the host and port in DATABASE_URL right? "
            "Unset DATABASE_URL to use the built-in embedded server instead."
        )
    if isinstance(err, asyncpg.PostgresError):
        return DatabaseError(f"Postgres at {target} refused the connection: {err}")
    return DatabaseError(f"Could not connect to Postgres at {target}: {err!r}")


async def connect(dsn: str, *, timeout: float = 10, **kwargs: Any) -> asyncpg.Connection:
    """One direct connection, with failures explained."""
    reason = transaction_pooler_reason(dsn)
    if reason:
        raise PoolerNotSupported(reason)
    try:
        return await asyncpg.connect(dsn, timeout=timeout, **kwargs)
    except Exception as err:
        raise explain(err, dsn) from err


@dataclass(frozen=True)
class Actor:
    """Who a transaction acts for; recorded in the audit trail."""

    staff_id: int | None = None
    name: str = "system"
    role: str | None = None


class Database:
    """A pool of connections to one Postgres database."""

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 5) -> None:
        self.dsn = dsn
        self.target = describe(dsn)
        self._min = min_size
        self._max = max_size
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        reason = transaction_pooler_reason(self.dsn)
        if reason:
            raise PoolerNotSupported(reason)
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn, min_size=self._min, max_size=self._max, timeout=10
            )
        except Exception as err:
            raise explain(err, self.dsn) from err

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), timeout=5)
            except (TimeoutError, asyncpg.PostgresError, OSError):
                pool.terminate()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("Database.open() has not been called")
        return self._pool

    async def listener_connection(self) -> asyncpg.Connection:
        """A dedicated connection, outside the pool, for LISTEN."""
        return await connect(self.dsn)

    @asynccontextmanager
    async def transaction(
        self,
        actor: Actor | None = None,
        *,
        operation: str | None = None,
        op_id: str | None = None,
        readonly: bool = False,
        isolation: Isolation = "read_committed",
    ) -> AsyncIterator[asyncpg.Connection]:
        """A transaction as the console role, tagged with who and what for the audit."""
        actor = actor or Actor()
        async with self.pool.acquire() as conn:
            async with conn.transaction(isolation=isolation, readonly=readonly):
                # One round trip; set_config('role', ..., true) is SET LOCAL ROLE.
                await conn.execute(
                    "select set_config('role', $1, true),"
                    " set_config('backroom.staff_id', $2, true),"
                    " set_config('backroom.op', $3, true),"
                    " set_config('backroom.op_id', $4, true)",
                    CONSOLE_ROLE,
                    "" if actor.staff_id is None else str(actor.staff_id),
                    operation or "",
                    op_id or "",
                )
                yield cast(asyncpg.Connection, conn)
