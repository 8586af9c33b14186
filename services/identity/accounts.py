"""Staff identity: enrolment, sign-in with password and TOTP (RFC 6238),
recovery codes, throttling and lockout, and staff management.

Postgres decides every sign-in (migrations 0011, 0015): `backroom.sign_in`
checks the password against a PBKDF2-HMAC-SHA256 verifier, the code against
the TOTP secret (one use per time step, one step of drift either side), the
throttle and the lockout, and records the attempt; once that is committed,
`backroom.sign_in_answer` says how it went and hands out a session token
whose hash alone it keeps. No console can read a verifier, a secret or a recovery code;
what the console holds is the token, and every transaction presents it.
Enrolment derives the verifier here, so the password is never stored, and
hands the secret to the database once. Messages never say which of email,
password or code was wrong.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import unicodedata
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import pyotp

from services.errors import BackroomError, InvalidInput, NotAllowed, NotFound
from services.guests import EMAIL_MOST, NAME_MOST, text_problem
from services.identity.permissions import Role
from services.store.db import Actor, Database

ISSUER = "Backroom"
STEP_SECONDS = 30
RECOVERY_CODES = 10
MIN_PASSWORD = 10
PASSWORD_ITERATIONS = 20_000
"""PBKDF2 rounds for a new verifier; Postgres derives the same number at each sign-in."""
SALT_BYTES = 16


class SignInError(BackroomError):
    """A sign-in, unlock or code refused; `str(err)` is a sentence for staff. Not a
    refusal of a change: it is never a `BookingError`."""

    code = "sign_in"


class SignInFailed(SignInError):
    def __init__(self) -> None:
        super().__init__("The email, password or code is not right.")


class Throttled(SignInError):
    def __init__(self, wait_seconds: int) -> None:
        super().__init__(f"Too many failed attempts: wait {wait_seconds} s before trying again.")
        self.wait_seconds = wait_seconds


class AccountLocked(SignInError):
    def __init__(self, until: datetime) -> None:
        super().__init__(
            f"This account is locked after too many failed attempts until {until:%H:%M} UTC. "
            "An admin can unlock it sooner (`backroom staff unlock`)."
        )
        self.until = until


class SessionEnded(SignInError):
    """The session this console presents is over: signed out elsewhere, expired, or ended
    by an admin (the account was disabled, its role changed, or it was enrolled again)."""

    code = "session_ended"

    def __init__(self) -> None:
        super().__init__("This sign-in has ended (expired, or changed by an admin). Sign in again.")


@dataclass(frozen=True)
class Enrolment:
    """Shown once, at enrolment: what the staff member needs for their authenticator."""

    email: str
    secret: str
    uri: str
    recovery_codes: tuple[str, ...]

    def qr_text(self) -> str:
        import io

        import segno

        out = io.StringIO()
        segno.make(self.uri, error="m").terminal(out=out, compact=True)
        return out.getvalue()


@dataclass(frozen=True)
class Session:
    actor: Actor
    email: str
    used_recovery_code: bool
    must_reenrol: bool


@dataclass(frozen=True)
class StaffMember:
    id: int
    email: str
    display_name: str
    role: str
    active: bool


def normalise_code(code: str) -> str:
    """Digits only, whatever the keyboard sent (full-width digits are digits too)."""
    folded = unicodedata.normalize("NFKC", code)
    return "".join(ch for ch in folded if not ch.isspace())


def canonical_recovery(code: str) -> str:
    """As Postgres compares it: NFKC, lower case, ASCII letters and digits only."""
    folded = unicodedata.normalize("NFKC", code).lower()
    return "".join(ch for ch in folded if ch.isascii() and ch.isalnum())


def hash_recovery(code: str) -> bytes:
    # Recovery codes carry 50 random bits, so a fast hash cannot be brute-forced.
    return hashlib.sha256(canonical_recovery(code).encode()).digest()


def new_recovery_code() -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def password_verifier(password: str, salt: bytes, iterations: int = PASSWORD_ITERATIONS) -> bytes:
    """PBKDF2-HMAC-SHA256 of the password, 32 bytes: what Postgres derives and compares."""
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)


def code_at(secret: bytes, when: float) -> str:
    """The code an authenticator with `secret` shows at `when` (Unix seconds)."""
    return pyotp.TOTP(base64.b32encode(secret).decode(), interval=STEP_SECONDS).at(when)


async def enrolled_secret(conn: asyncpg.Connection, email: str) -> tuple[bytes, int] | None:
    """The owner's read, for the demo and for tests: an account's TOTP secret and the
    last time step it used. No console login may read it."""
    row = await conn.fetchrow(
        "select c.totp_secret, c.totp_last_step from backroom_private.credential c"
        " join backroom.staff s on s.id = c.staff_id where s.email = $1",
        email.strip().lower(),
    )
    if row is None:
        return None
    return bytes(row["totp_secret"]), int(row["totp_last_step"])


def _email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise InvalidInput(f"{email!r} is not an email address.")
    problem = text_problem("The email address", email, EMAIL_MOST)
    if problem:
        raise InvalidInput(problem)
    return email


class IdentityService:
    def __init__(self, db: Database, *, owner: Database | None = None) -> None:
        """`owner`: the database owner's connection, for staff management with no admin signed
        in (first set-up); by default `db`, which is the owner's in the `backroom staff` CLI."""
        self._db = db
        self._owner = owner or db

    # ------------------------------------------------------------ enrolment

    @staticmethod
    def _new_enrolment(email: str) -> tuple[Enrolment, bytes, list[bytes]]:
        secret = pyotp.random_base32()
        uri = pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(name=email, issuer_name=ISSUER)
        codes = tuple(new_recovery_code() for _ in range(RECOVERY_CODES))
        hashes = [hash_recovery(c) for c in codes]
        return Enrolment(email, secret, uri, codes), base64.b32decode(secret), hashes

    async def add_staff(
        self, actor: Actor | None, *, email: str, name: str, role: str, password: str
    ) -> Enrolment:
        email = _email(email)
        if role not in {r.value for r in Role}:
            raise InvalidInput(f"The role must be one of {', '.join(r.value for r in Role)}.")
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(f"The password needs at least {MIN_PASSWORD} characters.")
        if not name.strip():
            raise InvalidInput("The staff member needs a name.")
        problem = text_problem("The name", name.strip(), NAME_MOST)
        if problem:
            raise InvalidInput(problem)
        enrolment, secret, hashes = self._new_enrolment(email)
        salt = secrets.token_bytes(SALT_BYTES)
        # Tens of milliseconds of CPU: off the event loop, so screens and feeds keep going.
        key = await asyncio.to_thread(password_verifier, password, salt)
        await self._admin_call(
            actor,
            "select backroom.enrol_staff($1, $2, $3, $4, $5, $6, $7, $8)",
            email,
            name.strip(),
            role,
            salt,
            PASSWORD_ITERATIONS,
            key,
            secret,
            hashes,
        )
        return enrolment

    async def reset_totp(self, actor: Actor | None, email: str) -> Enrolment:
        email = _email(email)
        enrolment, secret, hashes = self._new_enrolment(email)
        await self._admin_call(actor, "select backroom.enrol_totp($1, $2, $3)", email, secret, hashes)
        return enrolment

    async def set_role(self, actor: Actor | None, email: str, role: str) -> None:
        if role not in {r.value for r in Role}:
            raise InvalidInput(f"The role must be one of {', '.join(r.value for r in Role)}.")
        await self._admin_call(actor, "select backroom.update_staff($1, $2, null)", email, role)

    async def disable(self, actor: Actor | None, email: str) -> None:
        await self._admin_call(actor, "select backroom.update_staff($1, null, false)", email)

    async def enable(self, actor: Actor | None, email: str) -> None:
        await self._admin_call(actor, "select backroom.update_staff($1, null, true)", email)

    async def unlock(self, actor: Actor | None, email: str) -> None:
        """Lift the lock that failed sign-ins put on an account, and start counting them afresh."""
        await self._admin_call(actor, "select backroom.unlock_staff($1)", email.strip().lower())

    async def list_staff(self, actor: Actor | None = None) -> list[StaffMember]:
        """Every account, as `actor` sees them, or (None) as the owner."""
        sql = "select id, email, display_name, role, active from backroom.staff order by email"
        if actor is None:
            async with self._owner.connection() as conn:
                rows = await conn.fetch(sql)
        else:
            async with self._db.transaction(actor, readonly=True) as conn:
                rows = await conn.fetch(sql)
        return [StaffMember(**dict(r)) for r in rows]

    async def _admin_call(self, actor: Actor | None, sql: str, *args: object) -> None:
        """As an admin through the console role, or (actor None) as the owner connected directly."""
        if actor is not None and actor.role != Role.ADMIN:
            raise NotAllowed(
                f"{actor.name} is signed in as {actor.role} staff; only an admin may manage staff accounts."
            )
        try:
            if actor is None:
                async with self._owner.connection() as owner, owner.transaction():
                    await owner.execute(sql, *args)
            else:
                async with self._db.transaction(actor, operation="manage_staff") as conn:
                    await conn.execute(sql, *args)
        except asyncpg.InsufficientPrivilegeError as err:
            raise NotAllowed(
                "Only an admin, or the database owner at first set-up, may manage staff accounts."
            ) from err
        except asyncpg.NoDataFoundError as err:
            raise NotFound(f"There is no such staff member ({args[0]}).") from err
        except asyncpg.ObjectNotInPrerequisiteStateError as err:
            raise InvalidInput(
                f"{args[0]} has no password here yet, so no authenticator to replace: "
                f"enrol the account with `backroom staff add {args[0]}`."
            ) from err

    # ------------------------------------------------------------ sign-in

    @staticmethod
    @asynccontextmanager
    async def _checking() -> AsyncIterator[None]:
        try:
            yield
        except asyncpg.LockNotAvailableError as err:
            raise SignInError(
                "Another sign-in for this account is being checked right now. Try again in a moment."
            ) from err

    async def sign_in(self, email: str, password: str, code: str) -> Session:
        """Password plus a TOTP code, or plus a recovery code (once): Postgres decides."""
        email = email.strip().lower()
        # The answer comes only once the attempt is committed, so every try is counted.
        async with self._checking(), self._db.transaction() as conn:
            handle = await conn.fetchval("select backroom.sign_in($1, $2, $3)", email, password, code)
        async with self._db.transaction() as conn:
            row = await conn.fetchrow("select * from backroom.sign_in_answer($1)", handle)
        assert row is not None  # the function always returns one row
        _refuse(row, SignInFailed)
        return Session(
            actor=Actor(
                staff_id=row["staff_id"], name=row["display_name"], role=row["role"], session=row["token"]
            ),
            email=email,
            used_recovery_code=bool(row["used_recovery"]),
            must_reenrol=bool(row["must_reenrol"]),
        )

    async def verify_code(self, actor: Actor, code: str, purpose: str = "step_up") -> None:
        """A fresh TOTP code from the signed-in staff member, checked against their session:
        `unlock` opens a locked console, `step_up` allows a guarded change for a while."""
        try:
            async with self._checking(), self._db.transaction(actor) as conn:
                handle = await conn.fetchval("select backroom.confirm_code($1, $2)", purpose, code)
        except asyncpg.InsufficientPrivilegeError as err:
            raise SessionEnded() from err
        async with self._db.transaction(actor) as conn:
            row = await conn.fetchrow("select * from backroom.confirm_answer($1)", handle)
        assert row is not None
        _refuse(
            row, lambda: SignInError("That code is not right (or was used already). Wait for the next one.")
        )


def _refuse(row: asyncpg.Record, failed: type[SignInError] | Callable[[], SignInError]) -> None:
    """Raise what the database's answer means, unless it is `ok`."""
    outcome = row["outcome"]
    if outcome == "ok":
        return
    if outcome == "locked" and row["locked_until"] is not None:
        raise AccountLocked(row["locked_until"])
    if outcome == "throttled":
        raise Throttled(int(row["wait_seconds"] or 1))
    raise failed()


async def lock_session(db: Database, actor: Actor) -> None:
    """Lock the actor's session: until a fresh code unlocks it, Postgres acts for nobody."""
    if actor.session:
        async with db.transaction(actor) as conn:
            await conn.execute("select backroom.lock_session()")


async def end_session(db: Database, actor: Actor, why: str = "signed_out") -> None:
    """End the actor's session for good (`signed_out`, `handover`, `closed`, `idle`)."""
    if actor.session:
        async with db.transaction(actor) as conn:
            await conn.execute("select backroom.end_session($1)", why)
