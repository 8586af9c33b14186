"""`backroom staff ...`: accounts for the venue's staff.

Run by the database owner (first set-up) or by an admin who signs in with
`--admin EMAIL`. Passwords are typed at a prompt, piped in on standard input or
taken from the environment, never given on the command line.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from console import prompts
from services.errors import InvalidInput
from services.identity.accounts import MIN_PASSWORD, Enrolment, IdentityService, end_session
from services.identity.permissions import Role
from services.store.db import Actor, Database
from services.text import plain


def new_password(args: argparse.Namespace) -> prompts.Secret:
    return prompts.Secret(
        what=f"a password for {args.email}",
        prompt=f"Password for {args.email} (at least {MIN_PASSWORD} characters): ",
        stdin_flag="--password-stdin",
        from_stdin=args.password_stdin,
        env=prompts.NEW_PASSWORD_ENV,
        confirm=True,
    )


def admin_secrets(args: argparse.Namespace) -> tuple[prompts.Secret, prompts.Secret]:
    """The password and code the admin of --admin signs in with."""
    password = prompts.Secret(
        what=f"the password for {args.admin}",
        prompt=f"Password for {args.admin}: ",
        stdin_flag="--admin-password-stdin",
        from_stdin=args.admin_password_stdin,
        env=prompts.PASSWORD_ENV,
    )
    code = prompts.Secret(
        what=f"a code from the authenticator of {args.admin}",
        prompt="Code from the authenticator: ",
        option="--code",
        given=args.code,
        env=prompts.CODE_ENV,
        hidden=False,
    )
    return password, code


def show_enrolment(enrolment: Enrolment, out: Callable[[str], None]) -> None:
    out(f"\nAuthenticator for {enrolment.email} (shown once; scan it now):\n")
    out(enrolment.qr_text())
    out(f"  otpauth URI : {enrolment.uri}")
    out(f"  or type in  : {enrolment.secret}  (time-based, 6 digits, 30 s)\n")
    out("Recovery codes (each works once instead of a code; keep them somewhere safe):")
    for a, b in zip(enrolment.recovery_codes[::2], enrolment.recovery_codes[1::2], strict=True):
        out(f"  {a}    {b}")
    out("")


def read_secrets(args: argparse.Namespace) -> tuple[tuple[str, str, str] | None, str | None]:
    """The admin's sign-in (email, password, code) if --admin, and the new password for
    `add`; all checked before any is asked for."""
    wanted = list(admin_secrets(args)) if args.admin else []
    if not args.admin and (args.code or args.admin_password_stdin):
        raise InvalidInput("--code and --admin-password-stdin go with --admin EMAIL.")
    if args.staff_command == "add":
        wanted.append(new_password(args))
    prompts.check(*wanted)
    values = [prompts.read(secret) for secret in wanted]
    sign_in = (args.admin, values[0], values[1]) if args.admin else None
    return sign_in, values[-1] if args.staff_command == "add" else None


async def _with_identity(
    dsn: str,
    sign_in: tuple[str, str, str] | None,
    work: Callable[[IdentityService, Actor | None], Awaitable[Any]],
) -> Any:
    """`work` as the admin of `sign_in` (whose session ends with it), or as the owner."""
    db = Database(dsn, max_size=2)
    await db.open()
    try:
        identity = IdentityService(db)
        actor = None if sign_in is None else (await identity.sign_in(*sign_in)).actor
        try:
            return await work(identity, actor)
        finally:
            if actor is not None:
                await end_session(db, actor)
    finally:
        await db.close()


def run(
    args: argparse.Namespace,
    dsn: str,
    out: Callable[[str], None],
    secrets: tuple[tuple[str, str, str] | None, str | None],
) -> int:
    """`secrets` are what read_secrets returned."""
    action = args.staff_command
    admin, password = secrets
    if action == "add":
        assert password is not None

        async def add(identity: IdentityService, actor: Actor | None) -> Enrolment:
            return await identity.add_staff(
                actor, email=args.email, name=args.name or args.email, role=args.role, password=password
            )

        enrolment = asyncio.run(_with_identity(dsn, admin, add))
        out(
            f"Added {enrolment.email} as {args.role}. Postgres keeps the password's verifier and "
            "the authenticator's secret, where no console can read them."
        )
        show_enrolment(enrolment, out)
        return 0

    if action == "reset-totp":

        async def reset(identity: IdentityService, actor: Actor | None) -> Enrolment:
            return await identity.reset_totp(actor, args.email)

        enrolment = asyncio.run(_with_identity(dsn, admin, reset))
        out(f"New authenticator for {enrolment.email}; the old codes and recovery codes no longer work.")
        show_enrolment(enrolment, out)
        return 0

    if action == "list":
        staff = asyncio.run(_with_identity(dsn, admin, lambda i, a: i.list_staff(a)))
        out(f"{'email':<34} {'name':<22} {'role':<8} state")
        for s in staff:
            out(
                f"{plain(s.email):<34} {plain(s.display_name)[:60]:<22} {s.role:<8} "
                f"{'active' if s.active else 'disabled'}"
            )
        return 0

    async def change(identity: IdentityService, actor: Actor | None) -> None:
        if action == "disable":
            await identity.disable(actor, args.email)
        elif action == "enable":
            await identity.enable(actor, args.email)
        elif action == "set-role":
            await identity.set_role(actor, args.email, args.role)
        elif action == "unlock":
            await identity.unlock(actor, args.email)

    asyncio.run(_with_identity(dsn, admin, change))
    out(
        {
            "disable": f"Disabled {args.email}; they can no longer sign in, and their sessions ended.",
            "enable": f"Enabled {args.email}.",
            "set-role": f"{args.email} is now {getattr(args, 'role', '')} staff; they sign in again.",
            "unlock": f"Unlocked {args.email}; earlier failed sign-ins no longer count.",
        }[action]
    )
    return 0


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    with_url: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    staff = sub.add_parser(
        "staff",
        help="staff accounts: add, list, disable, enable, unlock, reset-totp, set-role",
        description="Staff accounts. The database owner may run these at first set-up; "
        "afterwards an admin signs in with --admin EMAIL.",
    )
    ssub = staff.add_subparsers(dest="staff_command", metavar="ACTION", required=True)
    roles = [r.value for r in Role]

    def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        with_url(p)
        p.add_argument(
            "--admin",
            metavar="EMAIL",
            help="sign in as this admin (asks for the password and a code; without a "
            f"terminal: ${prompts.PASSWORD_ENV} or --admin-password-stdin, and "
            f"--code or ${prompts.CODE_ENV})",
        )
        p.add_argument(
            "--admin-password-stdin",
            action="store_true",
            help="read the admin's password from the first line of standard input",
        )
        p.add_argument(
            "--code",
            metavar="CODE",
            help="the admin's current code from the authenticator (good for 30 s; "
            f"default: ${prompts.CODE_ENV}, else a prompt)",
        )
        return p

    add = common(
        ssub.add_parser(
            "add",
            help="create an account and show its authenticator QR code once",
            description="Create (or re-create) a staff account. Prints, once, the QR code for an "
            "authenticator app, the otpauth URI, the secret, and ten recovery codes.",
        )
    )
    add.add_argument("email")
    add.add_argument("--role", choices=roles, required=True)
    add.add_argument("--name", help="the name colleagues see (default: the email)")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the new account's password from the first line of standard input "
        f"(default: ${prompts.NEW_PASSWORD_ENV}, else a prompt)",
    )
    common(
        ssub.add_parser(
            "list", help="list the staff accounts", description="List every staff account with its role."
        )
    )
    for name, text in (
        ("disable", "stop an account from signing in"),
        ("enable", "allow a disabled account again"),
        ("unlock", "lift the lock that failed sign-ins put on an account"),
        ("reset-totp", "new authenticator and recovery codes for a lost phone"),
    ):
        p = common(ssub.add_parser(name, help=text, description=text[:1].upper() + text[1:] + "."))
        p.add_argument("email")
    set_role = common(
        ssub.add_parser("set-role", help="change an account's role", description="Change an account's role.")
    )
    set_role.add_argument("email")
    set_role.add_argument("role", choices=roles)
    return staff
