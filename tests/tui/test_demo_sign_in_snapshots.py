"""Pictures of the demo's sign-in screen, its four accounts listed under the fields, at the
smallest supported terminal and a large one, with colour and without.

The app opens its services inside its own loop (a pool belongs to the loop that
made it) and enrols the demo's accounts on the test's database.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from console.demo import DEMO_ACCOUNTS, DemoSignIns
from screens.sign_in import SignInScreen
from services.identity.accounts import IdentityService
from tests.tui.helpers import screen_text
from tests.tui.sign_in_helpers import at_sign_in
from tests.tui.snapshot_helpers import SNAPSHOT_T0, IdentitySnapshotApp, steady_cursor
from widgets.demo_accounts import DEMO_TITLE, DEMO_WORDS


class DemoSnapshotApp(IdentitySnapshotApp):
    """The console as `backroom demo` opens it: nobody signed in, the demo's accounts offered."""

    def __init__(self, dsn: str) -> None:
        super().__init__(dsn, signed_in=False)

    async def on_load(self) -> None:
        await super().on_load()
        identity = IdentityService(self.services.db, owner=self.owner)
        for account in DEMO_ACCOUNTS:
            await identity.add_staff(
                None, email=account.email, name=account.name, role=account.role, password=account.password
            )
        self.services.identity = identity
        self.demo_accounts = DemoSignIns(self.owner, clock=lambda: SNAPSHOT_T0)


async def demo_sign_in(pilot: Pilot[Any]) -> None:
    screen = await at_sign_in(pilot)
    assert isinstance(screen, SignInScreen)
    await steady_cursor(pilot)
    text = screen_text(pilot.app)
    assert DEMO_TITLE in text and DEMO_WORDS in text, text
    assert all(account.email in text for account in DEMO_ACCOUNTS), text
    assert "…" not in text, text


@pytest.mark.usefixtures("colour")
@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_demo_sign_in(snap_compare: Any, dsn: str, size: tuple[int, int]) -> None:
    assert snap_compare(DemoSnapshotApp(dsn), terminal_size=size, run_before=demo_sign_in)
