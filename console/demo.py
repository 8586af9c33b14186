"""The demo's staff accounts, one per role, and their current codes.

For the demo only: the passwords are printed, and the demo, as the owner of
its own embedded database, reads the accounts' TOTP secrets to show their
codes. A venue creates its accounts with `backroom staff add`, and no console
of a venue can read a secret. `DemoSignIns` hands the accounts to the sign-in
screen of the demo's console, which fills one in with a key; no other console
is given one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from services.identity.accounts import STEP_SECONDS, IdentityService, code_at, enrolled_secret
from services.store.db import Database


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


async def ensure_accounts(dsn: str) -> int:
    """Enrol every demo account that has no credential yet. Returns how many."""
    db = Database(dsn, max_size=2)
    await db.open()
    try:
        identity = IdentityService(db)
        made = 0
        for account in DEMO_ACCOUNTS:
            async with db.connection() as conn:
                known = await enrolled_secret(conn, account.email)
            if known is None:
                await identity.add_staff(
                    None, email=account.email, name=account.name, role=account.role, password=account.password
                )
                made += 1
        return made
    finally:
        await db.close()


async def current_codes(dsn: str) -> list[tuple[DemoAccount, str | None]]:
    db = Database(dsn, max_size=2)
    await db.open()
    try:
        signs = DemoSignIns(db)
        return [(a, await signs.code_now(a.email)) for a in DEMO_ACCOUNTS]
    finally:
        await db.close()


@dataclass(frozen=True)
class DemoSignIns:
    """The demo's accounts for its sign-in screen, and a code each that signs in now.

    The code is worked out when it is asked for (at the key press), so a key
    pressed just after the code changed gets the new one. A code signs in once:
    when this step's code was used already (signed out and in again within 30
    s), it is the next step's, which the check accepts as one step of drift.
    """

    db: Database
    accounts: tuple[DemoAccount, ...] = DEMO_ACCOUNTS
    clock: Callable[[], float] = time.time

    async def code_now(self, email: str) -> str | None:
        """None: the account is not enrolled (`backroom demo --reset`)."""
        async with self.db.connection() as conn:
            found = await enrolled_secret(conn, email)
        if found is None:
            return None
        secret, last_step = found
        now = self.clock()
        if last_step >= int(now) // STEP_SECONDS:
            now += STEP_SECONDS
        return code_at(secret, now)


def seconds_left(now: float | None = None) -> int:
    now = time.time() if now is None else now
    return STEP_SECONDS - int(now) % STEP_SECONDS
