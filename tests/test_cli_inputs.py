"""The `backroom` command on the inputs people get wrong: no terminal, nonsense arguments,
bad layout files, a database without the schema, read-only or out of room.

Each must end with a non-zero exit, no traceback, and a message naming the problem.
Most cases call console.cli.main in-process (a subprocess costs half a second); a few
run as real processes with standard input on /dev/null.
"""

from __future__ import annotations

import asyncio
import io
import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pyotp
import pytest

from console import cli
from services.identity.accounts import IdentityService
from services.live.health import check
from services.store import migrations
from services.store.db import Database, explain_refusal
from tests.cli_helpers import assert_explained, backroom

SECRET_ENV = (
    "BACKROOM_PASSWORD",
    "BACKROOM_CODE",
    "BACKROOM_NEW_PASSWORD",
    "BACKROOM_IDLE_MINUTES",
    "SUPABASE_URL",
    "SUPABASE_ANON_KEY",
    "SUPABASE_PUBLISHABLE_KEY",
    "SUPABASE_KEY",
)


@pytest.fixture(autouse=True)
def _no_secrets_around(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)
    # main() makes SIGTERM and SIGHUP interrupt; the test process keeps its own handlers.
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


class Run:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.monkeypatch = monkeypatch
        self.capsys = capsys

    def __call__(self, *argv: str, stdin: str = "") -> tuple[int, str, str]:
        """Exit code, standard output, standard error; standard input is not a terminal."""
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            code = cli.main(list(argv))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 2
        out = self.capsys.readouterr()
        return code, out.out, out.err

    def refused(self, *argv: str, stdin: str = "", says: tuple[str, ...] = ()) -> str:
        code, out, err = self(*argv, stdin=stdin)
        assert code == 2, (code, out, err)
        assert "Traceback" not in out + err
        text = " ".join(err.split())
        for phrase in says:
            assert phrase in text, text
        return err


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(monkeypatch, capsys)


async def _owner(dsn: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn)


def sql(dsn: str, query: str) -> Any:
    """A query's value, or a script run, as the owner, from a test that is not async (main()
    runs its own event loop)."""

    async def go() -> Any:
        conn = await _owner(dsn)
        try:
            if query.lstrip().startswith("select"):
                return await conn.fetchval(query)
            return await conn.execute(query)
        finally:
            await conn.close()

    return asyncio.run(go())


def _count(dsn: str, table: str) -> int:
    return int(sql(dsn, f"select count(*) from backroom.{table}"))


# ---------------------------------------------------------------- no terminal


def _one_line(err: str) -> None:
    assert err.count("\n") == 1 and err.endswith("\n"), err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (
            ["staff", "add", "x@example.com", "--role", "door"],
            ("a password for x@example.com", "--password-stdin", "BACKROOM_NEW_PASSWORD"),
        ),
        (
            ["staff", "reset-totp", "x@example.com", "--admin", "boss@example.com"],
            ("the password for boss@example.com", "--admin-password-stdin", "BACKROOM_PASSWORD"),
        ),
        (
            ["staff", "set-role", "x@example.com", "manager", "--admin", "boss@example.com"],
            ("the password for boss@example.com", "--admin-password-stdin", "BACKROOM_PASSWORD"),
        ),
        (["staff", "disable", "x@example.com", "--admin", "boss@example.com"], ("BACKROOM_PASSWORD",)),
        (["staff", "enable", "x@example.com", "--admin", "boss@example.com"], ("BACKROOM_PASSWORD",)),
        (["staff", "list", "--admin", "boss@example.com"], ("BACKROOM_PASSWORD",)),
        (
            ["supabase", "configure", "venue", "--url", "https://abcdefgh.supabase.co"],
            ("anon (publishable) key", "--key-stdin", "SUPABASE_ANON_KEY"),
        ),
    ],
)
def test_without_a_terminal_a_secret_is_asked_for_in_one_line(
    run: Run, argv: list[str], says: tuple[str, ...]
) -> None:
    _one_line(run.refused(*argv, says=("there is no terminal to ask", *says)))


def test_the_admin_code_is_asked_for_once_the_password_is_there(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKROOM_PASSWORD", "the admin's password")
    err = run.refused(
        "staff",
        "disable",
        "x@example.com",
        "--admin",
        "boss@example.com",
        says=("a code from the authenticator of boss@example.com", "--code", "BACKROOM_CODE"),
    )
    _one_line(err)
    run.refused(
        "staff",
        "list",
        "--admin",
        "boss@example.com",
        "--admin-password-stdin",
        "--code",
        "1",
        says=("Standard input ended before the password for boss@example.com",),
    )


def test_two_secrets_cannot_both_come_from_stdin(run: Run) -> None:
    run.refused(
        "staff",
        "add",
        "x@example.com",
        "--role",
        "door",
        "--password-stdin",
        "--admin",
        "boss@example.com",
        "--admin-password-stdin",
        "--code",
        "123456",
        stdin="one\ntwo\n",
        says=("Only one secret can come from standard input", "BACKROOM_NEW_PASSWORD"),
    )
    run.refused("staff", "list", "--code", "123456", says=("go with --admin EMAIL",))


def test_supabase_sign_in_and_enrol_say_how_to_give_password_and_code(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPABASE_URL", "https://abcdefgh.supabase.co")
    monkeypatch.setenv("SUPABASE_ANON_KEY", "sb_publishable_test")
    for action in ("sign-in", "enrol"):
        _one_line(
            run.refused(
                "supabase",
                action,
                "x@example.com",
                says=("the Supabase password for x@example.com", "--password-stdin", "BACKROOM_PASSWORD"),
            )
        )
    monkeypatch.setenv("BACKROOM_PASSWORD", "the user's password")
    _one_line(
        run.refused(
            "supabase",
            "sign-in",
            "x@example.com",
            says=("a code from the authenticator", "--code", "BACKROOM_CODE"),
        )
    )
    _one_line(
        run.refused(
            "supabase",
            "enrol",
            "x@example.com",
            says=("the first code of the new authenticator", "on the next line"),
        )
    )


def test_staff_add_with_no_terminal_as_a_real_process() -> None:
    result = backroom("staff", "add", "x@example.com", "--role", "door")
    assert_explained(result, "--password-stdin", "BACKROOM_NEW_PASSWORD")
    assert result.stderr.count("\n") == 1 and "EOFError" not in result.stderr


def test_staff_add_takes_the_password_from_the_environment(
    run: Run, dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKROOM_NEW_PASSWORD", "a long enough password")
    code, out, err = run("staff", "add", "env@venue.test", "--role", "door", "--database-url", dsn)
    assert code == 0, err
    assert "Added env@venue.test as door" in out and "a long enough password" not in out + err


async def _admin(dsn: str, email: str) -> str:
    """An admin account; returns the secret of its authenticator."""
    db = Database(dsn, max_size=1)
    await db.open()
    try:
        enrolment = await IdentityService(db).add_staff(
            None, email=email, name="Boss", role="admin", password="the admin's password"
        )
    finally:
        await db.close()
    return enrolment.secret


def test_an_admin_signs_in_without_a_terminal(run: Run, dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    first = pyotp.TOTP(asyncio.run(_admin(dsn, "one@venue.test"))).now()
    second = pyotp.TOTP(asyncio.run(_admin(dsn, "two@venue.test"))).now()
    code, out, err = run(
        "staff",
        "set-role",
        "door@backroom.demo",
        "manager",
        "--database-url",
        dsn,
        "--admin",
        "one@venue.test",
        "--admin-password-stdin",
        "--code",
        first,
        stdin="the admin's password\n",
    )
    assert code == 0, err
    assert "door@backroom.demo is now manager staff" in out
    monkeypatch.setenv("BACKROOM_PASSWORD", "the admin's password")
    monkeypatch.setenv("BACKROOM_CODE", second)
    code, out, err = run(
        "staff", "disable", "door@backroom.demo", "--database-url", dsn, "--admin", "two@venue.test"
    )
    assert code == 0, err
    assert "Disabled door@backroom.demo" in out
    # Each admin's sign-in was a session of its own, ended when the command was done.
    sessions = sql(
        dsn,
        "select json_agg(json_build_array(s.email, p.ended_why) order by s.email)"
        " from backroom_private.session p join backroom.staff s on s.id = p.staff_id",
    )
    assert json.loads(sessions) == [["one@venue.test", "signed_out"], ["two@venue.test", "signed_out"]]


# ---------------------------------------------------------------- nonsense arguments


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["db", "seed", "--start", "9999-12-30"], "--start: 9999-12-30 is not between"),
        (["db", "seed", "--start", "0001-01-01"], "--start: 0001-01-01 is not between"),
        (["db", "seed", "--start", "tomorrow"], "not a date"),
        (["db", "seed", "--days", "3000000"], "--days: 3000000 is not from 1 to 3660"),
        (["db", "seed", "--days", "0"], "--days: 0 is not from 1 to 3660"),
        (["db", "seed", "--days", "-5"], "--days: -5 is not from 1 to 3660"),
        (["db", "seed", "--days", "many"], "not a whole number"),
        (["health", "--probe", "-1"], "--probe: -1 is not from 0 to 1000"),
        (["health", "--probe", "100000"], "--probe: 100000 is not from 0 to 1000"),
        (["staff", "add", "x@example.com", "--role", "bouncer"], "invalid choice: 'bouncer'"),
        (["nonsense"], "invalid choice: 'nonsense'"),
        (["db"], "the following arguments are required"),
    ],
)
def test_nonsense_arguments_are_refused_by_name(run: Run, argv: list[str], says: str) -> None:
    run.refused(*argv, says=(says,))


def test_nights_that_run_off_the_calendar_are_refused(run: Run, dsn: str) -> None:
    nights = _count(dsn, "night")
    run.refused(
        "db",
        "seed",
        "--database-url",
        dsn,
        "--start",
        "2999-12-01",
        "--days",
        "100",
        says=("100 night(s) from 2999-12-01 do not fit", "choose another start"),
    )
    assert _count(dsn, "night") == nights


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"BACKROOM_IDLE_MINUTES": "abc"}, "BACKROOM_IDLE_MINUTES is 'abc', not a number of minutes"),
        ({"BACKROOM_IDLE_MINUTES": "nan"}, "BACKROOM_IDLE_MINUTES is 'nan', not a number of minutes"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "must start with postgresql://"),
    ],
)
def test_bad_settings_are_explained(
    run: Run, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], says: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    run.refused("db", "status", says=(says,))


def test_a_leftover_venue_key_changes_nothing(run: Run, dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """BACKROOM_TOTP_KEY from before sessions were Postgres's is read by nothing: not
    even a value that was never a key stops staff add, reset-totp or an admin's sign-in."""
    monkeypatch.setenv("BACKROOM_TOTP_KEY", "garbage")
    secret = asyncio.run(_admin(dsn, "boss@venue.test"))
    code, out, err = run(
        "staff",
        "add",
        "k@venue.test",
        "--role",
        "door",
        "--password-stdin",
        "--database-url",
        dsn,
        stdin="a long enough password\n",
    )
    assert code == 0, err
    assert "Added k@venue.test as door" in out and "TOTP_KEY" not in out + err
    code, out, err = run(
        "staff",
        "reset-totp",
        "k@venue.test",
        "--database-url",
        dsn,
        "--admin",
        "boss@venue.test",
        "--admin-password-stdin",
        "--code",
        pyotp.TOTP(secret).now(),
        stdin="the admin's password\n",
    )
    assert code == 0, err
    assert "New authenticator for k@venue.test" in out and "TOTP_KEY" not in out + err


def test_export_migrations_refuses_a_file_and_a_missing_parent(run: Run, tmp_path: Path) -> None:
    a_file = tmp_path / "hostname"
    a_file.write_text("venue\n")
    run.refused("supabase", "export-migrations", str(a_file), says=(f"{a_file} is a file, not a directory",))
    missing = tmp_path / "nonexistent" / "dir"
    run.refused(
        "supabase",
        "export-migrations",
        str(missing),
        says=(f"{missing.parent} does not exist", "make the directory first"),
    )
    assert not missing.parent.exists()
    fresh = tmp_path / "project"
    code, out, _ = run("supabase", "export-migrations", str(fresh))
    assert code == 0 and f"{len(migrations.load())} new migration file(s)" in out
    assert len(list((fresh / "supabase" / "migrations").glob("*.sql"))) == len(migrations.load())
    assert not list(fresh.rglob("*.part"))


# ---------------------------------------------------------------- bad layout files


def _layout(**venue: object) -> str:
    base = json.loads(
        (Path(__file__).parents[1] / "services" / "store" / "venues" / "backroom.json").read_text()
    )
    base["venue"].update(venue)
    return json.dumps(base)


LAYOUTS: list[tuple[str, str | bytes | None, str]] = [
    ("missing", None, "there is no such file"),
    ("directory", "DIR", "it is a directory, not a file"),
    ("malformed", '{"venue": ', "it is not valid JSON"),
    ("a list", "[1, 2]", 'it must be an object with "venue", "floors" and "tables"'),
    ("no floors", json.dumps({"venue": json.loads(_layout())["venue"]}), '"floors" must be a list'),
    ("null name", _layout(name=None), "'name' of the venue is null; it must be text"),
    ("wrong type", _layout(name=5), "'name' of the venue is 5; it must be text"),
    (
        "missing key",
        json.dumps({**json.loads(_layout()), "venue": {"name": "X"}}),
        "the venue has no 'timezone'",
    ),
    ("bad zone", _layout(timezone="Mars/Olympus"), "timezone 'Mars/Olympus' is not a time zone"),
    ("bad hour", _layout(opens_at="25:00"), "opens_at '25:00' is not a time of day"),
    ("bad count", _layout(hold_seconds=2), "'hold_seconds' of the venue is 2"),
    ("not utf-8", b'{"venue": {"name": "Caf\xe9"}}', "it is not UTF-8 text"),
]


@pytest.mark.parametrize(("kind", "content", "says"), LAYOUTS, ids=[c[0] for c in LAYOUTS])
def test_a_bad_layout_is_explained_and_nothing_is_written(
    run: Run, dsn: str, tmp_path: Path, kind: str, content: str | bytes | None, says: str
) -> None:
    path = tmp_path / "venue.json"
    if content == "DIR":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    nights = _count(dsn, "night")
    run.refused(
        "db",
        "seed",
        "--database-url",
        dsn,
        "--layout",
        str(path),
        "--start",
        "2027-06-01",
        says=(f"The venue layout {path} cannot be used", says, "nothing was written"),
    )
    assert _count(dsn, "night") == nights


def test_a_layout_the_database_refuses_leaves_nothing(run: Run, migrated_dsn: str, tmp_path: Path) -> None:
    path = tmp_path / "venue.json"
    path.write_text(_layout(name="Nul\u0000Club"))  # Postgres text cannot hold a NUL
    run.refused(
        "db",
        "seed",
        "--database-url",
        migrated_dsn,
        "--layout",
        str(path),
        says=("the database refused it", "nothing was written"),
    )
    assert _count(migrated_dsn, "venue") == 0
    assert _count(migrated_dsn, "night") == 0


def test_a_bad_layout_as_a_real_process(tmp_path: Path, dsn: str) -> None:
    result = backroom("db", "seed", "--layout", str(tmp_path / "none.json"), env={"DATABASE_URL": dsn})
    assert_explained(result, "none.json cannot be used: there is no such file")


# ---------------------------------------------------------------- the database's state


@pytest.fixture
async def migrated_dsn(empty_dsn: str) -> str:
    """The schema and nothing in it."""
    conn = await _owner(empty_dsn)
    try:
        await migrations.migrate(conn)
    finally:
        await conn.close()
    return empty_dsn


@pytest.mark.parametrize(
    "argv",
    [
        ["db", "seed"],
        ["staff", "list"],
        ["staff", "disable", "x@example.com"],
        ["staff", "add", "x@example.com", "--role", "door", "--password-stdin"],
        ["demo", "--codes"],
    ],
)
def test_without_the_schema_commands_say_migrate_first(run: Run, empty_dsn: str, argv: list[str]) -> None:
    run.refused(
        *argv,
        "--database-url",
        empty_dsn,
        stdin="a long enough password\n",
        says=("has no Backroom schema yet", "backroom db migrate"),
    )


def test_health_without_the_schema_is_not_ok(run: Run, empty_dsn: str) -> None:
    code, out, _ = run("health", "--json", "--database-url", empty_dsn)
    report = json.loads(out)
    assert code == 2 and report["reachable"] is True and report["ok"] is False
    assert "backroom db migrate" in report["schema_problem"]
    code, out, _ = run("health", "--probe", "0", "--database-url", empty_dsn)
    assert code == 2 and "Schema       NOT READY" in out and "backroom db migrate" in out


async def test_a_long_probe_is_not_taken_for_an_unreachable_database(dsn: str) -> None:
    import time

    started = time.perf_counter()
    report = await check(dsn, probe=1000, timeout=0.1)
    assert time.perf_counter() - started > 0.1, "the probe must take longer than one timeout"
    assert report.reachable and report.ok, report
    assert report.notify_probe is not None and report.notify_probe.samples == 1000


@pytest.fixture
async def read_only(dsn: str, server_dsn: str) -> str:
    name = dsn.split("?")[0].rsplit("/", 1)[1]
    conn = await _owner(server_dsn)
    try:
        await conn.execute(f"alter database {name} set default_transaction_read_only = on")
    finally:
        await conn.close()
    return dsn


@pytest.mark.parametrize(
    "argv",
    [
        ["db", "migrate"],
        ["db", "seed", "--start", "2027-06-01", "--days", "2"],
        ["staff", "add", "ro@venue.test", "--role", "door", "--password-stdin"],
    ],
)
def test_a_read_only_database_is_explained(run: Run, read_only: str, argv: list[str]) -> None:
    run.refused(
        *argv,
        "--database-url",
        read_only,
        stdin="a long enough password\n",
        says=(
            "is read-only, so nothing was written",
            "default_transaction_read_only",
            "Connect to the primary server",
        ),
    )


def test_a_full_disk_part_way_through_the_seed_leaves_the_database_as_it_was(run: Run, dsn: str) -> None:
    sql(
        dsn,
        """
        create sequence public.inserts;
        create function public.disk_fills() returns trigger language plpgsql as $$
        begin
            if nextval('public.inserts') > 30 then
                raise exception 'could not extend file: No space left on device'
                    using errcode = 'disk_full';
            end if;
            return new;
        end $$;
        create trigger disk_fills before insert on backroom.booking
            for each row execute function public.disk_fills();
    """,
    )
    tables = ("night", "booking", "booking_table", "audit_log")
    before = [_count(dsn, t) for t in tables]
    run.refused(
        "db",
        "seed",
        "--database-url",
        dsn,
        "--start",
        "2027-06-01",
        "--days",
        "7",
        says=("has run out of disk space, so nothing was written", "Free space"),
    )
    assert sql(dsn, "select nextval('public.inserts')") > 31  # bookings of several nights were made
    assert [_count(dsn, t) for t in tables] == before


@pytest.mark.parametrize(
    ("errcode", "says"),
    [
        ("disk_full", "run out of disk space"),
        ("out_of_memory", "ran out of memory"),
        ("too_many_connections", "has no connection to spare"),
        ("read_only_sql_transaction", "is read-only"),
        ("undefined_table", "Run `backroom db migrate` first"),
    ],
)
async def test_the_server_state_is_said_with_what_to_do(dsn: str, errcode: str, says: str) -> None:
    conn = await _owner(dsn)
    try:
        with pytest.raises(asyncpg.PostgresError) as caught:
            await conn.execute(f"do $$ begin raise exception 'boom' using errcode = '{errcode}'; end $$")
    finally:
        await conn.close()
    assert says in str(explain_refusal(caught.value, dsn))


def test_booking_refs_that_collide_are_drawn_again(run: Run, dsn: str) -> None:
    # Every ref after the first is drawn twice in a row: the second draw collides.
    sql(
        dsn,
        """
        create sequence public.refs;
        create or replace function backroom.new_ref() returns text language sql volatile as
            $$ select 'Z' || lpad((nextval('public.refs') / 2)::text, 5, '0') $$;
    """,
    )
    before = _count(dsn, "booking")
    code, out, err = run("db", "seed", "--database-url", dsn, "--start", "2027-06-01", "--days", "3")
    assert code == 0, err
    made = _count(dsn, "booking") - before
    assert made > 10 and f"{made} sample booking(s)" in out
    assert sql(dsn, "select last_value from public.refs") > made  # collisions happened
