"""Shared pieces of the sign-in tests: a clock to step, TOTP codes, the sign-in and lock
screens."""

from __future__ import annotations

from typing import Any

import pyotp
from textual.pilot import Pilot

from screens.lock import LockScreen
from screens.sign_in import SignInScreen
from services.identity.accounts import Enrolment
from tests.tui.helpers import until


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def code_at(enrolment: Enrolment, t: float) -> str:
    return pyotp.TOTP(enrolment.secret).at(t)


def not_this(code: str) -> str:
    return str((int(code) + 1) % 1_000_000).zfill(6)


async def at_sign_in(pilot: Pilot[Any]) -> SignInScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, SignInScreen), what="sign-in shown")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, SignInScreen)
    return screen


async def locked(pilot: Pilot[Any]) -> LockScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, LockScreen), what="locked")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, LockScreen)
    return screen
