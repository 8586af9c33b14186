"""The demo's staff accounts, one per role, and their current codes.

For the demo only: the passwords are printed and the TOTP key sits in the
demo's data directory. A venue creates its accounts with `backroom staff add`.
`DemoSignIns` hands the accounts to the sign-in screen of the demo's console,
which fills one in with a key; no other console is given one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from services.db import Database
from services.identity import STEP_SECONDS, IdentityService, SecretBox, SignInError


@dataclass(frozen=True)
class DemoAccount:
    email: str
    name: str
    role: str
    password: str


DEMO_ACCOUNTS = (
    DemoAccount("door@backroom.demo", "Door Team", "door", "demo-door-pass"),
    DemoAccount("duty.manager@backroom.demo", "Duty Manager", "manager", "demo-manager-pass"),
    DemoAccount("admin@backroom.demo", "Demo Admin", "admin", "demo-admin-pass"),
    DemoAccount("support@backroom.demo", "Support", "support", "demo-support-pass"),
)


async def ensure_accounts(dsn: str, key: str) -> int:
    """Enrol every demo account the demo key cannot open yet. Returns how many."""
    db = Database(dsn, max_size=2)
    await db.open()
    try:
        identity = IdentityService(db, SecretBox(key))
        made = 0
        for account in DEMO_ACCOUNTS:
            if await _current(db, identity, account.email) is None:
                await identity.add_staff(None, email=account.email, name=account.name,
                                         role=account.role, password=account.password)
                made += 1
        return made
    finally:
        await db.close()


async def current_codes(dsn: str, key: str) -> list[tuple[DemoAccount, str | None]]:
    db = Database(dsn, max_size=2)
    await db.open()
    try:
        identity = IdentityService(db, SecretBox(key))
        return [(a, await _current(db, identity, a.email)) for a in DEMO_ACCOUNTS]
    finally:
        await db.close()


async def _current(db: Database, identity: IdentityService, email: str) -> str | None:
    found = await _secret(db, email)
    return _code(identity, found[0]) if found is not None else None


async def _secret(db: Database, email: str) -> tuple[bytes, int] | None:
    """The account's sealed TOTP secret and the last time step it signed in with."""
    async with db.connection() as conn:
        row = await conn.fetchrow(
            "select totp_secret, totp_last_step from backroom.staff where email = $1", email)
    if row is None or row["totp_secret"] is None:
        return None
    return bytes(row["totp_secret"]), int(row["totp_last_step"])


def _code(identity: IdentityService, sealed: bytes) -> str | None:
    try:
        return identity.current_code(sealed)
    except SignInError:
        return None


@dataclass(frozen=True)
class DemoSignIns:
    """The demo's accounts for its sign-in screen, and a code each that signs in now.

    The code is worked out when it is asked for (at the key press), so a key
    pressed just after the code changed gets the new one. A code signs in once:
    when this step's code was used already (signed out and in again within 30
    s), it is the next step's, which the check accepts as one step of drift.
    """

    db: Database
    key: str
    accounts: tuple[DemoAccount, ...] = DEMO_ACCOUNTS
    clock: Callable[[], float] = time.time

    async def code_now(self, email: str) -> str | None:
        """None: the account has no code this demo's key opens (`backroom demo --reset`)."""
        found = await _secret(self.db, email)
        if found is None:
            return None
        sealed, last_step = found
        now = self.clock()
        if last_step >= int(now) // STEP_SECONDS:
            now += STEP_SECONDS
        return _code(IdentityService(self.db, SecretBox(self.key), lambda: now), sealed)


def seconds_left(now: float | None = None) -> int:
    now = time.time() if now is None else now
    return STEP_SECONDS - int(now) % STEP_SECONDS
