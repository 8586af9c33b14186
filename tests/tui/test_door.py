"""The door screen against a real database: search, who is expected, check-in, walk-ins,
no-shows, roles, and changes from other consoles.

Each flow counts the keys it takes after the search text (`Keys`) and checks
what the screen shows (rows, dialogs, toasts) and what the database holds.
The console opens on the floor and the door goes over it; a plain App, which
keeps no feed, shows the door never Live.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import asyncpg
from textual.app import App
from textual.binding import Binding
from textual.pilot import Pilot
from textual.widgets import Footer, Static
from textual.widgets._footer import FooterKey

from console.app import BackroomApp
from console.wiring import Services, open_services
from screens.booking_steps import NO_NIGHTS
from screens.dialogs.ask import ConfirmDialog, CountDialog, Dialog
from screens.door import DoorScreen
from screens.forms.walk_in import WalkInForm
from screens.help import HelpScreen, describe_bindings
from screens.writes import OFFLINE
from services.bookings import BookingService
from services.live.presence import Announcing
from services.store import seed
from tests.conftest import FIXED_NOW, SAMPLE_NIGHT, fixed_clock
from tests.sessions import signed_in
from tests.tui.door_helpers import (
    DOOR,
    back_at_the_door,
    booking,
    door_ready,
    moving_clock,
    open_door,
    rows,
    typed,
)
from tests.tui.helpers import SMALL, Keys, screen_text, toasts, until
from tests.tui.snapshot_helpers import stable_refs

SUPPORT = "support@backroom.demo"


class DoorOnly(App[None]):
    """The door screen under a plain App, which keeps no feed: never Live."""

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services

    def on_mount(self) -> None:
        self.push_screen(DoorScreen(self.services))


def heading(screen: DoorScreen) -> str:
    return str(screen.query_one("#heading", Static).content)


async def dialog_open(pilot: Pilot[Any], kind: type[Dialog[Any]]) -> Any:
    await until(pilot, lambda: isinstance(pilot.app.screen, kind), what=f"{kind.__name__} open")
    await pilot.pause()
    return pilot.app.screen


def footer_words(screen: DoorScreen) -> list[str]:
    return [
        f"{key.key_display} {key.description}".strip() for key in screen.query_one(Footer).query(FooterKey)
    ]


# Reading ------------------------------------------------------------------------------


async def test_the_empty_box_lists_who_is_still_expected_soonest_first(
    door: Services, admin: asyncpg.Connection
) -> None:
    expected = await admin.fetch(
        "select g.name, b.party_size, b.arrived_count from backroom.booking b"
        " join backroom.guest g on g.id = b.guest_id"
        " where b.night_id = (select id from backroom.night where date = $1)"
        "   and (b.status in ('pending', 'confirmed')"
        "        or (b.status = 'arrived' and b.arrived_count < b.party_size))"
        " order by b.starts_at, b.id",
        SAMPLE_NIGHT,
    )
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        screen = await open_door(pilot)
        assert screen.search.has_focus, "the search box is focused on open"
        assert rows(screen) == [r["name"] for r in expected]
        to_come = sum(r["party_size"] - r["arrived_count"] for r in expected)
        assert heading(screen) == (
            f"Still expected tonight: {len(expected)} parties, {to_come} guests to come"
        )
        text = screen_text(pilot.app)
        assert "Door · Fri 20 Nov 2026" in text
        lines = text.splitlines()

        def line_of(name: str) -> str:
            return next(line for line in lines if name in line and "·" not in line)

        # Party in/expected, time, table(s), status word and the VIP mark, first row selected.
        assert line_of("Dev Patel").split() == [
            "▶",
            "22:15",
            "Dev",
            "Patel",
            "3/6",
            "5",
            "◑",
            "PARTLY",
            "IN",
            (await booking(admin, "Dev Patel"))["ref"],
        ]
        rosa = line_of("Rosa Alvarez").split()
        assert rosa[:5] == ["23:30", "★", "Rosa", "Alvarez", "0/18"], rosa
        assert rosa[5:8] == ["15+16", "✓", "CONFIRMED"], rosa
        assert "◐ PENDING" in line_of("Maya Cohen")
        assert "Free now: 6 (2-6) · 7 (4-8) · 10 (2-4) · 11 (2-6) · 12 (4-10)" in text
        # The console's presence is the one that announces where it is.
        presence = cast(Announcing | None, cast(BackroomApp, pilot.app).presence)
        assert presence is not None and presence.whereabouts.screen == "door"
        assert screen.snapshot is not None
        assert presence.whereabouts.night_id == screen.snapshot.night.id


async def test_typing_shows_the_best_match_first(door: Services, admin: asyncpg.Connection, dsn: str) -> None:
    await stable_refs(dsn)
    kemi = await booking(admin, "Kemi Adeyemi")
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        screen = await open_door(pilot)
        # A name that starts with the text comes before a later word that does.
        await typed(pilot, screen, "ma")
        assert rows(screen) == ["Maya Cohen", "Isla MacLeod"]
        assert heading(screen) == "2 bookings tonight for “ma”, best first"
        assert screen.selected is not None and screen.selected.guest_name == "Maya Cohen"
        # Where the text matches alike, those still expected before those in or gone.
        await pilot.press("escape")
        await typed(pilot, screen, "e")
        listed = screen.booking_list.bookings
        assert listed[0].guest_name == "Elena Rossi", "her name starts with the text"
        order = {"confirmed": 0, "pending": 1, "arrived": 2}
        ranks = [order.get(b.status.value, 5) for b in listed[1:]]
        assert ranks == sorted(ranks) and ranks[0] == 0 and ranks[-1] == 5, listed
        # A phone number, typed as staff hear it.
        await pilot.press("escape")
        await typed(pilot, screen, "900 113")
        assert rows(screen) == ["Maya Cohen"]
        # An exact booking reference beats everything.
        await pilot.press("escape")
        await typed(pilot, screen, kemi["ref"].lower())
        assert rows(screen)[0] == "Kemi Adeyemi"
        # Down and Up move the selection; the detail line follows it.
        await pilot.press("escape")
        await typed(pilot, screen, "ma")
        await pilot.press("down")
        assert screen.selected is not None and screen.selected.guest_name == "Isla MacLeod"
        assert "▶ " + (await booking(admin, "Isla MacLeod"))["ref"] in screen_text(pilot.app)
        await pilot.press("up")
        assert screen.selected is not None and screen.selected.guest_name == "Maya Cohen"
        # Nothing found says so.
        await pilot.press("escape")
        await typed(pilot, screen, "zzz")
        assert rows(screen) == []
        assert heading(screen) == "No booking tonight matches “zzz”."
        await pilot.press("enter")
        await until(
            pilot,
            lambda: any("No booking tonight matches “zzz”" in t for t in toasts(pilot.app)),
            what="said so",
        )
        assert isinstance(pilot.app.screen, DoorScreen)


# Check-in -------------------------------------------------------------------------------


async def test_a_whole_party_checks_in_with_two_keys_after_the_name(
    door: Services, admin: asyncpg.Connection
) -> None:
    alice = await booking(admin, "Alice Moreau")
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        screen = await open_door(pilot)
        await pilot.press(*"alice")
        keys = Keys(pilot)
        await keys.press("enter")
        dialog = await dialog_open(pilot, CountDialog)
        shown = screen_text(pilot.app)
        assert f"Check in {alice['ref']} · Alice Moreau" in shown
        assert "A party of 4, table 1. How many have arrived now?" in shown
        assert dialog.default == 4
        await keys.press("enter")
        screen = await back_at_the_door(pilot)
        assert keys.count == 2
        await until(pilot, lambda: "Alice Moreau" not in rows(screen), what="no longer expected")
        assert screen.search.value == "", "the box is ready for the next guest"
        assert f"Checked in 4 · {alice['ref']} · Alice Moreau (4/4 in) · table 1" in toasts(pilot.app)
    after = await booking(admin, "Alice Moreau")
    assert (after["status"], after["arrived_count"]) == ("arrived", 4)


async def test_enter_straight_after_the_name_acts_on_its_best_match(
    door: Services, admin: asyncpg.Connection
) -> None:
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        screen = await open_door(pilot)
        # No wait between the typing and Enter: the key waits for the list of "isla".
        await pilot.press(*"isla", "enter")
        dialog = await dialog_open(pilot, CountDialog)
        assert "Isla MacLeod" in dialog.heading
        assert screen.selected is not None and screen.selected.guest_name == "Isla MacLeod"


async def test_part_of_a_party_then_the_rest(door: Services, admin: asyncpg.Connection) -> None:
    kemi = await booking(admin, "Kemi Adeyemi")
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        screen = await open_door(pilot)
        await pilot.press(*"kemi")
        keys = Keys(pilot)
        await keys.press("enter")
        await dialog_open(pilot, CountDialog)
        await keys.type("4")  # replaces the whole party, selected in the box
        await keys.press("enter")
        screen = await back_at_the_door(pilot)
        assert keys.count == 3
        assert f"Checked in 4 · {kemi['ref']} · Kemi Adeyemi (4/10 in) · table 8" in toasts(pilot.app)
        row = await booking(admin, "Kemi Adeyemi")
        assert (row["status"], row["arrived_count"]) == ("arrived", 4)
        # Still expected: six more to come, shown as partly in.
        await until(pilot, lambda: "Kemi Adeyemi" in rows(screen), what="still listed")
        line = next(
            line for line in screen_text(pilot.app).splitlines() if "Kemi Adeyemi" in line and "·" not in line
        )
        assert "4/10" in line and "◑ PARTLY IN" in line, line

        # The rest come: the dialog offers the six still expected.
        await pilot.press(*"kemi")
        keys = Keys(pilot)
        await keys.press("enter")
        dialog = await dialog_open(pilot, CountDialog)
        assert dialog.default == 6 and dialog.most == 6
        assert "4 of 10 are in, table 8. How many have arrived now?" in screen_text(pilot.app)
        await keys.press("enter")
        screen = await back_at_the_door(pilot)
        assert keys.count == 2
        await until(pilot, lambda: "Kemi Adeyemi" not in rows(screen), what="all in")
    row = await booking(admin, "Kemi Adeyemi")
    assert (row["status"], row["arrived_count"]) == ("arrived", 10)


async def test_a_party_already_in_is_said_plainly(door: Services, admin: asyncpg.Connection) -> None:
    ben = await booking(admin, "Ben Okafor")
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        screen = await open_door(pilot)
        await typed(pilot, screen, "ben")
        line = next(
            line for line in screen_text(pilot.app).splitlines() if "Ben Okafor" in line and "·" not in line
        )
        assert "4/4" in line and "● ARRIVED" in line, line
        await pilot.press("enter")
        await until(
            pilot,
            lambda: f"{ben['ref']} · Ben Okafor is in already: all 4 of the party." in toasts(pilot.app),
            what="said so",
        )
        assert isinstance(pilot.app.screen, DoorScreen)
    assert (await booking(admin, "Ben Okafor"))["version"] == ben["version"]


async def test_arrivals_at_two_consoles_add_up(door: Services, admin: asyncpg.Connection) -> None:
    alice = await booking(admin, "Alice Moreau")
    manager = await signed_in(door.db, seed.DEMO_MANAGER)
    other_console = BookingService(door.db, fixed_clock)
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        await open_door(pilot)
        await pilot.press(*"alice", "enter")
        await dialog_open(pilot, CountDialog)
        # Meanwhile two of the party are checked in at the other entrance.
        await other_console.check_in(manager, alice["id"], alice["version"], 2)
        await pilot.press("enter")
        await until(
            pilot,
            lambda: any(t.startswith("Changed by Duty Manager") for t in toasts(pilot.app)),
            what="told who changed it",
        )
        screen = await back_at_the_door(pilot)
        assert screen.search.value == "alice", "a refusal keeps the search"
        assert (await booking(admin, "Alice Moreau"))["arrived_count"] == 2, "nothing overwritten"
        # Looking again offers the two still expected.
        await until(
            pilot,
            lambda: screen.selected is not None and screen.selected.arrived_count == 2,
            what="list read again",
        )
        await pilot.press("enter")
        dialog = await dialog_open(pilot, CountDialog)
        assert dialog.default == 2
        await pilot.press("enter")
        await back_at_the_door(pilot)
    after = await booking(admin, "Alice Moreau")
    assert (after["status"], after["arrived_count"]) == ("arrived", 4)


# Walk-ins -------------------------------------------------------------------------------


async def test_seat_a_walk_in(door: Services, admin: asyncpg.Connection) -> None:
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        await open_door(pilot)
        keys = Keys(pilot)
        await keys.press("ctrl+w")
        await dialog_open(pilot, WalkInForm)
        assert "Walk-in · the best free table" in screen_text(pilot.app)
        await keys.press("enter")
        await back_at_the_door(pilot)
        assert keys.count == 2
        seated = await admin.fetchrow(
            "select b.ref, b.status, b.party_size, b.arrived_count, t.number from backroom.booking b"
            " join backroom.guest g on g.id = b.guest_id"
            " join backroom.booking_table bt on bt.booking_id = b.id"
            " join backroom.venue_table t on t.id = bt.table_id where g.name = 'Walk-in'"
        )
        assert seated is not None
        # The smallest free table that seats two.
        assert (seated["status"], seated["party_size"], seated["arrived_count"], seated["number"]) == (
            "arrived",
            2,
            2,
            10,
        )
        assert f"Seated Walk-in · party of 2 at table 10 · {seated['ref']}" in toasts(pilot.app)
        await until(pilot, lambda: "10 (2-4)" not in screen_text(pilot.app), what="table 10 taken")

        # A party of five, with a name: one more key for the size.
        keys = Keys(pilot)
        await keys.press("ctrl+w")
        await dialog_open(pilot, WalkInForm)
        await keys.type("5")
        await keys.press("enter")
        await back_at_the_door(pilot)
        assert keys.count == 3
        assert any(t.startswith("Seated Walk-in · party of 5 at table 6") for t in toasts(pilot.app))


async def test_a_walk_in_nobody_can_seat_is_refused_in_staff_words(door: Services) -> None:
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        await open_door(pilot)
        await pilot.press("ctrl+w")
        await dialog_open(pilot, WalkInForm)
        await pilot.press(*"11", "enter")
        await until(
            pilot,
            lambda: any("No free table fits a party of 11 right now." in t for t in toasts(pilot.app)),
            what="refused",
        )


# No-shows -------------------------------------------------------------------------------


async def test_a_no_show_only_once_the_party_is_due(dsn: str, admin: asyncpg.Connection) -> None:
    clock, set_clock = moving_clock(FIXED_NOW)  # 23:30; Kemi Adeyemi is due at 00:00
    services = await open_services(dsn, clock=clock)
    services.actor = await signed_in(services.db, DOOR)
    kemi = await booking(admin, "Kemi Adeyemi")
    try:
        async with BackroomApp(services).run_test(size=SMALL) as pilot:
            screen = await open_door(pilot)
            await typed(pilot, screen, "kemi")
            # Not offered before the party is late by the venue's grace (15 minutes).
            await pilot.press("ctrl+n")
            await until(
                pilot,
                lambda: any(
                    f"{kemi['ref']} · Kemi Adeyemi is due at 00:00: a no-show only from 00:15." in t
                    for t in toasts(pilot.app)
                ),
                what="refused before due",
            )
            assert isinstance(pilot.app.screen, DoorScreen), "no question asked"
            assert (await booking(admin, "Kemi Adeyemi"))["status"] == "confirmed"
            assert screen.search.value == "kemi", "a refusal keeps the search"

            set_clock(FIXED_NOW + timedelta(minutes=45))
            keys = Keys(pilot)
            await keys.press("ctrl+n")
            await dialog_open(pilot, ConfirmDialog)
            assert f"{kemi['ref']} · Kemi Adeyemi: no-show?" in screen_text(pilot.app)
            await keys.press("y")
            await until(
                pilot,
                lambda: any(t.startswith(f"No-show {kemi['ref']} · Kemi Adeyemi") for t in toasts(pilot.app)),
                what="marked",
            )
            screen = await back_at_the_door(pilot)
            assert keys.count == 2
            await until(pilot, lambda: "Kemi Adeyemi" not in rows(screen), what="no longer expected")
    finally:
        await services.db.close()
    assert (await booking(admin, "Kemi Adeyemi"))["status"] == "no_show"


async def test_only_a_confirmed_party_can_be_a_no_show(door: Services, admin: asyncpg.Connection) -> None:
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        screen = await open_door(pilot)
        await typed(pilot, screen, "maya")
        await pilot.press("ctrl+n")
        await until(
            pilot, lambda: any("was never confirmed" in t for t in toasts(pilot.app)), what="pending refused"
        )
        assert isinstance(pilot.app.screen, DoorScreen)
    assert (await booking(admin, "Maya Cohen"))["status"] == "pending"


# Live, offline, roles, help ------------------------------------------------------------


async def test_changes_by_another_console_appear_and_the_search_stays(
    door: Services, admin: asyncpg.Connection
) -> None:
    maya = await booking(admin, "Maya Cohen")
    manager = await signed_in(door.db, seed.DEMO_MANAGER)
    other_console = BookingService(door.db, fixed_clock)
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        screen = await open_door(pilot)
        await typed(pilot, screen, "maya")
        before = screen.reads
        await other_console.confirm(manager, maya["id"], maya["version"])
        await until(pilot, lambda: "✓ CONFIRMED" in screen_text(pilot.app), what="confirmed shows")
        assert screen.search.value == "maya" and rows(screen) == ["Maya Cohen"]
        assert screen.reads > before

        # A burst of changes in one commit costs a read or two, not one per change.
        await pilot.press("escape")
        await until(pilot, lambda: screen.current and screen.shown_text == "", what="expected")
        before = screen.reads
        await admin.execute(
            "update backroom.booking set notes = 'VIP list' where night_id ="
            " (select id from backroom.night where date = $1) and status = 'confirmed'",
            SAMPLE_NIGHT,
        )
        await until(
            pilot,
            lambda: screen.current and any(b.notes == "VIP list" for b in screen.booking_list.bookings),
            what="notes read",
        )
        await pilot.press("down")
        assert screen.selected is not None and screen.selected.guest_name == "Alice Moreau"
        assert "Notes: VIP list" in screen_text(pilot.app), "the selected booking's notes show"
        assert 1 <= screen.reads - before <= 3, screen.reads - before


async def test_changes_are_refused_when_not_live(door: Services, admin: asyncpg.Connection) -> None:
    async with DoorOnly(door).run_test(size=SMALL) as pilot:
        screen = await door_ready(pilot, live=False)
        assert not screen.live
        await typed(pilot, screen, "alice")
        await pilot.press("enter")
        await until(pilot, lambda: OFFLINE in toasts(pilot.app), what="refused offline")
        assert isinstance(pilot.app.screen, DoorScreen)
        await pilot.press("ctrl+w")
        await pilot.pause()
        assert isinstance(pilot.app.screen, DoorScreen)
    assert (await booking(admin, "Alice Moreau"))["status"] == "confirmed"


async def test_no_night_is_said_plainly_and_a_new_night_appears(
    door: Services, admin: asyncpg.Connection
) -> None:
    await admin.execute("truncate backroom.night cascade")
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        await until(pilot, lambda: isinstance(pilot.app.screen, DoorScreen), what="door open")
        screen = pilot.app.screen
        assert isinstance(screen, DoorScreen)
        await until(pilot, lambda: heading(screen) == NO_NIGHTS, what="no night said")
        await admin.execute(
            "insert into backroom.night (venue_id, date, starts_at, ends_at)"
            " values (1, $1, '2026-11-20 22:00+00', '2026-11-21 03:00+00')",
            SAMPLE_NIGHT,
        )
        await until(
            pilot, lambda: heading(screen) == "Nobody else is expected tonight.", what="the new night shown"
        )
        assert "Door · Fri 20 Nov 2026" in screen_text(pilot.app)


async def test_keys_follow_the_role(dsn: str, admin: asyncpg.Connection) -> None:
    services = await open_services(dsn, clock=fixed_clock)
    try:
        services.actor = await signed_in(services.db, DOOR)
        async with BackroomApp(services).run_test(size=SMALL) as pilot:
            screen = await open_door(pilot)
            words = footer_words(screen)
            for word in ("⏎ Check in", "↑", "↓", "^w Walk-in", "^n No-show", "esc Expected"):
                assert word in words, words

        services.actor = await signed_in(services.db, SUPPORT)
        async with BackroomApp(services).run_test(size=SMALL) as pilot:
            screen = await open_door(pilot)
            words = footer_words(screen)
            assert "⏎ Check in" not in words and "^w Walk-in" not in words, words
            assert "^n No-show" not in words, words
            await typed(pilot, screen, "alice")
            await pilot.press("enter", "ctrl+w", "ctrl+n")
            await pilot.pause()
            assert isinstance(pilot.app.screen, DoorScreen)
    finally:
        await services.db.close()
    assert (await booking(admin, "Alice Moreau"))["status"] == "confirmed"


async def test_the_footer_fits_80_columns(door: Services) -> None:
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        await open_door(pilot)
        footer = screen_text(pilot.app).splitlines()[-1]
        for word in ("⏎ Check in", "↑↓ Select", "^w Walk-in", "^n No-show", "esc Expected"):
            assert word in footer, footer


async def test_help_lists_every_door_key(door: Services) -> None:
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        screen = await open_door(pilot)
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="help open")
        help_screen = pilot.app.screen
        assert isinstance(help_screen, HelpScreen)
        listed = {item.description: item.keys for item in help_screen.keys}
        for binding in DoorScreen.BINDINGS:
            assert isinstance(binding, Binding)
            description = binding.group.description if binding.group else binding.description
            assert any(description in shown.split(" / ") for shown in listed), (description, listed)
        assert listed["Check in"] == "⏎"
        assert listed["Select"] == "↑ ↓"
        assert listed["Walk-in"] == "^w"
        assert listed["No-show"] == "^n"
        assert listed["Expected"] == "esc"
        assert listed["Reload"] == "^r"
        # The door's own list leaves out the search box's editing keys.
        own = {
            item.description for item in describe_bindings(screen.help_bindings(), pilot.app.get_key_display)
        }
        assert "Check in" in own and "Help" in own and "Move cursor left" not in own, own
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is screen, what="help closed")


async def test_the_palette_offers_what_fits(door: Services) -> None:
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        screen = await open_door(pilot)
        await typed(pilot, screen, "alice")
        titles = [c.title for c in screen.table_commands()]
        assert any(t.startswith("Check in · ") and "Alice Moreau" in t for t in titles), titles
        assert "Seat a walk-in · best free table" in titles
        assert any(t.startswith("Mark no-show · ") for t in titles), titles
        check_in = next(c for c in screen.table_commands() if c.title.startswith("Check in"))
        check_in.run()
        await dialog_open(pilot, CountDialog)
