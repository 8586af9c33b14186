"""Names, notes and reasons that look like markup or carry terminal escapes are shown as
themselves, on the door, the floor, the toasts and the audit trail (issue 12).

Staff and guests type what they like: `Zed [/] Markup` once crashed the door
(Textual read it as markup and raised MarkupError), `[b]x[/b]` in a note came
out bold, and an ANSI escape in a name would reach the terminal raw. Each test
puts such text in the database through the services, drives the real screens
with keys and reads back what they draw: the text exactly, brackets included,
each control character shown as �, and no escape character anywhere on screen.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from textual.pilot import Pilot
from textual.widgets import Static
from textual.widgets._toast import Toast

from console.app import BackroomApp
from console.wiring import Services
from screens.audit import AuditEntryScreen, AuditScreen
from screens.dialogs.ask import ConfirmDialog, CountDialog, ReasonDialog
from screens.door import DoorScreen
from screens.forms.walk_in import WalkInForm
from services.bookings import BookingService, GuestDetails
from services.store.db import Actor
from tests.conftest import SAMPLE_NIGHT, fixed_clock
from tests.tui.door_helpers import open_door, typed
from tests.tui.helpers import (
    LARGE,
    colleague,
    dialog_open,
    night_id,
    open_floor,
    screen_text,
    shown_text,
    state_of,
    table_id,
    until,
)
from widgets.table_detail import TableDetail

ESC = "\x1b"

# What was typed, and what the screen must show for it.
HOSTILE = {
    "Zed [/] Markup": "Zed [/] Markup",
    "[b]bold[/b]": "[b]bold[/b]",
    "[link=http://x]x[/link]": "[link=http://x]x[/link]",
    "\x1b[31mred\x1b[0m": "\ufffd[31mred\ufffd[0m",
    "[@click=app.quit]q[/]": "[@click=app.quit]q[/]",
}
ANSI = "\x1b[31mred\x1b[0m"
# A colleague whose display name is hostile too: their changes are toasted and audited.
# (The database refuses control characters in names written since 0009_hardening.sql.)
COLLEAGUE = "[b]Sam[/]"


def note_for(name: str) -> str:
    """A note quoting the name, with markup and an escape of its own (notes may hold any)."""
    return f"VIP? {name} {ANSI} [i]ask[/i]"


def shown_note(name: str) -> str:
    return f"VIP? {HOSTILE[name]} {HOSTILE[ANSI]} [i]ask[/i]"


def toast_texts(pilot: Pilot[Any]) -> list[str]:
    """What the toasts on screen draw, title and message."""
    return [str(toast.render()) for toast in pilot.app.screen.query(Toast)]


def still_running(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert app.return_code is None and app._exception is None, app._exception
    assert ESC not in screen_text(app), "an escape character reached the terminal"


async def toasted(pilot: Pilot[Any], text: str) -> None:
    await until(
        pilot,
        lambda: any(text in t for t in toast_texts(pilot)),
        what=f"a toast saying {text!r}: {toast_texts(pilot)}",
    )


async def on_screen(pilot: Pilot[Any], text: str) -> None:
    await until(pilot, lambda: text in screen_text(pilot.app), what=f"{text!r} on screen")


async def expected_tonight(admin: asyncpg.Connection, count: int) -> list[asyncpg.Record]:
    """Confirmed parties still to come tonight, nobody in yet."""
    return list(
        await admin.fetch(
            "select b.id, b.ref, b.version from backroom.booking b"
            " where b.night_id = (select id from backroom.night where date = $1)"
            " and b.status = 'confirmed' and b.arrived_count = 0 order by b.starts_at, b.id limit $2",
            SAMPLE_NIGHT,
            count,
        )
    )


async def rename(bookings: BookingService, actor: Actor, booking: asyncpg.Record, name: str) -> None:
    """The booking's guest is now `name`, and its notes quote it, changed by `actor`."""
    await bookings.amend(
        actor, booking["id"], booking["version"], notes=note_for(name), guest=GuestDetails(name)
    )


async def legacy_name(admin: asyncpg.Connection, booking: asyncpg.Record, name: str) -> None:
    """A guest named before the database refused control characters in names: a venue's
    older rows keep what they had."""
    await admin.execute("alter table backroom.guest drop constraint if exists guest_name_limits")
    await admin.execute(
        "update backroom.guest set name = $1 where id ="
        " (select guest_id from backroom.booking where id = $2)",
        name,
        booking["id"],
    )
    await admin.execute("update backroom.booking set notes = $1 where id = $2", note_for(name), booking["id"])


async def test_the_door_shows_hostile_names_and_notes_as_typed(
    door: Services, admin: asyncpg.Connection
) -> None:
    sam = await colleague(admin, COLLEAGUE, "sam@backroom.test")
    other = BookingService(door.db, fixed_clock)
    names = [name for name in HOSTILE if name != "Zed [/] Markup"]
    found = await expected_tonight(admin, len(names))
    assert len(found) == len(names)
    for booking, name in zip(found, names, strict=True):
        if name == ANSI:
            await legacy_name(admin, booking, name)
        else:
            await rename(other, sam, booking, name)
    found = await expected_tonight(admin, len(names))  # their versions now

    async with BackroomApp(door).run_test(size=LARGE, notifications=True) as pilot:
        screen = await open_door(pilot)

        # The finding itself: door staff seat a walk-in by that name, then select it.
        await pilot.press("ctrl+w")
        await dialog_open(pilot, WalkInForm)
        await pilot.press("down", *"Zed [/] Markup", "enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, DoorScreen), what="back at the door")
        await toasted(pilot, "Seated Zed [/] Markup · party of 2")
        await typed(pilot, screen, "zed")
        assert screen.selected is not None and screen.selected.guest_name == "Zed [/] Markup"
        assert "Zed [/] Markup" in str(screen.query_one("#selected", Static).content)
        assert "Zed [/] Markup" in screen_text(pilot.app)
        still_running(pilot)
        await pilot.press("escape")

        for booking, name in zip(found, names, strict=True):
            await typed(pilot, screen, booking["ref"])
            assert screen.selected is not None and screen.selected.id == booking["id"]
            shown = HOSTILE[name]
            assert f"▶ {booking['ref']} · {shown}" in str(screen.query_one("#selected", Static).content)
            assert str(screen.query_one("#notes", Static).content) == f"  Notes: {shown_note(name)}"
            text = screen_text(pilot.app)
            assert shown in text and shown_note(name) in text, text
            still_running(pilot)

            # The palette names the selected party too.
            await pilot.press("ctrl+p")
            await on_screen(pilot, f"Check in · {booking['ref']} {shown}")
            await pilot.press(*"check")
            await on_screen(pilot, shown)
            still_running(pilot)
            await pilot.press("escape")
            await until(pilot, lambda: pilot.app.screen is screen, what="palette closed")
            await pilot.press(*["backspace"] * len(booking["ref"]))

        # Checking in the last one: its name in the dialog and in the toast.
        last, name = found[-1], names[-1]
        await typed(pilot, screen, last["ref"])
        await pilot.press("enter")
        dialog = await dialog_open(pilot, CountDialog)
        assert f"Check in {last['ref']} · {HOSTILE[name]}" in screen_text(pilot.app)
        assert dialog.is_attached
        await pilot.press("enter")
        await toasted(pilot, f" · {last['ref']} · {HOSTILE[name]} (")
        still_running(pilot)

        # A colleague checks in the party selected here: the toast names them and the guest.
        first, name = found[0], names[0]
        await typed(pilot, screen, first["ref"])
        fresh = await other.get(first["id"])
        await other.check_in(sam, fresh.id, fresh.version, 1)
        await toasted(pilot, f"{COLLEAGUE} checked in {HOSTILE[name]} at table")
        still_running(pilot)


async def test_the_floor_shows_hostile_names_notes_and_reasons_as_typed(
    services: Services, admin: asyncpg.Connection
) -> None:
    sam = await colleague(admin, COLLEAGUE, "sam@backroom.test")
    other = BookingService(services.db, fixed_clock)
    name = "Zed [/] Markup"
    async with BackroomApp(services).run_test(size=LARGE, notifications=True) as pilot:
        screen, tile = await open_floor(pilot, 3)
        booking = state_of(tile).booking
        assert booking is not None
        await other.amend(sam, booking.id, booking.version, notes=note_for(name), guest=GuestDetails(name))
        await until(pilot, lambda: name in shown_text(tile), what="the tile names the guest")
        detail = screen.query_one(TableDetail)
        await until(pilot, lambda: name in shown_text(detail), what="the detail names the guest")
        await toasted(
            pilot, f"{COLLEAGUE} changed {booking.guest_name}'s booking at table 3: guest now {name}"
        )
        still_running(pilot)

        # The palette's entries for the table name the guest.
        await pilot.press("ctrl+p")
        await until(pilot, lambda: f"{booking.ref} {name}" in screen_text(pilot.app), what="palette entry")
        await pilot.press(*"cancel")
        await until(
            pilot,
            lambda: f"Cancel booking · table 3 · {booking.ref} {name}" in screen_text(pilot.app),
            what="palette search",
        )
        still_running(pilot)
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is screen, what="palette closed")

        # A colleague with a hostile name holds a table: the tile, the detail and a toast say so.
        eleven = await table_id(admin, 11)
        held_tile = next(t for plan in screen.plans for t in plan.tiles.values() if t.table_id == eleven)
        held_tile.focus()
        await until(pilot, lambda: screen.selected == eleven, what="table 11 selected")
        await other.hold(sam, night_id=await night_id(admin), table_id=eleven)
        await until(pilot, lambda: "by [b]Sam[/]" in shown_text(held_tile), what="held by Sam")
        await until(
            pilot, lambda: f"Held by {COLLEAGUE}" in shown_text(detail), what="the detail names the holder"
        )
        await toasted(pilot, f"{COLLEAGUE} is holding table 11.")
        still_running(pilot)

        # A reason typed with brackets reads back as typed, in the dialog and the toast.
        tile.focus()
        await until(pilot, lambda: screen.selected == tile.table_id, what="table 3 selected")
        await pilot.press("x")
        await dialog_open(pilot, ReasonDialog)
        assert f"Cancel {booking.ref} · {name}" in screen_text(pilot.app)
        await pilot.press(*"[b]called[/b] [/]", "enter")
        await dialog_open(pilot, ConfirmDialog)
        assert "Reason: [b]called[/b] [/]" in screen_text(pilot.app)
        await pilot.press("y")
        await toasted(pilot, f"Cancelled {booking.ref} · {name}")
        reason = await admin.fetchval("select cancel_reason from backroom.booking where id = $1", booking.id)
        assert reason == "[b]called[/b] [/]"
        still_running(pilot)


async def test_the_audit_trail_shows_hostile_names_and_notes_as_typed(
    services: Services, admin: asyncpg.Connection
) -> None:
    sam = await colleague(admin, COLLEAGUE, "sam@backroom.test")
    other = BookingService(services.db, fixed_clock)
    name = "[link=http://x]x[/link]"
    [booking] = await expected_tonight(admin, 1)
    await rename(other, sam, booking, name)

    async with BackroomApp(services).run_test(size=LARGE, notifications=True) as pilot:
        await open_floor(pilot, 3)
        await pilot.press("f6")
        await until(pilot, lambda: isinstance(pilot.app.screen, AuditScreen), what="audit open")
        screen = pilot.app.screen
        assert isinstance(screen, AuditScreen)
        await until(pilot, lambda: screen.loads >= 1 and not screen.reading, what="audit loaded")
        newest = screen.table.entries[0]
        assert newest.ref == booking["ref"] and newest.who == COLLEAGUE
        assert "[b]Sam[/]" in screen_text(pilot.app)
        still_running(pilot)

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, AuditEntryScreen), what="entry open")
        await pilot.pause()
        text = screen_text(pilot.app)
        assert f"Who    {COLLEAGUE} (staff {sam.staff_id})" in text, text
        assert shown_note(name) in text, text
        still_running(pilot)
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is screen, what="entry closed")

        # A filter typed with brackets is said back as typed.
        await pilot.press("slash", *"[b]", "enter")
        await until(pilot, lambda: screen.filter.booking == "[b]" and not screen.reading, what="filtered")
        assert "[b]" in str(screen.query_one("#audit-status", Static).content)
        still_running(pilot)


async def test_the_sign_out_command_names_a_hostile_staff_member_as_typed(
    services: Services, admin: asyncpg.Connection
) -> None:
    from textual.content import Content

    from services.identity.accounts import IdentityService

    services.identity = IdentityService(services.db)
    services.actor = Actor(
        staff_id=services.actor.staff_id,
        name="Zed [/] [b]Markup\x1b[2J",
        role=services.actor.role,
        session=services.actor.session,
    )
    async with BackroomApp(services).run_test(size=(100, 30)) as pilot:
        await open_floor(pilot, 1)
        commands = [c for c in pilot.app.get_system_commands(pilot.app.screen) if c.title == "Sign out"]
        assert len(commands) == 1
        shown = Content.from_markup(commands[0].help).plain
        assert shown.startswith("Zed [/] [b]Markup\ufffd[2J signs out")
