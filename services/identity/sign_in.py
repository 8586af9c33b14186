"""Who checks a staff member's sign-in at the console: its own staff accounts
(`services.identity.accounts.IdentityService`) or Supabase Auth
(`services.supabase.auth.SupabaseAuth`).

The sign-in screen, the idle lock and the step-up code talk to a
`SignInBackend`; both classes are one. Either way the outcome is a session in
Postgres (`backroom_private.session`), whose token the console presents in
every transaction; locking and ending it are the database's
(`services.identity.accounts.lock_session`, `end_session`). `describe` names the backend in the
words the sign-in screen shows, and says whether recovery codes exist there.
A backend that holds a session of its own (Supabase's tokens) also has
`sign_out`, which the console calls when nobody is signed in any more.

Nothing here imports `supabase`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from services.identity.accounts import Session
from services.store.db import Actor


class SignInBackend(Protocol):
    """Checks a sign-in and, later, a fresh code from the staff member signed in.

    Refusals raise `SignInError` subclasses whose text is for staff and never
    says which of email, password or code was wrong.
    """

    async def sign_in(self, email: str, password: str, code: str) -> Session: ...

    async def verify_code(self, actor: Actor, code: str, purpose: str = "step_up") -> None:
        """A fresh authenticator code from `actor`, confirmed by Postgres on `actor`'s
        session: `unlock` opens the session the idle lock closed, `step_up` allows a
        guarded change for a while."""


@dataclass(frozen=True)
class SignInVia:
    """What the sign-in screen says about the backend."""

    name: str
    where: str = ""
    recovery_codes: bool = True

    def sentence(self) -> str:
        where = f" ({self.where})" if self.where else ""
        return f"Signing in through {self.name}{where}."


OWN_ACCOUNTS = SignInVia("this console's own staff accounts")


@runtime_checkable
class Described(Protocol):
    @property
    def via(self) -> SignInVia: ...


@runtime_checkable
class HoldsSession(Protocol):
    """A backend with a session of its own, ended when the staff member leaves."""

    async def sign_out(self) -> None: ...


def describe(backend: object) -> SignInVia:
    return backend.via if isinstance(backend, Described) else OWN_ACCOUNTS
