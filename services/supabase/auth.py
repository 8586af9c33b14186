"""Sign-in through Supabase Auth, as an alternative to the console's own
accounts: email and password, then the staff member's TOTP factor (an MFA
challenge and its verification), which lifts the Supabase session to AAL2. The
result is the same `Session` that `IdentityService.sign_in` returns, with a
session in Postgres, so a screen does not care which one signed the staff
member in.

- Postgres decides who signed in (migration 0011): the console hands the AAL2
  access token to `backroom.supabase_session`, which checks its signature (HS256,
  with the project's JWT secret that the owner stored), its expiry and its `aal`,
  finds the active staff member linked to its `sub` (`backroom.staff.auth_user_id`)
  and opens a session whose token every transaction then presents
  (`DatabaseSessions`). The console names nobody itself.
- A fresh code (unlocking, step-up) is a new MFA verification on the staff
  member's own Supabase session; its new access token, whose `amr` says when the
  code was checked, goes to `backroom.supabase_confirm` on the console's session,
  which accepts it only from that session's own staff member, within two minutes.
- The Supabase session (access and refresh tokens) lives in memory only: a
  refresh token kept in the keyring would let whoever has the keyring open a
  session without a code. A restarted console asks for a sign-in again.
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

`SupabaseAuth` is a `services.identity.sign_in.SignInBackend`: the console's sign-in
screen, idle lock and step-up use it as they use `IdentityService`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import asyncpg

from services.errors import InvalidInput
from services.identity.accounts import ISSUER, Session, SignInError, SignInFailed, Throttled, normalise_code
from services.identity.secrets import SecretStore
from services.identity.sign_in import SignInVia
from services.store.db import Actor, Database
from services.supabase.config import SupabaseConfig

if TYPE_CHECKING:
    from supabase import AsyncClient

log = logging.getLogger(__name__)

RATE_LIMIT_WAIT = 60
"""Supabase Auth does not say how long a rate limit lasts; a minute is its usual window."""

JWT_SECRET_ENV = "SUPABASE_JWT_SECRET"
"""Where `backroom supabase enable` may find the project's JWT secret."""
JWT_SECRET_MIN = 16
"""Bytes; Postgres refuses a shorter secret (backroom_private.supabase_jwt)."""

PURPOSES = ("unlock", "step_up")

ENABLE = "`backroom supabase enable`"


class SupabaseUnreachable(SignInError):
    code = "supabase_unreachable"


class NotLinked(SignInError):
    """Supabase Auth signed the user in, but Postgres gave no session for the token: no
    active staff member is linked to that user, or the database cannot check the token
    (the project's JWT secret is not stored, or is another project's). Only the owner can
    tell which, so both remedies are named."""

    code = "not_linked"

    def __init__(self, email: str) -> None:
        super().__init__(
            f"{email} signed in to Supabase, but the database opened no session for it. Either "
            f"no active staff account is linked to it (an admin links it with "
            f"`backroom supabase link-staff {email} --role ROLE`), or the database does not have "
            f"this project's JWT secret (the database owner runs {ENABLE})."
        )


class NotConfirmed(SignInError):
    """Supabase accepted the code, but Postgres did not take its token for this session."""

    code = "not_confirmed"

    def __init__(self) -> None:
        super().__init__(
            "The database did not accept that code for this sign-in (it may have ended, or the "
            "code was checked too long ago). Try the next code; if it is refused again, sign in "
            "again."
        )


class AuthenticatorExists(SignInError):
    code = "authenticator_exists"

    def __init__(self) -> None:
        super().__init__(
            "This account already has an authenticator: sign in with its code. For a lost phone, "
            "an admin removes the old factor first (Supabase dashboard, Authentication > Users)."
        )


class SupabaseNotSetUp(SignInError):
    code = "supabase_not_set_up"


class SessionEnded(SignInError):
    """A fresh code was asked for, but the Supabase session behind the console is gone."""

    code = "supabase_session_ended"

    def __init__(self) -> None:
        super().__init__(
            "The Supabase session of this console has ended (signed out elsewhere, "
            "expired, or the staff link changed). Sign in again."
        )


@dataclass(frozen=True)
class AuthUser:
    """The Supabase user of the current session."""

    id: str
    email: str | None
    access_token: str = field(repr=False)


class StaffSessions(Protocol):
    """The database's side of a Supabase sign-in: Postgres checks each token itself."""

    async def open(self, user: AuthUser) -> Actor | None:
        """A session for the staff member `user.access_token` proves (AAL2), or None."""

    async def confirm(self, actor: Actor, purpose: str, access_token: str) -> bool:
        """Whether `access_token`, fresh from an MFA verification, confirms a code for
        `actor`'s session: `unlock` opens it, `step_up` allows a guarded change."""


class DatabaseSessions:
    """`backroom.supabase_session` and `backroom.supabase_confirm` on the console's own
    connection, as the console role."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def open(self, user: AuthUser) -> Actor | None:
        try:
            # Nobody is presented: the token alone says who this is.
            async with self._db.transaction(Actor()) as conn:
                row = await conn.fetchrow(
                    "select outcome, token, staff_id, display_name, role from backroom.supabase_session($1)",
                    user.access_token,
                )
        except (asyncpg.UndefinedFunctionError, asyncpg.UndefinedColumnError) as err:
            raise SupabaseNotSetUp(
                "This database cannot sign Supabase users in yet. Run `backroom db migrate`, "
                f"then {ENABLE} as the database owner (it needs Supabase's auth schema)."
            ) from err
        if row is None or row["outcome"] != "ok":
            return None
        return Actor(
            staff_id=row["staff_id"], name=row["display_name"], role=row["role"], session=row["token"]
        )

    async def confirm(self, actor: Actor, purpose: str, access_token: str) -> bool:
        async with self._db.transaction(actor) as conn:
            return bool(
                await conn.fetchval("select backroom.supabase_confirm($1, $2)", purpose, access_token)
            )


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


def jwt_secret_key(typed: str) -> bytes:
    """The project's JWT secret as Supabase Auth signs with it: the text's UTF-8 bytes."""
    key = typed.strip().encode()
    if len(key) < JWT_SECRET_MIN:
        raise InvalidInput(
            f"That is not a JWT secret: it has {len(key)} characters, and a project's has at least "
            f"{JWT_SECRET_MIN} (Project Settings > JWT Keys, the legacy JWT secret)."
        )
    return key


async def store_jwt_secret(conn: asyncpg.Connection, key: bytes) -> None:
    """Store the project's JWT secret, with which Postgres checks access tokens (as the
    owner: no console can read or write it)."""
    await conn.execute("select backroom_meta.set_supabase_jwt_secret($1)", key)


def session_secret(config: SupabaseConfig, key: str) -> str:
    """The keyring entry where earlier versions kept one item of the auth client's
    session; `SupabaseAuth.end_kept_session` ends and removes it."""
    return f"supabase:{config.project_ref}:{key}"


def _refusal(err: BaseException, config: SupabaseConfig) -> SignInError:
    """A Supabase Auth failure in staff words (which factor was wrong is never said)."""
    from supabase_auth.errors import AuthApiError, AuthRetryableError

    if isinstance(err, AuthRetryableError):
        return SupabaseUnreachable(
            f"Cannot reach Supabase Auth at {config.host} right now. Check the network and try "
            "again; the venue's own console accounts still work if the database is reachable."
        )
    if isinstance(err, AuthApiError):
        log.info("Supabase Auth refused: HTTP %s %s", err.status, err.code)
        if err.status == 429 or (err.code or "").startswith("over_"):
            return Throttled(RATE_LIMIT_WAIT)
        if err.status >= 500:
            return SupabaseUnreachable(
                f"Supabase Auth at {config.host} had a problem (HTTP {err.status}). Try again shortly."
            )
    else:
        log.info("Supabase Auth failed: %s", type(err).__name__)
    return SignInFailed()


@dataclass(frozen=True)
class _Holder:
    """Whose Supabase session the console holds, and the database session it bought."""

    session: str | None = field(repr=False)
    user_id: str


class SupabaseAuth:
    """Sign-in, unlock and TOTP enrolment through Supabase Auth for one project.

    `sessions` is the database's side (`DatabaseSessions`); without it (enrolment,
    sign-out) nobody can sign in to the console."""

    def __init__(
        self, config: SupabaseConfig, sessions: StaffSessions | None = None, store: SecretStore | None = None
    ) -> None:
        self._config = config
        self._sessions = sessions
        self._store = store
        self._client_: AsyncClient | None = None
        self._busy = asyncio.Lock()
        self._token: str | None = None
        self._holder: _Holder | None = None

    @property
    def config(self) -> SupabaseConfig:
        return self._config

    @property
    def via(self) -> SignInVia:
        """What the sign-in screen says: Supabase Auth of this project, no recovery codes."""
        return SignInVia("Supabase Auth", where=self._config.host, recovery_codes=False)

    async def warm_up(self) -> None:
        """Import `supabase` in a thread and make the client, before anyone signs in; end a
        session an earlier version kept in the keyring."""
        import importlib

        await asyncio.to_thread(importlib.import_module, "supabase")
        await self._client()
        await self.end_kept_session()

    async def end_kept_session(self) -> bool:
        """End, on the server too, the session earlier versions kept in the keyring (its
        refresh token would buy a session for whoever has the keyring), and remove it.
        Whether there was one."""
        import json

        from supabase_auth.constants import STORAGE_KEY
        from supabase_auth.errors import AuthError

        store = self._store or SecretStore()
        name = session_secret(self._config, STORAGE_KEY)
        kept = await asyncio.to_thread(store.get, name)
        if kept is None:
            return False
        try:
            async with self._busy:
                tokens = json.loads(kept)
                client = await self._client()
                await client.auth.set_session(tokens["access_token"], tokens["refresh_token"])
                await self._forget(client)
        except (AuthError, OSError, ValueError, KeyError, TypeError) as err:
            log.info("ending the kept Supabase session failed: %s", type(err).__name__)
        finally:
            await asyncio.to_thread(store.delete, name)
        return True

    async def _client(self) -> AsyncClient:
        if self._client_ is None:
            from supabase import AsyncClient, AsyncClientOptions

            # In memory only. No background refresh timer: get_session() refreshes a token
            # near its expiry whenever it is used (each Realtime ping, each code check).
            options = AsyncClientOptions(
                persist_session=False, auto_refresh_token=False, flow_type="implicit"
            )
            self._client_ = AsyncClient(self._config.url, self._config.key, options)
        return self._client_

    def _database(self) -> StaffSessions:
        if self._sessions is None:
            raise SupabaseNotSetUp("This command has no database to sign in to.")
        return self._sessions

    # ------------------------------------------------------------------ sign-in

    async def sign_in(self, email: str, password: str, code: str) -> Session:
        """Password, then the TOTP factor; a database session for the linked staff member."""
        async with self._busy:
            return await self._sign_in(email, password, code)

    async def _sign_in(self, email: str, password: str, code: str) -> Session:
        from supabase_auth.errors import AuthError

        email = email.strip().lower()
        sessions = self._database()
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
            actor = await sessions.open(user)
        except BaseException:
            await self._forget(client)
            raise
        if actor is None:
            await self._forget(client)
            raise NotLinked(email)
        self._holder = _Holder(actor.session, user.id)
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
                await client.auth.mfa.verify(
                    {"factor_id": factor.id, "challenge_id": challenge.id, "code": typed}
                )
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
        return AuthUser(id=session.user.id, email=session.user.email, access_token=session.access_token)

    async def _forget(self, client: AsyncClient) -> None:
        """Drop the session (a half-made one, or one whose staff member left) here and on
        the server. Here it is gone even when the server cannot be reached."""
        from supabase_auth.errors import AuthError

        self._token = None
        self._holder = None
        try:
            await client.auth.sign_out({"scope": "local"})
        except (AuthError, OSError) as err:
            log.info("Supabase sign-out failed: %s", type(err).__name__)

    async def verify_code(self, actor: Actor, code: str, purpose: str = "step_up") -> None:
        """A fresh code from the signed-in staff member: `unlock` opens the session the
        idle lock closed, `step_up` allows a guarded change for a while.

        Supabase checks the code through a new MFA challenge and verification on the
        Supabase session `actor` signed in with (never on a colleague's, which a wrong
        code would count against); Postgres then takes the new access token as the
        confirmation for `actor`'s session (`backroom.supabase_confirm`).
        """
        from supabase_auth.errors import AuthError

        if purpose not in PURPOSES:
            raise ValueError(f"no such confirmation: {purpose!r}")
        async with self._busy:
            sessions = self._database()
            client = await self._client()
            holder = self._holder
            if holder is None or actor.session is None or holder.session != actor.session:
                raise SessionEnded()
            try:
                current = await client.auth.get_session()
            except AuthError as err:
                raise _refusal(err, self._config) from None
            if current is None or current.user.id != holder.user_id:
                raise SessionEnded()
            try:
                await self._second_factor(client, code)
            except SignInFailed:
                raise SignInError(
                    "That code is not right (or was used already). Wait for the next one."
                ) from None
            try:
                verified = await client.auth.get_session()
            except AuthError as err:
                raise _refusal(err, self._config) from None
            if verified is None:
                raise SessionEnded()
            self._token = verified.access_token
            if not await sessions.confirm(actor, purpose, verified.access_token):
                raise NotConfirmed()

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
        """End the Supabase session here and on the server (the staff member left the
        console). The database session is ended by the console (`identity.end_session`)."""
        async with self._busy:
            client = await self._client()
            await self._forget(client)

    async def close(self) -> None:
        if self._client_ is not None:
            client, self._client_ = self._client_, None
            await client.auth.close()

    # ------------------------------------------------------------------ enrolment

    async def start_enrolment(
        self, email: str, password: str, friendly_name: str | None = None
    ) -> TotpEnrolment:
        """Sign in with the password and create an unverified TOTP factor to scan."""
        async with self._busy:
            return await self._start_enrolment(email, password, friendly_name)

    async def _start_enrolment(self, email: str, password: str, friendly_name: str | None) -> TotpEnrolment:
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
                {"factor_type": "totp", "friendly_name": name, "issuer": ISSUER}
            )
        except AuthError as err:
            await self._forget(client)
            raise _refusal(err, self._config) from None
        except BaseException:
            await self._forget(client)
            raise
        if enrolled.totp is None:
            raise SignInError("Supabase did not return a TOTP secret; is TOTP enabled for the project?")
        return TotpEnrolment(
            email=email, factor_id=enrolled.id, secret=enrolled.totp.secret, uri=enrolled.totp.uri
        )

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
            await client.auth.mfa.verify(
                {"factor_id": enrolment.factor_id, "challenge_id": challenge.id, "code": typed}
            )
        except AuthApiError as err:
            refusal = _refusal(err, self._config)
            if isinstance(refusal, SignInFailed):
                raise SignInError(
                    "That code is not right. Check the authenticator's clock, wait "
                    "for the next code and try again."
                ) from None
            raise refusal from None
        except AuthError as err:
            raise _refusal(err, self._config) from None
