"""The live feed of changes: LISTEN on a dedicated connection, reconnect with
backoff and jitter, and a resync before reporting Live again.

NOTIFY is delivered only on commit and only to connected listeners, so after
any gap the caller's `resync` reloads the night; missed notifications are then
harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import asyncpg

from services.db import CHANGES_CHANNEL, DatabaseError

log = logging.getLogger(__name__)


class FeedState(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change, as announced by the database (never the row itself)."""

    kind: str
    id: int | None
    night: int | None
    tables: tuple[int, ...]
    op: str
    version: int | None = None
    received_at: float = field(default_factory=time.monotonic)

    @classmethod
    def parse(cls, payload: str) -> Change | None:
        try:
            data: dict[str, Any] = json.loads(payload)
            return cls(
                kind=str(data.get("kind", "")),
                id=_int_or_none(data.get("id")),
                night=_int_or_none(data.get("night")),
                tables=tuple(int(t) for t in data.get("tables") or ()),
                op=str(data.get("op", "")),
                version=_int_or_none(data.get("version")),
            )
        except (ValueError, TypeError, AttributeError):
            log.warning("ignoring a malformed change notification")
            return None


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True, slots=True)
class FeedStatus:
    state: FeedState
    attempt: int = 0
    since: float = field(default_factory=time.monotonic)
    error: str | None = None


class Transport(Protocol):
    """How changes reach a console; LISTEN/NOTIFY here, others may follow."""

    async def open(self, on_payload: Callable[[str], None], on_lost: Callable[[str], None]) -> None: ...
    async def ping(self) -> None: ...
    async def close(self) -> None: ...


class ListenTransport:
    """LISTEN on a dedicated asyncpg connection (never a pooled one)."""

    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]],
                 channel: str = CHANGES_CHANNEL) -> None:
        self._connect = connect
        self._channel = channel
        self._conn: asyncpg.Connection | None = None

    async def open(self, on_payload: Callable[[str], None], on_lost: Callable[[str], None]) -> None:
        conn = await self._connect()
        self._conn = conn

        def deliver(_conn: object, _pid: int, _channel: str, payload: object) -> None:
            on_payload(str(payload))

        def terminated(_conn: Any) -> None:
            on_lost("the connection closed")

        conn.add_termination_listener(terminated)
        await conn.add_listener(self._channel, deliver)

    async def ping(self) -> None:
        if self._conn is None or self._conn.is_closed():
            raise ConnectionError("not connected")
        await self._conn.fetchval("select 1")

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()


class ChangeFeed:
    """Keeps a transport connected and hands each change to `on_change`.

    `resync` is awaited after every (re)connection, before the state turns
    Live, so the caller's view is complete when it says Live.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        on_change: Callable[[Change], None],
        on_status: Callable[[FeedStatus], None],
        resync: Callable[[], Awaitable[None]],
        ping_every: float = 2.0,
        ping_timeout: float = 2.5,
        backoff_base: float = 0.25,
        backoff_cap: float = 10.0,
    ) -> None:
        self._transport = transport
        self._on_change = on_change
        self._on_status = on_status
        self._resync = resync
        self._ping_every = ping_every
        self._ping_timeout = ping_timeout
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._lost: asyncio.Event = asyncio.Event()
        self._lost_reason = ""
        self._stopping = False
        self.status = FeedStatus(FeedState.CONNECTING)
        self.reconnects = 0
        self._connected_once = False
        self.last_event_at: float | None = None

    def _set_status(self, status: FeedStatus) -> None:
        self.status = status
        self._on_status(status)

    def _deliver(self, payload: str) -> None:
        change = Change.parse(payload)
        if change is not None:
            self.last_event_at = change.received_at
            self._on_change(change)

    def _mark_lost(self, reason: str) -> None:
        self._lost_reason = reason
        self._lost.set()

    def backoff(self, attempt: int) -> float:
        """Full jitter: a random wait up to an exponentially growing cap."""
        ceiling: float = min(self._backoff_cap, self._backoff_base * 2 ** max(0, attempt - 1))
        return float(random.uniform(ceiling / 2, ceiling))

    async def run(self) -> None:
        attempt = 0
        while not self._stopping:
            self._lost = asyncio.Event()
            try:
                await self._transport.open(self._deliver, self._mark_lost)
                await self._resync()
            except (OSError, asyncpg.PostgresError, DatabaseError, TimeoutError,
                    asyncpg.InterfaceError) as err:
                await self._transport.close()
                attempt += 1
                self._set_status(FeedStatus(FeedState.RECONNECTING if attempt < 3 else FeedState.OFFLINE,
                                            attempt=attempt, error=str(err)))
                await asyncio.sleep(self.backoff(attempt))
                continue
            if self._connected_once:
                self.reconnects += 1
            self._connected_once = True
            attempt = 0
            self._set_status(FeedStatus(FeedState.LIVE))
            await self._watch()
            await self._transport.close()
            if self._stopping:
                break
            attempt = 1
            self._set_status(FeedStatus(FeedState.RECONNECTING, attempt=attempt, error=self._lost_reason))
            await asyncio.sleep(self.backoff(attempt))
        self._set_status(FeedStatus(FeedState.OFFLINE))

    async def _watch(self) -> None:
        """Return once the connection is lost (closed, or silent past the ping timeout)."""
        while not self._stopping:
            try:
                await asyncio.wait_for(self._lost.wait(), timeout=self._ping_every)
                return
            except TimeoutError:
                pass
            try:
                await asyncio.wait_for(self._transport.ping(), timeout=self._ping_timeout)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError,
                    ConnectionError) as err:
                self._lost_reason = f"no answer from the server ({type(err).__name__})"
                return

    async def stop(self) -> None:
        self._stopping = True
        self._lost.set()
        with contextlib.suppress(Exception):
            await self._transport.close()
