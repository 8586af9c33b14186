"""The sign-in screen of a console that signs in through Supabase Auth, at the
smallest supported terminal, without colour: it names Supabase and its
project, and asks for the authenticator's six digits (no recovery codes)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from console.app import BackroomApp
from console.wiring import open_services, use_supabase
from screens.sign_in import SignInScreen
from services.identity.secrets import SecretStore
from services.store.db import Actor
from services.supabase.config import SupabaseConfig
from tests.conftest import fixed_clock
from tests.memory_keyring import KeyringModule, MemoryKeyring
from tests.supabase.conftest import API_KEY, SupabaseDb
from tests.tui.helpers import until

PROJECT = "https://abcdefghijklmnopqrst.supabase.co"


class SupabaseSignInApp(BackroomApp):
    """The console wired to a Supabase project, nobody signed in; services opened in the
    app's own loop. Nothing reaches the project: no one signs in here."""

    def __init__(self, dsn: str) -> None:
        super().__init__(services=None)  # type: ignore[arg-type]
        self.dsn = dsn

    async def on_load(self) -> None:
        self.services = await open_services(self.dsn, clock=fixed_clock)
        use_supabase(
            self.services,
            SupabaseConfig(PROJECT, API_KEY),
            store=SecretStore(KeyringModule(MemoryKeyring()), env={}),
        )
        self.services.actor = Actor()

    async def on_unmount(self) -> None:
        await self.services.close()


async def steady_cursor(pilot: Pilot[Any]) -> None:
    """A blinking cursor would make the picture depend on the moment it is taken."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


async def typed(pilot: Pilot[Any]) -> None:
    await until(pilot, lambda: isinstance(pilot.app.screen, SignInScreen), what="sign-in shown")
    await pilot.press(*"door@backroom.demo", "enter", *"correct horse", "enter")
    await steady_cursor(pilot)


def test_supabase_sign_in_at_80x24_without_colour(
    snap_compare: Any, supabase_db: SupabaseDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert snap_compare(SupabaseSignInApp(supabase_db.dsn), terminal_size=(80, 24), run_before=typed)
