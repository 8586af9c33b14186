"""The `backroom` command as a user runs it: real processes, real Postgres.

Failures must read as one paragraph saying what is wrong and what to do,
with a non-zero exit code and no traceback.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pyotp
import pytest

from services.embedded.server import EmbeddedPostgres
from services.identity.accounts import IdentityService, end_session
from services.store.db import Database
from tests.cli_helpers import assert_explained, backroom


def test_help_on_every_command() -> None:
    for args in (
        ["--help"],
        ["demo", "--help"],
        ["console", "--help"],
        ["db", "--help"],
        ["db", "migrate", "--help"],
        ["db", "status", "--help"],
        ["db", "seed", "--help"],
    ):
        result = backroom(*args)
        assert result.returncode == 0 and "usage: backroom" in result.stdout, args


def test_unreachable_database() -> None:
    result = backroom("console", env={"DATABASE_URL": "postgresql://staff:secret@127.0.0.1:1/venue"})
    assert_explained(result, "Cannot reach Postgres at staff@127.0.0.1:1/venue", "DATABASE_URL")
    assert "secret" not in result.stderr


async def test_wrong_password(server_dsn: str) -> None:
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute("drop role if exists cli_staff")
        await conn.execute("create role cli_staff login password 'right-password'")
    finally:
        await conn.close()
    port = parse_qs(urlsplit(server_dsn).query)["port"][0]
    result = backroom("console", "--database-url", f"postgresql://cli_staff:wrong@127.0.0.1:{port}/postgres")
    assert_explained(result, "refused the sign-in for user 'cli_staff'", "Check the user name and password")
    assert "wrong" not in result.stderr.replace("wrong-", "")


def test_database_without_schema(empty_dsn: str) -> None:
    result = backroom("console", env={"DATABASE_URL": empty_dsn})
    assert_explained(result, "has no Backroom schema yet", "backroom db migrate")


def test_transaction_pooler_is_detected() -> None:
    url = "postgresql://postgres.abcd:pw@aws-0-eu-west-2.pooler.supabase.com:6543/postgres"
    result = backroom("console", "--database-url", url)
    assert_explained(result, "transaction-mode pooler", "session-mode")


def test_migrate_status_seed_on_an_empty_database(empty_dsn: str) -> None:
    env = {"DATABASE_URL": empty_dsn}
    before = backroom("db", "status", env=env)
    assert before.returncode == 2 and "0001_schema.sql" in before.stdout and "pending" in before.stdout

    migrated = backroom("db", "migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "applied 0001_schema.sql" in migrated.stdout
    again = backroom("db", "migrate", env=env)
    assert "schema is up to date" in again.stdout

    seeded = backroom("db", "seed", "--start", "2026-11-20", "--days", "3", env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert "3 new night(s) from Fri 20 Nov 2026" in seeded.stdout

    after = backroom("db", "status", env=env)
    assert after.returncode == 0
    assert "16 venue_table" in after.stdout and "3 night" in after.stdout
    assert "LISTEN/NOTIFY works" in after.stdout


def test_embedded_server_that_cannot_start_names_its_log() -> None:
    # Not under pytest's temp tree, whose permissions another run may reset.
    data = Path(tempfile.mkdtemp(prefix="backroom-cli-test-"))
    try:
        server = EmbeddedPostgres(data / "postgres")
        server.start()
        server.stop()
        with (server.pgdata / "postgresql.conf").open("a") as conf:
            conf.write("\nshared_buffers = 'plenty'\n")
        result = backroom("db", "status", env={"BACKROOM_DATA_DIR": str(data)})
        assert_explained(result, str(server.log_path), "failed to start")
        assert server.running() is None
    finally:
        shutil.rmtree(data, ignore_errors=True)


@pytest.mark.parametrize("url", ["not a url", "postgresql://u@127.0.0.1:99999/x"])
def test_malformed_url_is_explained(url: str) -> None:
    result = backroom("db", "status", "--database-url", url)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def staff_add(
    dsn: str, email: str, role: str, password: str, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`backroom staff add` as a real process, the new password piped in."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "console.cli",
            "staff",
            "add",
            email,
            "--role",
            role,
            *extra,
            "--password-stdin",
        ],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            "DATABASE_URL": dsn,
            **(env or {}),
        },
    )


def typed_secret(out: str) -> str:
    """The authenticator's secret as `staff add` shows it to be typed in."""
    return next(
        line.split(":", 1)[1].split()[0] for line in out.splitlines() if line.strip().startswith("or type in")
    )


def sign_in_with(dsn: str, email: str, password: str, secret: str) -> str:
    """Sign in as the console does, with a code of the authenticator `secret`; the name."""

    async def go() -> str:
        db = Database(dsn, max_size=1)
        await db.open()
        try:
            session = await IdentityService(db).sign_in(email, password, pyotp.TOTP(secret).now())
            await end_session(db, session.actor)
            return session.actor.name
        finally:
            await db.close()

    return asyncio.run(go())


def test_staff_add_shows_the_authenticator_once(dsn: str) -> None:
    env = {"DATABASE_URL": dsn}
    result = staff_add(dsn, "Nina@Venue.test", "door", "a long enough password", "--name", "Nina")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Added nina@venue.test as door" in out
    assert "Postgres keeps the password's verifier and the authenticator's secret" in out
    assert "otpauth://totp/Backroom:nina%40venue.test?secret=" in out
    assert out.count("-") >= 10 and "Recovery codes" in out
    assert "a long enough password" not in out + result.stderr
    # What it showed is the authenticator Postgres checks the codes of.
    assert sign_in_with(dsn, "nina@venue.test", "a long enough password", typed_secret(out)) == "Nina"

    listed = backroom("staff", "list", env=env)
    assert "nina@venue.test" in listed.stdout and "door" in listed.stdout
    set_role = backroom("staff", "set-role", "nina@venue.test", "manager", env=env)
    assert set_role.returncode == 0 and "nina@venue.test is now manager staff" in set_role.stdout
    disabled = backroom("staff", "disable", "nina@venue.test", env=env)
    assert disabled.returncode == 0 and "their sessions ended" in disabled.stdout
    listed = backroom("staff", "list", env=env)
    row = next(line for line in listed.stdout.splitlines() if line.startswith("nina@venue.test"))
    assert "manager" in row and "disabled" in row


def test_staff_add_needs_no_venue_key_and_shows_no_secret_but_the_enrolment(dsn: str) -> None:
    """No keyring and no BACKROOM_TOTP_KEY: the first account and the next are made all the
    same, and nothing but the new authenticator (its secret and recovery codes) is shown."""
    outputs = []
    for email, password in (
        ("first@venue.test", "the first password"),
        ("second@venue.test", "the second password"),
    ):
        result = staff_add(dsn, email, "manager", password)
        assert result.returncode == 0, result.stderr
        text = result.stdout + result.stderr
        assert password not in text
        for about_a_key in ("venue key", "BACKROOM_TOTP_KEY", "keyring", "sealed"):
            assert about_a_key not in text, text
        secret = typed_secret(result.stdout)
        assert text.count(secret) == 2, "the secret is shown in the URI and to type in, once each"
        assert sign_in_with(dsn, email, password, secret) == email
        outputs.append(secret)
    assert outputs[0] != outputs[1]


def test_staff_commands_explain_what_is_missing(dsn: str) -> None:
    # A seeded account has no authenticator yet: there is none to replace.
    result = backroom("staff", "reset-totp", "door@backroom.demo", env={"DATABASE_URL": dsn})
    assert result.returncode == 2 and "Traceback" not in result.stderr + result.stdout
    assert "door@backroom.demo has no password here yet" in result.stderr
    assert "backroom staff add door@backroom.demo" in result.stderr
    result = backroom("staff", "disable", "nobody@venue.test", env={"DATABASE_URL": dsn})
    assert_explained(result, "There is no such staff member")


def test_staff_reset_totp_needs_no_venue_key(dsn: str) -> None:
    added = staff_add(dsn, "rita@venue.test", "door", "a long enough password", "--name", "Rita")
    assert added.returncode == 0, added.stderr
    old = typed_secret(added.stdout)
    reset = backroom("staff", "reset-totp", "rita@venue.test", env={"DATABASE_URL": dsn})
    assert reset.returncode == 0, reset.stderr
    assert "New authenticator for rita@venue.test" in reset.stdout
    new = typed_secret(reset.stdout)
    assert new != old and "BACKROOM_TOTP_KEY" not in reset.stdout + reset.stderr
    assert sign_in_with(dsn, "rita@venue.test", "a long enough password", new) == "Rita"


def test_health_json_is_clean_and_says_ok(dsn: str) -> None:
    import json

    result = backroom("health", "--json", env={"DATABASE_URL": dsn})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["reachable"] is True
    assert report["server_version"].startswith("18")
    assert report["notify_probe"]["samples"] == 5
    down = backroom("health", "--json", "--database-url", "postgresql://x:y@127.0.0.1:1/z")
    assert down.returncode == 2 and json.loads(down.stdout)["reachable"] is False
    assert "y@" not in down.stdout


def test_staff_unlock_lifts_a_lock_and_staff_list_prints_no_control_character(
    dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from console.cli import main

    async def owner(*statements: str) -> object:
        conn = await asyncpg.connect(dsn)
        try:
            result: object = None
            for statement in statements:
                result = await conn.fetchval(statement)
            return result
        finally:
            await conn.close()

    async def enrol_door() -> None:
        db = Database(dsn, max_size=1)
        await db.open()
        try:
            await IdentityService(db).add_staff(
                None, email="door@backroom.demo", name="Door", role="door", password="a long enough password"
            )
        finally:
            await db.close()

    asyncio.run(enrol_door())
    asyncio.run(
        owner(
            "update backroom_private.credential set locked_until = now() + interval '15 minutes'"
            " where staff_id = (select id from backroom.staff where email = 'door@backroom.demo')",
            # A name from before names were checked, with a terminal escape in it.
            "alter table backroom.staff drop constraint staff_display_name_limits",
            "update backroom.staff set display_name = E'Evil \\x1b[2J\\x07Name'"
            " where email = 'door@backroom.demo'",
        )
    )
    assert main(["staff", "unlock", "door@backroom.demo", "--database-url", dsn]) == 0
    assert "Unlocked door@backroom.demo" in capsys.readouterr().out
    assert asyncio.run(
        owner(
            "select locked_until is null and count_failures_from is not null"
            " from backroom_private.credential"
            " where staff_id = (select id from backroom.staff where email = 'door@backroom.demo')"
        )
    )
    assert (
        asyncio.run(owner("select operation from backroom.audit_log order by id desc limit 1"))
        == "staff_unlocked"
    )
    assert main(["staff", "list", "--database-url", dsn]) == 0
    listed = capsys.readouterr().out
    assert "Evil \ufffd[2J\ufffdName" in listed and "\x1b" not in listed and "\x07" not in listed


def test_the_demo_accounts_fit_an_80_column_terminal(dsn: str) -> None:
    """`make demo` prints the accounts before the console covers them: each on one line."""
    result = backroom("demo", "--no-console", env={"DATABASE_URL": dsn}, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("Demo sign-in"))
    shown = lines[start : start + 6]
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    rows = [line.split() for line in shown if "@backroom.demo" in line]
    assert [row[0] for row in rows] == ["door", "manager", "admin", "support"]
    assert all(len(row[-1]) == 6 and row[-1].isdigit() for row in rows), shown
