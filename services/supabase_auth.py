"""Sign-in through Supabase Auth, as an alternative to the console's own
accounts: email and password, then the staff member's TOTP factor (an MFA
challenge and its verification), which lifts the session to AAL2. The result
is the same `Session` that `IdentityService.sign_in` returns, so a screen does
not care which one signed the staff member in.

- The staff member behind a Supabase user is found by `backroom.staff.auth_user_id`
  (migration 0006): through the console's database (`DatabaseStaffLookup`) or,
  for a console that reaches the project only through its API, through the
  `backroom.my_staff()` function (`ApiStaffLookup`).
- The Supabase session (access and refresh tokens) is kept with keyring through
  `SecretStore`, never in a file; without a keyring it lives in memory only,
  and the console asks for the code again after a restart.
- Refusals are in staff words and never say which of email, password or code
  was wrong.
- `supabase` is imported the first time it is needed, never at import: it costs
  about 0.4 s and most consoles never use it. A console that uses Supabase calls
  `warm_up()` at start, so the import happens in a thread, not on the first
  sign-in while the screen waits.
- One session at a time: signing in ends the session that was there, and the
  calls that change the session (sign-in, a fresh code, sign-out) run one after
  the other. The live feed's token reads do not wait for them: while one runs
  they get the token known before it.

`SupabaseAuth` is a `services.sign_in.SignInBackend`: the console's sign-in
screen, idle lock and step-up use it as they use `IdentityService`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import asyncpg

from services.db import Actor, Database
from services.identity import ISSUER, Session, SignInError, SignInFailed, Throttled, normalise_code
from services.secrets import SecretStore, SecretUnavailable
from services.sign_in import SignInVia
from services.supabase_config import SupabaseConfig

if TYPE_CHECKING:
    from supabase import AsyncClient

log = logging.getLogger(__name__)

RATE_LIMIT_WAIT = 60
"""Supabase Auth does not say how long a rate limit lasts; a minute is its usual window."""


class SupabaseUnreachable(SignInError):
    code = "supabase_unreachable"


class NotLinked(SignInError):
    """Signed in to Supabase, but no active staff member is linked to that user."""

    code = "not_linked"

    def __init__(self, email: str) -> None:
        super().__init__(
            f"{email} signed in to Supabase, but no active staff account is linked to it. "
            f"An admin links it with `backroom supabase link-staff {email} --role ROLE`.")


class AuthenticatorExists(SignInError):
    code = "authenticator_exists"

    def __init__(self) -> None:
        super().__init__(
            "This account already has an authenticator: sign in with its code. For a lost phone, "
            "an admin removes the old factor first (Supabase dashboard, Authentication > Users).")


class SupabaseNotSetUp(SignInError):
    code = "supabase_not_set_up"


class SessionEnded(SignInError):
    """A fresh code was asked for, but the Supabase session behind the console is gone."""

    code = "supabase_session_ended"

    def __init__(self) -> None:
        super().__init__("The Supabase session of this console has ended (signed out elsewhere, "
                         "expired, or the staff link changed). Sign in again.")


@dataclass(frozen=True)
class AuthUser:
    """The Supabase user of the current session."""

    id: str
    email: str | None
    access_token: str = field(repr=False)


class StaffLookup(Protocol):
    """Who on the staff a Supabase user is (None: nobody active)."""

    async def __call__(self, user: AuthUser) -> Actor | None: ...


class DatabaseStaffLookup:
    """Looks the staff member up on the console's own connection (as the console role)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def __call__(self, user: AuthUser) -> Actor | None:
        try:
            async with self._db.transaction(readonly=True) as conn:
                row = await conn.fetchrow(
                    "select id, display_name, role from backroom.staff_for_auth_user($1::uuid)",
                    user.id)
        except asyncpg.UndefinedFunctionError as err:
            raise SupabaseNotSetUp(
                "This database does not know Supabase users yet. Run `backroom supabase enable` "
                "as the database owner (it needs Supabase's auth schema).") from err
        if row is None:
            return None
        return Actor(staff_id=row["id"], name=row["display_name"], role=row["role"])

    async def record_step_up(self, actor: Actor) -> None:
        """A fresh code was entered: cancelling a booking with a deposit is allowed for a while."""
        async with self._db.transaction(actor) as conn:
            await conn.execute("select backroom.record_step_up($1)", actor.staff_id)


class ApiStaffLookup:
    """Looks the staff member up through the project's API: `rpc/my_staff` in the
    `backroom` schema, which answers for the signed-in user only. The schema
    must be exposed (Project Settings > API > Exposed schemas)."""

    def __init__(self, config: SupabaseConfig, *, timeout: float = 10.0) -> None:
        self._config = config
        self._timeout = timeout

    async def __call__(self, user: AuthUser) -> Actor | None:
        import httpx

        headers = {"apikey": self._config.key, "Authorization": f"Bearer {user.access_token}",
                   "Content-Profile": "backroom", "Accept-Profile": "backroom",
                   "Content-Type": "application/json"}
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as http:
                reply = await http.post(f"{self._config.rest_url}/rpc/my_staff", headers=headers,
                                        json={})
        except httpx.HTTPError as err:
            raise SupabaseUnreachable(
                f"Cannot reach the Supabase API at {self._config.host} ({type(err).__name__}).") from err
        if reply.status_code in (404, 406) or (reply.status_code == 400 and "schema" in reply.text):
            raise SupabaseNotSetUp(
                "The project's API does not offer backroom.my_staff(): expose the backroom schema "
                "(Project Settings > API) and run the migrations.")
        if reply.status_code >= 400:
            raise SupabaseUnreachable(
                f"The Supabase API at {self._config.host} refused the staff lookup "
                f"(HTTP {reply.status_code}).")
        rows = reply.json()
        if not rows:
            return None
        row = rows[0]
        return Actor(staff_id=int(row["id"]), name=str(row["display_name"]), role=str(row["role"]))


@dataclass(frozen=True)
class TotpEnrolment:
    """Shown once, at enrolment: what the staff member needs for their authenticator."""

    email: str
    factor_id: str
    secret: str = field(repr=False)
    uri: str = field(repr=False)

    def qr_text(self) -> str:
        import io

        import segno

        out = io.StringIO()
        segno.make(self.uri, error="m").terminal(out=out, compact=True)
        return out.getvalue()


def session_secret(config: SupabaseConfig, key: str) -> str:
    """The keyring entry for one item the auth client stores (its session, mostly)."""
    return f"supabase:{config.project_ref}:{key}"


def _keyring_storage(config: SupabaseConfig, store: SecretStore) -> Any:
    """The auth client's storage, kept with keyring; in memory where there is none."""
    from supabase_auth import AsyncSupportedStorage

    class KeyringStorage(AsyncSupportedStorage):
        def __init__(self) -> None:
            self.memory: dict[str, str] = {}
            self.persisted = store.status().usable

        async def get_item(self, key: str) -> str | None:
            if key in self.memory:
                return self.memory[key]
            return store.get(session_secret(config, key)) if self.persisted else None

        async def set_item(self, key: str, value: str) -> None:
            if self.persisted:
                try:
                    store.set(session_secret(config, key), value)
                    self.memory.pop(key, None)
                    return
                except SecretUnavailable:
                    self.persisted = False
            self.memory[key] = value

        async def remove_item(self, key: str) -> None:
            self.memory.pop(key, None)
            store.delete(session_secret(config, key))

    return KeyringStorage()


def _refusal(err: BaseException, config: SupabaseConfig) -> SignInError:
    """A Supabase Auth failure in staff words (which factor was wrong is never said)."""
    from supabase_auth.errors import AuthApiError, AuthRetryableError

    if isinstance(err, AuthRetryableError):
        return SupabaseUnreachable(
            f"Cannot reach Supabase Auth at {config.host} right now. Check the network and try "
            "again; the venue's own console accounts still work if the database is reachable.")
    if isinstance(err, AuthApiError):
        log.info("Supabase Auth refused: HTTP %s %s", err.status, err.code)
        if err.status == 429 or (err.code or "").startswith("over_"):
            return Throttled(RATE_LIMIT_WAIT)
        if err.status >= 500:
            return SupabaseUnreachable(
                f"Supabase Auth at {config.host} had a problem (HTTP {err.status}). Try again shortly.")
    else:
        log.info("Supabase Auth failed: %s", type(err).__name__)
    return SignInFailed()


class SupabaseAuth:
    """Sign-in, unlock and TOTP enrolment through Supabase Auth for one project."""

    def __init__(self, config: SupabaseConfig, lookup: StaffLookup, store: SecretStore | None = None,
                 *, step_up: Callable[[Actor], Awaitable[None]] | None = None) -> None:
        self._config = config
        self._lookup = lookup
        self._store = store or SecretStore()
        self._step_up = step_up
        self._client_: AsyncClient | None = None
        self._storage: Any = None
        self._busy = asyncio.Lock()
        self._token: str | None = None

    @property
    def config(self) -> SupabaseConfig:
        return self._config

    @property
    def via(self) -> SignInVia:
        """What the sign-in screen says: Supabase Auth of this project, no recovery codes."""
        return SignInVia("Supabase Auth", where=self._config.host, recovery_codes=False)

    async def warm_up(self) -> None:
        """Import `supabase` in a thread and make the client, before anyone signs in."""
        import importlib

        await asyncio.to_thread(importlib.import_module, "supabase")
        await self._client()

    @property
    def session_persisted(self) -> bool:
        """Whether the session outlives this process (kept with keyring)."""
        return bool(self._storage is not None and self._storage.persisted)

    async def _client(self) -> AsyncClient:
        if self._client_ is None:
            from supabase import AsyncClient, AsyncClientOptions

            self._storage = _keyring_storage(self._config, self._store)
            # No background refresh timer: get_session() refreshes a token near
            # its expiry whenever it is used (each Realtime ping, each lookup).
            options = AsyncClientOptions(storage=self._storage, persist_session=True,
                                         auto_refresh_token=False, flow_type="implicit")
            self._client_ = AsyncClient(self._config.url, self._config.key, options)
        return self._client_

    # ------------------------------------------------------------------ sign-in

    async def sign_in(self, email: str, password: str, code: str) -> Session:
        """Password, then the TOTP factor; an AAL2 session for a linked staff member."""
        async with self._busy:
            return await self._sign_in(email, password, code)

    async def _sign_in(self, email: str, password: str, code: str) -> Session:
        from supabase_auth.errors import AuthError

        email = email.strip().lower()
        client = await self._client()
        # Whoever signed in before is signed out here and on the server first.
        await self._forget(client)
        try:
            await client.auth.sign_in_with_password({"email": email, "password": password})
        except AuthError as err:
            raise _refusal(err, self._config) from None
        try:
            await self._second_factor(client, code)
            user = await self._user(client)
            actor = await self._lookup(user)
        except BaseException:
            await self._forget(client)
            raise
        if actor is None:
            await self._forget(client)
            raise NotLinked(email)
        return Session(actor=actor, email=email, used_recovery_code=False, must_reenrol=False)

    async def _second_factor(self, client: AsyncClient, code: str) -> None:
        from supabase_auth.errors import AuthApiError, AuthError

        typed = normalise_code(code)
        if not (len(typed) == 6 and typed.isascii() and typed.isdigit()):
            raise SignInFailed()
        try:
            factors = await client.auth.mfa.list_factors()
        except AuthError as err:
            raise _refusal(err, self._config) from None
        # Newest first: after a new phone, the new factor is the likely one.
        totp = sorted(factors.totp, key=lambda f: f.created_at, reverse=True)
        if not totp:
            log.info("Supabase user has no verified TOTP factor")
            raise SignInFailed()
        for factor in totp:
            try:
                challenge = await client.auth.mfa.challenge({"factor_id": factor.id})
                await client.auth.mfa.verify({"factor_id": factor.id, "challenge_id": challenge.id,
                                              "code": typed})
                break
            except AuthApiError as err:
                refusal = _refusal(err, self._config)
                if not isinstance(refusal, SignInFailed):
                    raise refusal from None
            except AuthError as err:
                raise _refusal(err, self._config) from None
        else:
            raise SignInFailed()
        level = await client.auth.mfa.get_authenticator_assurance_level()
        if level.current_level != "aal2":
            raise SignInFailed()

    async def _user(self, client: AsyncClient) -> AuthUser:
        session = await client.auth.get_session()
        if session is None:
            raise SignInFailed()
        return AuthUser(id=session.user.id, email=session.user.email,
                        access_token=session.access_token)

    async def _forget(self, client: AsyncClient) -> None:
        """Drop the session (a half-made one, or one whose staff member left) here and on
        the server. Here it is gone even when the server cannot be reached."""
        from supabase_auth.errors import AuthError

        self._token = None
        try:
            await client.auth.sign_out({"scope": "local"})
        except (AuthError, OSError) as err:
            log.info("Supabase sign-out failed: %s", type(err).__name__)

    async def restore(self) -> Session | None:
        """The session kept from a previous run, if it is still AAL2 and linked."""
        async with self._busy:
            return await self._restore()

    async def _restore(self) -> Session | None:
        from supabase_auth.errors import AuthError

        client = await self._client()
        try:
            session = await client.auth.get_session()
            if session is None:
                return None
            level = await client.auth.mfa.get_authenticator_assurance_level()
        except AuthError as err:
            log.info("the kept Supabase session is no longer valid: %s", type(err).__name__)
            await self._forget(client)
            return None
        if level.current_level != "aal2":
            await self._forget(client)
            return None
        user = AuthUser(session.user.id, session.user.email, session.access_token)
        actor = await self._lookup(user)
        if actor is None:
            return None
        email = (session.user.email or "").lower()
        return Session(actor=actor, email=email, used_recovery_code=False, must_reenrol=False)

    async def verify_code(self, actor: Actor, code: str) -> None:
        """A fresh code from the signed-in staff member: unlocking, and step-up.

        Supabase checks it through a new MFA challenge and verification on the
        session `actor` signed in with; the session must still be theirs.
        """
        from supabase_auth.errors import AuthError

        async with self._busy:
            client = await self._client()
            try:
                session = await client.auth.get_session()
            except AuthError as err:
                raise _refusal(err, self._config) from None
            if session is None:
                raise SessionEnded()
            owner = await self._lookup(AuthUser(session.user.id, session.user.email,
                                                session.access_token))
            if owner is None or owner.staff_id != actor.staff_id:
                raise SessionEnded()
            try:
                await self._second_factor(client, code)
            except SignInFailed:
                raise SignInError("That code is not right (or was used already). "
                                  "Wait for the next one.") from None
        if self._step_up is not None:
            await self._step_up(actor)

    async def access_token(self) -> str | None:
        """The current access token (refreshed when near expiry), for Realtime and the API."""
        from supabase_auth.errors import AuthError

        if self._busy.locked():
            # A sign-in or a code check is changing the session: a refresh now could
            # store the old session over the new one.
            return self._token
        client = await self._client()
        try:
            session = await client.auth.get_session()
        except AuthError as err:
            raise _refusal(err, self._config) from None
        self._token = session.access_token if session else None
        return self._token

    async def sign_out(self) -> None:
        """End the session here and on the server (the staff member left the console)."""
        async with self._busy:
            client = await self._client()
            await self._forget(client)

    async def close(self) -> None:
        if self._client_ is not None:
            client, self._client_ = self._client_, None
            await client.auth.close()

    # ------------------------------------------------------------------ enrolment

    async def start_enrolment(self, email: str, password: str,
                              friendly_name: str | None = None) -> TotpEnrolment:
        """Sign in with the password and create an unverified TOTP factor to scan."""
        async with self._busy:
            return await self._start_enrolment(email, password, friendly_name)

    async def _start_enrolment(self, email: str, password: str,
                               friendly_name: str | None) -> TotpEnrolment:
        from supabase_auth.errors import AuthError

        email = email.strip().lower()
        client = await self._client()
        try:
            await client.auth.sign_in_with_password({"email": email, "password": password})
        except AuthError as err:
            raise _refusal(err, self._config) from None
        try:
            factors = await client.auth.mfa.list_factors()
            if factors.totp:
                raise AuthenticatorExists()
            for stale in factors.all:
                if stale.factor_type == "totp" and stale.status == "unverified":
                    await client.auth.mfa.unenroll({"factor_id": stale.id})
            name = friendly_name or f"{ISSUER} {datetime.now():%Y-%m-%d %H:%M:%S}"
            enrolled = await client.auth.mfa.enroll(
                {"factor_type": "totp", "friendly_name": name, "issuer": ISSUER})
        except AuthError as err:
            await self._forget(client)
            raise _refusal(err, self._config) from None
        except BaseException:
            await self._forget(client)
            raise
        if enrolled.totp is None:
            raise SignInError("Supabase did not return a TOTP secret; is TOTP enabled for the project?")
        return TotpEnrolment(email=email, factor_id=enrolled.id, secret=enrolled.totp.secret,
                             uri=enrolled.totp.uri)

    async def finish_enrolment(self, enrolment: TotpEnrolment, code: str) -> None:
        """Verify the first code from the new authenticator; the session becomes AAL2."""
        async with self._busy:
            await self._finish_enrolment(enrolment, code)

    async def _finish_enrolment(self, enrolment: TotpEnrolment, code: str) -> None:
        from supabase_auth.errors import AuthApiError, AuthError

        client = await self._client()
        typed = normalise_code(code)
        try:
            challenge = await client.auth.mfa.challenge({"factor_id": enrolment.factor_id})
            await client.auth.mfa.verify({"factor_id": enrolment.factor_id,
                                          "challenge_id": challenge.id, "code": typed})
        except AuthApiError as err:
            refusal = _refusal(err, self._config)
            if isinstance(refusal, SignInFailed):
                raise SignInError("That code is not right. Check the authenticator's clock, wait "
                                  "for the next code and try again.") from None
            raise refusal from None
        except AuthError as err:
            raise _refusal(err, self._config) from None
