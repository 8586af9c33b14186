"""The support screens against a real database: health figures, the feed's latency,
who is online, and the audit browser's filters and pages."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, Static

from console.wiring import Services
from screens.audit import AuditEntryScreen, AuditScreen
from screens.help import HelpScreen
from screens.live import LiveApp
from screens.support import NO_PRESENCE, SupportScreen
from services.bookings import BookingService
from services.models import BookingStatus
from tests.conftest import SAMPLE_NIGHT
from tests.sessions import signed_in
from tests.tui.helpers import screen_text, until
from tests.tui.support_helpers import ConsoleApp, audit_loaded
from widgets.audit_filters import AuditFilter, read_filter, read_moment
from widgets.audit_table import AuditTable
from widgets.health_panel import NO_FEED
from widgets.presence_list import PresenceList


def focused(screen: Screen[Any]) -> Widget | None:
    """The widget with focus now (read afresh: a type checker keeps what an earlier check
    found `screen.focused` to be)."""
    return screen.focused


SIZE = (80, 24)


class PlainApp(App[None]):
    """No feed, no presence: what a screen sees under a plain App."""

    def __init__(self, screen: Screen[Any]) -> None:
        super().__init__()
        self._screen = screen

    def compose(self) -> ComposeResult:
        yield Static("underneath")

    def on_mount(self) -> None:
        self.push_screen(self._screen)


def support(services: Services) -> SupportScreen:
    return SupportScreen(services, refresh_every=0.5)


async def health_shown(pilot: Any) -> SupportScreen:
    screen = pilot.app.screen
    assert isinstance(screen, SupportScreen)
    await until(pilot, lambda: screen.latest is not None, what="health figures read")
    await pilot.pause()
    return screen


async def test_the_app_shape_is_what_screens_expect(services: Services) -> None:
    assert isinstance(ConsoleApp(services, support), LiveApp)


async def test_health_shows_the_server_version_and_connections(
    services: Services, admin: asyncpg.Connection
) -> None:
    version = await admin.fetchval("show server_version")
    limit = await admin.fetchval("show max_connections")
    async with ConsoleApp(services, support).run_test(size=SIZE) as pilot:
        screen = await health_shown(pilot)
        await until(pilot, lambda: screen.live, what="feed Live")
        await until(pilot, lambda: "1 listening" in screen_text(pilot.app), what="listener counted")
        text = screen_text(pilot.app)
        assert "● reachable" in text
        assert f"PostgreSQL {version}" in text
        assert "to this database" in text and f"/ {limit} in use" in text
        assert "Notify queue 0.00% used" in text
        assert "● Live · no outage since start" in text
        assert "commit to console: no changes measured yet" in text
        # Checked again every half second here, without a key pressed.
        checks = screen.checks
        await until(pilot, lambda: screen.checks >= checks + 2, what="refreshed by itself")


async def test_health_shows_latency_after_changes(services: Services, admin: asyncpg.Connection) -> None:
    async with ConsoleApp(services, support).run_test(size=SIZE) as pilot:
        screen = await health_shown(pilot)
        await until(pilot, lambda: screen.live, what="feed Live")
        for _ in range(3):
            await admin.execute(
                "update backroom.booking set status = 'confirmed' where id = ("
                " select b.id from backroom.booking b join backroom.night n on n.id = b.night_id"
                " where b.status = 'pending' and n.date = $1 order by b.id limit 1)",
                SAMPLE_NIGHT,
            )

        def measured() -> int:
            report = screen.latest
            feed = report.feed if report is not None else None
            return feed.commit_to_console.samples if feed is not None else 0

        await until(pilot, lambda: measured() >= 2, timeout=15, what="changes measured")
        await pilot.pause()
        text = screen_text(pilot.app)
        lines = [line.strip() for line in text.splitlines()]
        latency = lines.index(f"Latency      commit to console, over the last {measured()} changes")
        assert lines[latency + 1].startswith("p50 ") and " · p95 " in lines[latency + 1]
        assert " · p99 " in lines[latency + 1] and lines[latency + 1].endswith(" ms")
        last_event = next(line for line in text.splitlines() if line.strip().startswith("Last event"))
        assert "ago" in last_event and "none yet" not in last_event


async def test_under_a_plain_app_there_is_no_feed_and_no_presence(services: Services) -> None:
    async with PlainApp(SupportScreen(services)).run_test(size=SIZE) as pilot:
        await health_shown(pilot)
        text = screen_text(pilot.app)
        assert NO_FEED in text and NO_PRESENCE in text
        assert "● reachable" in text
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(pilot.app.screen, SupportScreen), what="back")


async def test_an_unreachable_server_is_said_and_the_last_figures_stay(
    services: Services, admin: asyncpg.Connection, server_dsn: str
) -> None:
    version = await admin.fetchval("show server_version")
    name = await admin.fetchval("select current_database()")
    # The server stays up; the console's database refuses it and drops its connections.
    server = await asyncpg.connect(server_dsn)
    async with PlainApp(SupportScreen(services, refresh_every=0.5)).run_test(size=SIZE) as pilot:
        screen = await health_shown(pilot)
        try:
            await server.execute(f'alter database "{name}" allow_connections false')
            await server.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = $1", name
            )
            await until(
                pilot,
                lambda: screen.latest is not None and not screen.latest.reachable,
                timeout=20,
                what="server seen unreachable",
            )
            await pilot.pause()
            text = screen_text(pilot.app)
            assert "✕ UNREACHABLE" in text
            assert "Last figures below are from" in text and "ago." in text
            assert f"PostgreSQL {version}" in text and "to this database" in text
            # The screen keeps answering keys meanwhile.
            await pilot.press("r")
        finally:
            await server.execute(f'alter database "{name}" allow_connections true')
            await server.close()
        await until(
            pilot,
            lambda: screen.latest is not None and screen.latest.reachable,
            timeout=20,
            what="server back",
        )
        await pilot.pause()
        assert "UNREACHABLE" not in screen_text(pilot.app)


async def test_presence_lists_two_consoles(services: Services, admin: asyncpg.Connection) -> None:
    night = await admin.fetchval("select id from backroom.night where date = $1", SAMPLE_NIGHT)
    table_5, table_7 = [
        await admin.fetchval("select id from backroom.venue_table where number = $1", n) for n in (5, 7)
    ]
    door = await signed_in(services.db, "door@backroom.demo")
    other = services.presence(lambda _entries: None)
    other.announce(actor=door, screen="floor", night_id=night, selected_table=table_5, held_table=table_7)
    task = asyncio.create_task(other.run())
    try:
        async with ConsoleApp(services, support).run_test(size=SIZE) as pilot:
            screen = await health_shown(pilot)
            panel = screen.query_one(PresenceList)
            await until(pilot, lambda: len(panel.entries) == 2, timeout=15, what="two consoles")
            await until(pilot, lambda: "Fri 20 Nov" in screen_text(pilot.app), what="night named")
            text = screen_text(pilot.app)
            assert "Online: 2 consoles" in text
            rows = {row[0]: row for row in panel.rows_text()}
            assert rows["Door Team"][1:5] == ("door", "floor", "Fri 20 Nov", "5, holds 7")
            assert rows["Duty Manager (here)"][1:3] == ("manager", "support")
            assert "Door Team" in text and "Duty Manager (here)" in text

            # The other console moves on: its row follows; then it leaves.
            other.announce(screen="door", selected_table=None, held_table=None)
            await until(
                pilot,
                lambda: any(r[2] == "door" for r in panel.rows_text()),
                timeout=15,
                what="other console moved",
            )
            await other.stop()
            await until(pilot, lambda: len(panel.entries) == 1, timeout=15, what="one left")
            assert "Online: 1 console" in screen_text(pilot.app)
    finally:
        await other.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# The audit browser -----------------------------------------------------------------------


async def confirm_a_pending_booking(services: Services) -> tuple[str, int]:
    night = await services.floor.tonight()
    assert night is not None
    snap = await services.floor.snapshot(night.id)
    pending = next(
        t.booking for t in snap.tables.values() if t.booking and t.booking.status is BookingStatus.PENDING
    )
    assert pending is not None
    await BookingService(services.db, services.clock).confirm(services.actor, pending.id, pending.version)
    return pending.ref, pending.id


def audit(services: Services) -> AuditScreen:
    return AuditScreen(services, page_size=10)


async def test_audit_browser_filters_by_booking_and_shows_one_entry_in_full(services: Services) -> None:
    ref, booking_id = await confirm_a_pending_booking(services)
    async with ConsoleApp(services, audit, presence=False).run_test(size=SIZE) as pilot:
        screen = await audit_loaded(pilot)
        table = screen.query_one(AuditTable)
        assert table.row_count == 10
        newest = table.entries[0]
        assert newest.operation == "confirm" and newest.ref == ref
        # In staff words: the status the operation reached is not said twice.
        assert newest.who == "Duty Manager"
        assert table.get_row_at(0)[2].plain == "confirmed"

        await pilot.press("slash")
        assert isinstance(screen.focused, Input) and screen.focused.id == "filter-booking"
        await pilot.press(*ref.lower(), "enter")
        await audit_loaded(pilot, 2)
        assert screen.filter == AuditFilter(booking=ref.lower())
        assert table.entries and all(e.ref == ref for e in table.entries)
        assert focused(screen) is table
        text = screen_text(pilot.app)
        assert f"booking {ref}" in text and "all shown" in text

        # The booking's id finds the same entries.
        await pilot.press("slash")
        screen.filters.input("booking").value = str(booking_id)
        await pilot.press("enter")
        await until(
            pilot,
            lambda: screen.filter.booking == str(booking_id) and not screen.reading,
            what="filtered by id",
        )
        assert [e.ref for e in table.entries] == [ref] * len(table.entries)

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, AuditEntryScreen), what="entry open")
        text = screen_text(pilot.app)
        assert "* status" in text and "pending" in text and "confirmed" in text
        assert "Duty Manager" in text and f"booking {ref}" in text
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is screen, what="entry closed")


async def test_audit_browser_filters_by_staff_and_time(services: Services) -> None:
    await confirm_a_pending_booking(services)
    async with ConsoleApp(services, audit, presence=False).run_test(size=SIZE) as pilot:
        screen = await audit_loaded(pilot)
        table = screen.query_one(AuditTable)
        await pilot.press("slash", "tab")
        assert screen.focused is screen.filters.input("staff")
        # Typing alone applies the filter once it settles.
        await pilot.press(*"duty")
        await until(
            pilot, lambda: screen.filter.staff == "duty" and not screen.reading, what="staff filter applied"
        )
        await pilot.pause()
        assert [e.who for e in table.entries] == ["Duty Manager"]

        await pilot.press("ctrl+r")
        await until(pilot, lambda: screen.filter.empty and not screen.reading, what="cleared")
        assert table.row_count == 10

        # A range that starts far ahead has nothing in it; a bad time says what it wants.
        screen.filters.input("since").focus()
        screen.filters.input("since").value = "2999-01-01"
        await pilot.press("enter")
        await until(
            pilot, lambda: screen.filter.since is not None and not screen.reading, what="time filter applied"
        )
        await pilot.pause()
        assert table.row_count == 0 and "No entries for from" in screen_text(pilot.app)
        screen.filters.input("since").focus()
        screen.filters.input("since").value = "25:99"
        await pilot.press("enter")
        await until(pilot, lambda: "From: a time like" in screen_text(pilot.app), what="bad time said")
        assert screen.filters.input("since").has_class("-invalid")

        # Escape from a filter goes to the list; from the list, back to the screen before.
        await pilot.press("escape")
        assert focused(screen) is table
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is not screen, what="left the audit")


async def test_audit_browser_pages_older_entries(services: Services, admin: asyncpg.Connection) -> None:
    total = await admin.fetchval("select count(*) from backroom.audit_log")
    assert total > 25
    async with ConsoleApp(services, audit, presence=False).run_test(size=SIZE) as pilot:
        screen = await audit_loaded(pilot)
        table = screen.query_one(AuditTable)
        assert table.row_count == 10 and "PgDn for older" in screen_text(pilot.app)
        first_ids = [e.id for e in table.entries]
        assert first_ids == sorted(first_ids, reverse=True)
        for _ in range(4):
            await pilot.press("pagedown")
        await until(pilot, lambda: table.row_count >= 20 and not screen.reading, what="second page")
        ids = [e.id for e in table.entries]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
        assert ids[:10] == first_ids
        await pilot.press("pageup", "pageup", "pageup", "pageup", "pageup")
        assert table.cursor_row == 0

        # A change heard on the feed while the newest entries are in view shows at the top.
        await until(pilot, lambda: screen.live, what="feed Live")
        loads = screen.loads
        await pilot.press("r")
        await audit_loaded(pilot, loads + 1)
        assert table.row_count == 10
        loads = screen.loads
        await confirm_a_pending_booking(services)
        await until(
            pilot,
            lambda: screen.loads > loads and not screen.reading,
            timeout=15,
            what="reloaded on a change",
        )
        assert table.entries[0].operation == "confirm"


async def test_help_lists_every_key_and_the_footer_fits(services: Services) -> None:
    for make, ids, words in (
        (support, {"support.refresh", "support.back"}, ("Refresh", "Back")),
        (
            audit,
            {
                "audit.back",
                "audit.filter",
                "audit.reload",
                "audit.clear",
                "audit.details",
                "audit.older",
                "audit.newer",
            },
            ("Back", "Filter", "Reload", "Details", "Older", "Newer"),
        ),
    ):
        async with ConsoleApp(services, make, feed=False, presence=False).run_test(size=SIZE) as pilot:
            screen = pilot.app.screen
            assert isinstance(screen, SupportScreen | AuditScreen)
            listed = {b.binding.id: b.binding for _, b in screen.help_bindings()}
            assert ids <= set(listed)

            def footer() -> str:
                return screen_text(pilot.app).splitlines()[-1]

            wanted = (*words, "Help")
            await until(
                pilot,
                lambda: all(w in footer() for w in wanted),  # noqa: B023
                what=f"{wanted} in the footer",
            )
            # From a filter input too, help lists the list's keys.
            if isinstance(screen, AuditScreen):
                await pilot.press("slash")
            await pilot.press("f1")
            await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="help open")
            text = screen_text(pilot.app)
            for binding_id in ids:
                binding = listed[binding_id]
                assert binding.tooltip in text or binding.description in text, binding_id


async def test_the_palette_offers_the_screens_keys(services: Services) -> None:
    async with ConsoleApp(services, audit, feed=False, presence=False).run_test(size=SIZE) as pilot:
        screen = await audit_loaded(pilot)
        titles = [c.title for c in screen.key_commands()]
        assert titles == [
            "Filter the audit trail",
            "Clear the audit filters",
            "Reload the newest audit entries",
            "Show the selected audit entry in full",
            "Load older audit entries",
            "Leave the audit trail",
        ]
        await pilot.press("ctrl+p")
        await until(pilot, lambda: pilot.app.screen is not screen, what="palette open")
        await pilot.press(*"load older audit")
        await until(pilot, lambda: "Load older audit entries" in screen_text(pilot.app), what="command found")
        await pilot.press("enter")
        await until(pilot, lambda: screen.query_one(AuditTable).row_count == 20, what="older loaded")

    def quiet(services: Services) -> SupportScreen:
        return SupportScreen(services, refresh_every=3600)

    async with ConsoleApp(services, quiet, feed=False, presence=False).run_test(size=SIZE) as pilot:
        support_screen = await health_shown(pilot)
        await until(pilot, lambda: not support_screen.checking, what="first read done")
        checks = support_screen.checks
        await pilot.press("ctrl+p")
        await until(pilot, lambda: pilot.app.screen is not support_screen, what="palette open")
        await pilot.press(*"refresh the health")
        await until(
            pilot, lambda: "Refresh the health figures" in screen_text(pilot.app), what="command found"
        )
        await pilot.press("enter")
        await until(pilot, lambda: support_screen.checks > checks, what="refreshed")


# Reading what is typed into the filters ------------------------------------------------


def test_moments_are_read_in_venue_time() -> None:
    now = datetime(2026, 11, 21, 1, 30, tzinfo=UTC)  # 01:30 in London
    zone = "Europe/London"
    assert read_moment("", zone, now) is None
    assert read_moment("23:00", zone, now) == datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    assert read_moment("01:00", zone, now) == datetime(2026, 11, 21, 1, 0, tzinfo=UTC)
    assert read_moment("2026-11-20", zone, now) == datetime(2026, 11, 20, tzinfo=UTC)
    assert read_moment("2026-11-20", zone, now, end=True) == datetime(2026, 11, 21, tzinfo=UTC)
    summer = read_moment("2026-07-01 22:00", zone, now)
    assert summer == datetime(2026, 7, 1, 21, 0, tzinfo=UTC)
    for bad in ("tomorrow", "25:00", "2026-13-01", "22"):
        try:
            read_moment(bad, zone, now)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")


def test_a_range_across_midnight() -> None:
    now = datetime(2026, 11, 21, 1, 30, tzinfo=UTC)
    wanted = read_filter(" R1 ", "", "22:00", "02:00", timezone="Europe/London", now=now)
    assert wanted.booking == "R1" and wanted.staff is None
    assert wanted.since == datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
    assert wanted.until == datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
    assert wanted.until - wanted.since == timedelta(hours=4)
    assert "from Fri 20 Nov 22:00" in wanted.describe("Europe/London")


async def test_this_console_is_marked(services: Services) -> None:
    """The roster row of the console itself says so."""
    async with ConsoleApp(services, support, feed=False).run_test(size=SIZE) as pilot:
        screen = await health_shown(pilot)
        panel = screen.query_one(PresenceList)
        await until(pilot, lambda: len(panel.entries) == 1, timeout=15, what="own console listed")
        await until(
            pilot,
            lambda: panel.rows_text()[0][2] == "support",
            timeout=15,
            what="announced the support screen",
        )
        assert panel.rows_text()[0][0] == "Duty Manager (here)"
