"""Health figures for the support screen and `backroom health --json`.

What the live feed measured (commit-to-console latency, reconnects, the age
of the last event and of the data shown) and what the server says now
(reachable, version, connections to this database, listeners, how full the
NOTIFY queue is). `gather_health` reads both; `check` also opens and closes
the database itself, for the command line.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg

from services.live.feed import LISTEN_APPLICATION, ChangeFeed, FeedState, LatencyStats, LatencySummary
from services.live.presence import PRESENCE_APPLICATION
from services.store.db import Database, DatabaseError, describe, explain
from services.waiting import within

PROBE_CHANNEL = "backroom_health_probe"
MAX_PROBE = 1000
"""NOTIFY round trips one check may time: a few seconds' worth."""


@dataclass(frozen=True, slots=True)
class LatencyFigures:
    """Percentiles in milliseconds; None when there were no samples."""

    samples: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None

    @classmethod
    def of(cls, summary: LatencySummary) -> LatencyFigures:
        def ms(value: float | None) -> float | None:
            return None if value is None else round(value * 1000, 2)

        return cls(
            samples=summary.count,
            p50_ms=ms(summary.p50),
            p95_ms=ms(summary.p95),
            p99_ms=ms(summary.p99),
            max_ms=ms(summary.max),
        )


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """What this console's live feed knows (None in a report made without a feed)."""

    state: str
    attempt: int
    reconnects: int
    last_event_age_s: float | None
    data_age_s: float | None
    commit_to_console: LatencyFigures
    clock_offset_ms: float | None
    detection_bound_s: float
    offline_s: float | None = None
    """Seconds since the outage began (None while Live, or if unknown)."""
    retry_in_s: float | None = None
    """Seconds to the next reconnection attempt; 0 while one is under way; None when none."""


@dataclass(frozen=True, slots=True)
class HealthReport:
    checked_at: datetime
    database: str
    reachable: bool
    error: str | None = None
    server_version: str | None = None
    round_trip_ms: float | None = None
    connections: int | None = None
    connections_by_state: dict[str, int] = field(default_factory=dict)
    connections_by_application: dict[str, int] = field(default_factory=dict)
    # Server-wide: every client connection to any database, and the server's limit.
    server_connections: int | None = None
    max_connections: int | None = None
    listeners: int | None = None
    presence_connections: int | None = None
    notify_queue_usage: float | None = None
    notify_probe: LatencyFigures | None = None
    feed: FeedHealth | None = None
    schema_problem: str | None = None
    """Why the console cannot work on this database's schema (e.g. not migrated), or None."""
    probe_error: str | None = None
    """Why the NOTIFY probe did not finish, or None."""

    @property
    def ok(self) -> bool:
        """Reachable, the schema ready, the probe through, and Live if there is a feed."""
        return (
            self.reachable
            and self.schema_problem is None
            and self.probe_error is None
            and (self.feed is None or self.feed.state == "live")
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["checked_at"] = self.checked_at.isoformat()
        data["ok"] = self.ok
        return data

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)


def feed_health(feed: ChangeFeed) -> FeedHealth:
    def rounded(value: float | None, digits: int = 3) -> float | None:
        return None if value is None else round(value, digits)

    status = feed.status
    now = time.monotonic()
    down = status.down_since if status.state is not FeedState.LIVE else None
    retry = status.retry_at if status.state is not FeedState.LIVE else None
    return FeedHealth(
        state=feed.status.state.value,
        attempt=feed.status.attempt,
        reconnects=feed.reconnects,
        last_event_age_s=rounded(feed.age_of_last_event()),
        data_age_s=rounded(feed.age_of_data()),
        commit_to_console=LatencyFigures.of(feed.latency.summary()),
        clock_offset_ms=round(feed.clock.offset * 1000, 2) if feed.clock.known else None,
        detection_bound_s=feed.detection_bound,
        offline_s=None if down is None else rounded(max(0.0, now - down)),
        retry_in_s=None if retry is None else rounded(max(0.0, retry - now)),
    )


async def gather_health(
    db: Database, feed: ChangeFeed | None = None, *, probe: int = 0, timeout: float = 5.0
) -> HealthReport:
    """Ask the server how it is and read what the feed measured.

    `probe` > 0 also times that many NOTIFY round trips through a fresh
    LISTEN connection (useful where there is no feed, e.g. the command line).
    Never raises for a server problem: `reachable` is False and `error` says why.
    """
    checked_at = datetime.now(UTC)
    fed = feed_health(feed) if feed is not None else None
    try:
        schema = await within(_schema_problem(db), timeout)
        # Without the schema there may be no console role to act as.
        figures = await within(_server_figures(db, as_console=schema is None), timeout)
    except Exception as err:
        error = _why(err, db.dsn, timeout)
        return HealthReport(
            checked_at=checked_at, database=str(db.target), reachable=False, error=error, feed=fed
        )
    notify_probe = probe_error = None
    if probe > 0:
        try:
            notify_probe = await _probe(db, probe, timeout)
        except Exception as err:
            probe_error = _why(err, db.dsn, timeout, what="A NOTIFY round trip")
    return HealthReport(
        checked_at=checked_at,
        database=str(db.target),
        reachable=True,
        notify_probe=notify_probe,
        feed=fed,
        schema_problem=schema,
        probe_error=probe_error,
        **figures,
    )


async def check(dsn: str, *, probe: int = 5, timeout: float = 5.0) -> HealthReport:
    """`gather_health` on a database of its own, opened and closed here."""
    db = Database(dsn, min_size=1, max_size=2)
    try:
        await within(db.open(), timeout)
    except Exception as err:
        error = _why(err, dsn, timeout)
        return HealthReport(
            checked_at=datetime.now(UTC), database=str(db.target), reachable=False, error=error
        )
    try:
        return await gather_health(db, probe=probe, timeout=timeout)
    finally:
        await db.close()


def _why(err: Exception, dsn: str, timeout: float, what: str = "Postgres") -> str:
    if isinstance(err, TimeoutError):
        return fit_advice(f"{what} did not answer within {timeout:g} s.", dsn)
    return fit_advice(str(err if isinstance(err, DatabaseError) else explain(err, dsn)), dsn)


EMBEDDED = "embedded"
ENVIRONMENT = "DATABASE_URL"
SAVED = "profile"


def configured_by(dsn: str, env: Mapping[str, str] | None = None) -> str:
    """Where this console's database came from: DATABASE_URL, the embedded server, or a
    saved profile (or --database-url) otherwise."""
    env = os.environ if env is None else env
    if env.get("DATABASE_URL"):
        return ENVIRONMENT
    host = describe(dsn).host
    # The embedded server listens only on a socket of its own: <data>/run, or backroom-pg-* in /tmp.
    if host.startswith("/") and (
        host.rstrip("/").endswith("/run") or Path(host).name.startswith("backroom-pg-")
    ):
        return EMBEDDED
    return SAVED


_ADVICE = {
    EMBEDDED: (
        "This console runs its own embedded Postgres: quit and start the console again, "
        "which starts it; its log is in the data directory, under postgres/."
    ),
    SAVED: (
        "Is the server running, and are the host, port, user and password of the saved "
        "profile (or --database-url) right?"
    ),
}


def fit_advice(text: str, dsn: str, env: Mapping[str, str] | None = None) -> str:
    """`text` with its advice fitted to how this console is configured: no word of
    DATABASE_URL when it is not set, the embedded server's own advice when it is that."""
    source = configured_by(dsn, env)
    if source == ENVIRONMENT or "DATABASE_URL" not in text:
        return text
    kept = [s for s in re.split(r"(?<=[.?!])\s+", text) if "DATABASE_URL" not in s]
    return " ".join([*kept, _ADVICE[source]])


async def _schema_problem(db: Database) -> str | None:
    from services.store.provision import schema_problem

    async with db.connection() as conn:
        return await schema_problem(conn, str(db.target))


@asynccontextmanager
async def _reading(db: Database, as_console: bool) -> AsyncIterator[asyncpg.Connection]:
    if as_console:
        async with db.transaction(readonly=True) as conn:
            yield conn
    else:
        async with db.connection() as pooled, pooled.transaction(readonly=True):
            yield pooled


async def _server_figures(db: Database, *, as_console: bool = True) -> dict[str, Any]:
    async with _reading(db, as_console) as conn:
        start = time.perf_counter()
        await conn.fetchval("select 1")
        round_trip = time.perf_counter() - start
        row = await conn.fetchrow(
            "select current_setting('server_version') as version,"
            " pg_notification_queue_usage() as queue,"
            " current_setting('max_connections')::int as max_connections,"
            # Every role sees every session's row, but not always its type: a session
            # connected to a database as a user is a client there.
            " (select count(*) from pg_stat_activity where coalesce(backend_type = 'client backend',"
            "  datid is not null and usesysid is not null))::int as server_connections,"
            " to_regprocedure('backroom.connection_stats()') is not null as has_stats"
        )
        assert row is not None
        if row["has_stats"]:
            rows = await conn.fetch(
                "select application_name, state, connections from backroom.connection_stats()"
            )
        else:
            # An older schema: names are visible to everyone, states are not.
            rows = await conn.fetch(
                "select coalesce(application_name, '') as application_name,"
                " coalesce(state, 'unknown') as state, count(*)::int as connections"
                " from pg_stat_activity where datname = current_database()"
                " and backend_type = 'client backend' group by 1, 2"
            )
    by_state: dict[str, int] = {}
    by_app: dict[str, int] = {}
    for r in rows:
        by_state[r["state"]] = by_state.get(r["state"], 0) + r["connections"]
        name = r["application_name"] or "(unnamed)"
        by_app[name] = by_app.get(name, 0) + r["connections"]
    return {
        "server_version": row["version"],
        "round_trip_ms": round(round_trip * 1000, 2),
        "connections": sum(by_state.values()),
        "connections_by_state": dict(sorted(by_state.items())),
        "connections_by_application": dict(sorted(by_app.items())),
        "server_connections": row["server_connections"],
        "max_connections": row["max_connections"],
        "listeners": by_app.get(LISTEN_APPLICATION, 0),
        "presence_connections": by_app.get(PRESENCE_APPLICATION, 0),
        "notify_queue_usage": float(row["queue"]),
    }


async def _probe(db: Database, rounds: int, timeout: float) -> LatencyFigures:
    """Time NOTIFY from a pooled connection to a listening one, `rounds` times, each
    bounded by `timeout`: many rounds take long, one lost round fails."""
    async with asyncio.timeout(timeout):
        listener = await db.listener_connection()
    arrived: asyncio.Queue[str] = asyncio.Queue()

    def heard(_c: object, _pid: int, _ch: str, payload: object) -> None:
        arrived.put_nowait(str(payload))

    stats = LatencyStats()
    try:
        await listener.add_listener(PROBE_CHANNEL, heard)
        async with db.connection() as conn:
            for n in range(rounds):
                async with asyncio.timeout(timeout):
                    start = time.perf_counter()
                    await conn.execute("select pg_notify($1, $2)", PROBE_CHANNEL, str(n))
                    while await arrived.get() != str(n):
                        pass
                    stats.add(time.perf_counter() - start)
    finally:
        listener.terminate()
    return LatencyFigures.of(stats.summary())


@dataclass(frozen=True, slots=True)
class Directory:
    """What the support screen needs to name what presence refers to by id:
    the venue's timezone, each table's number, the date of each night asked for."""

    timezone: str
    tables: dict[int, int] = field(default_factory=dict)
    nights: dict[int, date] = field(default_factory=dict)


async def directory(db: Database, night_ids: Iterable[int] = ()) -> Directory:
    """The venue's timezone and table numbers, and the dates of `night_ids`."""
    async with db.transaction(readonly=True) as conn:
        timezone = await conn.fetchval("select timezone from backroom.venue order by id limit 1")
        tables = await conn.fetch("select id, number from backroom.venue_table")
        nights = await conn.fetch(
            "select id, date from backroom.night where id = any($1::int[])", sorted(set(night_ids))
        )
    return Directory(
        timezone=timezone or "UTC",
        tables={r["id"]: r["number"] for r in tables},
        nights={r["id"]: r["date"] for r in nights},
    )


__all__ = [
    "Directory",
    "FeedHealth",
    "HealthReport",
    "LatencyFigures",
    "check",
    "configured_by",
    "directory",
    "feed_health",
    "fit_advice",
    "gather_health",
]
