"""Handing over, locking and quitting a shared console, by keys, against a real database:
door staff land at the door after a handover; a locked console does not quit; Ctrl+C
asks first; the lock's field starts empty after each code; help names Ctrl+C once.

Postgres checks the codes against its own clock, so each test starts clear of a
step's edge and makes its codes from `T0`, as in test_sign_in.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from console.app import BackroomApp
from console.settings import Settings, SettingsError
from console.wiring import Services
from screens.dialogs.ask import ConfirmDialog
from screens.door import DoorScreen
from screens.floor.screen import FloorScreen
from screens.help import HelpScreen
from screens.lock import LockScreen
from screens.sign_in import SignInScreen
from services.identity.accounts import Enrolment
from tests.tui.conftest import PASSWORD
from tests.tui.helpers import SMALL, floor_loaded, screen_text, shown_text, toasts, until
from tests.tui.sign_in_helpers import code_at, locked, not_this
from widgets.table_detail import TableDetail
from widgets.table_tile import TableTile

T0 = 0.0


@pytest.fixture(autouse=True)
async def _clear_of_a_step_edge() -> None:
    """Codes are made here and checked there: start with most of a step ahead."""
    global T0
    left = 30 - time.time() % 30
    if left < 5:
        await asyncio.sleep(left + 0.1)
    T0 = time.time()


async def sign_in(pilot: Pilot[Any], email: str, code: str) -> None:
    await until(pilot, lambda: isinstance(pilot.app.screen, SignInScreen), what="sign-in shown")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, SignInScreen)
    for name, value in zip(("email", "password", "code"), (email, PASSWORD, code), strict=True):
        screen.field(name).value = value
    screen.field("code").focus()
    await pilot.press("enter")


def code_field(lock: LockScreen) -> Input:
    return lock.query_one("#code Input", Input)


async def test_door_staff_land_at_the_door_after_a_handover(
    services: Services, dana: Enrolment, max_: Enrolment
) -> None:
    app = BackroomApp(services)
    async with app.run_test(size=SMALL) as pilot:
        await sign_in(pilot, max_.email, code_at(max_, T0))
        floor = await floor_loaded(pilot)
        await pilot.press("right", "right", "down")  # a table other than the first
        await pilot.press("ctrl+l")
        await locked(pilot)
        await pilot.press("ctrl+o")
        await sign_in(pilot, dana.email, code_at(dana, T0))
        await until(pilot, lambda: isinstance(app.screen, DoorScreen), what="at the door")
        assert services.actor.name == "Dana Door"
        assert [type(s) for s in app.screen_stack[1:]] == [FloorScreen, DoorScreen]

        # The floor, from the door: the detail names the table that is highlighted.
        await pilot.press("f2")
        await until(pilot, lambda: app.screen is floor, what="floor")
        await pilot.pause()
        focused = floor.focused
        assert isinstance(focused, TableTile) and focused.state is not None
        assert floor.selected == focused.table_id
        assert f"Table {focused.state.table.number}" in shown_text(floor.query_one(TableDetail))


async def test_a_locked_console_cannot_be_quit_and_ctrl_c_asks_first(
    services: Services, max_: Enrolment
) -> None:
    app = BackroomApp(services)
    async with app.run_test(size=SMALL) as pilot:
        await sign_in(pilot, max_.email, code_at(max_, T0))
        floor = await floor_loaded(pilot)
        await pilot.press("ctrl+l")
        lock = await locked(pilot)
        for key in ("ctrl+q", "ctrl+c"):
            await pilot.press(key)
            await pilot.pause()
            assert app.is_running and app.screen is lock, key
            assert "cannot be quit" in lock.status_text, key
        assert "cannot be quit" in screen_text(app)
        # The palette's Quit goes the same way.
        await app.action_quit()
        await pilot.pause()
        assert app.is_running and app.screen is lock

        await pilot.press(*code_at(max_, T0 + 30), "enter")
        await until(pilot, lambda: app.screen is floor, what="unlocked")
        # Ctrl+C asks; n keeps the console.
        await pilot.press("ctrl+c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="asked")
        assert "Quit the console?" in screen_text(app)
        await pilot.press("ctrl+c")  # asking already: still one question
        await pilot.pause()
        assert sum(isinstance(s, ConfirmDialog) for s in app.screen_stack) == 1
        await pilot.press("n")
        await until(pilot, lambda: app.screen is floor, what="kept")
        assert app.is_running
        await pilot.press("ctrl+c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="asked again")
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running, what="quit")


async def test_the_locks_field_is_empty_for_the_next_code(services: Services, dana: Enrolment) -> None:
    app = BackroomApp(services)
    async with app.run_test(size=SMALL) as pilot:
        await sign_in(pilot, dana.email, code_at(dana, T0))
        await until(pilot, lambda: isinstance(app.screen, DoorScreen), what="at the door")
        await pilot.press("ctrl+l")
        lock = await locked(pilot)
        await pilot.press(*not_this(code_at(dana, T0 + 30)), "enter")
        assert code_field(lock).value == "", "emptied as the code goes"
        await until(
            pilot, lambda: "not right" in lock.status_text and not lock.working, what="wrong code refused"
        )
        assert code_field(lock).value == ""
        # Too short: said, and emptied too.
        await pilot.press(*"12345", "enter")
        await pilot.pause()
        assert "six digits" in lock.status_text and code_field(lock).value == ""
        # The right code, typed on its own, opens it (it was not added to the wrong one).
        await pilot.press(*code_at(dana, T0 + 30), "enter")
        await until(pilot, lambda: isinstance(app.screen, DoorScreen), what="unlocked")


async def test_a_kiosk_asks_before_ctrl_q_and_quits_only_for_someone_signed_in(
    services: Services, max_: Enrolment
) -> None:
    app = BackroomApp(services, kiosk=True)
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: isinstance(app.screen, SignInScreen), what="sign-in shown")
        await pilot.pause()
        sign_in_screen = app.screen
        assert isinstance(sign_in_screen, SignInScreen)
        for key in ("ctrl+q", "ctrl+c"):
            await pilot.press(key)
            await pilot.pause()
            assert "sign in to quit" in sign_in_screen.status_text, key
            assert app.is_running and isinstance(app.screen, SignInScreen), key

        await sign_in(pilot, max_.email, code_at(max_, T0))
        await floor_loaded(pilot)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="asked")
        await pilot.press("y")
        await until(pilot, lambda: not app.is_running, what="quit")


async def test_ctrl_c_is_listed_once_in_help(services: Services) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        await floor_loaded(pilot)
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="help open")
        help_screen = pilot.app.screen
        assert isinstance(help_screen, HelpScreen)
        with_ctrl_c = [item.description for item in help_screen.keys if "^c" in item.keys.split()]
        assert with_ctrl_c == ["Quit, after asking"], with_ctrl_c
        listed = {item.description: item.keys for item in help_screen.keys}
        assert listed["Quit"] == "^q"


async def test_f5_and_f6_at_the_door_say_why(services: Services, dana: Enrolment) -> None:
    app = BackroomApp(services)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await sign_in(pilot, dana.email, code_at(dana, T0))
        await until(pilot, lambda: isinstance(app.screen, DoorScreen), what="at the door")
        door = app.screen
        await pilot.press("f5")
        await until(pilot, lambda: any("Health (F5) is for" in t for t in toasts(app)), what="F5 says why")
        await pilot.press("f6")
        await until(pilot, lambda: any("Audit (F6) is for" in t for t in toasts(app)), what="F6 says why")
        assert app.screen is door
        said = [t for t in toasts(app) if " is for " in t]
        assert all(t.endswith("not door staff.") for t in said), said


def test_the_kiosk_setting() -> None:
    assert Settings.from_env({}).kiosk is False
    assert Settings.from_env({"BACKROOM_KIOSK": "1"}).kiosk is True
    assert Settings.from_env({"BACKROOM_KIOSK": "off"}).kiosk is False
    with pytest.raises(SettingsError, match="BACKROOM_KIOSK is 'maybe'"):
        Settings.from_env({"BACKROOM_KIOSK": "maybe"})
