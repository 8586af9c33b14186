"""Sign-in through Supabase Auth against the GoTrue stand-in: password, then
the TOTP factor, giving an AAL2 token that buys a session from the database
side; fresh codes for unlocking and step-up; enrolment; and refusals in staff
words that never say which factor was wrong.

The database side here is `Sessions`, which answers as Postgres does
(tests/supabase/test_tokens.py checks Postgres itself); the console's tests
(test_console.py) use the real one."""

from __future__ import annotations

import json
import socket

import pyotp
import pytest

from services.identity.accounts import SignInError, SignInFailed, Throttled
from services.identity.roles import Role
from services.identity.secrets import SERVICE, SecretStore
from services.store.db import Actor
from services.supabase.auth import (
    AuthenticatorExists,
    NotConfirmed,
    NotLinked,
    SupabaseAuth,
    SupabaseUnreachable,
    session_secret,
)
from services.supabase.config import SupabaseConfig
from tests.memory_keyring import KeyringModule, MemoryKeyring
from tests.supabase.auth_helpers import PASSWORD, SECRET, Sessions, claims
from tests.supabase.conftest import API_KEY
from tests.supabase.standins import GoTrueStandIn

GENERIC = str(SignInFailed())
Keyring = KeyringModule[MemoryKeyring]


def who(actor: Actor) -> tuple[int | None, str, str | None]:
    return actor.staff_id, actor.name, actor.role


@pytest.fixture
def keyring() -> Keyring:
    return KeyringModule(MemoryKeyring())


@pytest.fixture
def config(gotrue: GoTrueStandIn) -> SupabaseConfig:
    return SupabaseConfig(gotrue.url, API_KEY)


@pytest.fixture
def sessions() -> Sessions:
    return Sessions()


@pytest.fixture
async def door(gotrue: GoTrueStandIn, sessions: Sessions) -> str:
    user = gotrue.add_user("door@venue.test", PASSWORD, totp_secret=SECRET)
    sessions.staff[user.id] = Actor(staff_id=2, name="Door Team", role=Role.DOOR)
    return user.id


def auth_for(config: SupabaseConfig, sessions: Sessions, keyring: Keyring) -> SupabaseAuth:
    return SupabaseAuth(config, sessions, SecretStore(keyring, env={}))


async def test_password_then_code_gives_a_database_session_and_keeps_nothing(
    gotrue: GoTrueStandIn, config: SupabaseConfig, sessions: Sessions, keyring: Keyring, door: str
) -> None:
    auth = auth_for(config, sessions, keyring)
    try:
        session = await auth.sign_in(" Door@Venue.test", PASSWORD, pyotp.TOTP(SECRET).now())
        token = await auth.access_token()
    finally:
        await auth.close()
    assert who(session.actor) == (2, "Door Team", "door")
    assert session.actor.session is not None and sessions.owners[session.actor.session] == door
    assert session.email == "door@venue.test" and not session.must_reenrol
    paths = [p for _m, p in gotrue.requests]
    assert paths[:1] == ["/auth/v1/token"]
    assert any(p.endswith("/challenge") for p in paths) and any(p.endswith("/verify") for p in paths)
    assert token is not None and claims(token)["aal"] == "aal2" and claims(token)["sub"] == door
    # Nothing in the keyring: a refresh token there would buy a session without a code.
    assert not keyring.backend.items
    again = auth_for(config, sessions, keyring)
    try:
        assert await again.access_token() is None
    finally:
        await again.close()


async def test_a_session_an_earlier_version_kept_is_ended_at_start(
    gotrue: GoTrueStandIn, config: SupabaseConfig, sessions: Sessions, keyring: Keyring, door: str
) -> None:
    user = gotrue.user_by_id(door)
    kept = gotrue._session(user, "aal2")
    name = session_secret(config, "supabase.auth.token")
    keyring.set_password(SERVICE, name, json.dumps(kept))
    auth = auth_for(config, sessions, keyring)
    try:
        await auth.warm_up()
        assert await auth.access_token() is None
    finally:
        await auth.close()
    assert not keyring.backend.items
    assert ("POST", "/auth/v1/logout") in gotrue.requests
    assert kept["access_token"] not in gotrue._tokens, "ended on the server too"


@pytest.mark.parametrize("wrong", ["email", "password", "code", "garbage code"])
async def test_refusals_never_say_which_factor_was_wrong(
    gotrue: GoTrueStandIn, config: SupabaseConfig, sessions: Sessions, keyring: Keyring, door: str, wrong: str
) -> None:
    totp = pyotp.TOTP(SECRET)
    email = "nobody@venue.test" if wrong == "email" else "door@venue.test"
    password = "not the password" if wrong == "password" else PASSWORD
    code = {"code": f"{(int(totp.now()) + 1) % 1_000_000:06d}", "garbage code": "12ab"}.get(wrong, totp.now())
    auth = auth_for(config, sessions, keyring)
    try:
        with pytest.raises(SignInFailed) as refused:
            await auth.sign_in(email, password, code)
        # The half-made (password only) session is dropped.
        assert await auth.access_token() is None
    finally:
        await auth.close()
    assert str(refused.value) == GENERIC
    assert PASSWORD not in str(refused.value) and "door@" not in str(refused.value)
    assert not sessions.owners, "no database session"


async def test_a_supabase_user_who_gets_no_session_is_told_how_to_fix_it(
    gotrue: GoTrueStandIn, config: SupabaseConfig, sessions: Sessions, keyring: Keyring
) -> None:
    gotrue.add_user("new@venue.test", PASSWORD, totp_secret=SECRET)
    auth = auth_for(config, sessions, keyring)
    try:
        with pytest.raises(NotLinked) as refused:
            await auth.sign_in("new@venue.test", PASSWORD, pyotp.TOTP(SECRET).now())
        assert await auth.access_token() is None
    finally:
        await auth.close()
    # Not linked, or the database lacks the project's JWT secret: both remedies are named.
    assert "backroom supabase link-staff new@venue.test" in str(refused.value)
    assert "backroom supabase enable" in str(refused.value)


async def test_rate_limits_and_outages_in_staff_words(
    gotrue: GoTrueStandIn, config: SupabaseConfig, sessions: Sessions, keyring: Keyring, door: str
) -> None:
    gotrue.rate_limited = True
    auth = auth_for(config, sessions, keyring)
    with pytest.raises(Throttled, match="wait 60 s"):
        await auth.sign_in("door@venue.test", PASSWORD, pyotp.TOTP(SECRET).now())
    await auth.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gone = auth_for(SupabaseConfig(f"http://127.0.0.1:{port}", API_KEY), sessions, keyring)
    with pytest.raises(SupabaseUnreachable, match="Cannot reach Supabase Auth at 127.0.0.1"):
        await gone.sign_in("door@venue.test", PASSWORD, "123456")
    await gone.close()


async def test_enrolment_then_sign_in_with_the_new_authenticator(
    gotrue: GoTrueStandIn, config: SupabaseConfig, sessions: Sessions, keyring: Keyring
) -> None:
    user = gotrue.add_user("host@venue.test", PASSWORD)
    sessions.staff[user.id] = Actor(staff_id=5, name="Host", role=Role.MANAGER)
    auth = auth_for(config, sessions, keyring)
    try:
        enrolment = await auth.start_enrolment("host@venue.test", PASSWORD)
        assert enrolment.uri.startswith("otpauth://totp/") and "Backroom" in enrolment.uri
        assert "secret" not in repr(enrolment)
        with pytest.raises(SignInError, match="not right"):
            await auth.finish_enrolment(
                enrolment, "000000" if pyotp.TOTP(enrolment.secret).now() != "000000" else "111111"
            )
        await auth.finish_enrolment(enrolment, pyotp.TOTP(enrolment.secret).now())
        assert [f.status for f in user.factors] == ["verified"]
        await auth.sign_out()
        session = await auth.sign_in("host@venue.test", PASSWORD, pyotp.TOTP(enrolment.secret).now())
        assert session.actor.role == "manager"
        # A second authenticator needs the first: refused at AAL1, said plainly.
        await auth.sign_out()
        with pytest.raises(AuthenticatorExists):
            await auth.start_enrolment("host@venue.test", PASSWORD)
    finally:
        await auth.close()


@pytest.mark.parametrize("purpose", ["unlock", "step_up"])
async def test_a_fresh_code_is_a_new_verification_whose_token_the_database_confirms(
    gotrue: GoTrueStandIn,
    config: SupabaseConfig,
    sessions: Sessions,
    keyring: Keyring,
    door: str,
    purpose: str,
) -> None:
    auth = auth_for(config, sessions, keyring)
    try:
        session = await auth.sign_in("door@venue.test", PASSWORD, pyotp.TOTP(SECRET).now())
        signed_in = await auth.access_token()
        assert signed_in is not None
        with pytest.raises(SignInError, match="not right"):
            await auth.verify_code(session.actor, "99999", purpose)
        assert sessions.confirmed == []
        verifies = sum(p.endswith("/verify") for _m, p in gotrue.requests)
        await auth.verify_code(session.actor, pyotp.TOTP(SECRET).now(), purpose)
        assert sum(p.endswith("/verify") for _m, p in gotrue.requests) == verifies + 1
        [(actor, said, token)] = sessions.confirmed
        assert actor == session.actor and said == purpose
        assert token["amr"][0]["method"] == "totp" and token["jti"] != claims(signed_in)["jti"]
        # The database refusing the token is said in staff words.
        sessions.accept = False
        with pytest.raises(NotConfirmed, match="sign in again"):
            await auth.verify_code(session.actor, pyotp.TOTP(SECRET).now(), purpose)
    finally:
        await auth.close()


async def test_tokens_are_refreshed_near_their_expiry_and_keep_their_amr(
    gotrue: GoTrueStandIn, config: SupabaseConfig, sessions: Sessions, keyring: Keyring, door: str
) -> None:
    gotrue.token_seconds = 5  # inside the client's 10 s margin: every use refreshes
    auth = auth_for(config, sessions, keyring)
    try:
        await auth.sign_in("door@venue.test", PASSWORD, pyotp.TOTP(SECRET).now())
        first = await auth.access_token()
        second = await auth.access_token()
    finally:
        await auth.close()
    assert first and second and first != second
    assert claims(second)["aal"] == "aal2"
    # A refresh is not a fresh code: the TOTP entry keeps the time it was used.
    assert claims(second)["amr"] == claims(first)["amr"]
    assert ("POST", "/auth/v1/token") in gotrue.requests[1:]
