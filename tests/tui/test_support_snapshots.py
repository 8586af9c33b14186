"""Pictures of the support screens at the smallest supported terminal and a
large one, with colour and without.

What varies from run to run is fixed for the picture: the health screen is
handed a fixed report (version, latencies, ages) and a fixed roster; the audit
trail's times, references and operation ids are set to known values before
the app opens. The console acts as the demo's Support account.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import asyncpg
from textual.app import App
from textual.pilot import Pilot
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Input

from console.wiring import Services, open_services
from screens.audit import AuditEntryScreen, AuditScreen
from screens.support import SupportScreen
from services.bookings import BookingService
from services.live.feed import ChangeFeed, FeedState, FeedStatus
from services.live.health import FeedHealth, HealthReport, LatencyFigures
from services.live.presence import Presence, PresenceEntry
from services.models import BookingStatus
from services.store import seed
from services.store.db import Actor, Database
from tests.conftest import FIXED_NOW, SAMPLE_NIGHT, fixed_clock
from tests.sessions import signed_in
from tests.tui.helpers import until
from widgets.audit_table import AuditTable
from widgets.presence_list import PresenceList

SUPPORT_EMAIL = "support@backroom.demo"


GOOD = HealthReport(
    checked_at=FIXED_NOW + timedelta(seconds=5),
    database="backroom@127.0.0.1:5432/backroom",
    reachable=True,
    server_version="17.2",
    round_trip_ms=0.42,
    connections=7,
    connections_by_state={"active": 1, "idle": 6},
    connections_by_application={"backroom-listen": 3, "backroom-presence": 3, "(unnamed)": 1},
    server_connections=9,
    max_connections=100,
    listeners=3,
    presence_connections=3,
    notify_queue_usage=0.0,
    feed=FeedHealth(
        state="live",
        attempt=0,
        reconnects=1,
        last_event_age_s=4.2,
        data_age_s=1.1,
        commit_to_console=LatencyFigures(samples=42, p50_ms=11.3, p95_ms=27.9, p99_ms=41.0, max_ms=55.0),
        clock_offset_ms=0.3,
        detection_bound_s=4.0,
    ),
)

LATENCY = LatencyFigures(samples=42, p50_ms=11.3, p95_ms=27.9, p99_ms=41.0, max_ms=55.0)

AWAY = HealthReport(
    checked_at=FIXED_NOW + timedelta(seconds=85),
    database=GOOD.database,
    reachable=False,
    error="Cannot reach Postgres at 127.0.0.1:5432: connection refused. Is the server running?",
    feed=FeedHealth(
        state="reconnecting",
        attempt=3,
        reconnects=1,
        last_event_age_s=84.2,
        data_age_s=81.1,
        commit_to_console=LATENCY,
        clock_offset_ms=0.3,
        detection_bound_s=4.0,
    ),
)


def roster(night_id: int, tables: dict[int, int]) -> tuple[PresenceEntry, ...]:
    def entry(
        n: int,
        name: str,
        role: str,
        screen: str,
        *,
        selected: int | None = None,
        held: int | None = None,
        minutes: int,
    ) -> PresenceEntry:
        since = FIXED_NOW - timedelta(minutes=minutes)
        return PresenceEntry(
            console_id=f"00000000-0000-0000-0000-00000000000{n}",
            staff_id=n,
            staff_name=name,
            role=role,
            screen=screen,
            night_id=night_id if screen != "support" else None,
            selected_table=tables[selected] if selected else None,
            held_table=tables[held] if held else None,
            since=since,
            last_seen=FIXED_NOW,
        )

    return (
        entry(1, "Duty Manager", "manager", "floor", selected=5, held=5, minutes=85),
        entry(2, "Door Team", "door", "door", selected=12, minutes=92),
        entry(3, "Support", "support", "support", minutes=2),
    )


class SupportSnapshotApp(App[None]):
    """A console whose feed reads Live and whose health figures are fixed, showing one
    support screen; its services open in the app's own loop."""

    # What screens.live.LiveApp asks for: the state screens watch ...
    actor: reactive[Actor] = reactive(Actor, init=False)
    feed_status: reactive[FeedStatus] = reactive(lambda: FeedStatus(FeedState.LIVE), init=False)
    roster: reactive[tuple[PresenceEntry, ...] | None] = reactive(None, init=False)

    def __init__(
        self, dsn: str, screen: Callable[[Services], Screen[Any]], *, status: FeedStatus | None = None
    ) -> None:
        super().__init__()
        self.dsn = dsn
        self.set_reactive(SupportSnapshotApp.feed_status, status or FeedStatus(FeedState.LIVE))
        self._make = screen
        self.services: Services | None = None
        self.entries: tuple[PresenceEntry, ...] = ()

    # ... and the rest of it.
    @property
    def feed(self) -> ChangeFeed | None:
        return None

    @property
    def presence(self) -> Presence | None:
        return None

    def announce(
        self, *, screen: str | None = None, table_id: int | None = None, night_id: int | None = None
    ) -> None:
        pass

    async def prepare(self) -> None:
        """Fix what differs between runs (overridden for the audit)."""

    async def on_load(self) -> None:
        await self.prepare()
        self.services = await open_services(self.dsn, clock=fixed_clock)
        self.services.actor = await signed_in(self.services.db, SUPPORT_EMAIL)
        self.actor = self.services.actor
        conn = await asyncpg.connect(self.dsn)
        try:
            night = await conn.fetchval("select id from backroom.night where date = $1", SAMPLE_NIGHT)
            tables = {
                r["number"]: r["id"] for r in await conn.fetch("select id, number from backroom.venue_table")
            }
        finally:
            await conn.close()
        self.entries = roster(night, tables)

    def on_mount(self) -> None:
        assert self.services is not None
        self.push_screen(self._make(self.services))

    async def on_unmount(self) -> None:
        if self.services is not None:
            await self.services.db.close()


def fixed_health(reports: list[HealthReport]) -> Callable[[Services], SupportScreen]:
    """A support screen whose reads return `reports` in turn (the last one thereafter)."""

    def make(services: Services) -> SupportScreen:
        seen: list[HealthReport] = []
        clock = [1000.0]

        async def gather(_db: Database, _feed: ChangeFeed | None) -> HealthReport:
            report = reports[min(len(seen), len(reports) - 1)]
            if seen:
                clock[0] += 80  # the server has been away for 1m20s by the next read
            seen.append(report)
            return report

        return SupportScreen(services, gather=gather, monotonic=lambda: clock[0], refresh_every=3600)

    return make


async def health_shown(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, SupportSnapshotApp)
    screen = app.screen
    assert isinstance(screen, SupportScreen)
    await until(pilot, lambda: screen.checks >= 1 and not screen.checking, what="figures read")
    app.roster = app.entries
    await until(
        pilot, lambda: "Fri 20 Nov" in _presence_text(screen) and not screen.checking, what="roster shown"
    )
    await pilot.pause()


def _presence_text(screen: SupportScreen) -> str:
    return " ".join(" ".join(row) for row in screen.query_one(PresenceList).rows_text())


def support_app(dsn: str, *reports: HealthReport) -> SupportSnapshotApp:
    feed = reports[-1].feed if reports else None
    status = (
        FeedStatus(FeedState(feed.state), attempt=feed.attempt)
        if feed is not None
        else FeedStatus(FeedState.LIVE)
    )
    return SupportSnapshotApp(dsn, fixed_health(list(reports or (GOOD,))), status=status)


def test_support_at_80x24(snap_compare: Any, dsn: str, colour: str) -> None:
    assert snap_compare(support_app(dsn), terminal_size=(80, 24), run_before=health_shown)


def test_support_at_160x48(snap_compare: Any, dsn: str, colour: str) -> None:
    assert snap_compare(support_app(dsn), terminal_size=(160, 48), run_before=health_shown)


def test_support_server_away_at_80x24(snap_compare: Any, dsn: str, colour: str) -> None:
    async def away(pilot: Pilot[Any]) -> None:
        # Two good reads (the second names the roster's night), then the server is away.
        await health_shown(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, SupportScreen) and screen.checks == 2
        await pilot.press("r")
        await until(pilot, lambda: screen.checks == 3 and not screen.checking, what="read again")
        await pilot.pause()

    assert snap_compare(support_app(dsn, GOOD, GOOD, AWAY), terminal_size=(80, 24), run_before=away)


# The audit browser ------------------------------------------------------------------------

FIXED_OP_ID = "00000000-0000-0000-0000-0000000000aa"


class AuditSnapshotApp(SupportSnapshotApp):
    """The audit browser after a manager confirmed a booking, with known times and refs."""

    def __init__(self, dsn: str) -> None:
        super().__init__(dsn, lambda services: AuditScreen(services, page_size=30))

    async def prepare(self) -> None:
        services = await open_services(self.dsn, clock=fixed_clock)
        try:
            manager = await signed_in(services.db, seed.DEMO_MANAGER)
            services.actor = manager
            night = await services.floor.tonight()
            assert night is not None
            snap = await services.floor.snapshot(night.id)
            pending = min(
                (
                    t.booking
                    for t in snap.tables.values()
                    if t.booking and t.booking.status is BookingStatus.PENDING
                ),
                key=lambda b: b.id,
            )
            await BookingService(services.db, services.clock).confirm(manager, pending.id, pending.version)
        finally:
            await services.db.close()
        conn = await asyncpg.connect(self.dsn)
        try:
            # Booking refs are random by design; closed bookings refuse a new one, so step
            # around the rules (and the audit) for the picture.
            async with conn.transaction():
                await conn.execute("alter table backroom.booking disable trigger user")
                await conn.execute("update backroom.booking set ref = 'R' || lpad(id::text, 5, '0')")
                await conn.execute("alter table backroom.booking enable trigger user")
            await _define_fix(conn)
            await conn.execute(
                """
                update backroom.audit_log a set
                    at = $1::timestamptz - make_interval(
                        mins => ((select max(id) from backroom.audit_log) - a.id)::int),
                    op_id = case when a.op_id is null then null else $2::uuid end,
                    before = pg_temp.fix(a.before, a.entity, a.entity_id, $1),
                    after = pg_temp.fix(a.after, a.entity, a.entity_id, $1)
                """,
                FIXED_NOW,
                FIXED_OP_ID,
            )
        finally:
            await conn.close()


async def _define_fix(conn: asyncpg.Connection) -> None:
    """A temporary function that sets a row's clock-made fields and its ref to known values."""
    await conn.execute(
        """
        create function pg_temp.fix(row_ jsonb, entity text, entity_id int, at timestamptz)
        returns jsonb language sql as $$
            select case when row_ is null then null else row_
                || coalesce((select jsonb_object_agg(k, to_jsonb(at))
                             from jsonb_object_keys(row_) k
                             where k in ('created_at', 'updated_at', 'expires_at', 'renewed_at')
                               and row_ -> k <> 'null'::jsonb), '{}'::jsonb)
                || case when entity = 'booking' and row_ ? 'ref'
                        then jsonb_build_object('ref', 'R' || lpad(entity_id::text, 5, '0'))
                        else '{}'::jsonb end
            end
        $$
        """
    )


async def steady(pilot: Pilot[Any]) -> AuditScreen:
    screen = pilot.app.screen
    assert isinstance(screen, AuditScreen)
    await until(pilot, lambda: screen.loads >= 1 and not screen.reading, what="audit loaded")
    for field in screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()
    return screen


def test_audit_at_80x24(snap_compare: Any, dsn: str, colour: str) -> None:
    assert snap_compare(AuditSnapshotApp(dsn), terminal_size=(80, 24), run_before=steady)


def test_audit_at_160x48(snap_compare: Any, dsn: str, colour: str) -> None:
    assert snap_compare(AuditSnapshotApp(dsn), terminal_size=(160, 48), run_before=steady)


def test_audit_filtered_by_staff_at_80x24(snap_compare: Any, dsn: str, colour: str) -> None:
    async def filtered(pilot: Pilot[Any]) -> None:
        screen = await steady(pilot)
        await pilot.press("slash", "tab", *"duty")
        await until(pilot, lambda: screen.filter.staff == "duty" and not screen.reading, what="filtered")
        await steady(pilot)

    assert snap_compare(AuditSnapshotApp(dsn), terminal_size=(80, 24), run_before=filtered)


def test_audit_entry_at_80x24(snap_compare: Any, dsn: str, colour: str) -> None:
    async def entry(pilot: Pilot[Any]) -> None:
        screen = await steady(pilot)
        assert screen.query_one(AuditTable).entries[0].operation == "confirm"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, AuditEntryScreen), what="entry open")
        await pilot.pause()

    assert snap_compare(AuditSnapshotApp(dsn), terminal_size=(80, 24), run_before=entry)
