"""The demo's sign-in screen lists its four accounts and fills one in with one key; a
venue's console shows and binds nothing of it.

The accounts are enrolled on the test's database with the demo's emails and
passwords, and the demo's own provider (`DemoSignIns`) reads their secrets from
it as its owner. Postgres checks the codes on its own clock; the demo's clock
is one the test moves within a step either side of real time, which the check's
drift accepts, so the code filled in is known to the test and no test waits
for a step to pass.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from textual.pilot import Pilot

from console.app import BackroomApp
from console.demo import DEMO_ACCOUNTS, DemoAccount, DemoSignIns
from console.keymap import Keymap, catalogue, parse
from console.wiring import Services
from screens.door import DoorScreen
from screens.help import HelpScreen
from screens.sign_in import SignInScreen
from services.identity.accounts import STEP_SECONDS, Enrolment, IdentityService
from services.store.db import Actor, Database
from tests.tui.helpers import SMALL, screen_text, until
from tests.tui.sign_in_helpers import Clock, at_sign_in, code_at
from widgets.demo_accounts import DEMO_WORDS, DemoAccountList

DOOR = DEMO_ACCOUNTS[0]


@dataclass
class Demo:
    """The demo's accounts on the test's database, and consoles that offer them."""

    services: Services
    owner: Database
    clock: Clock
    enrolled: dict[str, Enrolment] = field(default_factory=dict)

    async def enrol(self, accounts: tuple[DemoAccount, ...] = DEMO_ACCOUNTS) -> None:
        identity = self.services.identity
        assert isinstance(identity, IdentityService)
        for account in accounts:
            self.enrolled[account.email] = await identity.add_staff(
                None, email=account.email, name=account.name, role=account.role, password=account.password
            )

    def code(self, email: str, t: float | None = None) -> str:
        return code_at(self.enrolled[email], self.clock.now if t is None else t)

    def app(
        self, accounts: tuple[DemoAccount, ...] = DEMO_ACCOUNTS, *, keymap: Keymap | None = None
    ) -> BackroomApp:
        return BackroomApp(
            self.services, keymap=keymap, demo_accounts=DemoSignIns(self.owner, accounts, self.clock)
        )


@pytest.fixture
async def demo(services: Services, owner_db: Database) -> Demo:
    """Nobody signed in; the demo's codes on a clock the test moves, started at real time
    with most of a step ahead."""
    left = STEP_SECONDS - time.time() % STEP_SECONDS
    if left < 5:
        await asyncio.sleep(left + 0.1)
    made = Demo(services, owner_db, Clock(time.time()))
    services.identity = IdentityService(services.db, owner=owner_db)
    services.actor = Actor()
    return made


@pytest.fixture
async def enrolled(demo: Demo) -> Demo:
    await demo.enrol()
    return demo


def fields(screen: SignInScreen) -> tuple[str, str, str]:
    return screen.field("email").value, screen.field("password").value, screen.field("code").value


async def filled(pilot: Pilot[Any], screen: SignInScreen, demo_key: str, email: str) -> None:
    """Press a demo key and wait until its account is filled in."""
    await pilot.press(demo_key)
    await until(
        pilot,
        lambda: screen.field("email").value == email and "filled in" in screen.status_text,
        what=f"{email} filled in",
    )
    await pilot.pause()


async def test_the_demo_lists_its_accounts_and_one_key_signs_the_door_in(enrolled: Demo) -> None:
    async with enrolled.app().run_test(size=SMALL) as pilot:
        screen = await at_sign_in(pilot)
        shown = screen_text(pilot.app)
        assert "DEMO ONLY" in shown and DEMO_WORDS in shown, shown
        for n, account in enumerate(DEMO_ACCOUNTS):
            row = next(line for line in shown.splitlines() if account.email in line)
            assert f"F{7 + n} Alt+{account.role[0].upper()}" in row and account.role in row, row
        assert fields(screen) == ("", "", "")

        await filled(pilot, screen, "f7", DOOR.email)
        assert fields(screen) == (DOOR.email, DOOR.password, enrolled.code(DOOR.email))
        assert screen.focused is screen.field("code").input, "Enter signs in from here"
        assert "Demo door account filled in. Enter signs in." in screen_text(pilot.app)

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, DoorScreen), what="door screen")
        actor = enrolled.services.actor
        assert actor.name == DOOR.name and actor.role == "door"


async def test_each_key_fills_the_code_of_the_moment_it_is_pressed(enrolled: Demo) -> None:
    manager, support = DEMO_ACCOUNTS[1], DEMO_ACCOUNTS[3]
    async with enrolled.app().run_test(size=SMALL) as pilot:
        screen = await at_sign_in(pilot)
        clock = enrolled.clock
        step = clock.now - clock.now % STEP_SECONDS  # where the code of now begins
        clock.now = step + 29
        await filled(pilot, screen, "alt+m", manager.email)
        assert fields(screen) == (manager.email, manager.password, enrolled.code(manager.email, step))

        # The code has just changed: the key fills in the new one.
        clock.now = step + 30
        await filled(pilot, screen, "alt+m", manager.email)
        assert screen.field("code").value == enrolled.code(manager.email, step + 30)

        clock.now = step + 29
        await filled(pilot, screen, "f10", support.email)
        assert fields(screen) == (support.email, support.password, enrolled.code(support.email, step))
        await pilot.press("enter")
        await until(pilot, lambda: enrolled.services.actor.role == "support", what="support signed in")

        # Signed out and in again within the same 30 s: that code is spent, the next one
        # (one step of drift) signs in.
        await pilot.press("ctrl+o")
        screen = await at_sign_in(pilot)
        assert screen.query_one(DemoAccountList), "the list is there after signing out"
        await filled(pilot, screen, "f10", support.email)
        assert screen.field("code").value == enrolled.code(support.email, step + 30)
        await pilot.press("enter")
        await until(pilot, lambda: enrolled.services.actor.role == "support", what="support signed in again")

        # Locked, and someone else takes over: the list is there again.
        pilot.app.lock(why="Locked for the test.")  # type: ignore[attr-defined]
        await until(pilot, lambda: pilot.app.locked, what="locked")  # type: ignore[attr-defined]
        await pilot.press("ctrl+o")
        screen = await at_sign_in(pilot)
        assert DEMO_WORDS in screen_text(pilot.app)
        await filled(pilot, screen, "f7", DOOR.email)
        assert screen.field("code").value == enrolled.code(DOOR.email, step)


async def test_help_names_the_demo_keys(enrolled: Demo) -> None:
    async with enrolled.app().run_test(size=SMALL) as pilot:
        await at_sign_in(pilot)
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="help open")
        await pilot.pause()
        shown = screen_text(pilot.app)
        for role in ("door", "manager", "admin", "support"):
            assert f"Fill in the demo {role} account" in shown, shown


async def test_a_venue_console_shows_and_binds_nothing_of_the_demo(enrolled: Demo) -> None:
    async with BackroomApp(enrolled.services).run_test(size=SMALL) as pilot:
        screen = await at_sign_in(pilot)
        shown = screen_text(pilot.app)
        assert "DEMO" not in shown and "backroom.demo" not in shown, shown
        assert not screen.query(DemoAccountList)
        assert not any(
            b.binding.id and b.binding.id.startswith("sign_in.demo") for b in screen.active_bindings.values()
        )
        for demo_key in ("f7", "f8", "f9", "f10", "alt+d", "alt+m", "alt+a", "alt+s"):
            await pilot.press(demo_key)
        await pilot.pause()
        assert fields(screen) == ("", "", "")
        assert screen.status_text == ""
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="help open")
        await pilot.pause()
        assert "demo" not in screen_text(pilot.app).lower()


async def test_what_the_demo_shows_is_plain_text(demo: Demo) -> None:
    odd = (DemoAccount("[b]door[/]@backroom.demo", "Door [red]Team", "door", "[/]demo-door-pass"),)
    await demo.enrol(odd)
    async with demo.app(odd).run_test(size=SMALL) as pilot:
        screen = await at_sign_in(pilot)
        assert "[b]door[/]@backroom.demo" in screen_text(pilot.app)
        await filled(pilot, screen, "f7", odd[0].email)
        assert fields(screen) == (odd[0].email, odd[0].password, demo.code(odd[0].email))
        assert "F8" not in screen_text(pilot.app), "only the accounts the demo has are listed"
        await pilot.press("f8")
        await pilot.pause()
        assert screen.field("email").value == odd[0].email


async def test_the_keymap_changes_the_demo_keys_and_the_list_says_so(enrolled: Demo) -> None:
    keymap = parse('"sign_in.demo_door" = "f12"', catalogue())
    assert not keymap.problems
    app = enrolled.app(keymap=keymap)
    async with app.run_test(size=SMALL) as pilot:
        screen = await at_sign_in(pilot)
        row = next(line for line in screen_text(app).splitlines() if DOOR.email in line)
        assert "F12" in row and "F7" not in row, row
        await filled(pilot, screen, "f12", DOOR.email)
