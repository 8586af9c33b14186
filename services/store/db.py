"""Connections to Postgres: opening them, explaining why they fail, and the
transaction every console operation runs in.

Every transaction the console makes runs as the `backroom_console` role
(`SET LOCAL ROLE`) and presents the signed-in staff member's session token
(`backroom.session`); Postgres takes who is acting from that token alone, and
Row Level Security applies even when the login role in DATABASE_URL owns the
tables.

No wait is without a bound: every command has a timeout (`command_timeout`),
so do acquiring and releasing a pooled connection, and TCP connections probe
a silent peer (SO_KEEPALIVE on the client's socket). A connection that fails
or stops answering in a transaction is terminated, never awaited, and the
transaction ends in `ConnectionLost`, which says whether COMMIT had been sent:
only then can the transaction have committed.
"""

from __future__ import annotations

import asyncio
import socket
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import parse_qs, urlsplit

import asyncpg

from services.errors import BackroomError
from services.identity.roles import Role
from services.waiting import within

CONSOLE_ROLE = "backroom_console"
Isolation = Literal["read_committed", "repeatable_read", "serializable"]
CHANGES_CHANNEL = "backroom_changes"


class DatabaseError(BackroomError):
    """A failure the user can act on: `str(err)` says what is wrong and what to do."""


class DatabaseUnreachable(DatabaseError):
    pass


class AuthenticationFailed(DatabaseError):
    pass


class SchemaMissing(DatabaseError):
    pass


class PoolerNotSupported(DatabaseError):
    pass


COMMAND_TIMEOUT = 5.0  # seconds a console's command may take before its connection is given up
DIRECT_COMMAND_TIMEOUT = 60.0  # direct connections (migrations, the command line)
ACQUIRE_TIMEOUT = 5.0
RELEASE_TIMEOUT = 2.0
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 5, 2, 3


@dataclass(frozen=True)
class Backend:
    """The server process a transaction ran in: `pid` and when it started, which
    together name it even after the pid is reused."""

    pid: int
    started: Any


class ConnectionLost(DatabaseError):
    """The connection failed during a transaction, or stopped answering. When
    `maybe_committed` is false COMMIT was never sent, so nothing was written;
    when true it may have committed, and only asking the database can tell."""

    def __init__(self, message: str, *, maybe_committed: bool, backend: Backend | None) -> None:
        super().__init__(message)
        self.maybe_committed = maybe_committed
        self.backend = backend


# SQLSTATE classes that mean the connection or the server failed, not a rule:
# connection exception, operator intervention (terminated, shut down, cancelled),
# system error, internal error.
_LOST_CLASSES = frozenset({"08", "57", "58", "XX"})


def connection_lost(err: BaseException) -> bool:
    """Whether `err` means the connection failed (the answer may be lost), as opposed
    to the server refusing the command on a connection that still works."""
    if isinstance(err, asyncpg.PostgresError):
        return str(getattr(err, "sqlstate", "") or "")[:2] in _LOST_CLASSES
    return isinstance(
        err, OSError | TimeoutError | ConnectionError | asyncpg.InterfaceError | asyncpg.InternalClientError
    )


def keep_alive(conn: asyncpg.Connection) -> None:
    """Turn on TCP keepalives on a connection's socket (unix sockets need none)."""
    transport = getattr(conn, "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
        ("TCP_USER_TIMEOUT", 1000 * KEEPALIVE_IDLE * 2),
    ):
        option = getattr(socket, name, None)
        if option is not None:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


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


def _condition(err: asyncpg.PostgresError, target: Target, *, schema: bool = True) -> DatabaseError | None:
    """What a person can do about the server's own state, as opposed to a rule's refusal."""
    state = getattr(err, "sqlstate", None)
    if state == "25006":
        return ReadOnlyDatabase(
            f"The database {target} is read-only, so nothing was written. It is a standby "
            "server, or writing was turned off (default_transaction_read_only). Connect to the "
            "primary server, or ask whoever runs it to turn writing back on "
            "(default_transaction_read_only = off), then try again."
        )
    if state == "53100":
        return ServerOutOfRoom(
            f"The database server of {target} has run out of disk space, so nothing was written. "
            "Free space on its disk (or give it a bigger one), then try again."
        )
    if state == "53200":
        return ServerOutOfRoom(
            f"The database server of {target} ran out of memory, so nothing was written. Try "
            "again when it is less busy, or give it more memory."
        )
    if state == "53300":
        return ServerOutOfRoom(
            f"The database server of {target} has no connection to spare (max_connections is "
            "reached). Close consoles and scripts that are not in use (`backroom health` counts "
            "them), or raise max_connections, then try again."
        )
    if schema and (state in _SCHEMA_STATES or (state == "22023" and CONSOLE_ROLE in str(err))):
        return SchemaMissing(
            f"The database {target} has no Backroom schema yet, or only part of it ({err}). "
            "Run `backroom db migrate` first."
        )
    return None


def explain_refusal(err: BaseException, dsn: str) -> DatabaseError:
    """A failure of a command's work (not of its connection) as a message a person can act on:
    read-only, out of room, schema missing, else what Postgres said."""
    if isinstance(err, DatabaseError):
        # A message of our own around the server's: the server's state comes first.
        cause = err.__cause__
        known = (
            _condition(cause, describe(dsn), schema=False)
            if isinstance(cause, asyncpg.PostgresError)
            else None
        )
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


async def connect(
    dsn: str, *, timeout: float = 10, command_timeout: float = DIRECT_COMMAND_TIMEOUT, **kwargs: Any
) -> asyncpg.Connection:
    """One direct connection, with failures explained; every command on it has a bound."""
    reason = transaction_pooler_reason(dsn)
    if reason:
        raise PoolerNotSupported(reason)
    try:
        conn: asyncpg.Connection = await asyncpg.connect(
            dsn, timeout=timeout, command_timeout=command_timeout, **kwargs
        )
    except Exception as err:
        raise explain(err, dsn) from err
    keep_alive(conn)
    return conn


# When each pooled connection's server process started (see `Backend`), noted as it connects.
_STARTED: weakref.WeakKeyDictionary[asyncpg.Connection, Any] = weakref.WeakKeyDictionary()


async def _tune(conn: asyncpg.Connection) -> None:
    keep_alive(conn)


async def _tune_pooled(conn: asyncpg.Connection) -> None:
    keep_alive(conn)
    _STARTED[conn] = await conn.fetchval(
        "select backend_start from pg_catalog.pg_stat_activity where pid = pg_catalog.pg_backend_pid()"
    )


def abandon(conn: asyncpg.Connection) -> None:
    """Drop a connection without waiting for it (its server process ends when it
    notices, or when it is terminated)."""
    with suppress(Exception):
        conn.terminate()


async def act_as(
    conn: asyncpg.Connection, actor: Actor, *, operation: str | None = None, op_id: str | None = None
) -> Any:
    """In a transaction on `conn`: become the console role, presenting `actor`'s session; returns
    when the connection's server process started (see `Backend`)."""
    # One round trip; set_config('role', ..., true) is SET LOCAL ROLE.
    return await conn.fetchval(
        "select (select backend_start from pg_catalog.pg_stat_activity"
        "         where pid = pg_catalog.pg_backend_pid()),"
        " set_config('role', $1, true),"
        " set_config('backroom.session', $2, true),"
        " set_config('backroom.op', $3, true),"
        " set_config('backroom.op_id', $4, true)",
        CONSOLE_ROLE,
        actor.session or "",
        operation or "",
        op_id or "",
    )


@dataclass(frozen=True)
class Actor:
    """Who a transaction acts for. `staff_id`, `name` and `role` are what the console
    shows and checks first; Postgres acts for the owner of `session`, the token a
    sign-in handed out, and for nobody without one."""

    staff_id: int | None = None
    name: str = "system"
    role: Role | None = None
    session: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # A role read from the database comes as its name.
        if self.role is not None and not isinstance(self.role, Role):
            object.__setattr__(self, "role", Role(self.role))


_ACTING: ContextVar[Actor | None] = ContextVar("backroom_acting", default=None)


@contextmanager
def acting_for(actor: Actor) -> Iterator[None]:
    """Within this block a transaction given no actor acts for `actor` (an operation's own
    reads: what it may see is what `actor` may)."""
    token = _ACTING.set(actor)
    try:
        yield
    finally:
        _ACTING.reset(token)


class Database:
    """A pool of connections to one Postgres database."""

    def __init__(
        self, dsn: str, *, min_size: int = 1, max_size: int = 5, command_timeout: float = COMMAND_TIMEOUT
    ) -> None:
        self.dsn = dsn
        self.target = describe(dsn)
        self._min = min_size
        self._max = max_size
        self.command_timeout = command_timeout
        self._pool: asyncpg.Pool | None = None
        self.acting: Callable[[], Actor] | None = None
        """Who a transaction given no actor acts for: the console's signed-in staff member."""

    async def open(self) -> None:
        reason = transaction_pooler_reason(self.dsn)
        if reason:
            raise PoolerNotSupported(reason)
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self._min,
                max_size=self._max,
                timeout=10,
                command_timeout=self.command_timeout,
                init=_tune_pooled,
            )
        except Exception as err:
            raise explain(err, self.dsn) from err

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await within(pool.close(), 5)
            except (TimeoutError, asyncpg.PostgresError, OSError):
                pool.terminate()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("Database.open() has not been called")
        return self._pool

    async def listener_connection(self) -> asyncpg.Connection:
        """A dedicated connection, outside the pool, for LISTEN."""
        return await connect(self.dsn, command_timeout=self.command_timeout)

    async def _acquire(self) -> asyncpg.Connection:
        try:
            return cast(asyncpg.Connection, await self.pool.acquire(timeout=ACQUIRE_TIMEOUT))
        except asyncpg.PostgresError as err:
            if connection_lost(err):
                raise explain(OSError(str(err)), self.dsn) from err
            raise
        except (OSError, TimeoutError) as err:
            raise explain(err, self.dsn) from err

    async def _release(self, conn: asyncpg.Connection) -> None:
        """Back to the pool within a bound, else abandoned."""
        try:
            await within(self.pool.release(cast(Any, conn), timeout=RELEASE_TIMEOUT), RELEASE_TIMEOUT + 0.5)
        except (Exception, asyncio.CancelledError):
            abandon(conn)
            raise

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection as it logged in (no role taken), acquired and given back within
        bounds: health probes, and the owner's own work."""
        conn = await self._acquire()
        try:
            yield conn
        except BaseException as err:
            if connection_lost(err) or isinstance(err, asyncio.CancelledError | TimeoutError):
                abandon(conn)
            raise
        finally:
            await self._release_quietly(conn)

    async def direct(self) -> asyncpg.Connection:
        """A fresh connection outside the pool (whose connections may all be frozen)."""
        return await connect(self.dsn, timeout=self.command_timeout, command_timeout=self.command_timeout)

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
        """A transaction as the console role, tagged with who and what for the audit;
        without `actor`, for the one `acting_for` names, else whoever `acting` names
        (nobody if it is unset)."""
        actor = actor or _ACTING.get() or (self.acting() if self.acting is not None else Actor())
        conn = await self._acquire()
        tx = conn.transaction(isolation=isolation, readonly=readonly)
        backend: Backend | None = None
        committing = False
        try:
            await tx.start()
            started = await act_as(conn, actor, operation=operation, op_id=op_id)
            backend = Backend(conn.get_server_pid(), started)
            yield conn
            committing = True
            await tx.commit()
        except BaseException as err:
            if committing and not isinstance(err, asyncpg.PostgresError | DatabaseError):
                lost = True  # no answer to COMMIT: the connection cannot be trusted
            else:
                lost = connection_lost(err)
            if lost or isinstance(err, asyncio.CancelledError):
                abandon(conn)
            elif not committing:
                try:
                    await tx.rollback()
                except (Exception, asyncio.CancelledError):
                    abandon(conn)
            await self._release_quietly(conn)
            if lost and not isinstance(err, asyncio.CancelledError):
                raise ConnectionLost(
                    "The database stopped answering before this was done, so we cannot tell "
                    "whether it was saved."
                    if committing
                    else "The database stopped answering before this was done, so nothing was saved.",
                    maybe_committed=committing,
                    backend=backend,
                ) from err
            raise
        await self._release_quietly(conn)

    async def call(self, sql: str, *args: Any) -> Any:
        """One statement on its own (its own transaction), in one round trip: the
        database function it calls takes the role and presents the session itself.
        Its value; ConnectionLost (which may have committed) if no answer came."""
        conn = await self._acquire()
        raw = getattr(conn, "_con", conn)
        backend = Backend(conn.get_server_pid(), _STARTED.get(raw))
        try:
            value = await conn.fetchval(sql, *args)
        except BaseException as err:
            lost = not isinstance(err, asyncpg.PostgresError | asyncio.CancelledError) or connection_lost(err)
            if lost or isinstance(err, asyncio.CancelledError):
                abandon(conn)
            await self._release_quietly(conn)
            if lost:
                raise ConnectionLost(
                    "The database stopped answering before this was done, so we cannot tell "
                    "whether it was saved.",
                    maybe_committed=True,
                    backend=backend,
                ) from err
            raise
        await self._release_quietly(conn)
        return value

    async def _release_quietly(self, conn: asyncpg.Connection) -> None:
        with suppress(Exception):
            await self._release(conn)

    async def ended(self, conn: asyncpg.Connection, backend: Backend) -> bool:
        """Whether `backend` has certainly ended, asked on `conn` (another connection as
        the same login, before any SET ROLE): if it still runs it is terminated, and
        waited for within the command bound. False if that is not allowed or not done."""
        if await self._gone(conn, backend):
            return True
        wait_ms = int(max(0.5, self.command_timeout - 1) * 1000)
        try:
            with _no_warnings(conn):
                await conn.fetchval("select pg_catalog.pg_terminate_backend($1, $2)", backend.pid, wait_ms)
        except asyncpg.InsufficientPrivilegeError:
            return False
        return await self._gone(conn, backend)

    @staticmethod
    async def _gone(conn: asyncpg.Connection, backend: Backend) -> bool:
        rows = await conn.fetch(
            "select backend_start from pg_catalog.pg_stat_activity where pid = $1", backend.pid
        )
        if not rows:
            return True
        # A start time that is not the one noted is another process with the pid reused;
        # one this login may not see (null) could be either.
        started = rows[0]["backend_start"]
        return started is not None and backend.started is not None and started != backend.started


@contextmanager
def _no_warnings(conn: asyncpg.Connection) -> Iterator[None]:
    """pg_terminate_backend warns when it gives up waiting; that answer is read, not logged."""

    def ignore(_conn: Any, _message: Any) -> None:
        return None

    conn.add_log_listener(ignore)
    try:
        yield
    finally:
        conn.remove_log_listener(ignore)
