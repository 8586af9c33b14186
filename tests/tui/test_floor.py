"""The floor screen against a real database: what it shows, how it moves, how it stays live."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from functools import partial

import asyncpg
import pytest
from textual import events

from console.app import BackroomApp
from console.wiring import Services
from screens.booking_steps import NO_NIGHTS
from screens.floor.screen import FloorScreen
from screens.help import HelpScreen
from services.live.feed import FeedState, ListenTransport
from services.models import TileStatus
from tests.conftest import FIXED_NOW, SAMPLE_NIGHT
from tests.tui.helpers import floor_loaded, shown_text, stop_feed, until
from widgets.connection_badge import ConnectionBadge
from widgets.display import TILE_LABELS
from widgets.floor_plan import FloorPlan
from widgets.table_detail import TableDetail
from widgets.table_tile import TableTile

SIZE = (160, 48)


async def night_id(admin: asyncpg.Connection) -> int:
    found: int = await admin.fetchval("select id from backroom.night where date = $1", SAMPLE_NIGHT)
    return found


async def expected_statuses(admin: asyncpg.Connection) -> dict[int, TileStatus]:
    """Each table's status by the rule the floor follows, worked out straight from the rows."""
    night = await night_id(admin)
    rows = await admin.fetch(
        """
        select t.id,
               exists (select from backroom.hold h
                       where h.table_id = t.id and h.night_id = $1 and h.expires_at > $2) as held,
               (select b.status from backroom.booking b
                  join backroom.booking_table bt on bt.booking_id = b.id
                 where bt.table_id = t.id and b.night_id = $1
                   and b.status in ('pending', 'confirmed', 'arrived') and b.ends_at > $2
                 order by b.status = 'arrived' desc, b.starts_at, b.id
                 limit 1) as shown
        from backroom.venue_table t
        """,
        night,
        FIXED_NOW,
    )
    return {r["id"]: TileStatus.HELD if r["held"] else TileStatus(r["shown"] or "free") for r in rows}


def tiles_of(screen: FloorScreen) -> dict[int, TableTile]:
    return {key: tile for plan in screen.plans for key, tile in plan.tiles.items()}


async def test_sixteen_tiles_on_two_floors_match_the_database(
    services: Services, admin: asyncpg.Connection
) -> None:
    floors = await admin.fetch("select id, name from backroom.floor order by position")
    tables = await admin.fetch("select id, number, floor_id from backroom.venue_table")
    statuses = await expected_statuses(admin)

    async with BackroomApp(services).run_test(size=SIZE) as pilot:
        screen = await floor_loaded(pilot)
        plans = list(screen.query(FloorPlan))
        assert [p.floor.name for p in plans] == [f["name"] for f in floors]
        assert len(screen.query(TableTile)) == 16 == len(tables)
        for plan in plans:
            assert set(plan.tiles) == {t["id"] for t in tables if t["floor_id"] == plan.floor.id}
            assert plan.floor.name in shown_text(plan.query_one(".floor-plan--title"))

        numbers = {t["id"]: t["number"] for t in tables}
        for table_id, tile in tiles_of(screen).items():
            assert tile.state is not None
            assert tile.state.status is statuses[table_id], f"table {numbers[table_id]}"
            text = shown_text(tile)
            assert str(numbers[table_id]) in text
            _short, symbol, long = TILE_LABELS[statuses[table_id]]
            assert f"{symbol} {long}" in text, text
            assert tile.has_class(f"-status-{statuses[table_id].value}")
        # Every status of the sample night is on the floor at once.
        assert {TileStatus.FREE, TileStatus.PENDING, TileStatus.CONFIRMED, TileStatus.ARRIVED} <= set(
            statuses.values()
        )
        assert "The Backroom" in str(screen.query_one("#title").render())


async def test_arrow_keys_move_the_selection_across_both_floors(
    services: Services, admin: asyncpg.Connection
) -> None:
    night = await night_id(admin)
    by_number = {
        r["number"]: r["id"] for r in await admin.fetch("select id, number from backroom.venue_table")
    }

    async def refs(table_id: int) -> list[str]:
        rows = await admin.fetch(
            "select b.ref from backroom.booking b join backroom.booking_table bt"
            " on bt.booking_id = b.id where bt.table_id = $1 and b.night_id = $2",
            table_id,
            night,
        )
        return [r["ref"] for r in rows]

    async with BackroomApp(services).run_test(size=SIZE) as pilot:
        screen = await floor_loaded(pilot)
        detail = screen.query_one(TableDetail)

        def selected() -> int:
            focused = screen.focused
            assert isinstance(focused, TableTile)
            return focused.table_id

        assert selected() == by_number[1]
        # Right along the top row crosses from the first floor to the second and wraps back.
        for number in (2, 3, 4, 9, 10, 11, 12, 1):
            await pilot.press("right")
            assert selected() == by_number[number]
        await pilot.press("left")
        assert selected() == by_number[12]
        await pilot.press("down")
        assert selected() == by_number[16]
        await pilot.press("down")
        assert selected() == by_number[12], "up and down wrap within a floor"
        await pilot.press("left", "left", "left", "left", "up")
        assert selected() == by_number[8]

        # The detail follows the selection and lists that table's bookings of the night.
        def detail_shows(table_id: int) -> bool:
            return detail.state is not None and detail.state.table.id == table_id

        for number in (9, 6, 15):
            table_id = by_number[number]
            screen.query_one(f"#table-{table_id}", TableTile).focus()
            await until(pilot, partial(detail_shows, table_id), what=f"detail of {number}")
            text = shown_text(detail)
            assert f"Table {number}" in text
            expected = await refs(by_number[number])
            assert expected, f"the sample night books table {number}"
            for ref in expected:
                assert ref in text

        # Tab visits the tiles in floor order too.
        screen.query_one(f"#table-{by_number[8]}", TableTile).focus()
        await pilot.pause()
        await pilot.press("tab")
        assert selected() == by_number[9]

        # Keys typed faster than focus moves still count one by one.
        for key in ("right", "right", "down"):
            pilot.app.post_message(events.Key(key, None))
        await until(pilot, lambda: selected() == by_number[15], what="three quick keys")
        assert detail_shows(by_number[15])


async def test_a_change_from_another_connection_redraws_only_its_tile(
    services: Services, admin: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    renders: Counter[int] = Counter()
    original = TableTile.render

    def counting(tile: TableTile):  # type: ignore[no-untyped-def]
        renders[tile.table_id] += 1
        return original(tile)

    monkeypatch.setattr(TableTile, "render", counting)
    night = await night_id(admin)

    async with BackroomApp(services).run_test(size=SIZE) as pilot:
        screen = await floor_loaded(pilot)
        tiles = tiles_of(screen)
        pending = [t for t in tiles.values() if t.state is not None and t.state.status is TileStatus.PENDING]
        assert pending, "the sample night has a pending booking on the floor"
        tile = pending[0]
        assert tile.state is not None and tile.state.booking is not None
        booking = tile.state.booking
        before = {key: t.state for key, t in tiles.items()}
        await pilot.pause()
        renders.clear()

        await admin.execute(
            "update backroom.booking set status = 'confirmed' where id = $1 and night_id = $2",
            booking.id,
            night,
        )
        await until(
            pilot,
            lambda: tile.state is not None and tile.state.status is TileStatus.CONFIRMED,
            what="tile confirmed",
        )
        await pilot.pause()
        assert "✓ CONFIRMED" in shown_text(tile)
        assert renders[tile.table_id] >= 1
        for key, other in tiles.items():
            if key in booking.table_ids:
                continue
            assert other.state is before[key], f"table {key} was given a new state"
            assert renders[key] == 0, f"table {key} was redrawn"


async def test_a_hold_from_another_connection_shows_with_its_countdown(
    services: Services, admin: asyncpg.Connection
) -> None:
    night = await night_id(admin)
    free = await admin.fetchval(
        "select t.id from backroom.venue_table t where not exists ("
        " select from backroom.booking_table bt join backroom.booking b on b.id = bt.booking_id"
        " where bt.table_id = t.id and b.night_id = $1 and bt.active) order by t.number limit 1",
        night,
    )
    assert free is not None

    async with BackroomApp(services).run_test(size=SIZE) as pilot:
        screen = await floor_loaded(pilot)
        tile = screen.query_one(f"#table-{free}", TableTile)
        assert tile.state is not None and tile.state.status is TileStatus.FREE

        await admin.execute(
            "insert into backroom.hold (table_id, night_id, during, holder, expires_at)"
            " select $1, n.id, tstzrange(n.starts_at, n.ends_at), 'Dana (manager)', $3"
            " from backroom.night n where n.id = $2",
            free,
            night,
            FIXED_NOW + timedelta(seconds=45),
        )
        await until(
            pilot, lambda: tile.state is not None and tile.state.status is TileStatus.HELD, what="tile held"
        )
        await pilot.pause()
        text = shown_text(tile)
        assert "◆ HELD" in text and "0:45" in text and "Dana (manager)" in text
        tile.focus()
        await pilot.pause()
        assert "Held by Dana (manager): 0:45 left" in shown_text(screen.query_one(TableDetail))


async def test_a_burst_of_changes_costs_two_reads(
    services: Services, admin: asyncpg.Connection, dsn: str
) -> None:
    night = await night_id(admin)
    booking_id = await admin.fetchval(
        "select id from backroom.booking where night_id = $1 and status = 'confirmed' order by id limit 1",
        night,
    )
    writer = await asyncpg.connect(dsn)
    try:
        async with BackroomApp(services).run_test(size=SIZE) as pilot:
            screen = await floor_loaded(pilot)
            reads, heard = screen.reads, screen.changes_heard

            # Keep the first reload waiting on a lock while the burst arrives.
            blocker = admin.transaction()
            await blocker.start()
            await admin.execute("lock table backroom.floor in access exclusive mode")
            for n in range(30):
                await writer.execute(
                    "update backroom.booking set notes = $2 where id = $1", booking_id, f"note {n}"
                )
            await until(pilot, lambda: screen.changes_heard >= heard + 30, what="burst heard")
            assert screen.reads == reads + 1 and screen.reloading
            await blocker.rollback()

            await until(pilot, lambda: not screen.reloading, what="reloads done")
            assert screen.reads == reads + 2
            assert screen.snapshot is not None
            notes = {
                b.notes for t in screen.snapshot.tables.values() for b in t.bookings if b.id == booking_id
            }
            assert notes == {"note 29"}
    finally:
        await writer.close()


async def test_help_lists_the_keys_of_the_floor(services: Services) -> None:
    async with BackroomApp(services).run_test(size=(80, 24)) as pilot:
        await floor_loaded(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="help open")
        help_screen = pilot.app.screen
        assert isinstance(help_screen, HelpScreen)
        listed = {item.description: item.keys for item in help_screen.keys}
        for binding in FloorScreen.BINDINGS:
            assert not isinstance(binding, tuple)
            description = binding.group.description if binding.group else binding.description
            assert any(description in shown.split(" / ") for shown in listed), description
        assert listed["Select"] == "← → ↑ ↓"
        assert listed["Reload"] == "r"
        # Every table action a manager may use, whichever table is selected now.
        for description, key in (
            ("New", "n"),
            ("Hold / Release", "h"),
            ("Confirm", "c"),
            ("Check in", "i"),
            ("Move", "m"),
            ("Cancel", "x"),
            ("No-show", "o"),
            ("Complete", "d"),
            ("Walk-in", "w"),
        ):
            assert listed[description] == key, description
        assert listed["Help"] == "? f1"
        # Ctrl+C asks before it quits; it is listed once, not as Copy too.
        assert listed["Quit"] == "^q" and listed["Quit, after asking"] == "^c"
        assert not any("^c" in keys.split() for name, keys in listed.items() if name != "Quit, after asking")
        assert "Reload" in shown_text(help_screen.query_one("#help-keys"))

        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, FloorScreen), what="help closed")
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="help again")
        await pilot.press("q")
        await until(pilot, lambda: isinstance(pilot.app.screen, FloorScreen), what="closed by q")


async def test_no_night_is_said_plainly_and_a_new_night_appears(
    services: Services, admin: asyncpg.Connection
) -> None:
    await admin.execute("truncate backroom.night cascade")
    async with BackroomApp(services).run_test(size=(80, 24)) as pilot:
        screen = pilot.app.screen
        await until(
            pilot,
            lambda: isinstance(pilot.app.screen, FloorScreen) and pilot.app.screen.live,
            what="feed live",
        )
        screen = pilot.app.screen
        assert isinstance(screen, FloorScreen)
        detail = screen.query_one(TableDetail)
        await until(pilot, lambda: detail.note == NO_NIGHTS, what="no-night note")
        assert NO_NIGHTS in shown_text(detail)
        assert screen.snapshot is None

        await admin.execute(
            "insert into backroom.night (venue_id, date, starts_at, ends_at)"
            " values (1, $1, '2026-11-20 22:00+00', '2026-11-21 03:00+00')",
            SAMPLE_NIGHT,
        )
        await until(pilot, lambda: screen.snapshot is not None, what="new night shown")
        await until(pilot, lambda: detail.note == "", what="note cleared")
        tiles = tiles_of(screen)
        assert len(tiles) == 16
        assert all(t.state is not None and t.state.status is TileStatus.FREE for t in tiles.values())


async def test_a_load_failure_is_shown_not_raised(services: Services) -> None:
    async with BackroomApp(services, night_id=987654).run_test(size=(80, 24)) as pilot:
        screen = pilot.app.screen
        await until(pilot, lambda: isinstance(pilot.app.screen, FloorScreen), what="floor")
        screen = pilot.app.screen
        assert isinstance(screen, FloorScreen)
        detail = screen.query_one(TableDetail)
        await until(pilot, lambda: "does not exist" in detail.note, what="error shown")
        assert "Could not load the floor" in shown_text(detail)
        assert pilot.app.is_running and pilot.app._exit_renderables == []


class RecordingTransport(ListenTransport):
    """The real LISTEN transport, noting whether it was closed."""

    closed = 0

    async def close(self) -> None:
        RecordingTransport.closed += 1
        await super().close()


async def test_quitting_stops_the_feed(services: Services) -> None:
    services.transport_factory = lambda: RecordingTransport(services.db.listener_connection)
    RecordingTransport.closed = 0
    async with BackroomApp(services).run_test(size=(80, 24)) as pilot:
        await floor_loaded(pilot)
        feed = getattr(pilot.app, "feed", None)
        assert feed is not None
        await pilot.press("ctrl+q")
        await until(pilot, lambda: not pilot.app.is_running, what="app exited")
    assert RecordingTransport.closed >= 1
    assert feed.status.state is FeedState.OFFLINE


async def test_the_badge_says_live_and_the_grid_is_not_stale(services: Services) -> None:
    async with BackroomApp(services).run_test(size=(80, 24)) as pilot:
        screen = await floor_loaded(pilot)
        badge = screen.query_one(ConnectionBadge)
        assert "Live" in shown_text(badge)
        assert not any(plan.stale for plan in screen.plans)
        await stop_feed(pilot)
        await until(pilot, lambda: not screen.live, what="feed stopped")
        assert "Offline" in shown_text(badge)
        assert all(plan.stale for plan in screen.plans)
        assert all("STALE" in shown_text(plan.query_one(".floor-plan--title")) for plan in screen.plans)


async def test_a_table_added_to_the_layout_appears_live(
    services: Services, admin: asyncpg.Connection
) -> None:
    async with BackroomApp(services).run_test(size=SIZE) as pilot:
        screen = await floor_loaded(pilot)
        upstairs = screen.plans[0]
        await admin.execute(
            "insert into backroom.venue_table (id, venue_id, floor_id, number, name, min_party,"
            " max_party, grid_row, grid_col) values (17, 1, $1, 17, 'Terrace', 2, 4, 2, 0)",
            upstairs.floor.id,
        )
        await until(pilot, lambda: 17 in upstairs.tiles and upstairs.tiles[17].is_mounted, what="new tile")
        await pilot.pause()
        assert len(screen.query(TableTile)) == 17
        assert "17" in shown_text(upstairs.tiles[17])
        # The new row is reachable by keys: down from table 5 (row 1, column 0).
        table_5 = next(
            k for k, t in upstairs.tiles.items() if t.state is not None and t.state.table.number == 5
        )
        upstairs.tiles[table_5].focus()
        await pilot.pause()
        await pilot.press("down")
        assert screen.focused is upstairs.tiles[17]


async def test_moving_about_the_floor_lets_go_of_old_footer_keys(services: Services) -> None:
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    async with BackroomApp(services).run_test(size=SIZE) as pilot:
        screen = await floor_loaded(pilot)
        footer = screen.query_one(Footer)
        for key in ["right"] * 7 + ["down"] + ["left"] * 7 + ["up"]:
            await pilot.press(key)
            await pilot.pause()
        await pilot.pause(0.2)
        shown = len(footer.query(FooterKey))
        subscribed = len(getattr(footer, "__watchers", {}).get("compact", []))
        assert shown > 0 and subscribed <= shown, (shown, subscribed)


async def test_a_held_arrow_ends_on_the_tile_its_repeats_lead_to(
    services: Services, admin: asyncpg.Connection
) -> None:
    by_number = {
        r["number"]: r["id"] for r in await admin.fetch("select id, number from backroom.venue_table")
    }
    top_row = (1, 2, 3, 4, 9, 10, 11, 12)
    repeats = 21  # a held key: two laps of the top row and five tiles more
    async with BackroomApp(services).run_test(size=SIZE) as pilot:
        screen = await floor_loaded(pilot)
        detail = screen.query_one(TableDetail)
        for _ in range(repeats):
            pilot.app.post_message(events.Key("right", None))
        expected = by_number[top_row[repeats % len(top_row)]]

        def settled() -> bool:
            focused = screen.focused
            return (
                isinstance(focused, TableTile)
                and focused.table_id == expected
                and screen.selected == expected
                and detail.state is not None
                and detail.state.table.id == expected
            )

        await until(pilot, settled, what=f"table {top_row[repeats % len(top_row)]} after a held arrow")
        await pilot.pause(0.2)
        assert settled(), "a late focus from an earlier repeat moved the selection back"
