"""Staff identity: enrolment, sign-in with password and TOTP (RFC 6238),
recovery codes, throttling and lockout, and staff management.

The password is hashed with argon2; the TOTP secret is encrypted with the
venue key before it reaches the database. A code is accepted once on every
console: what is compared and recorded is the time step, not the string.
Messages never say which of email, password or code was wrong.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

from services.db import Actor, Database
from services.errors import BookingError, InvalidInput, NotAllowed, NotFound
from services.guests import EMAIL_MOST, NAME_MOST, text_problem
from services.permissions import Role

ISSUER = "Backroom"
STEP_SECONDS = 30
RECOVERY_CODES = 10
THROTTLE_AFTER = 5
MIN_PASSWORD = 10
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so both paths take as long."""
    return _hasher.hash(secrets.token_hex(16))


class SignInError(BookingError):
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
            "A manager or admin can help in the meantime."
        )
        self.until = until


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
    return "".join(ch for ch in unicodedata.normalize("NFKC", code).lower() if ch.isalnum())


def hash_recovery(code: str) -> str:
    # Recovery codes carry 50 random bits, so a fast hash cannot be brute-forced.
    return hashlib.sha256(canonical_recovery(code).encode()).hexdigest()


def new_recovery_code() -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def throttle_wait(failures: int) -> int:
    """Seconds to wait before the next attempt: doubling after five failures, up to a minute."""
    if failures < THROTTLE_AFTER:
        return 0
    return int(min(60, 2 ** (failures - THROTTLE_AFTER)))


class SecretBox:
    """Encrypts TOTP secrets at rest with the venue key."""

    def __init__(self, key: str | bytes) -> None:
        self._fernet = Fernet(key if isinstance(key, bytes) else key.encode())

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(sealed)).decode()
        except InvalidToken as err:
            raise SignInError(
                "This console's TOTP key does not match the one the staff accounts were made with. "
                "Set the venue's key (BACKROOM_TOTP_KEY or the keyring)."
            ) from err


class IdentityService:
    def __init__(self, db: Database, box: SecretBox | None,
                 clock: Callable[[], float] = time.time, *, owner: Database | None = None) -> None:
        """`owner`: the database owner's connection, for staff management with no admin signed
        in (first set-up); by default `db`, which is the owner's in the `backroom staff` CLI."""
        self._db = db
        self._owner = owner or db
        self._sealer = box
        self._clock = clock

    @property
    def _box(self) -> SecretBox:
        if self._sealer is None:
            raise SignInError("This needs the venue's TOTP key (BACKROOM_TOTP_KEY or the keyring).")
        return self._sealer

    # ------------------------------------------------------------ enrolment

    def _new_enrolment(self, email: str) -> tuple[Enrolment, bytes, list[str]]:
        secret = pyotp.random_base32()
        uri = pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(name=email, issuer_name=ISSUER)
        codes = tuple(new_recovery_code() for _ in range(RECOVERY_CODES))
        return Enrolment(email, secret, uri, codes), self._box.seal(secret), [hash_recovery(c) for c in codes]

    async def add_staff(self, actor: Actor | None, *, email: str, name: str, role: str,
                        password: str) -> Enrolment:
        email = email.strip().lower()
        if "@" not in email or email.startswith("@") or email.endswith("@"):
            raise InvalidInput(f"{email!r} is not an email address.")
        if role not in {r.value for r in Role}:
            raise InvalidInput(f"The role must be one of {', '.join(r.value for r in Role)}.")
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(f"The password needs at least {MIN_PASSWORD} characters.")
        if not name.strip():
            raise InvalidInput("The staff member needs a name.")
        for problem in (text_problem("The email address", email, EMAIL_MOST),
                        text_problem("The name", name.strip(), NAME_MOST)):
            if problem:
                raise InvalidInput(problem)
        enrolment, sealed, hashes = self._new_enrolment(email)
        hashed = await asyncio.to_thread(_hasher.hash, password)
        await self._admin_call(actor, "select backroom.save_staff($1, $2, $3, $4, $5, $6)",
                               email, name.strip(), role, hashed, sealed, hashes)
        return enrolment

    async def reset_totp(self, actor: Actor | None, email: str) -> Enrolment:
        enrolment, sealed, hashes = self._new_enrolment(email.strip().lower())
        await self._admin_call(actor, "select backroom.reset_totp($1, $2, $3)",
                               email, sealed, hashes)
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

    async def list_staff(self) -> list[StaffMember]:
        async with self._db.transaction(readonly=True) as conn:
            rows = await conn.fetch(
                "select id, email, display_name, role, active from backroom.staff order by email"
            )
        return [StaffMember(**dict(r)) for r in rows]

    async def _admin_call(self, actor: Actor | None, sql: str, *args: object) -> None:
        """As an admin through the console role, or (actor None) as the owner connected directly."""
        if actor is not None and actor.role != Role.ADMIN:
            raise NotAllowed(f"{actor.name} is signed in as {actor.role} staff; only an admin "
                             "may manage staff accounts.")
        try:
            if actor is None:
                async with self._owner.connection() as owner, owner.transaction():
                    await owner.execute(sql, *args)
            else:
                async with self._db.transaction(actor, operation="manage_staff") as conn:
                    await conn.execute(sql, *args)
        except asyncpg.InsufficientPrivilegeError as err:
            raise NotAllowed("Only an admin, or the database owner at first set-up, may manage "
                             "staff accounts.") from err
        except asyncpg.NoDataFoundError as err:
            raise NotFound(f"There is no such staff member ({args[0]}).") from err

    # ------------------------------------------------------------ sign-in

    async def sign_in(self, email: str, password: str, code: str) -> Session:
        """Password plus a TOTP code, or plus a recovery code (once)."""
        email = email.strip().lower()
        async with self._db.transaction() as conn:
            cred = await conn.fetchrow("select * from backroom.staff_credentials($1)", email)
        assert cred is not None  # the function always returns one row
        if cred["locked_until"] is not None and cred["locked_until"] > cred["now"]:
            await self._record(cred["id"], email, False, "locked")
            raise AccountLocked(cred["locked_until"])
        wait = throttle_wait(cred["recent_failures"])
        if wait and cred["last_failure_at"] is not None:
            remaining = wait - (cred["now"] - cred["last_failure_at"]).total_seconds()
            if remaining > 0:
                raise Throttled(int(remaining) + 1)

        reason = await self._check(cred, password, code)
        used_recovery = reason == "recovery"
        ok = reason in ("totp", "recovery")
        lock = await self._record(cred["id"], email, ok, reason)
        if not ok:
            if lock is not None:
                raise AccountLocked(lock)
            raise SignInFailed()
        return Session(
            actor=Actor(staff_id=cred["id"], name=cred["display_name"], role=cred["role"]),
            email=email, used_recovery_code=used_recovery,
            must_reenrol=used_recovery or cred["must_reenrol"],
        )

    async def _check(self, cred: asyncpg.Record, password: str, code: str) -> str:
        known = cred["id"] is not None
        try:
            # Argon2 takes ~0.1 s of CPU: off the event loop, so screens and feeds keep going.
            await asyncio.to_thread(
                _hasher.verify,
                cred["password_hash"] if known and cred["password_hash"] else _dummy_hash(), password,
            )
            password_ok = known and bool(cred["password_hash"])
        except (VerificationError, InvalidHashError):
            password_ok = False
        if not known:
            return "unknown_email"
        if not cred["active"]:
            return "inactive"
        if not password_ok:
            return "bad_password"
        return await self._check_code(cred["id"], cred["totp_secret"], code)

    async def _check_code(self, staff_id: int, sealed: bytes | None, code: str) -> str:
        typed = normalise_code(code)
        if len(typed) == 6 and typed.isascii() and typed.isdigit():
            if sealed is None:
                return "not_enrolled"
            step = self.matching_step(self._box.open(sealed), typed)
            if step is None:
                return "bad_code"
            async with self._db.transaction() as conn:
                fresh = await conn.fetchval("select backroom.take_totp_step($1, $2)", staff_id, step)
            return "totp" if fresh else "replayed_code"
        if len(canonical_recovery(code)) == 10:
            async with self._db.transaction() as conn:
                used = await conn.fetchval("select backroom.take_recovery_code($1, $2)",
                                           staff_id, hash_recovery(code))
            return "recovery" if used else "bad_recovery_code"
        return "bad_code"

    def matching_step(self, secret: str, code: str) -> int | None:
        """The time step (now, or one either side) whose code this is."""
        totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
        now_step = int(self._clock()) // STEP_SECONDS
        for step in (now_step, now_step - 1, now_step + 1):
            if hmac.compare_digest(totp.generate_otp(step), code):
                return step
        return None

    async def verify_code(self, actor: Actor, code: str) -> None:
        """A fresh TOTP code from the signed-in staff member: unlocking, and step-up."""
        email = await self._email_of(actor)
        async with self._db.transaction() as conn:
            cred = await conn.fetchrow("select * from backroom.staff_credentials($1)", email)
        assert cred is not None
        if cred["locked_until"] is not None and cred["locked_until"] > cred["now"]:
            raise AccountLocked(cred["locked_until"])
        wait = throttle_wait(cred["recent_failures"])
        if wait and cred["last_failure_at"] is not None:
            remaining = wait - (cred["now"] - cred["last_failure_at"]).total_seconds()
            if remaining > 0:
                raise Throttled(int(remaining) + 1)
        result = await self._check_code(cred["id"], cred["totp_secret"], code)
        ok = result == "totp"
        lock = await self._record(cred["id"], email, ok, "code:" + result)
        if ok:
            async with self._db.transaction() as conn:
                await conn.execute("select backroom.record_step_up($1)", cred["id"])
        if not ok:
            if lock is not None:
                raise AccountLocked(lock)
            raise SignInError("That code is not right (or was used already). Wait for the next one.")

    async def _email_of(self, actor: Actor) -> str:
        async with self._db.transaction(readonly=True) as conn:
            email = await conn.fetchval("select email from backroom.staff where id = $1", actor.staff_id)
        if email is None:
            raise NotFound("This staff account no longer exists.")
        return str(email)

    async def _record(self, staff_id: int | None, email: str, ok: bool,
                      reason: str) -> datetime | None:
        async with self._db.transaction() as conn:
            until: datetime | None = await conn.fetchval(
                "select backroom.record_sign_in($1, $2, $3, $4)", staff_id, email, ok, reason
            )
        return until

    def current_code(self, sealed: bytes) -> str:
        """The code an authenticator shows now (the demo's helper; tests)."""
        return pyotp.TOTP(self._box.open(sealed), interval=STEP_SECONDS).at(self._clock())
