"""`backroom supabase ...`: a venue on a Supabase project.

    export-migrations DIR   the migrations as Supabase CLI migrations
    enable                  set up Supabase's parts and store the project's JWT secret
    status                  what of Supabase the database has
    link-staff EMAIL        tie a staff member to their Supabase Auth user
    configure NAME          save the project URL and anon key as a profile
    enrol EMAIL             add a TOTP authenticator to a Supabase user
    sign-in EMAIL           check a sign-in through Supabase Auth (password and code)
    sign-out                forget a Supabase session an earlier version kept

Each subcommand sets its own `func(args, settings) -> int`. `supabase` is
imported only by the commands that talk to Supabase Auth.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from console import prompts
from services.identity.permissions import Role

if TYPE_CHECKING:
    from console.settings import Settings
    from services.supabase.config import SupabaseConfig

T = TypeVar("T")


def say(message: str) -> None:
    print(message, flush=True)


def _with_connection(args: argparse.Namespace, settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """One direct connection (as the owner) to the database the arguments name."""
    from console.cli import database
    from services.store.db import connect

    async def run(dsn: str) -> T:
        conn = await connect(dsn)
        try:
            return await work(conn)
        finally:
            await conn.close()

    with database(args, settings) as dsn:
        return asyncio.run(run(dsn))


def _config(args: argparse.Namespace, settings: Settings) -> SupabaseConfig:
    from services.supabase import config as supabase_config

    config = supabase_config.resolve(settings.config_dir, profile=args.supabase_profile)
    if config is None:
        raise supabase_config.SupabaseConfigError(
            "Supabase is not configured: set SUPABASE_URL and SUPABASE_ANON_KEY, or save a profile "
            "with `backroom supabase configure NAME --url https://<project>.supabase.co` and "
            "give --supabase-profile NAME."
        )
    return config


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from services.supabase.setup import export_supabase_migrations

    done = export_supabase_migrations(Path(args.dir))
    for item in done:
        say(f"  {'wrote' if item.written else 'kept '} {item.path}")
    written = sum(item.written for item in done)
    say(
        f"{written} new migration file(s), {len(done) - written} already there. Apply them with "
        "`supabase db push` (or psql with the direct or session-mode connection)."
    )
    return 0


def jwt_secret(args: argparse.Namespace) -> prompts.Secret:
    """The project's JWT secret, with which Postgres checks Supabase access tokens."""
    from services.supabase.auth import JWT_SECRET_ENV

    return prompts.Secret(
        what="the project's JWT secret (Project Settings > JWT Keys, the legacy JWT secret)",
        prompt="The project's JWT secret: ",
        stdin_flag="--jwt-secret-stdin",
        from_stdin=args.jwt_secret_stdin,
        env=JWT_SECRET_ENV,
    )


def cmd_enable(args: argparse.Namespace, settings: Settings) -> int:
    from services.supabase import setup as supabase_setup
    from services.supabase.auth import jwt_secret_key, store_jwt_secret

    secret = jwt_secret(args)
    prompts.check(secret)
    key = jwt_secret_key(prompts.read(secret))

    async def enable(conn: Any) -> list[str]:
        # Both or neither: a project set up without its secret could sign nobody in.
        async with conn.transaction():
            done = await supabase_setup.enable(conn)
            if done:
                await store_jwt_secret(conn, key)
        return done

    done = _with_connection(args, settings, enable)
    if not done:
        say(
            "No Supabase auth schema in this database: nothing to set up (plain Postgres), "
            "and no JWT secret stored."
        )
        return 0
    for line in done:
        say(f"  {line}")
    say("  stored the project's JWT secret: Postgres checks each access token with it")
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from services.supabase import setup as supabase_setup

    found = _with_connection(args, settings, supabase_setup.state)
    for line in found.lines():
        say(line)
    return 0


def cmd_link_staff(args: argparse.Namespace, settings: Settings) -> int:
    from services.supabase import setup as supabase_setup

    linked = _with_connection(
        args,
        settings,
        lambda conn: supabase_setup.link_staff(
            conn, args.email, auth_user_id=args.auth_user, role=args.role, name=args.name
        ),
    )
    what = "Created and linked" if linked.created else "Linked"
    say(
        f"{what} {linked.email} to Supabase user {linked.auth_user_id}. They sign in with their "
        "Supabase password and authenticator code."
    )
    return 0


def user_password(args: argparse.Namespace) -> prompts.Secret:
    """The Supabase password of the user signing in."""
    return prompts.Secret(
        what=f"the Supabase password for {args.email}",
        prompt=f"Supabase password for {args.email}: ",
        stdin_flag="--password-stdin",
        from_stdin=args.password_stdin,
        env=prompts.PASSWORD_ENV,
    )


def cmd_configure(args: argparse.Namespace, settings: Settings) -> int:
    from services.identity.secrets import SecretStore
    from services.supabase import config as supabase_config

    secret = prompts.Secret(
        what="the project's anon (publishable) key",
        prompt="The project's anon (publishable) key: ",
        stdin_flag="--key-stdin",
        from_stdin=args.key_stdin,
        env=supabase_config.KEY_ENV[0],
    )
    prompts.check(secret)
    store = SecretStore()
    say(store.status().explain())
    key = prompts.read(secret).strip()
    where = supabase_config.save_profile(settings.config_dir, store, args.name, args.url, key)
    say(f"Saved Supabase profile {args.name!r}: {args.url.rstrip('/')} ({where}).")
    say(f"Use it with --supabase-profile {args.name}.")
    return 0


def _auth(config: SupabaseConfig, sessions: Any = None) -> Any:
    from services.supabase.auth import SupabaseAuth

    return SupabaseAuth(config, sessions)


def cmd_enrol(args: argparse.Namespace, settings: Settings) -> int:
    config = _config(args, settings)
    password = user_password(args)
    # Its code exists only once the QR code is shown: the line after the password, or typed.
    code = prompts.Secret(
        what="the first code of the new authenticator",
        hidden=False,
        prompt="Code from the authenticator, to confirm: ",
        from_stdin=args.password_stdin,
        instead="give the password with --password-stdin and write the code on the next line "
        "once the QR code is shown",
    )
    prompts.check(password, code)
    typed = prompts.read(password)

    async def enrol() -> None:
        auth = _auth(config)
        try:
            enrolment = await auth.start_enrolment(args.email, typed)
            say(f"\nAuthenticator for {enrolment.email} (shown once; scan it now):\n")
            say(enrolment.qr_text())
            say(f"  otpauth URI : {enrolment.uri}")
            say(f"  or type in  : {enrolment.secret}  (time-based, 6 digits, 30 s)\n")
            # Nothing else runs meanwhile; a thread keeps the loop free all the same.
            await auth.finish_enrolment(enrolment, await asyncio.to_thread(prompts.read, code))
            await auth.sign_out()
        finally:
            await auth.close()

    asyncio.run(enrol())
    say(f"The authenticator of {args.email} is confirmed: sign-in now asks for its code.")
    return 0


def cmd_sign_in(args: argparse.Namespace, settings: Settings) -> int:
    from console.cli import database
    from services.identity.accounts import end_session
    from services.store.db import Database
    from services.supabase.auth import DatabaseSessions

    config = _config(args, settings)
    secrets = (
        user_password(args),
        prompts.Secret(
            what=f"a code from the authenticator of {args.email}",
            prompt="Code from the authenticator: ",
            option="--code",
            given=args.code,
            env=prompts.CODE_ENV,
            hidden=False,
        ),
    )
    prompts.check(*secrets)
    password, code = (prompts.read(secret) for secret in secrets)

    async def sign_in(dsn: str) -> None:
        db = Database(dsn, max_size=1)
        await db.open()
        auth = _auth(config, DatabaseSessions(db))
        try:
            session = await auth.sign_in(args.email, password, code)
            # A check, not a sign-in to keep: nothing outlives the command.
            await end_session(db, session.actor, "signed_out")
            await auth.sign_out()
            say(
                f"Signed in as {session.actor.name} ({session.actor.role}) at AAL2, and the "
                "database accepted the token. Signed out again: nothing is kept."
            )
        finally:
            await auth.close()
            await db.close()

    with database(args, settings) as dsn:
        asyncio.run(sign_in(dsn))
    return 0


def cmd_sign_out(args: argparse.Namespace, settings: Settings) -> int:
    config = _config(args, settings)

    async def sign_out() -> bool:
        auth = _auth(config)
        try:
            return bool(await auth.end_kept_session())
        finally:
            await auth.close()

    ended = asyncio.run(sign_out())
    say(
        "Ended the Supabase session kept in the keyring; none is kept any more."
        if ended
        else "No Supabase session is kept on this machine: there was nothing to end."
    )
    return 0


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    with_url: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "supabase",
        help="a venue on Supabase: migrations, staff, sign-in",
        description="Use a Supabase project: export the migrations for the Supabase CLI, set up "
        "its auth and Realtime parts, link staff to Supabase Auth users, enrol and "
        "sign in with Supabase Auth. The project is SUPABASE_URL with "
        "SUPABASE_ANON_KEY, or a profile saved with `backroom supabase configure`.",
    )
    ssub = parser.add_subparsers(dest="supabase_command", metavar="ACTION", required=True)

    def project(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--supabase-profile",
            metavar="NAME",
            help="a project saved with `backroom supabase configure NAME`",
        )
        return p

    export = ssub.add_parser(
        "export-migrations",
        help="write the migrations as Supabase CLI migrations",
        description="Write each migration to DIR/supabase/migrations/<timestamp>_backroom_*.sql "
        "(DIR is the Supabase project directory). Files already there are kept; a "
        "changed one is refused.",
    )
    export.add_argument("dir", metavar="DIR")
    export.set_defaults(func=cmd_export)

    enable = with_url(
        ssub.add_parser(
            "enable",
            help="set up Supabase's parts of the schema and store the project's JWT secret",
            description="Run the Supabase part of migration 0006 again (e.g. for a database moved to "
            "Supabase after it was migrated) and store the project's JWT secret, with "
            "which Postgres checks the access tokens consoles sign in with. Connect as "
            "the schema's owner.",
        )
    )
    enable.add_argument(
        "--jwt-secret-stdin",
        action="store_true",
        help="read the JWT secret from the first line of standard input "
        "(default: $SUPABASE_JWT_SECRET, else a prompt)",
    )
    enable.set_defaults(func=cmd_enable)
    with_url(
        ssub.add_parser(
            "status",
            help="what of Supabase this database has",
            description="Whether the database has Supabase's auth schema, API role, Realtime and "
            "publication, and how many staff are linked to Supabase users.",
        )
    ).set_defaults(func=cmd_status)

    link = with_url(
        ssub.add_parser(
            "link-staff",
            help="tie a staff member to their Supabase Auth user",
            description="Tie a staff member to a Supabase Auth user (found by email in auth.users, "
            "or given with --auth-user). With --role, a staff member who does not exist "
            "yet is created. Connect as the schema's owner.",
        )
    )
    link.add_argument("email")
    link.add_argument("--auth-user", metavar="UUID", help="the Supabase user's id")
    link.add_argument("--role", choices=[r.value for r in Role])
    link.add_argument("--name", help="the name colleagues see (default: the email)")
    link.set_defaults(func=cmd_link_staff)

    configure = ssub.add_parser(
        "configure",
        help="save a Supabase project (the key goes to the keyring)",
        description="Save the project URL in the config file and its anon (publishable) key in "
        "the keyring. Never the service role key.",
    )
    configure.add_argument("name")
    configure.add_argument("--url", required=True, metavar="URL", help="https://<project>.supabase.co")
    configure.add_argument(
        "--key-stdin",
        action="store_true",
        help="read the key from the first line of standard input (default: "
        "$SUPABASE_ANON_KEY, else a prompt)",
    )
    configure.set_defaults(func=cmd_configure)

    enrol = project(
        ssub.add_parser(
            "enrol",
            help="add a TOTP authenticator to a Supabase user",
            description="Sign in with the password, show the QR code of a new TOTP factor once, and "
            "confirm it with a first code.",
        )
    )
    enrol.add_argument("email")
    enrol.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input, and the "
        "first code from the next line once the QR code is shown (default: "
        f"${prompts.PASSWORD_ENV}, else a prompt)",
    )
    enrol.set_defaults(func=cmd_enrol)

    sign_in = project(
        with_url(
            ssub.add_parser(
                "sign-in",
                help="check a sign-in through Supabase Auth (password and code)",
                description="Sign in with the Supabase password and the authenticator's code, have the "
                "database check the token and the staff link, then sign out again.",
            )
        )
    )
    sign_in.add_argument("email")
    sign_in.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (default: "
        f"${prompts.PASSWORD_ENV}, else a prompt)",
    )
    sign_in.add_argument(
        "--code",
        metavar="CODE",
        help="the current code from the authenticator (good for 30 s; default: "
        f"${prompts.CODE_ENV}, else a prompt)",
    )
    sign_in.set_defaults(func=cmd_sign_in)

    project(
        ssub.add_parser(
            "sign-out",
            help="forget a Supabase session an earlier version kept",
            description="Remove the Supabase session that earlier versions kept "
            "in the keyring. Sessions now live in memory only.",
        )
    ).set_defaults(func=cmd_sign_out)
    return parser
