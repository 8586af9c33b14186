"""Passwords and codes for the `backroom` command: from standard input, an option, the
environment, or a prompt at the terminal, in that order. Without a terminal and without
any of the others, the command says in one line how to give it and stops.
"""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass

from services.errors import BackroomError

PASSWORD_ENV = "BACKROOM_PASSWORD"
"""The password of whoever signs in: the admin of --admin, the Supabase user."""
CODE_ENV = "BACKROOM_CODE"
"""The authenticator code of that sign-in."""
NEW_PASSWORD_ENV = "BACKROOM_NEW_PASSWORD"
"""The password of the account `backroom staff add` creates."""


class NoTerminal(BackroomError):
    """A secret is needed and there is no way to ask for it; `str(err)` says how to give it."""


@dataclass(frozen=True)
class Secret:
    """One secret a command needs and where it may come from."""

    what: str
    """Says what it is, e.g. "the password for admin@venue.test"."""
    prompt: str
    stdin_flag: str | None = None
    """The option that reads it from standard input, if the command has one."""
    from_stdin: bool = False
    """That option was given."""
    option: str | None = None
    """The option that carries it (a code: it is good for 30 s only)."""
    given: str | None = None
    """That option's value."""
    env: str | None = None
    confirm: bool = False
    """At a prompt, ask twice (a new password)."""
    hidden: bool = True
    """Not echoed at a prompt (a code is shown: it is good once, for 30 s)."""
    instead: str | None = None
    """How to give it without a terminal, where the options above do not say it all."""

    def ways(self, *, stdin: bool = True) -> str:
        ways = []
        if self.stdin_flag and stdin:
            ways.append(f"pipe it in with {self.stdin_flag}")
        if self.option:
            ways.append(f"give it with {self.option}")
        if self.env:
            ways.append(f"set {self.env}")
        if self.instead:
            ways.append(self.instead)
        return " or ".join(ways) if ways else "run the command in a terminal"

    def available(self) -> bool:
        """It can be had without asking, or there is a terminal to ask at."""
        return (
            self.from_stdin
            or self.given is not None
            or bool(self.env and os.environ.get(self.env))
            or _terminal()
        )

    def missing(self) -> NoTerminal:
        return NoTerminal(f"This needs {self.what} and there is no terminal to ask: {self.ways()}.")


def _terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):  # closed or detached
        return False


def _stdin_line(secret: Secret) -> str:
    line = sys.stdin.readline() if sys.stdin is not None else ""
    if not line:
        raise NoTerminal(f"Standard input ended before {secret.what}: put it on its own line.")
    return line.rstrip("\r\n")


def read(secret: Secret) -> str:
    """The secret, from the first of: standard input, the option, the environment, a prompt."""
    if secret.from_stdin:
        return _stdin_line(secret)
    if secret.given is not None:
        return secret.given
    if secret.env and os.environ.get(secret.env):
        return os.environ[secret.env]
    if not _terminal():
        raise secret.missing()
    try:
        first = getpass.getpass(secret.prompt) if secret.hidden else input(secret.prompt)
        if secret.confirm and getpass.getpass("Again: ") != first:
            raise NoTerminal("The two entries differ; nothing was changed.")
    except EOFError:
        raise NoTerminal(f"Standard input ended before {secret.what}.") from None
    return first


def check(*secrets: Secret) -> None:
    """Before any work: every secret can be had, and at most one is piped in (which line
    is which would be a guess)."""
    piped = [s for s in secrets if s.from_stdin and s.stdin_flag]
    if len(piped) > 1:
        others = "; ".join(f"for {s.what}, {s.ways(stdin=False)}" for s in piped[1:])
        raise NoTerminal(f"Only one secret can come from standard input ({piped[0].stdin_flag}): {others}.")
    for secret in secrets:
        if not secret.available():
            raise secret.missing()
