"""The `backroom` command: demo, console, and database chores.

Failures the user can act on print one paragraph and exit non-zero; no
traceback. Ctrl+C stops the console and, if this process started it, the
embedded server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from console.prompts import NoTerminal
from console.settings import Settings
from services.errors import BackroomError
from services.store.db import DatabaseError

if TYPE_CHECKING:
    from services.embedded.server import ServerInfo
    from services.supabase.config import SupabaseConfig

EXIT_FAILURE = 2
EXIT_INTERRUPTED = 130


def say(message: str) -> None:
    print(message, flush=True)


def note(message: str) -> None:
    """Progress, kept off standard output so results (e.g. --json) stay clean."""
    print(message, file=sys.stderr, flush=True)


def fail(message: str, *, wrap: bool = True) -> int:
    text = "backroom: " + message
    if wrap:
        text = "\n".join(textwrap.wrap(text, width=88, break_on_hyphens=False, break_long_words=False))
    print(text, file=sys.stderr)
    return EXIT_FAILURE


class Embedded:
    """The embedded server for one command: started (or reused) on entry,
    released on exit, stopped if no other process still uses it."""

    def __init__(self, settings: Settings) -> None:
        from services.embedded.server import EmbeddedPostgres

        self.server = EmbeddedPostgres(settings.embedded_dir)

    @contextlib.contextmanager
    def running(self) -> Iterator[ServerInfo]:
        first = not self.server.is_initialised()
        if self.server.running() is None:
            note(
                ("Creating" if first else "Starting")
                + f" the embedded Postgres in {self.server.data_dir} ..."
            )
        info = self.server.acquire()
        try:
            yield info
        finally:
            if self.server.release():
                note("Embedded Postgres stopped.")


def resolve_dsn(args: argparse.Namespace, settings: Settings) -> str | None:
    from services.store.db import validate_dsn

    if getattr(args, "profile", None):
        from console import profiles
        from services.identity.secrets import SecretStore

        return profiles.resolve(settings.config_dir, SecretStore(), args.profile)
    dsn: str | None = getattr(args, "database_url", None) or settings.database_url
    if dsn:
        validate_dsn(dsn)
    return dsn


@contextlib.contextmanager
def database(args: argparse.Namespace, settings: Settings) -> Iterator[str]:
    """The DSN to use: --database-url, DATABASE_URL, or the embedded server's database."""
    from services.store.provision import DEMO_DATABASE, ensure_database

    dsn = resolve_dsn(args, settings)
    if dsn:
        with _explained(dsn):
            yield dsn
        return
    with Embedded(settings).running() as info:
        if asyncio.run(ensure_database(info.dsn(), DEMO_DATABASE)):
            note(f"Created database {DEMO_DATABASE!r} on the embedded server.")
        with _explained(info.dsn(database=DEMO_DATABASE)) as dsn:
            yield dsn


@contextlib.contextmanager
def _explained(dsn: str) -> Iterator[str]:
    """What the server said, as what to do: read-only, out of room, schema missing."""
    import asyncpg

    from services.store.db import explain_refusal

    try:
        yield dsn
    except (asyncpg.PostgresError, DatabaseError) as err:
        raise explain_refusal(err, dsn) from err


async def _migrate(dsn: str) -> None:
    from services.store import migrations
    from services.store.db import connect

    conn = await connect(dsn)
    try:
        applied = await migrations.migrate(conn)
    finally:
        await conn.close()
    if applied:
        for m in applied:
            say(f"  applied {m.filename}")
    else:
        say("  schema is up to date")


async def _seed(dsn: str, *, days: int, sample: bool, layout: Path | None, start: date | None) -> None:
    from services.store.db import SchemaMissing, connect, describe
    from services.store.provision import schema_problem, seed_database

    conn = await connect(dsn)
    try:
        problem = await schema_problem(conn, str(describe(dsn)))
        if problem:
            raise SchemaMissing(problem)
        result = await seed_database(conn, layout_path=layout, start=start, days=days, sample=sample)
    finally:
        await conn.close()
    say(f"  venue {'loaded' if result.venue_created else 'already there'}")
    say(
        f"  {result.nights_created} new night(s) from {result.first_night:%a %d %b %Y},"
        f" {result.bookings_created} sample booking(s)"
    )


def console_supabase(args: argparse.Namespace, settings: Settings) -> SupabaseConfig | None:
    """The Supabase project the console signs in through and follows, if one is configured:
    --supabase-profile, else SUPABASE_URL with its key. None with --no-supabase."""
    if getattr(args, "no_supabase", False):
        return None
    profile = getattr(args, "supabase_profile", None)
    if not profile and not os.environ.get("SUPABASE_URL"):
        return None  # the usual case: nothing of Supabase is loaded
    from services.supabase import config as supabase_config

    return supabase_config.resolve(settings.config_dir, profile=profile)


async def _run_console(
    dsn: str,
    night: date | None,
    args: argparse.Namespace,
    settings: Settings,
    *,
    supabase: SupabaseConfig | None = None,
    demo: bool = False,
) -> None:
    from console.wiring import open_services
    from services.store.provision import check_ready

    await check_ready(dsn)
    if supabase is not None:
        note(f"Staff sign in through Supabase Auth at {supabase.host}; the live feed follows its Realtime.")
    # Textual loads only once the database is known to be usable.
    from console.app import BackroomApp

    services = await open_services(dsn, own_accounts=supabase is None, supabase=supabase)
    # The demo alone reads its accounts' codes, as the owner of its own embedded database.
    from services.store.db import Database

    owner = Database(dsn, min_size=0, max_size=1) if demo and supabase is None else None
    try:
        night_id = None
        if night is not None:
            found = await services.floor.nights(night, 1)
            if not found:
                raise DatabaseError(f"There is no night on {night:%d %b %Y} in the database.")
            night_id = found[0].id
        from console import keymap

        keys = keymap.load(settings.config_dir)
        # The demo's sign-in screen offers its own accounts; no other console's does.
        from console.demo import DemoSignIns

        accounts = None
        if owner is not None:
            await owner.open()
            accounts = DemoSignIns(owner)
        app = BackroomApp(
            services,
            night_id=night_id,
            idle_minutes=settings.idle_minutes,
            kiosk=settings.kiosk,
            keymap=keys,
            demo_accounts=accounts,
        )
        await app.run_async()
    finally:
        await services.close()
        if owner is not None:
            await owner.close()


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from services.embedded.server import EmbeddedPostgres

    server = EmbeddedPostgres(settings.embedded_dir)
    if args.reset:
        say(f"Resetting the embedded Postgres in {server.data_dir} ...")
        server.reset()
    with database(args, settings) as dsn:
        if args.codes:
            from services.store.provision import require_schema

            asyncio.run(require_schema(dsn))
            _demo_accounts(dsn, settings, codes_only=True)
            return 0
        say("Applying migrations ...")
        asyncio.run(_migrate(dsn))
        say("Seeding the reference venue and sample nights ...")
        asyncio.run(_seed(dsn, days=14, sample=True, layout=None, start=None))
        _demo_accounts(dsn, settings, codes_only=False)
        if args.no_console:
            return 0
        say("  The console's sign-in screen lists these accounts: one key fills one in.")
        # The demo signs in with its own accounts, whatever SUPABASE_URL says: the embedded
        # database has no Supabase users.
        asyncio.run(_run_console(dsn, None, args, settings, demo=True))
    return 0


def cmd_console(args: argparse.Namespace, settings: Settings) -> int:
    # Read before the database starts: a wrong Supabase setting is said at once.
    supabase = console_supabase(args, settings)
    with database(args, settings) as dsn:
        asyncio.run(_run_console(dsn, args.night, args, settings, supabase=supabase))
    return 0


def cmd_db_migrate(args: argparse.Namespace, settings: Settings) -> int:
    with database(args, settings) as dsn:
        say("Applying migrations ...")
        asyncio.run(_migrate(dsn))
    return 0


def cmd_db_seed(args: argparse.Namespace, settings: Settings) -> int:
    with database(args, settings) as dsn:
        say("Seeding ...")
        asyncio.run(
            _seed(dsn, days=args.days, sample=not args.no_sample, layout=args.layout, start=args.start)
        )
    return 0


async def _console_url(dsn: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    from services.identity.console_login import read_login, with_login

    login = await read_login(dsn)
    if login is None:
        raise DatabaseError(
            "Only the database's owner can read the console's login: give "
            "`backroom db console-url` the owner's address (the one migrations use)."
        )
    parts = urlsplit(dsn)
    socket_port = parse_qs(parts.query).get("port")
    if not parts.hostname and socket_port:
        # The embedded server's own socket: a console elsewhere comes in over loopback TCP.
        database = parts.path.lstrip("/") or "postgres"
        dsn = f"postgresql://127.0.0.1:{socket_port[0]}/{database}"
    return with_login(dsn, login)


def cmd_db_console_url(args: argparse.Namespace, settings: Settings) -> int:
    with database(args, settings) as dsn:
        say(asyncio.run(_console_url(dsn)))
    return 0


def cmd_db_status(args: argparse.Namespace, settings: Settings) -> int:
    from services.store.provision import report

    with database(args, settings) as dsn:
        r = asyncio.run(report(dsn))
    say(f"Database   {r.target}")
    say(f"Server     PostgreSQL {r.server_version}")
    say(f"Notify     {'LISTEN/NOTIFY works' if r.listen_ok else 'NOTIFY does not arrive (pooler?)'}")
    say("Migrations")
    for s in r.migrations:
        state = (
            "CHANGED after it was applied"
            if s.changed
            else f"applied {s.applied_at:%Y-%m-%d %H:%M}"
            if s.applied_at
            else "pending"
        )
        say(f"  {s.migration.filename:<28} {state}")
    if r.counts:
        say("Contents   " + ", ".join(f"{v} {k}" for k, v in r.counts.items()))
    pending = [s for s in r.migrations if s.applied_at is None or s.changed]
    return EXIT_FAILURE if pending else 0


def cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    from services.live.health import check

    with database(args, settings) as dsn:
        report = asyncio.run(check(dsn, probe=args.probe))
    if args.json:
        print(report.to_json())
        return 0 if report.ok else EXIT_FAILURE
    say(f"Database     {report.database}")
    if not report.reachable:
        say(f"Reachable    NO: {report.error}")
        return EXIT_FAILURE
    say(f"Reachable    yes, PostgreSQL {report.server_version}, round trip {report.round_trip_ms} ms")
    say(f"Schema       {'NOT READY: ' + report.schema_problem if report.schema_problem else 'ready'}")
    by_state = ", ".join(f"{n} {s}" for s, n in sorted(report.connections_by_state.items()))
    say(f"Connections  {report.connections} ({by_state})")
    say(f"Listeners    {report.listeners} consoles listening, {report.presence_connections} present")
    say(f"Notify queue {report.notify_queue_usage:.4%} used")
    if report.notify_probe and report.notify_probe.samples:
        p = report.notify_probe
        say(
            f"Notify probe commit to listener p50 {p.p50_ms} ms, p95 {p.p95_ms} ms,"
            f" p99 {p.p99_ms} ms ({p.samples} rounds)"
        )
    if report.probe_error:
        say(f"Notify probe FAILED: {report.probe_error}")
    return 0 if report.ok else EXIT_FAILURE


def cmd_keys(args: argparse.Namespace, settings: Settings) -> int:
    from console import keymap

    loaded = keymap.load(settings.config_dir)
    known = keymap.catalogue()
    say(
        f"Keymap file: {loaded.path}"
        + ("" if loaded.path and loaded.path.exists() else " (none yet: every key is the default)")
    )
    width = max(len(b.id) for b in known)
    shown: set[str] = set()
    for binding in known:
        if binding.id in shown:
            continue
        shown.add(binding.id)
        keys = loaded.keys.get(binding.id)
        now = f"{keys}  (default {binding.keys})" if keys else binding.keys
        say(f"  {binding.id:<{width}}  {now:<30}  {binding.description}")
    for problem in loaded.problems:
        note(problem)
    return EXIT_FAILURE if loaded.problems else 0


def cmd_connect(args: argparse.Namespace, settings: Settings) -> int:
    from console import profiles
    from services.identity.secrets import SecretStore

    store = SecretStore()
    say(store.status().explain())
    saved = profiles.save(settings.config_dir, store, args.name, args.url)
    say(f"Saved profile {saved.name!r}: {saved.url} ({saved.where}).")
    say(f"Use it with `backroom console --profile {saved.name}`.")
    return 0


def cmd_staff(args: argparse.Namespace, settings: Settings) -> int:
    from console import staff_cli
    from services.store.provision import require_schema

    # Every password and code first: without a terminal, nothing is started to no purpose.
    secrets = staff_cli.read_secrets(args)
    with database(args, settings) as dsn:
        asyncio.run(require_schema(dsn))
        return staff_cli.run(args, dsn, say, secrets)


def _demo_accounts(dsn: str, settings: Settings, *, codes_only: bool) -> None:
    from console import demo

    if not codes_only:
        made = asyncio.run(demo.ensure_accounts(dsn))
        if made:
            say(f"  {made} demo staff account(s) enrolled")
    say("Demo sign-in (the demo only: never use these accounts for a venue):")
    # Within 80 columns, so a code never splits over two lines.
    say(f"  {'role':<8} {'email':<27} {'password':<18} code now")
    for account, code in asyncio.run(demo.current_codes(dsn)):
        say(f"  {account.role:<8} {account.email:<27} {account.password:<18} {code or '-'}")
    say(f"  Codes change every 30 s ({demo.seconds_left()} s left); `backroom demo --codes` shows them.")


def _date(text: str) -> date:
    from services.store.seed import FIRST_NIGHT, LAST_NIGHT

    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None
    if not FIRST_NIGHT <= day <= LAST_NIGHT:
        raise argparse.ArgumentTypeError(f"{text} is not between {FIRST_NIGHT} and {LAST_NIGHT}")
    return day


def _count(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not from {low} to {high}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    from services.live.health import MAX_PROBE
    from services.store.seed import MAX_DAYS

    parser = argparse.ArgumentParser(
        prog="backroom",
        description="Backroom Console: the staff console for a venue that sells tables.",
        epilog="Without DATABASE_URL (or --database-url) the embedded Postgres in your "
        "data directory is used, started and stopped as needed.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def with_url(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--database-url",
            metavar="URL",
            help="Postgres to use (default: $DATABASE_URL, else the embedded server)",
        )
        p.add_argument("--profile", metavar="NAME", help="a connection saved with `backroom connect NAME`")
        return p

    demo = with_url(
        sub.add_parser(
            "demo",
            help="open the console on the embedded database with a sample night",
            description="Start (or reuse) the embedded Postgres, apply migrations, seed the "
            "reference venue with sample nights from tonight, and open the console.",
        )
    )
    demo.add_argument(
        "--reset", action="store_true", help="delete the embedded database first and start over"
    )
    demo.add_argument(
        "--no-console", action="store_true", help="prepare the database but do not open the console"
    )
    demo.add_argument(
        "--codes", action="store_true", help="print the demo accounts' current sign-in codes and exit"
    )
    demo.set_defaults(func=cmd_demo)

    console = with_url(
        sub.add_parser(
            "console",
            help="open the console",
            description="Open the console on DATABASE_URL "
            "(or the embedded database). The schema must be migrated and a venue seeded.",
        )
    )
    console.add_argument(
        "--night", type=_date, metavar="YYYY-MM-DD", help="open this night instead of tonight"
    )
    console.add_argument(
        "--supabase-profile",
        metavar="NAME",
        help="sign in through this Supabase project's Auth and follow its Realtime "
        "(saved with `backroom supabase configure NAME`; default: "
        "$SUPABASE_URL with its key, if set)",
    )
    console.add_argument(
        "--no-supabase",
        action="store_true",
        help="ignore SUPABASE_URL: the console's own staff accounts and LISTEN/NOTIFY, as without Supabase",
    )
    console.set_defaults(func=cmd_console)

    db = sub.add_parser("db", help="database chores: migrate, status, seed", description="Database chores.")
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    with_url(
        dbsub.add_parser(
            "migrate",
            help="apply the migrations that are missing",
            description="Apply, in order, every migration not yet recorded in the database. "
            "A migration changed after it was applied is refused.",
        )
    ).set_defaults(func=cmd_db_migrate)
    with_url(
        dbsub.add_parser(
            "status",
            help="show the server, the migrations and what the database holds",
            description="Show the server version, each migration's state and row counts. "
            "Exits non-zero if a migration is pending or changed.",
        )
    ).set_defaults(func=cmd_db_status)
    with_url(
        dbsub.add_parser(
            "console-url",
            help="print the address consoles connect with (not the owner's)",
            description="Print the connection string of the console's own login: a member of the "
            "console role only, which can do nothing until a staff member signs in. "
            "Give it to consoles as DATABASE_URL. Needs the owner's address.",
        )
    ).set_defaults(func=cmd_db_console_url)
    seed_p = with_url(
        dbsub.add_parser(
            "seed",
            help="load the venue layout, open nights and add sample bookings",
            description="Load the venue layout (once), open nights from tonight, and add sample "
            "bookings to nights that have none.",
        )
    )
    seed_p.add_argument(
        "--days",
        type=_count(1, MAX_DAYS),
        default=14,
        metavar="N",
        help=f"how many nights to open, 1 to {MAX_DAYS} (default 14)",
    )
    seed_p.add_argument("--start", type=_date, metavar="YYYY-MM-DD", help="first night (default: tonight)")
    seed_p.add_argument(
        "--layout",
        type=Path,
        metavar="FILE",
        help="venue layout JSON (default: the reference venue, The Backroom)",
    )
    seed_p.add_argument("--no-sample", action="store_true", help="venue and nights only, no sample bookings")
    seed_p.set_defaults(func=cmd_db_seed)

    from console import staff_cli

    staff_cli.add_parser(sub, with_url).set_defaults(func=cmd_staff)

    from console import supabase_cli

    supabase_cli.add_parser(sub, with_url)

    health = with_url(
        sub.add_parser(
            "health",
            help="is the database reachable, and how the live feed is doing",
            description="Reachability, version, connections, listeners, NOTIFY queue usage, and "
            "commit-to-listener latency measured with a few NOTIFY round trips. "
            "Exits non-zero when the database cannot be reached.",
        )
    )
    health.add_argument("--json", action="store_true", help="print the report as JSON")
    health.add_argument(
        "--probe",
        type=_count(0, MAX_PROBE),
        default=5,
        metavar="N",
        help=f"NOTIFY round trips to time, 0 (none) to {MAX_PROBE} (default 5)",
    )
    health.set_defaults(func=cmd_health)

    keys = sub.add_parser(
        "keys",
        help="list every key of the console by its id, and what keymap.toml changes",
        description="List the console's keys by binding id. To change one, put a line such as "
        '"floor.hold" = "space" in keymap.toml in the config directory. Exits '
        "non-zero when the keymap file has a problem.",
    )
    keys.set_defaults(func=cmd_keys)

    connect = sub.add_parser(
        "connect",
        help="save a connection profile (the password goes to the keyring)",
        description="Save a named connection. The address goes to the config file, the "
        "password to the system keyring; without a keyring, the password is "
        "read from the environment variable the command names.",
    )
    connect.add_argument("name")
    connect.add_argument(
        "--url", required=True, metavar="URL", help="postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
    )
    connect.set_defaults(func=cmd_connect)
    return parser


def _terminate_as_interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # A closed SSH session or a `kill` must clean up like Ctrl+C does.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _terminate_as_interrupt)
    func: Callable[[argparse.Namespace, Settings], int] = args.func
    try:
        return func(args, Settings.from_env())
    except NoTerminal as err:
        return fail(str(err), wrap=False)
    except BackroomError as err:
        return fail(str(err))
    except OSError as err:
        where = f" ({err.filename})" if err.filename else ""
        return fail(
            f"{err.strerror or err}{where}. Check that the path is right and that you may "
            "read and write there."
        )
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
