"""After a full session of enrolments, sign-ins, failures and recovery, no
secret appears in the database's readable tables, the server's log, the
config directory, or the text of any error."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import pyotp

from console import profiles
from services.db import Database
from services.identity import IdentityService, SecretBox, SignInError
from services.secrets import SecretStore, new_totp_key

PASSWORD = "Tr0ub4dor & co, long"


async def test_no_secret_is_written_anywhere_readable(
    dsn: str, admin: asyncpg.Connection, server_dsn: str, tmp_path: Path
) -> None:
    key = new_totp_key()
    db = Database(dsn)
    await db.open()
    errors: list[str] = []
    try:
        identity = IdentityService(db, SecretBox(key))
        enrolment = await identity.add_staff(None, email="leak@backroom.test", name="Lea",
                                             role="manager", password=PASSWORD)
        code = pyotp.TOTP(enrolment.secret).now()
        await identity.sign_in(enrolment.email, PASSWORD, code)
        for attempt in ((PASSWORD, code), (PASSWORD + "x", code), (PASSWORD, "12345")):
            try:
                await identity.sign_in(enrolment.email, *attempt)
            except SignInError as err:
                errors.append(repr(err) + str(err))
        await identity.sign_in(enrolment.email, PASSWORD, enrolment.recovery_codes[0])
        try:
            await identity.verify_code((await identity.sign_in(
                enrolment.email, PASSWORD, enrolment.recovery_codes[1])).actor, code)
        except SignInError as err:
            errors.append(repr(err) + str(err))
        profiles.save(tmp_path, SecretStore(env={}), "venue",
                      f"postgresql://staff:{PASSWORD.replace(' ', '%20').replace('&', '%26')}@h/db")
    finally:
        await db.close()

    # A six-digit code could match a timestamp's microseconds by chance, so codes
    # are looked for only in the error texts.
    secrets = [PASSWORD, enrolment.secret, key, *enrolment.recovery_codes]
    dumps = []
    for table in ("audit_log", "sign_in_attempt", "operation", "staff"):
        rows = await admin.fetch(f"select * from backroom.{table}")
        dumps.append("\n".join(str(dict(r)) for r in rows))
    dumps += errors
    dumps += [p.read_text() for p in tmp_path.rglob("*") if p.is_file()]
    config_home = os.environ["BACKROOM_CONFIG_DIR"]
    dumps += [p.read_text(errors="replace") for p in Path(config_home).rglob("*") if p.is_file()]
    log = await admin.fetchval("select current_setting('data_directory')")
    server_log = Path(log).parent / "postgres.log"
    if server_log.exists():
        dumps.append(server_log.read_text(errors="replace"))
    text = "\n".join(dumps)
    for secret in secrets:
        assert secret not in text, "a secret leaked"
    assert all(code not in e for e in errors)
    assert server_log.exists(), "the server log was scanned too"
