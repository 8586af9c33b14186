"""One Supabase session at a time on a console, against the stand-ins: a new
sign-in ends the one before, a fresh code is checked only on the session of
the staff member who asks (never on a colleague's, whom a wrong code would
count against), and Realtime waits for a session instead of knocking on
private channels without one."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pyotp
import pytest

from services.identity.roles import Role
from services.identity.secrets import SecretStore
from services.identity.sign_in import HoldsSession, SignInBackend, describe
from services.store.db import Actor
from services.supabase.auth import SessionEnded, SupabaseAuth
from services.supabase.config import SupabaseConfig
from services.supabase.realtime import SupabasePresence
from tests.memory_keyring import KeyringModule, MemoryKeyring
from tests.supabase.auth_helpers import PASSWORD, SECRET, Sessions, claims
from tests.supabase.conftest import API_KEY, JWT_KEY
from tests.supabase.standins import GoTrueStandIn, RealtimeStandIn, mint, staff_claims

OTHER_SECRET = pyotp.random_base32()


@pytest.fixture
def sessions() -> Sessions:
    return Sessions()


@pytest.fixture
def auth(gotrue: GoTrueStandIn, sessions: Sessions) -> SupabaseAuth:
    door = gotrue.add_user("door@venue.test", PASSWORD, totp_secret=SECRET)
    host = gotrue.add_user("host@venue.test", PASSWORD, totp_secret=OTHER_SECRET)
    sessions.staff[door.id] = Actor(staff_id=2, name="Door Team", role=Role.DOOR)
    sessions.staff[host.id] = Actor(staff_id=5, name="Host", role=Role.MANAGER)
    return SupabaseAuth(
        SupabaseConfig(gotrue.url, API_KEY), sessions, SecretStore(KeyringModule(MemoryKeyring()), env={})
    )


def test_supabase_auth_is_a_sign_in_backend_that_says_so(auth: SupabaseAuth) -> None:
    backend: SignInBackend = auth
    assert isinstance(backend, HoldsSession)
    via = describe(backend)
    assert via.name == "Supabase Auth" and via.where == "127.0.0.1" and not via.recovery_codes


async def test_a_new_sign_in_ends_the_session_before_it(auth: SupabaseAuth, gotrue: GoTrueStandIn) -> None:
    try:
        await auth.sign_in("door@venue.test", PASSWORD, pyotp.TOTP(SECRET).now())
        door_token = await auth.access_token()
        assert door_token is not None
        await auth.sign_in("host@venue.test", PASSWORD, pyotp.TOTP(OTHER_SECRET).now())
        assert ("POST", "/auth/v1/logout") in gotrue.requests
        assert door_token not in gotrue._tokens, "the door's session is gone on the server"
        token = await auth.access_token()
        assert token is not None and claims(token)["email"] == "host@venue.test"
    finally:
        await auth.close()


async def test_a_fresh_code_is_checked_only_on_the_askers_session(
    auth: SupabaseAuth, sessions: Sessions, gotrue: GoTrueStandIn
) -> None:
    try:
        # No session at all: said plainly, not as a wrong code.
        with pytest.raises(SessionEnded, match="Sign in again"):
            await auth.verify_code(
                Actor(staff_id=2, name="Door Team", role=Role.DOOR, session="x"), pyotp.TOTP(SECRET).now()
            )
        door = (await auth.sign_in("door@venue.test", PASSWORD, pyotp.TOTP(SECRET).now())).actor
        host = (await auth.sign_in("host@venue.test", PASSWORD, pyotp.TOTP(OTHER_SECRET).now())).actor
        verifies = sum(p.endswith("/verify") for _m, p in gotrue.requests)
        # The Supabase session is the host's now: the door's code is not tried on it.
        for purpose in ("unlock", "step_up"):
            with pytest.raises(SessionEnded):
                await auth.verify_code(door, pyotp.TOTP(SECRET).now(), purpose)
        assert sum(p.endswith("/verify") for _m, p in gotrue.requests) == verifies
        assert sessions.confirmed == []
        await auth.sign_out()
        with pytest.raises(SessionEnded):
            await auth.verify_code(host, pyotp.TOTP(OTHER_SECRET).now())
    finally:
        await auth.close()


async def test_token_reads_do_not_refresh_during_a_code_check(
    auth: SupabaseAuth, gotrue: GoTrueStandIn
) -> None:
    gotrue.token_seconds = 5  # inside the client's refresh margin: every read would refresh
    try:
        door = (await auth.sign_in("door@venue.test", PASSWORD, pyotp.TOTP(SECRET).now())).actor
        before = await auth.access_token()
        checking = asyncio.create_task(auth.verify_code(door, pyotp.TOTP(SECRET).now()))
        await asyncio.sleep(0)  # the check holds the session now
        # The feed's ping gets the token known before: a refresh now could store the old
        # session over the one the check is making.
        assert await auth.access_token() == before
        await checking
        after = await auth.access_token()
        assert after is not None and after != before and claims(after)["aal"] == "aal2"
    finally:
        await auth.close()


async def test_presence_waits_for_a_session_then_joins_when_someone_is_announced(
    realtime: RealtimeStandIn,
) -> None:
    token: list[str | None] = [None]

    async def source() -> str | None:
        return token[0]

    # Backoff long enough that only the announce can explain a prompt join.
    presence = SupabasePresence(
        SupabaseConfig(realtime.url, API_KEY),
        Actor(),
        access_token=source,
        beat_every=0.2,
        timeout=1.0,
        backoff_base=60.0,
        backoff_cap=60.0,
    )
    task = asyncio.create_task(presence.run())
    try:
        await realtime.wait_for(lambda: presence.error is not None)
        assert "nobody is signed in to Supabase" in (presence.error or "")
        assert realtime.connections == 0, "no socket without a session"
        token[0] = mint(JWT_KEY, staff_claims(str(uuid.uuid4())))
        presence.announce(actor=Actor(staff_id=2, name="Door Team", role=Role.DOOR))
        await realtime.wait_for(lambda: presence.connected and len(presence.online()) == 1, timeout=3.0)
        assert presence.online()[0].staff_name == "Door Team"
    finally:
        await presence.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
