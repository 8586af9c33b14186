"""Health figures: what the server says and what the feed measured, as JSON."""

from __future__ import annotations

import json

import asyncpg

from console.wiring import Services
from services.live.health import check, gather_health
from tests.integration.realtime_helpers import Recorder, confirm_one_pending, start_feed, stop_feed, until


async def test_health_of_a_live_console(dsn: str, services: Services, admin: asyncpg.Connection) -> None:
    rec = Recorder()
    feed, task, db = await start_feed(dsn, rec)
    try:
        booking_id = await confirm_one_pending(admin)
        await until(lambda: any(c.id == booking_id for c in rec.changes))
        report = await gather_health(services.db, feed, probe=3)
    finally:
        await stop_feed(feed, task, db)

    assert report.reachable and report.ok and report.error is None
    assert report.server_version and report.server_version[0].isdigit()
    assert report.listeners is not None and report.listeners >= 1
    assert report.connections is not None and report.connections >= 2
    assert sum(report.connections_by_state.values()) == report.connections
    assert "unknown" not in report.connections_by_state, "states are visible through connection_stats"
    assert report.notify_queue_usage is not None and 0 <= report.notify_queue_usage < 1
    assert report.round_trip_ms is not None and report.round_trip_ms >= 0
    assert report.notify_probe is not None and report.notify_probe.samples == 3
    fed = report.feed
    assert fed is not None and fed.state == "live" and fed.reconnects == 0
    assert fed.commit_to_console.samples >= 1 and fed.commit_to_console.p50_ms is not None
    assert fed.last_event_age_s is not None and fed.data_age_s is not None
    assert fed.detection_bound_s <= 5

    data = json.loads(report.to_json())
    assert data["ok"] is True and data["reachable"] is True
    assert data["feed"]["commit_to_console"]["p95_ms"] is not None
    assert set(data) >= {
        "checked_at",
        "server_version",
        "connections",
        "listeners",
        "notify_queue_usage",
        "feed",
        "database",
    }
    assert "password" not in report.to_json()


async def test_health_without_a_feed(dsn: str) -> None:
    report = await check(dsn, probe=2)
    assert report.reachable and report.feed is None and report.ok
    assert report.notify_probe is not None and report.notify_probe.samples == 2
    assert json.loads(report.to_json())["feed"] is None


async def test_health_of_an_unreachable_server() -> None:
    report = await check("postgresql://someone:secret@127.0.0.1:1/nowhere", timeout=3)
    assert not report.reachable and not report.ok
    assert report.error and "Cannot reach Postgres" in report.error
    assert "secret" not in report.to_json()
