"""The live feed of changes: LISTEN on a dedicated connection, reconnect with
backoff and jitter, and a resync before reporting Live again.

NOTIFY is delivered only on commit and only to connected listeners, so after
any gap the caller's `resync` reloads the night; missed notifications are then
harmless.

A connection can also die without a word (a hung network, a server that
vanished: no RST, no bytes). The feed pings every `ping_every` seconds and
gives a ping `ping_timeout` seconds, so such a death is noticed at most
`ping_every + ping_timeout` seconds after the last sign of life (4 s with the
defaults; the issue asks for 5).

The feed also measures commit-to-console latency: each notification carries
the server's clock at the change (`ts`), and the pings estimate the offset
between the server's clock and ours (NTP-style, from the fastest recent ping).

`ChangeBatcher` merges bursts of changes per table before they reach a screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

import asyncpg

from services.store.db import CHANGES_CHANNEL
from services.waiting import within
from services.wording import error_reason

log = logging.getLogger(__name__)

LISTEN_APPLICATION = "backroom-listen"
"""application_name of every LISTEN connection: how health counts listeners."""


class FeedState(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change, as announced by the database (never the row itself).

    `committed_at` is the server's clock at the change, in seconds since the
    epoch (at or just before the commit); None from an older server schema.
    """

    kind: str
    id: int | None
    night: int | None
    tables: tuple[int, ...]
    op: str
    version: int | None = None
    received_at: float = field(default_factory=time.monotonic)
    committed_at: float | None = None

    @classmethod
    def parse(cls, payload: str) -> Change | None:
        try:
            data: dict[str, Any] = json.loads(payload)
            ts = data.get("ts")
            return cls(
                kind=str(data.get("kind", "")),
                id=_int_or_none(data.get("id")),
                night=_int_or_none(data.get("night")),
                tables=tuple(int(t) for t in data.get("tables") or ()),
                op=str(data.get("op", "")),
                version=_int_or_none(data.get("version")),
                committed_at=None if ts is None else float(ts),
            )
        except (ValueError, TypeError, AttributeError):
            log.warning("ignoring a malformed change notification")
            return None


def jittered_backoff(attempt: int, base: float, cap: float) -> float:
    """A random wait between half and all of an exponentially growing, capped ceiling."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return float(random.uniform(ceiling / 2, ceiling))


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """What the connection badge shows.

    `attempt` counts reconnection attempts in the current outage; `down_since`
    (monotonic) is when the outage began; `retry_at` (monotonic) is when the
    next attempt starts, if one is waiting.
    """

    state: FeedState
    attempt: int = 0
    since: float = field(default_factory=time.monotonic)
    error: str | None = None
    down_since: float | None = None
    retry_at: float | None = None


class Transport(Protocol):
    """How changes reach a console; LISTEN/NOTIFY here, others may follow.

    `open` delivers each payload to `on_payload` and calls `on_lost` once if
    the connection ends by itself. `ping` proves the path is alive end to end
    and returns the server's clock (seconds since the epoch) if it knows it,
    else None. `close` must not block on a dead connection.
    """

    async def open(self, on_payload: Callable[[str], None], on_lost: Callable[[str], None]) -> None: ...
    async def ping(self) -> float | None: ...
    async def close(self) -> None: ...


class ListenTransport:
    """LISTEN on a dedicated asyncpg connection (never a pooled one)."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        channel: str = CHANGES_CHANNEL,
        *,
        application_name: str = LISTEN_APPLICATION,
    ) -> None:
        self._connect = connect
        self._channel = channel
        self._application_name = application_name
        self._conn: asyncpg.Connection | None = None

    async def open(self, on_payload: Callable[[str], None], on_lost: Callable[[str], None]) -> None:
        conn = await self._connect()
        self._conn = conn

        def deliver(_conn: object, _pid: int, _channel: str, payload: object) -> None:
            on_payload(str(payload))

        def terminated(_conn: Any) -> None:
            on_lost("the connection closed")

        try:
            conn.add_termination_listener(terminated)
            await conn.execute("select set_config('application_name', $1, false)", self._application_name)
            await conn.add_listener(self._channel, deliver)
        except BaseException:
            self._conn = None
            conn.terminate()
            raise

    async def ping(self) -> float:
        conn = self._conn
        if conn is None or conn.is_closed():
            raise ConnectionError("not connected")
        return float(await conn.fetchval("select extract(epoch from clock_timestamp())::float8"))

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            # terminate, not close: a hung peer would never answer a goodbye.
            conn.terminate()


# Latency ------------------------------------------------------------------------------


def percentile(ordered: list[float], p: float) -> float:
    """Linear interpolation between closest ranks; `ordered` must be sorted and non-empty."""
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Percentiles of the recent window, in seconds; None when there are no samples."""

    count: int
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None


class LatencyStats:
    """A sliding window of latencies (seconds)."""

    def __init__(self, window: int = 2000) -> None:
        self._samples: deque[float] = deque(maxlen=window)
        self.total = 0

    def add(self, seconds: float) -> None:
        self._samples.append(seconds)
        self.total += 1

    def summary(self) -> LatencySummary:
        if not self._samples:
            return LatencySummary(count=0)
        ordered = sorted(self._samples)
        return LatencySummary(
            count=len(ordered),
            p50=percentile(ordered, 50),
            p95=percentile(ordered, 95),
            p99=percentile(ordered, 99),
            max=ordered[-1],
        )


class ClockOffset:
    """The server's clock minus ours, from ping round trips.

    Each ping gives (server time, our time before, our time after); the
    offset estimate is the server time minus the midpoint, and its error is
    at most half the round trip, so the fastest recent ping is trusted.
    """

    def __init__(self, keep: int = 16) -> None:
        self._samples: deque[tuple[float, float]] = deque(maxlen=keep)

    def add(self, server: float, sent: float, received: float) -> None:
        rtt = max(0.0, received - sent)
        self._samples.append((rtt, server - (sent + received) / 2))

    @property
    def known(self) -> bool:
        return bool(self._samples)

    @property
    def offset(self) -> float:
        if not self._samples:
            return 0.0
        return min(self._samples)[1]

    @property
    def error_bound(self) -> float | None:
        return min(self._samples)[0] / 2 if self._samples else None


# The feed ---------------------------------------------------------------------------


class ChangeFeed:
    """Keeps a transport connected and hands each change to `on_change`.

    `resync` is awaited after every (re)connection, before the state turns
    Live, so the caller's view is complete when it says Live.

    States: Connecting until the first Live; Reconnecting (attempt n) while it
    retries; Offline once an outage has lasted `offline_after` seconds (it
    keeps retrying), and after `stop()`.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        on_change: Callable[[Change], None],
        on_status: Callable[[FeedStatus], None],
        resync: Callable[[], Awaitable[None]],
        ping_every: float = 1.5,
        ping_timeout: float = 2.5,
        open_timeout: float = 5.0,
        resync_timeout: float = 15.0,
        offline_after: float = 10.0,
        backoff_base: float = 0.25,
        backoff_cap: float = 10.0,
    ) -> None:
        self._transport = transport
        self._on_change = on_change
        self._on_status = on_status
        self._resync = resync
        self._ping_every = ping_every
        self._ping_timeout = ping_timeout
        self._open_timeout = open_timeout
        self._resync_timeout = resync_timeout
        self._offline_after = offline_after
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._lost: asyncio.Event = asyncio.Event()
        self._stopped: asyncio.Event = asyncio.Event()
        self._lost_reason = ""
        self._stopping = False
        self._down_since: float | None = None
        self.status = FeedStatus(FeedState.CONNECTING)
        self.reconnects = 0
        """Successful reconnections after the first connection."""
        self._connected_once = False
        self.last_event_at: float | None = None
        """Monotonic time the last change arrived."""
        self.last_alive_at: float | None = None
        """Monotonic time the connection last proved alive (a pong, a change, a resync)."""
        self.latency = LatencyStats()
        """Commit-to-console latency of recent changes, in seconds."""
        self.clock = ClockOffset()

    @property
    def detection_bound(self) -> float:
        """The longest a silent connection can go unnoticed, in seconds."""
        return self._ping_every + self._ping_timeout

    def age_of_data(self, now: float | None = None) -> float | None:
        """Seconds since what the console shows was last known complete (None: never)."""
        if self.last_alive_at is None:
            return None
        return max(0.0, (time.monotonic() if now is None else now) - self.last_alive_at)

    def age_of_last_event(self, now: float | None = None) -> float | None:
        if self.last_event_at is None:
            return None
        return max(0.0, (time.monotonic() if now is None else now) - self.last_event_at)

    def since_commit(self, change: Change, wall_now: float | None = None) -> float | None:
        """Seconds from the change's commit to now (or `wall_now`), on the server's clock."""
        if change.committed_at is None:
            return None
        now = time.time() if wall_now is None else wall_now
        return now + self.clock.offset - change.committed_at

    def _set_status(self, status: FeedStatus) -> None:
        self.status = status
        self._on_status(status)

    def _deliver(self, payload: str) -> None:
        change = Change.parse(payload)
        if change is None:
            return
        self.last_event_at = self.last_alive_at = change.received_at
        elapsed = self.since_commit(change)
        # More than a second "from the future" means a broken clock estimate, not a fast network.
        if elapsed is not None and elapsed > -1.0:
            self.latency.add(max(0.0, elapsed))
        self._on_change(change)

    def backoff(self, attempt: int) -> float:
        return jittered_backoff(attempt, self._backoff_base, self._backoff_cap)

    async def run(self) -> None:
        attempt = 0
        self._down_since = time.monotonic()
        while not self._stopping:
            lost = asyncio.Event()
            self._lost = lost

            def on_lost(reason: str, lost: asyncio.Event = lost) -> None:
                # Bound to this connection: a late callback cannot end the next one.
                if not lost.is_set():
                    self._lost_reason = reason
                    lost.set()

            try:
                await self._offline_on_time(self._connect_and_resync(on_lost))
            except Exception as err:
                await self._close_transport()
                if self._stopping:
                    break
                attempt += 1
                await self._retry_later(attempt, error_reason(err))
                continue
            if self._stopping:
                break
            self.last_alive_at = time.monotonic()
            if self._connected_once:
                self.reconnects += 1
            self._connected_once = True
            attempt = 0
            self._down_since = None
            self._set_status(FeedStatus(FeedState.LIVE))
            await self._watch(lost)
            if self._stopping:
                break
            self._down_since = time.monotonic()
            attempt = 1
            # Say so before closing: closing must not delay the badge.
            await self._retry_later(attempt, self._lost_reason, close_first=True)
        await self._close_transport()
        self._set_status(FeedStatus(FeedState.OFFLINE))

    async def _connect_and_resync(self, on_lost: Callable[[str], None]) -> None:
        await within(self._transport.open(self._deliver, on_lost), self._open_timeout)
        await self._ping()
        if self._stopping:
            return
        await within(self._resync(), self._resync_timeout)

    async def _offline_on_time(self, attempt: Awaitable[None]) -> None:
        """Await a (re)connection attempt, turning Offline on time if the outage
        outlasts `offline_after` while the attempt is still under way."""
        task = asyncio.ensure_future(attempt)
        try:
            while True:
                wait = None
                if self.status.state is FeedState.RECONNECTING and self._down_since is not None:
                    wait = max(0.0, self._down_since + self._offline_after - time.monotonic())
                done, _ = await asyncio.wait({task}, timeout=wait)
                if done:
                    return task.result()
                if self._outage_state() is not self.status.state:
                    self._set_status(replace(self.status, state=self._outage_state(), since=time.monotonic()))
        finally:
            if not task.done():
                task.cancel()

    def _outage_state(self) -> FeedState:
        down = self._down_since
        if down is not None and time.monotonic() - down >= self._offline_after:
            return FeedState.OFFLINE
        return FeedState.RECONNECTING

    async def _retry_later(self, attempt: int, reason: str, *, close_first: bool = False) -> None:
        delay = self.backoff(attempt)
        retry_at = time.monotonic() + delay

        def status() -> FeedStatus:
            return FeedStatus(
                self._outage_state(),
                attempt=attempt,
                error=reason,
                down_since=self._down_since,
                retry_at=retry_at,
            )

        self._set_status(status())
        if close_first:
            await self._close_transport()
        # Wait for the retry, turning Offline on time if the outage outlasts `offline_after`.
        while not self._stopping:
            now = time.monotonic()
            if now >= retry_at:
                return
            wake = retry_at
            if self.status.state is FeedState.RECONNECTING and self._down_since is not None:
                wake = min(wake, self._down_since + self._offline_after)
            with contextlib.suppress(TimeoutError):
                await within(self._stopped.wait(), max(0.0, wake - now))
            if not self._stopping and self._outage_state() is not self.status.state:
                self._set_status(status())

    async def _ping(self) -> None:
        sent = time.time()
        server = await within(self._transport.ping(), self._ping_timeout)
        received = time.time()
        self.last_alive_at = time.monotonic()
        if server is not None:
            self.clock.add(server, sent, received)

    async def _watch(self, lost: asyncio.Event) -> None:
        """Return once the connection is lost (closed, or silent past the ping timeout)."""
        while not self._stopping:
            try:
                await within(lost.wait(), self._ping_every)
                return
            except TimeoutError:
                pass
            try:
                await self._ping()
            except Exception as err:
                self._lost_reason = f"no answer from the server ({error_reason(err)})"
                return

    async def _close_transport(self) -> None:
        try:
            await within(self._transport.close(), 2)
        except Exception as err:
            log.warning("closing the change transport failed: %s", error_reason(err))

    async def stop(self) -> None:
        self._stopping = True
        self._stopped.set()
        self._lost.set()
        await self._close_transport()


# Bursts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """Changes merged over one flush interval: what to reload, not each change.

    `everything` is set when a change was not tied to tables (a night, the
    layout, a guest's name) or a full reload was asked for: reload the lot.
    `nights` may hold None for a table change whose night the database could
    not name (a booking deleted with its tables).
    """

    tables: frozenset[int]
    nights: frozenset[int | None]
    kinds: frozenset[str]
    changes: int
    everything: bool
    first_at: float
    last_at: float

    def concerns(self, night_id: int | None) -> bool:
        return self.everything or night_id is None or night_id in self.nights or None in self.nights


NIGHT_KINDS = frozenset(
    {"headcount", "alert", "alert_dismissal", "guest_list", "guest_list_name", "ban", "door_count_event"}
)
"""Changes of the night beside the tables (services/night) that touch no table tile."""


class ChangeBatcher:
    """Collects changes and flushes them, merged, at most once every `every` seconds.

    The first change after a quiet spell is flushed at once (on the next turn
    of the loop, so changes that arrive together are merged); during a burst
    one flush per interval carries everything since the last one. If `flush`
    returns an awaitable, the next flush waits until it is done, and what
    arrives meanwhile goes into that next flush: a slow consumer gets bigger
    batches, never a queue, and always a flush after the last change.

    Call from the event loop thread only (a feed's `on_change` is).
    """

    def __init__(self, flush: Callable[[ChangeBatch], object], *, every: float = 0.1) -> None:
        self._flush = flush
        self._every = every
        self._reset()
        self._last_flush = float("-inf")
        self._timer: asyncio.TimerHandle | None = None
        self._inflight: asyncio.Future[Any] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self.flushes = 0
        self.received = 0

    def _reset(self) -> None:
        self._tables: set[int] = set()
        self._nights: set[int | None] = set()
        self._kinds: set[str] = set()
        self._count = 0
        self._everything = False
        self._first_at: float | None = None
        self._last_at = 0.0

    @property
    def pending(self) -> int:
        return self._count

    def add(self, change: Change) -> None:
        if self._closed:
            return
        self.received += 1
        self._count += 1
        self._kinds.add(change.kind)
        if change.tables:
            self._tables.update(change.tables)
            self._nights.add(change.night)
        elif change.kind in NIGHT_KINDS:
            # Nothing on the floor plan changed, so no night's floor reloads for it: the
            # batch's kinds tell a screen that shows the count, a list or an alert.
            pass
        else:
            self._everything = True
            if change.night is not None:
                self._nights.add(change.night)
        now = time.monotonic()
        self._first_at = now if self._first_at is None else self._first_at
        self._last_at = now
        self._schedule()

    def reload_all(self) -> None:
        """Ask for a flush that reloads everything."""
        if self._closed:
            return
        self._everything = True
        self._count += 1
        now = time.monotonic()
        self._first_at = now if self._first_at is None else self._first_at
        self._last_at = now
        self._schedule()

    def clear(self) -> None:
        """Forget what is pending (a full reload has just covered it).

        A flush already being applied still finishes: a consumer that also
        reloads in full should number its reads and keep the newest.
        """
        self._reset()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._inflight is None:
            self._idle.set()

    def _schedule(self) -> None:
        self._idle.clear()
        if self._timer is not None or self._inflight is not None:
            return
        loop = asyncio.get_running_loop()
        delay = self._last_flush + self._every - time.monotonic()
        if delay <= 0:
            self._timer = loop.call_later(0, self._fire)
        else:
            self._timer = loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        if self._count == 0 or self._closed:
            if self._inflight is None:
                self._idle.set()
            return
        batch = ChangeBatch(
            tables=frozenset(self._tables),
            nights=frozenset(self._nights),
            kinds=frozenset(self._kinds),
            changes=self._count,
            everything=self._everything,
            first_at=self._first_at if self._first_at is not None else self._last_at,
            last_at=self._last_at,
        )
        self._reset()
        self._last_flush = time.monotonic()
        self.flushes += 1
        try:
            result = self._flush(batch)
        except Exception:
            log.exception("a change batch could not be applied")
            result = None
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._inflight = task
            task.add_done_callback(self._applied)
        elif self._count:
            self._schedule()
        else:
            self._idle.set()

    def _applied(self, task: asyncio.Future[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("a change batch could not be applied", exc_info=task.exception())
        if self._inflight is task:
            self._inflight = None
        if self._count and not self._closed:
            self._schedule()
        elif self._inflight is None:
            self._idle.set()

    async def drain(self) -> None:
        """Wait until everything added so far has been flushed and applied."""
        await self._idle.wait()

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._inflight is not None:
            self._inflight.cancel()
            self._inflight = None
        self._reset()
        self._idle.set()
