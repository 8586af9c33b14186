"""Two real consoles at once: `BackroomApp`s under `run_test()` in one event loop, each on
its own services and database pool, signed in as different staff.

They watch a random burst of concurrent booking operations made by other (service
level) consoles and end on exactly what the database holds: each floor's snapshot,
each tile's state, and what each tile paints on the terminal. And a change made by
keys on one console shows on the other with no key pressed there.

Textual finds "the app" of a widget through a context variable, which the innermost
`run_test()` sets for the test's task. So everything this file does to one console
(reading `screen.live`, focusing a tile, rendering one, pressing keys) runs `inside()`
that console's own context; otherwise a widget of the first app would consult the
second.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from rich.cells import get_character_cell_size
from rich.console import Console as RichConsole
from textual import events
from textual.message import Message
from textual.pilot import Pilot

from console.app import BackroomApp
from console.wiring import Services, open_services
from screens.floor.screen import FloorScreen
from services.floor import FloorService
from services.identity.roles import Role
from services.models import Night, TableState, TileStatus
from services.store import seed
from services.store.db import Actor, Database
from tests.conftest import fixed_clock
from tests.integration.realtime_helpers import WORKERS, burst, notes_storm
from tests.sessions import signed_in
from tests.tui.helpers import floor_loaded, shown_text, until
from widgets.display import TILE_LABELS
from widgets.table_detail import TableDetail
from widgets.table_tile import WIDE_AT, TableTile

WIDE = (160, 48)  # tiles wide enough for long words, the countdown and "by <holder>"
NARROW = (80, 24)  # four-letter words, names cut short
ADMIN_EMAIL = "night.admin@backroom.test"
ADMIN_NAME = "Night Admin"


@dataclass
class Seat:
    """One running console: its app, pilot, services, and the keys it has received."""

    name: str
    app: BackroomApp
    services: Services
    pilot: Pilot[Any] = field(init=False)
    keys_heard: int = 0

    def hook(self, message: Message) -> None:
        if isinstance(message, events.Key):
            self.keys_heard += 1

    @property
    def floor(self) -> FloorScreen:
        screen = self.app.floor_screen
        assert screen is not None, f"{self.name}: no floor screen"
        return screen

    def tiles(self) -> dict[int, TableTile]:
        return {key: tile for plan in self.floor.plans for key, tile in plan.tiles.items()}


@contextlib.contextmanager
def inside(seat: Seat) -> Iterator[None]:
    """Run the block as code of `seat`'s app (Textual's active app and message pump)."""
    with seat.app._context():
        yield


@contextlib.asynccontextmanager
async def consoles(dsn: str, *accounts: tuple[str, str, tuple[int, int]]) -> AsyncIterator[list[Seat]]:
    """One BackroomApp per (name, staff email, size), all running at once, each on the floor
    and Live. Apps stop in reverse order, then their databases close."""
    async with contextlib.AsyncExitStack() as stack:
        seats: list[Seat] = []
        for name, email, size in accounts:
            services = await open_services(dsn, clock=fixed_clock)
            stack.push_async_callback(services.db.close)
            services.actor = await signed_in(services.db, email)
            assert services.actor.staff_id is not None, email
            seat = Seat(name, BackroomApp(services), services)
            seat.pilot = await stack.enter_async_context(seat.app.run_test(size=size, message_hook=seat.hook))
            seats.append(seat)
        for seat in seats:
            with inside(seat):
                await floor_loaded(seat.pilot)
        yield seats


async def until_all(
    seats: list[Seat], check: Callable[[Seat], bool], *, what: str, timeout: float = 15.0
) -> None:
    """Let every app run until `check` holds for each of them (each checked inside its own app)."""

    def every() -> bool:
        for seat in seats:
            with inside(seat):
                if not check(seat):
                    return False
        return True

    with inside(seats[0]):
        await until(seats[0].pilot, every, timeout=timeout, what=what)


async def until_tiles_show(
    seats: list[Seat], expected: dict[int, TableState], *, what: str, timeout: float = 15.0
) -> None:
    """Wait until every seat's tiles show `expected`; on a timeout, say where they differ."""
    try:
        await until_all(seats, lambda seat: not tile_problems(seat, expected), what=what, timeout=timeout)
    except AssertionError as err:
        problems = []
        for seat in seats:
            with inside(seat):
                problems += tile_problems(seat, expected)
        raise AssertionError("\n".join([str(err), *problems[:6]])) from None


async def truth(db: Database, night_id: int) -> dict[int, TableState]:
    """What the database holds now, read afresh as the floor service reads it."""
    return dict((await FloorService(db, fixed_clock).snapshot(night_id)).tables)


def painted(seat: Seat, tile: TableTile) -> str:
    """The characters on the terminal inside the tile's region (its border included):
    what the compositor paints, not what the tile would render if asked now."""
    width, height = seat.app.size
    out = RichConsole(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    out.print(seat.app.screen._compositor.render_update(full=True, screen_stack=seat.app._background_screens))
    rows = out.export_text().split("\n")
    region = tile.region
    lines = []
    for row in rows[region.y : region.y + region.height]:
        cells, kept = 0, []
        for char in row:
            if region.x <= cells < region.x + region.width:
                kept.append(char)
            cells += get_character_cell_size(char)
        lines.append("".join(kept))
    return "\n".join(lines)


def cut(text: str, width: int) -> str:
    """The part of `text` a tile of inner `width` shows in full (the rest may be an ellipsis)."""
    return text if len(text) <= width else text[: width - 1]


def tile_problems(seat: Seat, expected: dict[int, TableState]) -> list[str]:
    """Where the seat's tiles differ from `expected`: state, status class, rendered and painted text."""
    problems: list[str] = []
    tiles = seat.tiles()
    if set(tiles) != set(expected):
        return [f"{seat.name}: tiles {sorted(tiles)} != tables {sorted(expected)}"]
    for table_id, state in expected.items():
        tile = tiles[table_id]
        where = f"{seat.name}, table {state.table.number}"
        if tile.state != state:
            problems.append(f"{where}: tile state {tile.state} != database {state}")
            continue
        if not tile.has_class(f"-status-{state.status.value}"):
            problems.append(f"{where}: classes {sorted(tile.classes)} lack -status-{state.status.value}")
        width = tile.content_region.width
        wide = width >= WIDE_AT
        short, symbol, long = TILE_LABELS[state.status]
        wanted = [str(state.table.number), f"{symbol} {long}" if wide else short]
        if state.status is TileStatus.HELD:
            assert state.hold is not None
            wanted.append(cut(f"by {state.hold.holder}" if wide else state.hold.holder, width))
        elif state.booking is not None:
            wanted.append(cut(state.booking.guest_name, width))
            if state.status is TileStatus.ARRIVED:
                booking = state.booking
                wanted.append(f"{booking.arrived_count}/{booking.party_size}")
        else:
            wanted.append(f"{symbol} {long}" if wide else short)
        for label, text in (("rendered", shown_text(tile)), ("painted", painted(seat, tile))):
            missing = [w for w in wanted if w not in text]
            if missing:
                problems.append(f"{where}: {label} text lacks {missing}:\n{text}")
    return problems


@pytest.fixture
async def staff_accounts(admin: asyncpg.Connection) -> list[Actor]:
    """An admin for the second console and the burst's managers (as in the integration test);
    nothing lapses while a test runs."""
    await admin.execute(
        "insert into backroom.staff (email, display_name, role) values ($1, $2, 'admin')",
        ADMIN_EMAIL,
        ADMIN_NAME,
    )
    rows = await admin.fetch(
        "insert into backroom.staff (email, display_name, role)"
        " select 'burst' || n || '@backroom.test', 'Burst ' || n, 'manager'"
        " from generate_series(1, $1) n"
        " returning id, display_name, backroom_meta.open_session(id) as token",
        WORKERS,
    )
    # Each app sweeps lapsed holds and unconfirmed bookings by the database's clock, not
    # the consoles' fixed one. Holds last 30 s, and the sample's pending bookings lapse an
    # hour after the template was made: a sweep during a test would move the target.
    await admin.execute("update backroom.venue set hold_seconds = 600")
    await admin.execute(
        "update backroom.booking set expires_at = now() + interval '1 hour' where status = 'pending'"
    )
    return [
        Actor(staff_id=r["id"], name=r["display_name"], role=Role.MANAGER, session=r["token"]) for r in rows
    ]


async def test_two_consoles_end_on_what_the_database_holds_after_a_burst(
    dsn: str,
    services: Services,
    night: Night,
    staff_accounts: list[Actor],
    admin: asyncpg.Connection,
) -> None:
    burst_seed = random.randrange(10**6)
    about = f"(burst seed {burst_seed})"
    before = await truth(services.db, night.id)
    async with consoles(
        dsn, ("manager console", seed.DEMO_MANAGER, WIDE), ("admin console", ADMIN_EMAIL, NARROW)
    ) as seats:
        for seat in seats:
            with inside(seat):
                assert seat.floor.snapshot is not None
                assert seat.floor.snapshot.night.id == night.id
                assert seat.floor.snapshot.tables == before, f"{seat.name} starts on the database"
                assert not tile_problems(seat, before)
        heard = {seat.name: seat.floor.changes_heard for seat in seats}

        succeeded, storm = await asyncio.gather(
            burst(dsn, staff_accounts, night, seed=burst_seed), notes_storm(admin, night, 100)
        )
        # Most operations are refused (taken tables, wrong states): 40 to 70 succeed.
        assert succeeded >= 25, f"the burst did too little ({succeeded} operations) {about}"
        after = await truth(services.db, night.id)
        changed = [t for t in after if after[t] != before[t]]
        assert len(changed) >= 8, f"the burst changed only tables {changed} {about}"

        await until_all(
            seats,
            lambda seat: (
                seat.floor.snapshot is not None
                and seat.floor.snapshot.tables == after
                and not seat.floor.reloading
            ),
            what=f"both snapshots equal the database {about}",
            timeout=20,
        )
        await until_tiles_show(seats, after, what=f"both floors' tiles show the database {about}")

        # Nothing is written any more: a straggling reload must not take a floor elsewhere.
        for seat in seats:
            with inside(seat):
                await seat.pilot.pause(0.3)
        assert await truth(services.db, night.id) == after, "the database moved on its own"
        for seat in seats:
            with inside(seat):
                screen = seat.floor
                assert screen.live, f"{seat.name} stayed Live"
                assert screen.snapshot is not None and screen.snapshot.tables == after, seat.name
                problems = tile_problems(seat, after)
                assert not problems, "\n".join(problems)
                assert screen.changes_heard - heard[seat.name] >= succeeded + storm, (
                    f"{seat.name} heard every change"
                )
                assert seat.keys_heard == 0, f"{seat.name} was updated with no key pressed"


async def test_a_change_by_keys_on_one_console_shows_on_the_other(
    dsn: str,
    services: Services,
    night: Night,
    staff_accounts: list[Actor],
    admin: asyncpg.Connection,
) -> None:
    manager = await signed_in(services.db, seed.DEMO_MANAGER)
    start = await truth(services.db, night.id)
    free = min((s for s in start.values() if s.status is TileStatus.FREE), key=lambda s: s.table.number)
    pending = min((s for s in start.values() if s.status is TileStatus.PENDING), key=lambda s: s.table.number)
    assert pending.booking is not None
    async with consoles(
        dsn, ("manager console", seed.DEMO_MANAGER, WIDE), ("admin console", ADMIN_EMAIL, NARROW)
    ) as (one, other):
        # The manager holds a free table with h; the admin's tile shows it, untouched.
        with inside(one):
            mine = one.tiles()[free.table.id]
            mine.focus()
            await until(one.pilot, lambda: one.floor.selected == free.table.id, what="table selected")
            one.keys_heard = other.keys_heard = 0
            await one.pilot.press("h")
            await until(
                one.pilot,
                lambda: mine.state is not None and mine.state.hold is not None,
                what="held on the console that pressed h",
            )
        with inside(other):
            theirs = other.tiles()[free.table.id]
            await until(
                other.pilot,
                lambda: theirs.state is not None and theirs.state.status is TileStatus.HELD,
                what="hold shown on the other console",
            )
        hold = await admin.fetchrow(
            "select id, staff_id, holder from backroom.hold where table_id = $1 and night_id = $2",
            free.table.id,
            night.id,
        )
        assert hold is not None and (hold["staff_id"], hold["holder"]) == (manager.staff_id, "Duty Manager")
        now = await truth(services.db, night.id)
        with inside(other):
            assert theirs.state == now[free.table.id]
            assert theirs.state is not None and theirs.state.hold is not None
            assert theirs.state.hold.id == hold["id"]
            assert not tile_problems(other, now), tile_problems(other, now)
            assert "Duty Ma" in painted(other, theirs)
        assert one.keys_heard > 0 and other.keys_heard == 0, "the other console pressed nothing"

        # The admin confirms a pending booking with c; the manager's tile follows.
        with inside(other):
            target = other.tiles()[pending.table.id]
            target.focus()
            await until(
                other.pilot, lambda: other.floor.selected == pending.table.id, what="pending table selected"
            )
            one.keys_heard = other.keys_heard = 0
            await other.pilot.press("c")
        with inside(one):
            watched = one.tiles()[pending.table.id]
            await until(
                one.pilot,
                lambda: watched.state is not None and watched.state.status is TileStatus.CONFIRMED,
                what="confirmation shown on the manager's console",
            )
            assert "✓ CONFIRMED" in painted(one, watched)
        row = await admin.fetchrow(
            "select status, updated_by from backroom.booking where id = $1", pending.booking.id
        )
        assert row is not None
        assert dict(row) == {"status": "confirmed", "updated_by": other.services.actor.staff_id}
        assert other.keys_heard > 0 and one.keys_heard == 0, "the manager's console pressed nothing"

        # The manager gives the hold up with h again; the admin's tile is free once more.
        with inside(one):
            mine.focus()
            await until(one.pilot, lambda: one.floor.selected == free.table.id, what="held table selected")
            other.keys_heard = 0
            await one.pilot.press("h")
        with inside(other):
            await until(
                other.pilot,
                lambda: theirs.state is not None and theirs.state.status is TileStatus.FREE,
                what="release shown on the other console",
            )
        assert other.keys_heard == 0
        assert await admin.fetchval("select count(*) from backroom.hold where night_id = $1", night.id) == 0

        end = await truth(services.db, night.id)
        assert end[pending.table.id].status is TileStatus.CONFIRMED
        assert end[free.table.id] == start[free.table.id]
        await until_all(
            [one, other],
            lambda seat: (
                seat.floor.snapshot is not None
                and seat.floor.snapshot.tables == end
                and not tile_problems(seat, end)
            ),
            what="both floors equal the database",
        )


def detail_text(seat: Seat) -> str:
    return shown_text(seat.floor.query_one(TableDetail))


async def test_each_console_sees_who_else_is_on_its_table(
    dsn: str,
    services: Services,
    night: Night,
    staff_accounts: list[Actor],
) -> None:
    start = await truth(services.db, night.id)
    free = sorted((s for s in start.values() if s.status is TileStatus.FREE), key=lambda s: s.table.number)
    table, elsewhere = free[0].table, free[1].table
    async with consoles(
        dsn, ("manager console", seed.DEMO_MANAGER, WIDE), ("admin console", ADMIN_EMAIL, WIDE)
    ) as (one, other):
        for seat in (one, other):
            with inside(seat):
                seat.tiles()[table.id].focus()
                await until(
                    seat.pilot,
                    lambda seat=seat: seat.floor.selected == table.id,  # type: ignore[misc]
                    what=f"{seat.name} on table {table.number}",
                )
        with inside(other):
            await until(
                other.pilot,
                lambda: "Also on this table: Duty Manager (manager)" in detail_text(other),
                what="the admin sees the manager on the table",
            )
        with inside(one):
            await until(
                one.pilot,
                lambda: f"Also on this table: {ADMIN_NAME} (admin)" in detail_text(one),
                what="the manager sees the admin on the table",
            )
            # The manager holds it, then goes to another table: the hold is still announced.
            await one.pilot.press("h")
            await until(
                one.pilot,
                lambda: (state := one.tiles()[table.id].state) is not None and state.hold is not None,
                what="held",
            )
            one.tiles()[elsewhere.id].focus()
            await until(one.pilot, lambda: one.floor.selected == elsewhere.id, what="moved on")
            assert "Also on this table" not in detail_text(one)
        with inside(other):
            await until(
                other.pilot,
                lambda: (
                    other.app.presence is not None
                    and any(
                        e.staff_name == "Duty Manager"
                        and e.selected_table == elsewhere.id
                        and e.held_table == table.id
                        for e in other.app.presence.online()
                    )
                ),
                what="the manager's move and hold announced",
            )
            assert "Also on this table: Duty Manager (manager)" in detail_text(other), detail_text(other)
        # The manager gives the hold up and leaves: the admin's table is the admin's alone.
        with inside(one):
            one.tiles()[table.id].focus()
            await until(one.pilot, lambda: one.floor.selected == table.id, what="back on the table")
            await one.pilot.press("h")
            await until(
                one.pilot,
                lambda: one.tiles()[table.id].state is not None and one.tiles()[table.id].state.hold is None,  # type: ignore[union-attr]
                what="released",
            )
            one.tiles()[elsewhere.id].focus()
        with inside(other):
            await until(
                other.pilot,
                lambda: "Also on this table" not in detail_text(other),
                what="nobody else on the admin's table",
            )
