"""Who else is at a console: the staff member signed in and their role, the
screen they are on, the table they have selected and the one they hold.

`Presence` is the small interface a screen uses; `PostgresPresence` is the
implementation on Postgres, so a Supabase Realtime presence channel can take
its place later.

How the Postgres one works: each console keeps one dedicated connection (its
`application_name` is `backroom-presence`) and, every `beat_every` seconds and
at once when something it announces changes, calls
`backroom.presence_beat(...)`, which upserts its row in `backroom.presence`
with the time and the connection's backend pid, clears the rows of consoles
that are gone, and NOTIFYs `backroom_presence` when anything changed. Every
console re-reads the roster on that notification and on its own beat. A row
counts only while its beat is younger than `ttl` seconds and its backend is
alive, so:

- a console that signs off says goodbye (`presence_leave`): gone at once;
- a console killed outright (its connection closes with it): gone at the next
  beat of any console, within `beat_every` seconds;
- a console that hangs with its connection open: gone once its last beat is
  older than `ttl`, within `ttl + beat_every` seconds (13 s by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

import asyncpg

from services.live.feed import jittered_backoff
from services.store.db import CONSOLE_ROLE, Actor
from services.waiting import within
from services.wording import error_reason

log = logging.getLogger(__name__)

PRESENCE_CHANNEL = "backroom_presence"
PRESENCE_APPLICATION = "backroom-presence"


@dataclass(frozen=True, slots=True)
class Whereabouts:
    """What a console announces about itself besides who is signed in."""

    screen: str | None = None
    night_id: int | None = None
    selected_table: int | None = None
    held_table: int | None = None


@dataclass(frozen=True, slots=True)
class PresenceEntry:
    """One console that is online, as the others see it."""

    console_id: str
    staff_id: int | None
    staff_name: str
    role: str | None
    screen: str | None
    night_id: int | None
    selected_table: int | None
    held_table: int | None
    since: datetime
    last_seen: datetime

    def _same_night(self, night_id: int | None) -> bool:
        return night_id is None or self.night_id is None or self.night_id == night_id

    def looks_at(self, table_id: int, night_id: int | None = None) -> bool:
        return self.selected_table == table_id and self._same_night(night_id)

    def holds(self, table_id: int, night_id: int | None = None) -> bool:
        return self.held_table == table_id and self._same_night(night_id)

    def _key(self) -> tuple[Any, ...]:
        # Everything but last_seen, which moves with every beat.
        return (
            self.console_id,
            self.staff_id,
            self.staff_name,
            self.role,
            self.screen,
            self.night_id,
            self.selected_table,
            self.held_table,
            self.since,
        )


def looking_at(
    entries: Iterable[PresenceEntry], table_id: int, night_id: int | None = None
) -> list[PresenceEntry]:
    """Who has this table selected (on this night, if given)."""
    return [e for e in entries if e.looks_at(table_id, night_id)]


def holding(
    entries: Iterable[PresenceEntry], table_id: int, night_id: int | None = None
) -> list[PresenceEntry]:
    """Who says they hold this table (on this night, if given)."""
    return [e for e in entries if e.holds(table_id, night_id)]


class _Keep(Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP
"""Default of `announce`'s arguments: leave that field as it is."""


class Presence(Protocol):
    """Announce this console; see the others. Nothing here awaits the network
    except `run` (the background task) and `stop` (which says goodbye)."""

    console_id: str

    @property
    def connected(self) -> bool: ...

    def online(self) -> tuple[PresenceEntry, ...]: ...

    def others(self) -> tuple[PresenceEntry, ...]: ...

    def announce(
        self,
        *,
        actor: Actor | _Keep = KEEP,
        screen: str | _Keep | None = KEEP,
        night_id: int | _Keep | None = KEEP,
        selected_table: int | _Keep | None = KEEP,
        held_table: int | _Keep | None = KEEP,
    ) -> None: ...

    async def run(self) -> None: ...

    async def stop(self) -> None: ...


_ROSTER = """
    select p.console_id::text as console_id, p.staff_id, p.staff_name, p.role, p.screen,
           p.night_id, p.selected_table, p.held_table, p.started_at as since, p.last_seen
    from backroom.presence p
    where p.last_seen > clock_timestamp() - make_interval(secs => $1::float8)
      and exists (select from pg_stat_activity a where a.pid = p.backend_pid)
    order by p.staff_name, p.started_at, p.console_id
"""

# The staff member is the connection's own (backroom.current_staff_id()), never an argument.
_BEAT = "select backroom.presence_beat($1::uuid, $2::text, $3::int, $4::smallint, $5::smallint, $6::float8)"
_AS_STAFF = "select set_config('backroom.session', $1, false)"


class Announcing:
    """What every presence implementation keeps and tells its screens: who is
    here, and what this console announces. Subclasses do the sending."""

    console_id: str
    _actor: Actor
    _whereabouts: Whereabouts
    _entries: tuple[PresenceEntry, ...]
    _dirty: bool
    _wake: asyncio.Event
    _on_change: Callable[[tuple[PresenceEntry, ...]], None] | None
    _backoff_base: float
    _backoff_cap: float

    @property
    def actor(self) -> Actor:
        return self._actor

    @property
    def whereabouts(self) -> Whereabouts:
        return self._whereabouts

    def online(self) -> tuple[PresenceEntry, ...]:
        return self._entries

    def others(self) -> tuple[PresenceEntry, ...]:
        return tuple(e for e in self._entries if e.console_id != self.console_id)

    def announce(
        self,
        *,
        actor: Actor | _Keep = KEEP,
        screen: str | _Keep | None = KEEP,
        night_id: int | _Keep | None = KEEP,
        selected_table: int | _Keep | None = KEEP,
        held_table: int | _Keep | None = KEEP,
    ) -> None:
        """Change what this console announces; sent at once by the background task."""
        before = (self._actor, self._whereabouts)
        if not isinstance(actor, _Keep):
            self._actor = actor
        w = self._whereabouts
        if not isinstance(screen, _Keep):
            w = replace(w, screen=screen)
        if not isinstance(night_id, _Keep):
            w = replace(w, night_id=night_id)
        if not isinstance(selected_table, _Keep):
            w = replace(w, selected_table=selected_table)
        if not isinstance(held_table, _Keep):
            w = replace(w, held_table=held_table)
        self._whereabouts = w
        if (self._actor, self._whereabouts) != before:
            self._dirty = True
            self._wake.set()

    def backoff(self, attempt: int) -> float:
        return jittered_backoff(attempt, self._backoff_base, self._backoff_cap)

    def _set_entries(self, entries: tuple[PresenceEntry, ...]) -> None:
        changed = [e._key() for e in entries] != [e._key() for e in self._entries]
        self._entries = entries
        if changed and self._on_change is not None:
            try:
                self._on_change(entries)
            except Exception:
                log.exception("a presence listener failed")


class PostgresPresence(Announcing):
    """Presence through `backroom.presence` on a dedicated connection.

    `connect` opens a new connection (e.g. `Database.listener_connection`);
    `on_change` is called with the whole roster (this console included)
    whenever someone joins, leaves or announces something new.
    """

    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        actor: Actor,
        *,
        on_change: Callable[[tuple[PresenceEntry, ...]], None] | None = None,
        whereabouts: Whereabouts | None = None,
        console_id: str | None = None,
        beat_every: float = 3.0,
        ttl: float = 10.0,
        open_timeout: float = 5.0,
        query_timeout: float = 5.0,
        backoff_base: float = 0.25,
        backoff_cap: float = 10.0,
    ) -> None:
        self.console_id = console_id or str(uuid.uuid4())
        self._connect = connect
        self._actor = actor
        self._whereabouts = whereabouts or Whereabouts()
        self._on_change = on_change
        self._beat_every = beat_every
        self._ttl = ttl
        self._open_timeout = open_timeout
        self._query_timeout = query_timeout
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._entries: tuple[PresenceEntry, ...] = ()
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._finished = asyncio.Event()
        self._running = False
        self._stopping = False
        self._dirty = True
        self._refresh_wanted = True
        self._lost_reason: str | None = None
        self._conn: asyncpg.Connection | None = None
        self._announced_as: str | None = None
        self._disconnected_at: float | None = None
        self.beats = 0
        self.error: str | None = None

    # ------------------------------------------------------------------ what screens use

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    # ------------------------------------------------------------------ the background task

    async def run(self) -> None:
        """Keep announcing until `stop()`; reconnect with backoff when the connection fails."""
        self._running = True
        self._finished.clear()
        attempt = 0
        try:
            while not self._stopping:
                try:
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel.
                    async with asyncio.timeout(self._open_timeout):
                        conn = await self._open()
                except Exception as err:
                    attempt += 1
                    self._disconnected(f"cannot connect: {error_reason(err)}")
                    await self._pause(self.backoff(attempt))
                    continue
                attempt = 0
                try:
                    await self._session(conn)
                except Exception as err:
                    self._disconnected(error_reason(err))
                finally:
                    # Also on cancellation: a console that dies takes its connection with it.
                    self._conn = None
                    conn.terminate()
                if not self._stopping:
                    attempt = 1
                    await self._pause(self.backoff(attempt))
        finally:
            self._running = False
            self._finished.set()

    async def stop(self, timeout: float = 2.0) -> None:
        """Say goodbye (so the others drop this console at once) and close."""
        self._stopping = True
        self._stopped.set()
        self._wake.set()
        if self._running:
            with contextlib.suppress(TimeoutError):
                await within(self._finished.wait(), timeout)
        conn = self._conn
        if conn is not None:
            conn.terminate()

    async def _open(self) -> asyncpg.Connection:
        conn = await self._connect()
        try:
            await conn.execute(
                "select set_config('application_name', $1, false), set_config('role', $2, false)",
                PRESENCE_APPLICATION,
                CONSOLE_ROLE,
            )
            await conn.add_listener(PRESENCE_CHANNEL, self._heard)
        except BaseException:
            conn.terminate()
            raise
        return conn

    def _heard(self, _conn: object, pid: int, _channel: str, _payload: object) -> None:
        conn = self._conn
        if conn is not None and pid == conn.get_server_pid():
            return  # our own beat: we refresh after it anyway
        self._refresh_wanted = True
        self._wake.set()

    async def _session(self, conn: asyncpg.Connection) -> None:
        lost = asyncio.Event()

        def closed(_conn: Any) -> None:
            lost.set()
            self._wake.set()

        conn.add_termination_listener(closed)
        self._conn = conn
        self._announced_as = None  # a new connection has nobody set yet
        self._dirty = True
        next_beat = 0.0
        while True:
            if lost.is_set():
                raise ConnectionError("the connection closed")
            if self._stopping:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(1.0):
                        await conn.execute("select backroom.presence_leave($1::uuid)", self.console_id)
                return
            if self._dirty or time.monotonic() >= next_beat:
                self._dirty = False
                async with asyncio.timeout(self._query_timeout):
                    await self._beat(conn)
                next_beat = time.monotonic() + self._beat_every
                self._refresh_wanted = True
                self._disconnected_at = None
                self.error = None
            if self._refresh_wanted:
                self._refresh_wanted = False
                async with asyncio.timeout(self._query_timeout):
                    await self._refresh(conn)
            if self._dirty or self._refresh_wanted or lost.is_set() or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_beat - time.monotonic())):
                    await self._wake.wait()
            self._wake.clear()

    async def _beat(self, conn: asyncpg.Connection) -> None:
        """Announce the staff member signed in; with nobody signed in, nobody: the
        console leaves the roster until someone signs in. The row is this
        connection's staff member's (the session presented here), whatever the
        console claims."""
        a, w = self._actor, self._whereabouts
        if a.session != self._announced_as:
            if a.session is None and self._announced_as is not None:
                # On the connection that announced it: nobody else may take the row away.
                await conn.execute("select backroom.presence_leave($1::uuid)", self.console_id)
            await conn.execute(_AS_STAFF, a.session or "")
            self._announced_as = a.session
        if a.session is not None:
            await conn.fetchval(
                _BEAT, self.console_id, w.screen, w.night_id, w.selected_table, w.held_table, self._ttl
            )
        self.beats += 1

    async def _refresh(self, conn: asyncpg.Connection) -> None:
        rows = await conn.fetch(_ROSTER, self._ttl)
        self._set_entries(tuple(PresenceEntry(**dict(r)) for r in rows))

    def _disconnected(self, reason: str) -> None:
        self.error = reason
        if self._disconnected_at is None:
            self._disconnected_at = time.monotonic()
        log.info("presence connection lost: %s", reason)

    async def _pause(self, delay: float) -> None:
        """Wait before retrying; past `ttl` without a connection, the roster is too old to show."""
        until = time.monotonic() + delay
        while not self._stopping:
            now = time.monotonic()
            if (
                self._entries
                and self._disconnected_at is not None
                and now - self._disconnected_at >= self._ttl
            ):
                self._set_entries(())
            if now >= until:
                return
            wake = until
            if self._entries and self._disconnected_at is not None:
                wake = min(wake, self._disconnected_at + self._ttl)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, wake - now)):
                    await self._stopped.wait()
