"""Staff identity at the console, by keys, against a real database: signing in, the
idle lock, handing over, signing out and the step-up, asserted on what is shown.

Postgres checks the codes against its own clock, so each test starts clear of a
step's edge and makes its codes from `T0`, the real time it started: `T0 + 30` is
the next step's code, which the one step of drift accepts, so no test waits for a
step to pass. The App gets a monotonic clock of its own (`monotonic`, for the idle
lock), moved by the test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from textual import events
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from console.app import BackroomApp
from console.wiring import Services, open_services
from screens.dialogs.ask import ChoiceDialog, CodeDialog, ConfirmDialog, ReasonDialog
from screens.door import DoorScreen
from screens.floor.screen import FloorScreen
from screens.help import HelpScreen
from screens.sign_in import SignInScreen
from services.identity.accounts import Enrolment, IdentityService
from tests.conftest import fixed_clock
from tests.tui.conftest import PASSWORD
from tests.tui.helpers import SMALL, Keys, floor_loaded, screen_text, shown_text, until
from tests.tui.sign_in_helpers import Clock, at_sign_in, code_at, locked, not_this
from widgets.table_tile import TableTile

T0 = 0.0
"""When the test began, in real time (set by `_clear_of_a_step_edge`)."""
GENERIC = "The email, password or code is not right."


@pytest.fixture(autouse=True)
def _quick_idle_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    # The idle lock compares the injected clock on a timer; a short one keeps tests quick.
    monkeypatch.setattr(BackroomApp, "IDLE_CHECK_SECONDS", 0.02)


@pytest.fixture(autouse=True)
async def _clear_of_a_step_edge() -> None:
    """Codes are made here and checked there: start with most of a step ahead."""
    global T0
    left = 30 - time.time() % 30
    if left < 5:
        await asyncio.sleep(left + 0.1)
    T0 = time.time()


@pytest.fixture
def monotonic() -> Clock:
    return Clock(1_000.0)


async def session_state(admin: asyncpg.Connection, token: str) -> str:
    """What Postgres holds of a console's session: live, locked, or ended and why."""
    row = await admin.fetchrow(
        "select locked, ended_at, ended_why from backroom_private.session"
        " where token_hash = backroom_private.token_hash($1)",
        token,
    )
    assert row is not None
    if row["ended_at"] is not None:
        return f"ended: {row['ended_why']}"
    return "locked" if row["locked"] else "live"


async def until_async(pilot: Pilot[Any], read: Callable[[], Awaitable[str]], wanted: str) -> None:
    for _ in range(100):
        if await read() == wanted:
            return
        await pilot.pause(0.05)
    assert await read() == wanted


def header(app: App[Any]) -> str:
    return screen_text(app).splitlines()[0]


def footer_words(screen: FloorScreen) -> list[str]:
    return [
        f"{key.key_display} {key.description}".strip() for key in screen.query_one(Footer).query(FooterKey)
    ]


async def type_in(
    pilot: Pilot[Any], email: str, password: str, code: str, *, quick: bool = False
) -> SignInScreen:
    """Type the three fields from the email on, Enter after each (the last one signs in).

    `quick` fills them in and presses only the last Enter, for the tries after the
    first one in a test: typing each key is slow, and the keys were shown to work.
    """
    screen = await at_sign_in(pilot)
    if quick:
        for name, value in zip(("email", "password", "code"), (email, password, code), strict=True):
            screen.field(name).value = value
        screen.field("code").focus()
        await pilot.press("enter")
        return screen
    screen.field("email").clear()
    screen.field("email").focus()
    await pilot.press(*email, "enter", *password, "enter", *code, "enter")
    return screen


async def refused(pilot: Pilot[Any], email: str, password: str, code: str, *, quick: bool = True) -> str:
    """Sign in, expecting a refusal; returns the sentence shown."""
    screen = await type_in(pilot, email, password, code, quick=quick)
    await until(
        pilot,
        lambda: not screen.working and screen.status_text not in ("", "Checking…"),
        what="refusal shown",
    )
    assert pilot.app.screen is screen, "a refusal stays on the sign-in screen"
    shown = screen_text(pilot.app)
    assert screen.status_text.splitlines()[0][:30] in shown
    return screen.status_text


async def signed_in(pilot: Pilot[Any], email: str, code: str, *, quick: bool = True) -> FloorScreen:
    await type_in(pilot, email, PASSWORD, code, quick=quick)
    return await floor_loaded(pilot)


async def select(pilot: Pilot[Any], screen: FloorScreen, number: int) -> TableTile:
    tile = next(
        t
        for plan in screen.plans
        for t in plan.tiles.values()
        if t.state is not None and t.state.table.number == number
    )
    tile.focus()
    await until(pilot, lambda: screen.selected == tile.table_id, what=f"table {number} selected")
    await pilot.pause()
    return tile


async def test_the_right_code_opens_the_floor_and_says_who_is_signed_in(
    services: Services, max_: Enrolment, dsn: str
) -> None:
    code = code_at(max_, T0)
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        await at_sign_in(pilot)
        shown = screen_text(pilot.app)
        assert "Email" in shown and "Password" in shown and "Code" in shown
        assert "The Backroom" not in shown, "nothing of the floor before signing in"
        await signed_in(pilot, "Max@Backroom.test", code, quick=False)
        assert "The Backroom · Fri 20 Nov 2026" in header(pilot.app)
        assert "Max Manager (manager)" in header(pilot.app)
        assert services.actor.name == "Max Manager" and services.actor.role == "manager"

    # A second console on the same database: the code is spent everywhere.
    other = await open_services(dsn, clock=fixed_clock)
    other.identity = IdentityService(other.db)
    try:
        async with BackroomApp(other).run_test(size=SMALL) as pilot:
            assert await refused(pilot, max_.email, PASSWORD, code, quick=False) == GENERIC
            assert other.actor.staff_id is None
    finally:
        await other.db.close()


async def test_keys_sent_in_one_burst_land_in_the_right_fields(services: Services, max_: Enrolment) -> None:
    """As tmux or a password manager types: Enter and the next keys arrive together."""
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        await at_sign_in(pilot)
        driver = pilot.app._driver
        assert driver is not None
        for key in [*"max@backroom.test", "enter", *PASSWORD, "enter", *code_at(max_, T0), "enter"]:
            char = {"enter": "\r", "space": " "}.get(key, key)
            name = {"@": "at", ".": "full_stop", " ": "space"}.get(key, key)
            event = events.Key(name, char)
            event.set_sender(pilot.app)
            driver.send_message(event)  # no wait between keys
        await floor_loaded(pilot)
        assert "Max Manager (manager)" in header(pilot.app)


async def test_what_was_wrong_is_never_said_then_throttled_then_locked(
    services: Services, max_: Enrolment, admin: asyncpg.Connection
) -> None:
    right = code_at(max_, T0)
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        messages = [
            await refused(pilot, "nobody@backroom.test", PASSWORD, right, quick=False),
            await refused(pilot, max_.email, "wrong password!", right),
            await refused(pilot, max_.email, PASSWORD, not_this(right)),
        ]
        assert messages == [GENERIC] * 3
        screen = pilot.app.screen
        assert isinstance(screen, SignInScreen)
        # Typed again from the password on; the email stays.
        assert screen.field("email").value == max_.email
        assert screen.field("password").value == "" and screen.field("code").value == ""
        assert screen.focused is not None and screen.focused.parent is screen.field("password")

        # Two failures for Max so far; from the fifth on, each try waits longer (1 s, 2 s,
        # 4 s...): typing is slower than the first waits, so try until one is too soon.
        said = [await refused(pilot, max_.email, "wrong password!", right) for _ in range(3)]
        assert said == [GENERIC] * 3
        for _ in range(5):
            message = await refused(pilot, max_.email, "wrong password!", right)
            if message != GENERIC:
                break
        assert message.startswith("Too many failed attempts: wait ") and " s " in message, message

        # Ten failures in fifteen minutes lock the account: the screen says until when.
        hashed = await admin.fetchval("select backroom_private.email_hash($1)", max_.email)
        failures = await admin.fetchval(
            "select count(*) from backroom_private.attempt where email_hash = $1 and outcome = 'failed'",
            hashed,
        )
        await admin.execute(
            "insert into backroom_private.attempt (email_hash, staff_id, purpose, outcome, reason, at)"
            " select $1, s.id, 'sign_in', 'failed', 'bad_password', clock_timestamp() - interval '1 minute'"
            " from backroom.staff s, generate_series(1, $3) where s.email = $2",
            hashed,
            max_.email,
            9 - failures,
        )
        await admin.execute("update backroom_private.attempt set at = at - interval '1 minute'")
        message = await refused(pilot, max_.email, "wrong password!", right)
        assert "locked" in message and "until" in message, message
        # Even the right code is refused while locked, with the same sentence.
        again = await refused(pilot, max_.email, PASSWORD, right)
        assert "locked" in again and "until" in again
        assert services.actor.staff_id is None


async def test_a_recovery_code_signs_in_once_and_says_to_re_enrol(
    services: Services, max_: Enrolment
) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        screen = await type_in(pilot, max_.email, PASSWORD, max_.recovery_codes[0])
        await until(pilot, lambda: screen.session is not None, what="signed in")
        await pilot.pause()
        shown = screen_text(pilot.app)
        assert "with a recovery code" in shown and "re-enrol your authenticator" in shown, shown
        assert "backroom staff reset-totp max@backroom.test" in shown
        assert "Enter  go to the floor" in shown
        await pilot.press("enter")
        await floor_loaded(pilot)
        assert "Max Manager (manager)" in header(pilot.app)

        # Used once: it does not open the console again.
        await pilot.press("ctrl+o")
        assert await refused(pilot, max_.email, PASSWORD, max_.recovery_codes[0]) == GENERIC


async def test_door_staff_get_the_doors_keys(services: Services, dana: Enrolment) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        keys = Keys(pilot)
        await at_sign_in(pilot)
        await keys.type(dana.email)
        await keys.press("enter")
        await keys.type(PASSWORD)
        await keys.press("enter")
        await keys.type(code_at(dana, T0))
        await keys.press("enter")
        screen = await floor_loaded(pilot)
        assert keys.count == len(dana.email) + len(PASSWORD) + 6 + 3
        assert "Dana Door (door)" in header(pilot.app)
        await select(pilot, screen, 11)  # free
        words = footer_words(screen)
        assert "n New" not in words and "h Hold" not in words and "w Walk-in" in words, words
        await select(pilot, screen, 1)  # confirmed, the party expected
        words = footer_words(screen)
        assert "i Check in" in words and "x Cancel" not in words, words


async def test_idle_lock_covers_the_floor_and_the_same_code_opens_it(
    services: Services, dana: Enrolment, monotonic: Clock, admin: asyncpg.Connection
) -> None:
    app = BackroomApp(services, monotonic=monotonic)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        floor = await signed_in(pilot, dana.email, code_at(dana, T0))
        assert "Upstairs" in screen_text(app)

        token = services.actor.session
        assert token and await session_state(admin, token) == "live"

        # A key resets the door's five minutes.
        monotonic.now += 4 * 60 + 59
        await pilot.pause(0.1)
        assert not app.locked
        await pilot.press("right")
        monotonic.now += 4 * 60
        await pilot.pause(0.1)
        assert not app.locked
        monotonic.now += 60
        lock = await locked(pilot)

        app.notify("Checked in 2 · R00001 · Alice Morgan")
        await pilot.pause()
        shown = screen_text(app)
        assert "This console is locked for Dana Door (door)." in shown, shown
        assert "Nothing was pressed for 5 minutes." in shown
        assert "Ctrl+O  someone else signs in" in shown
        for secret in ("The Backroom", "Upstairs", "Downstairs", "Alice", "CONF", "FREE", "Table"):
            assert secret not in shown, secret
        # The floor stays live under the lock; Postgres lets the session change nothing.
        assert floor.live and floor.is_attached
        await until_async(pilot, lambda: session_state(admin, token), "locked")

        # The code used to sign in is spent; a wrong one is refused; the lock stays.
        await pilot.press(*code_at(dana, T0), "enter")
        await until(pilot, lambda: "not right" in lock.status_text, what="spent code refused")
        await pilot.press(*not_this(code_at(dana, T0 + 30)), "enter")
        await until(
            pilot, lambda: "not right" in lock.status_text and not lock.working, what="wrong code refused"
        )
        assert app.screen is lock and app.locked
        assert "not right" in screen_text(app)
        await pilot.press(*code_at(dana, T0 + 30), "enter")
        await until(pilot, lambda: app.screen is floor, what="unlocked")
        assert "Dana Door (door)" in header(app) and "Upstairs" in screen_text(app)
        assert not app.locked and floor.live
        assert await session_state(admin, token) == "live"
        # A fresh five minutes from the unlock.
        monotonic.now += 4 * 60
        await pilot.pause(0.1)
        assert not app.locked


async def test_someone_else_takes_over_a_locked_console(
    services: Services, dana: Enrolment, max_: Enrolment, monotonic: Clock, admin: asyncpg.Connection
) -> None:
    app = BackroomApp(services, monotonic=monotonic)
    async with app.run_test(size=SMALL) as pilot:
        floor = await signed_in(pilot, dana.email, code_at(dana, T0))
        danas = services.actor.session
        assert danas
        monotonic.now += 5 * 60
        await locked(pilot)
        await pilot.press("ctrl+o")
        await at_sign_in(pilot)
        assert services.actor.staff_id is None
        await until_async(pilot, lambda: session_state(admin, danas), "ended: handover")
        shown = screen_text(app)
        assert "The console was locked for Dana Door. Sign in to take over." in shown
        assert "Upstairs" not in shown

        await type_in(pilot, max_.email, PASSWORD, code_at(max_, T0), quick=True)
        assert await floor_loaded(pilot) is floor, "the same floor, still running"
        assert "Max Manager (manager)" in header(app) and "Dana" not in header(app)
        await select(pilot, floor, 11)
        assert "n New" in footer_words(floor), "the manager's keys now"
        # Max's own limit: fifteen minutes, not the door's five.
        monotonic.now += 6 * 60
        await pilot.pause(0.1)
        assert not app.locked
        monotonic.now += 9 * 60
        await locked(pilot)


async def test_sign_out_then_door_staff_on_the_same_floor(
    services: Services, dana: Enrolment, max_: Enrolment, admin: asyncpg.Connection
) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        floor = await signed_in(pilot, max_.email, code_at(max_, T0))
        maxs = services.actor.session
        assert maxs
        await select(pilot, floor, 3)
        await pilot.press("x")  # a dialog left open when the shift ends
        await until(pilot, lambda: isinstance(pilot.app.screen, ReasonDialog), what="dialog open")
        await pilot.press("ctrl+o")
        await at_sign_in(pilot)
        assert services.actor.staff_id is None
        assert "Max Manager signed out." in screen_text(pilot.app)
        await until_async(pilot, lambda: session_state(admin, maxs), "ended: signed_out")
        audit = await admin.fetchval(
            "select count(*) from backroom.audit_log a join backroom.staff s"
            " on s.id = a.staff_id where a.operation = 'sign_out'"
            " and s.email = $1",
            max_.email,
        )
        assert audit == 1
        assert [type(s) for s in pilot.app.screen_stack[1:]] == [FloorScreen, SignInScreen]

        await type_in(pilot, dana.email, PASSWORD, code_at(dana, T0), quick=True)
        assert await floor_loaded(pilot) is floor
        assert "Dana Door (door)" in header(pilot.app)
        await select(pilot, floor, 11)
        words = footer_words(floor)
        assert "n New" not in words and "w Walk-in" in words, words
        await pilot.press("n")
        await pilot.pause()
        assert pilot.app.screen is floor, "n does nothing for door staff"


async def test_lock_now_help_and_palette_offer_the_new_keys(services: Services, max_: Enrolment) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        floor = await signed_in(pilot, max_.email, code_at(max_, T0))
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="help open")
        help_screen = pilot.app.screen
        assert isinstance(help_screen, HelpScreen)
        listed = {item.description: item.keys for item in help_screen.keys}
        assert listed["Lock"] == "^l" and listed["Sign out"] == "^o", listed
        assert "Sign out" in shown_text(help_screen.query_one("#help-keys"))
        await pilot.press("escape")

        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"lock the")
        await until(pilot, lambda: "Lock the console" in screen_text(pilot.app), what="palette")
        await pilot.press("enter")
        await locked(pilot)
        assert "Max Manager locked it." in screen_text(pilot.app)
        await pilot.press(*code_at(max_, T0 + 30), "enter")
        await until(pilot, lambda: pilot.app.screen is floor, what="unlocked")

        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"sign out")
        await until(pilot, lambda: "Max Manager signs out" in screen_text(pilot.app), what="palette")
        await pilot.press("enter")
        await at_sign_in(pilot)
        assert services.actor.staff_id is None


async def test_cancelling_a_deposit_after_signing_in_needs_a_fresh_code(
    services: Services, max_: Enrolment, admin: asyncpg.Connection
) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        floor = await signed_in(pilot, max_.email, code_at(max_, T0))
        tile = await select(pilot, floor, 1)
        assert tile.state is not None and tile.state.booking is not None
        booking = tile.state.booking
        assert booking.deposit > 0
        keys = Keys(pilot)
        await keys.press("x")
        await until(pilot, lambda: isinstance(pilot.app.screen, ReasonDialog), what="reason")
        await keys.type("Guest ill")
        await keys.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ChoiceDialog), what="the deposit")
        await keys.press("1")  # kept
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), what="confirm")
        await keys.press("y")
        await until(pilot, lambda: isinstance(pilot.app.screen, CodeDialog), what="code asked")
        dialog = pilot.app.screen
        assert isinstance(dialog, CodeDialog)
        assert "This booking has a deposit" in screen_text(pilot.app)

        # The code that signed Max in is spent: it is no step-up.
        await pilot.press(*code_at(max_, T0), "enter")
        await until(pilot, lambda: "not right" in dialog.status_text, what="spent code refused")
        await keys.type(code_at(max_, T0 + 30))
        await keys.press("enter")
        await until(pilot, lambda: pilot.app.screen is floor, what="back on the floor")
        await until(pilot, lambda: "FREE" in shown_text(tile), what="cancelled")
        assert keys.count == 5 + len("Guest ill") + 6
    row = await admin.fetchrow(
        "select status, cancel_reason, deposit_outcome from backroom.booking where id = $1", booking.id
    )
    assert row is not None
    assert (row["status"], row["cancel_reason"], row["deposit_outcome"]) == ("cancelled", "Guest ill", "kept")
    last = await admin.fetchval(
        "select staff_id from backroom.audit_log where entity = 'booking' and entity_id = $1"
        " order by id desc limit 1",
        booking.id,
    )
    assert last == services.actor.staff_id, "the cancellation is audited as Max"


async def test_the_screen_says_it_signs_in_with_the_consoles_own_accounts(
    services: Services, max_: Enrolment
) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        await at_sign_in(pilot)
        shown = screen_text(pilot.app)
        assert "Signing in through this console's own staff accounts." in shown, shown
        assert "six digits, or a recovery code" in shown


async def test_door_staff_start_at_the_door_and_f2_shows_the_floor(
    services: Services, dana: Enrolment
) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        await type_in(pilot, dana.email, PASSWORD, code_at(dana, T0), quick=True)
        await until(pilot, lambda: isinstance(pilot.app.screen, DoorScreen), what="door screen")
        await until(pilot, lambda: "Door ·" in screen_text(pilot.app), what="door header")
        assert "Door ·" in header(pilot.app) and "Dana Door (door)" in header(pilot.app)
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(pilot.app.screen, FloorScreen), what="floor")
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(pilot.app.screen, DoorScreen), what="door again")
        await pilot.press("f5")  # support's screen is not for door staff
        await pilot.pause()
        assert isinstance(pilot.app.screen, DoorScreen)
