"""The demo's staff accounts, one per role, and their current codes.

For the demo only: the passwords are printed and the TOTP key sits in the
demo's data directory. A venue creates its accounts with `backroom staff add`.
"""

from __future__ import annotations

import time
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
    async with db.pool.acquire() as conn:
        sealed = await conn.fetchval("select totp_secret from backroom.staff where email = $1", email)
    if sealed is None:
        return None
    try:
        return identity.current_code(sealed)
    except SignInError:
        return None


def seconds_left(now: float | None = None) -> int:
    now = time.time() if now is None else now
    return STEP_SECONDS - int(now) % STEP_SECONDS
