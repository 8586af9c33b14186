"""Sign-in through Supabase Auth against the GoTrue stand-in: password, then
the TOTP factor, giving an AAL2 session kept with keyring; enrolment; and
refusals in staff words that never say which factor was wrong."""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path

import pyotp
import pytest
from keyring.backends.fail import Keyring as FailKeyring

from services.db import Actor
from services.identity import SignInError, SignInFailed, Throttled
from services.secrets import SERVICE, SecretStore
from services.supabase_auth import (
    ApiStaffLookup,
    AuthenticatorExists,
    AuthUser,
    NotLinked,
    SupabaseAuth,
    SupabaseUnreachable,
    session_secret,
)
from services.supabase_config import SupabaseConfig
from tests.supabase.conftest import API_KEY
from tests.supabase.standins import GoTrueStandIn
from tests.test_secrets import KeyringModule, MemoryKeyring

PASSWORD = "correct horse battery"
SECRET = pyotp.random_base32()
GENERIC = str(SignInFailed())


class Lookup:
    """The staff behind Supabase users, as the database would answer."""

    def __init__(self) -> None:
        self.staff: dict[str, Actor] = {}
        self.step_ups: list[Actor] = []

    async def __call__(self, user: AuthUser) -> Actor | None:
        return self.staff.get(user.id)

    async def record_step_up(self, actor: Actor) -> None:
        self.step_ups.append(actor)


def claims(token: str) -> dict[str, object]:
    part = token.split(".")[1]
    data: dict[str, object] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return data


@pytest.fixture
def keyring() -> KeyringModule:
    return KeyringModule(MemoryKeyring())


@pytest.fixture
def config(gotrue: GoTrueStandIn) -> SupabaseConfig:
    return SupabaseConfig(gotrue.url, API_KEY)


@pytest.fixture
def lookup() -> Lookup:
    return Lookup()


@pytest.fixture
async def door(gotrue: GoTrueStandIn, lookup: Lookup) -> str:
    user = gotrue.add_user("door@venue.test", PASSWORD, totp_secret=SECRET)
    lookup.staff[user.id] = Actor(staff_id=2, name="Door Team", role="door")
    return user.id


def auth_for(config: SupabaseConfig, lookup: Lookup, keyring: KeyringModule) -> SupabaseAuth:
    return SupabaseAuth(config, lookup, SecretStore(keyring, env={}), step_up=lookup.record_step_up)


async def test_password_then_code_gives_an_aal2_session_kept_with_keyring(
        gotrue: GoTrueStandIn, config: SupabaseConfig, lookup: Lookup, keyring: KeyringModule,
        door: str, tmp_path: Path) -> None:
    auth = auth_for(config, lookup, keyring)
    try:
        session = await auth.sign_in(" Door@Venue.test", PASSWORD, pyotp.TOTP(SECRET).now())
    finally:
        await auth.close()
    assert session.actor == Actor(staff_id=2, name="Door Team", role="door")
    assert session.email == "door@venue.test" and not session.must_reenrol
    paths = [p for _m, p in gotrue.requests]
    assert paths[:1] == ["/auth/v1/token"]
    assert any(p.endswith("/challenge") for p in paths) and any(p.endswith("/verify") for p in paths)
    kept = json.loads(keyring.backend.items[(SERVICE, session_secret(config, "supabase.auth.token"))])
    assert claims(kept["access_token"])["aal"] == "aal2"
    assert auth.session_persisted
    # A new console process picks the session up from the keyring, without a code.
    again = auth_for(config, lookup, keyring)
    try:
        restored = await again.restore()
        assert restored is not None and restored.actor == session.actor
        token = await again.access_token()
        assert token is not None and claims(token)["sub"] == door
    finally:
        await again.close()


@pytest.mark.parametrize("wrong", ["email", "password", "code", "garbage code"])
async def test_refusals_never_say_which_factor_was_wrong(
        gotrue: GoTrueStandIn, config: SupabaseConfig, lookup: Lookup, keyring: KeyringModule,
        door: str, wrong: str) -> None:
    totp = pyotp.TOTP(SECRET)
    email = "nobody@venue.test" if wrong == "email" else "door@venue.test"
    password = "not the password" if wrong == "password" else PASSWORD
    code = {"code": f"{(int(totp.now()) + 1) % 1_000_000:06d}", "garbage code": "12ab"}.get(wrong, totp.now())
    auth = auth_for(config, lookup, keyring)
    try:
        with pytest.raises(SignInFailed) as refused:
            await auth.sign_in(email, password, code)
    finally:
        await auth.close()
    assert str(refused.value) == GENERIC
    assert PASSWORD not in str(refused.value) and "door@" not in str(refused.value)
    # The half-made (password only) session is dropped: nothing kept, nothing to resume.
    assert not keyring.backend.items
    again = auth_for(config, lookup, keyring)
    assert await again.restore() is None
    await again.close()


async def test_a_supabase_user_who_is_not_on_the_staff_is_told_how_to_fix_it(
        gotrue: GoTrueStandIn, config: SupabaseConfig, lookup: Lookup, keyring: KeyringModule) -> None:
    gotrue.add_user("new@venue.test", PASSWORD, totp_secret=SECRET)
    auth = auth_for(config, lookup, keyring)
    with pytest.raises(NotLinked, match="link-staff new@venue.test"):
        await auth.sign_in("new@venue.test", PASSWORD, pyotp.TOTP(SECRET).now())
    await auth.close()
    assert not keyring.backend.items


async def test_rate_limits_and_outages_in_staff_words(
        gotrue: GoTrueStandIn, config: SupabaseConfig, lookup: Lookup, keyring: KeyringModule,
        door: str) -> None:
    gotrue.rate_limited = True
    auth = auth_for(config, lookup, keyring)
    with pytest.raises(Throttled, match="wait 60 s"):
        await auth.sign_in("door@venue.test", PASSWORD, pyotp.TOTP(SECRET).now())
    await auth.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gone = auth_for(SupabaseConfig(f"http://127.0.0.1:{port}", API_KEY), lookup, keyring)
    with pytest.raises(SupabaseUnreachable, match="Cannot reach Supabase Auth at 127.0.0.1"):
        await gone.sign_in("door@venue.test", PASSWORD, "123456")
    await gone.close()


async def test_enrolment_then_sign_in_with_the_new_authenticator(
        gotrue: GoTrueStandIn, config: SupabaseConfig, lookup: Lookup, keyring: KeyringModule) -> None:
    user = gotrue.add_user("host@venue.test", PASSWORD)
    lookup.staff[user.id] = Actor(staff_id=5, name="Host", role="manager")
    auth = auth_for(config, lookup, keyring)
    try:
        enrolment = await auth.start_enrolment("host@venue.test", PASSWORD)
        assert enrolment.uri.startswith("otpauth://totp/") and "Backroom" in enrolment.uri
        assert "secret" not in repr(enrolment)
        with pytest.raises(SignInError, match="not right"):
            await auth.finish_enrolment(enrolment, "000000" if pyotp.TOTP(enrolment.secret).now()
                                        != "000000" else "111111")
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


async def test_unlocking_asks_for_a_fresh_code_and_records_the_step_up(
        gotrue: GoTrueStandIn, config: SupabaseConfig, lookup: Lookup, keyring: KeyringModule,
        door: str) -> None:
    auth = auth_for(config, lookup, keyring)
    try:
        session = await auth.sign_in("door@venue.test", PASSWORD, pyotp.TOTP(SECRET).now())
        with pytest.raises(SignInError, match="not right"):
            await auth.verify_code(session.actor, "99999")
        await auth.verify_code(session.actor, pyotp.TOTP(SECRET).now())
        assert lookup.step_ups == [session.actor]
    finally:
        await auth.close()


async def test_tokens_are_refreshed_near_their_expiry(
        gotrue: GoTrueStandIn, config: SupabaseConfig, lookup: Lookup, keyring: KeyringModule,
        door: str) -> None:
    gotrue.token_seconds = 5  # inside the client's 10 s margin: every use refreshes
    auth = auth_for(config, lookup, keyring)
    try:
        await auth.sign_in("door@venue.test", PASSWORD, pyotp.TOTP(SECRET).now())
        first = await auth.access_token()
        second = await auth.access_token()
    finally:
        await auth.close()
    assert first and second and first != second
    assert claims(second)["aal"] == "aal2"
    assert ("POST", "/auth/v1/token") in gotrue.requests[1:]


async def test_without_a_keyring_the_session_lives_in_memory_only(
        gotrue: GoTrueStandIn, config: SupabaseConfig, lookup: Lookup, door: str) -> None:
    store = SecretStore(KeyringModule(FailKeyring()), env={})
    auth = SupabaseAuth(config, lookup, store)
    try:
        session = await auth.sign_in("door@venue.test", PASSWORD, pyotp.TOTP(SECRET).now())
        assert session.actor.role == "door" and not auth.session_persisted
        assert await auth.access_token()
    finally:
        await auth.close()
    fresh = SupabaseAuth(config, lookup, store)
    assert await fresh.restore() is None
    await fresh.close()


async def test_the_staff_lookup_through_the_api(gotrue: GoTrueStandIn, config: SupabaseConfig,
                                                keyring: KeyringModule) -> None:
    user = gotrue.add_user("door@venue.test", PASSWORD, totp_secret=SECRET)
    gotrue.staff[user.id] = {"id": 2, "email": "door@venue.test", "display_name": "Door Team",
                             "role": "door"}
    auth = SupabaseAuth(config, ApiStaffLookup(config), SecretStore(keyring, env={}))
    try:
        session = await auth.sign_in("door@venue.test", PASSWORD, pyotp.TOTP(SECRET).now())
    finally:
        await auth.close()
    assert session.actor == Actor(staff_id=2, name="Door Team", role="door")
    assert ("POST", "/rest/v1/rpc/my_staff") in gotrue.requests
