"""After a full session of a console's life (enrolment, sign-ins, failures,
replays, recovery, presence, lock and unlock, step-up, sign-out), no password,
TOTP secret, recovery code or session token appears in the database's tables
(but where Postgres keeps them, owner-only), in any statement as typed (the
server's log of every statement, and `pg_stat_activity`), in the console's
config or data directories, in its logs, or in the text of any error."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
import time
from pathlib import Path

import asyncpg
import pyotp
import pytest

from console import profiles
from console.wiring import open_services
from services.identity.accounts import Enrolment, IdentityService, SignInError
from services.identity.secrets import SecretStore
from services.live.presence import PostgresPresence
from services.store.db import Database
from tests.integration.realtime_helpers import until

PASSWORD = "Tr0ub4dor & co, long"
# Where Postgres keeps the verifier, the TOTP secret and the recovery codes' hashes by design.
KEEPERS = {"backroom_private.credential", "backroom_private.recovery_code"}
STATEMENT = re.compile(r"LOG:\s+(?:statement|execute [^:]*): (.*)")


def code(enrolment: Enrolment, steps: int = 0) -> str:
    return pyotp.TOTP(enrolment.secret).at(time.time() + 30 * steps)


async def away_from_step_edge() -> None:
    left = 30 - time.time() % 30
    if left < 4:
        await asyncio.sleep(left + 0.2)


async def every_row(admin: asyncpg.Connection) -> str:
    """Every row of every table but the keepers', as JSON (bytea as hex)."""
    tables = await admin.fetch(
        "select format('%I.%I', schemaname, tablename) as name from pg_tables"
        " where schemaname in ('backroom', 'backroom_private', 'backroom_meta', 'public')"
    )
    dumps = []
    for table in (t["name"] for t in tables if t["name"] not in KEEPERS):
        rows = await admin.fetch(f"select row_to_json(t)::text as j from {table} t")
        dumps += [r["j"] for r in rows]
    return "\n".join(dumps)


async def test_no_secret_is_written_anywhere_readable(
    dsn: str, admin: asyncpg.Connection, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Every statement this database runs from now on goes to the server's log as typed,
    # without the values bound to it: what is typed must hold no secret.
    name = await admin.fetchval("select current_database()")
    for setting, value in (
        ("log_statement", "all"),
        ("log_parameter_max_length", "0"),
        ("log_parameter_max_length_on_error", "0"),
    ):
        await admin.execute(f"alter database {name} set {setting} = '{value}'")
    data_directory = await admin.fetchval("select current_setting('data_directory')")
    server_log = Path(data_directory).parent / "postgres.log"
    assert server_log.exists(), "the server log is scanned too"
    log_from = server_log.stat().st_size

    owner = Database(dsn, max_size=1)
    await owner.open()
    errors: list[str] = []
    tokens: list[str] = []
    activity: list[str] = []
    try:
        enrolment = await IdentityService(owner).add_staff(
            None, email="leak@backroom.test", name="Lea", role="manager", password=PASSWORD
        )
        await away_from_step_edge()
        services = await open_services(dsn, own_accounts=True)
        try:
            identity = services.identity
            assert identity is not None
            now = code(enrolment)
            session = await identity.sign_in(enrolment.email, PASSWORD, now)
            assert session.actor.session
            tokens.append(session.actor.session)
            services.actor = session.actor
            for attempt in ((PASSWORD, now), (PASSWORD + "x", code(enrolment, 1)), (PASSWORD, "12345")):
                try:
                    await identity.sign_in(enrolment.email, *attempt)
                except SignInError as err:
                    errors.append(repr(err) + str(err))

            presence = services.presence(lambda roster: None)
            assert isinstance(presence, PostgresPresence)
            beating = asyncio.create_task(presence.run())
            try:
                await until(lambda: presence.beats >= 1)
                await services.floor.tonight()
                await services.lock(session.actor)
                await identity.verify_code(session.actor, code(enrolment, 1), "unlock")
                try:
                    await identity.verify_code(session.actor, code(enrolment, 1))
                except SignInError as err:
                    errors.append(repr(err) + str(err))
            finally:
                await presence.stop()
                beating.cancel()

            rescued = await identity.sign_in(enrolment.email, PASSWORD, enrolment.recovery_codes[0])
            assert rescued.actor.session
            tokens.append(rescued.actor.session)
            for typed in (now, enrolment.recovery_codes[1]):
                try:
                    await identity.verify_code(rescued.actor, typed)
                except SignInError as err:
                    errors.append(repr(err) + str(err))
            await services.end(rescued.actor, "signed_out")
            try:
                await identity.verify_code(rescued.actor, code(enrolment, 1))
            except SignInError as err:
                errors.append(repr(err) + str(err))
            errors.append(repr(session) + repr(rescued) + repr(services.actor))
            profiles.save(
                tmp_path,
                SecretStore(env={}),
                "venue",
                f"postgresql://staff:{PASSWORD.replace(' ', '%20').replace('&', '%26')}@h/db",
            )
            # What every connection of this database last ran, as it was typed, while they are open.
            activity = [
                r["query"]
                for r in await admin.fetch(
                    "select query from pg_stat_activity where datname = current_database()"
                    " and pid <> pg_backend_pid()"
                )
            ]
        finally:
            await services.close()
    finally:
        await owner.close()
    assert len(errors) == 8 and len(activity) >= 2

    raw_secret = base64.b32decode(enrolment.secret)
    secrets = [
        PASSWORD,
        enrolment.secret,
        raw_secret.hex(),
        *tokens,
        *enrolment.recovery_codes,
        *(c.replace("-", "") for c in enrolment.recovery_codes),
    ]
    with server_log.open(errors="replace") as log:
        log.seek(log_from)
        logged = log.read()
    statements = [m.group(1) for m in STATEMENT.finditer(logged)]
    assert any("backroom.sign_in(" in s for s in statements), "every statement was logged"
    assert any("backroom.confirm_code(" in s for s in statements)
    assert any("backroom.session" in s for s in statements)

    places = {
        "the database's tables": await every_row(admin),
        "the server's log": logged,
        "the statements as typed": "\n".join(statements + activity),
        "the errors": "\n".join(errors),
        "the console's log": caplog.text,
        "the console's files": "\n".join(
            p.read_text(errors="replace")
            for where in (
                tmp_path,
                Path(os.environ["BACKROOM_CONFIG_DIR"]),
                Path(os.environ["BACKROOM_DATA_DIR"]),
            )
            for p in where.rglob("*")
            if p.is_file()
        ),
    }
    for place, text in places.items():
        for secret in secrets:
            assert secret not in text, f"a secret leaked into {place}"
    # A six-digit code could match a timestamp or a pid by chance, so codes are looked
    # for only where no number of the server's own is.
    codes = {now, code(enrolment, 1)}
    for place in ("the statements as typed", "the errors"):
        assert not any(c in places[place] for c in codes), f"a code leaked into {place}"
