"""What it costs that Postgres decides who is signed in.

1. A sign-in through `backroom.sign_in` and `sign_in_answer` (PBKDF2-HMAC-SHA256
   and TOTP computed in SQL, the answer in a second transaction), as a console's
   login calls them: right password and code, wrong password, and an unknown
   email, which must take as long as a known one.
2. A step-up code (`confirm_code` and `confirm_answer`), which computes no PBKDF2.
3. What presenting the session adds to every transaction: the same read of a
   night's bookings in a console transaction with a session, against that read
   as the owner with no role, no session and no Row Level Security.

Run: .venv/bin/python benchmarks/identity.py [--accounts 10] [--reads 400]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import asyncpg
import pyotp
from harness import SAMPLE_NIGHT, bench_database, summary

from services.identity.accounts import Enrolment, IdentityService
from services.identity.console_login import read_login, with_login
from services.store.db import Database

PASSWORD = "correct horse battery"


async def timed(
    call: asyncpg.Connection, check: str, answer: str, *args: object
) -> tuple[float, asyncpg.Record]:
    """A check and then its answer, each committed on its own, as a console makes them."""
    start = time.perf_counter()
    handle = await call.fetchval(check, *args)
    row = await call.fetchrow(answer, handle)
    assert row is not None, "the answer gives one row"
    return time.perf_counter() - start, row


async def sign_ins(owner_dsn: str, console_dsn: str, accounts: int) -> None:
    owner = Database(owner_dsn, max_size=1)
    await owner.open()
    identity = IdentityService(owner)
    enrolled: list[Enrolment] = [
        await identity.add_staff(
            None, email=f"bench{n}@backroom.test", name=f"Bench {n}", role="manager", password=PASSWORD
        )
        for n in range(accounts)
    ]
    await owner.close()

    console = await asyncpg.connect(console_dsn)
    sql = ("select backroom.sign_in($1, $2, $3)", "select * from backroom.sign_in_answer($1)")
    right: list[float] = []
    wrong: list[float] = []
    unknown: list[float] = []
    tokens: list[tuple[str, Enrolment]] = []
    # Each code signs in once: the step before, this one and the next (drift) give three per account.
    left = 30 - time.time() % 30
    if left < 10:
        await asyncio.sleep(left + 0.2)
    now = time.time()
    for offset in (-30, 0, 30):
        for e in enrolled:
            took, row = await timed(console, *sql, e.email, PASSWORD, pyotp.TOTP(e.secret).at(now + offset))
            if row["outcome"] != "ok":
                raise SystemExit(f"sign-in refused: {row['outcome']}")
            right.append(took)
            if offset == 30:
                tokens.append((row["token"], e))
    # Failures are throttled after five per address: one account each.
    for n in range(accounts * 3):
        took, _row = await timed(console, *sql, f"nobody{n}@backroom.test", PASSWORD, "123456")
        unknown.append(took)
    owner_conn = await asyncpg.connect(owner_dsn)
    for n in range(accounts * 3):
        e = enrolled[n % accounts]
        took, row = await timed(console, *sql, e.email, "wrong password!", "123456")
        wrong.append(took)
        if n % accounts == accounts - 1:
            # Keep the throttle out of the measurement.
            await owner_conn.execute("delete from backroom_private.attempt where outcome <> 'ok'")
    print(summary("sign-in, right password and code", right))
    print(summary("sign-in, wrong password", wrong))
    print(summary("sign-in, unknown email", unknown))
    print(f"{'unknown / known-wrong, p50':<34} x{statistics.median(unknown) / statistics.median(wrong):.2f}")

    # A step-up: the code of the step after next is not yet valid, so wait for the next step.
    await asyncio.sleep(30 - time.time() % 30 + 0.2)
    codes: list[float] = []
    for token, e in tokens:
        await console.execute("select set_config('backroom.session', $1, false)", token)
        took, row = await timed(
            console,
            "select backroom.confirm_code('step_up', $1)",
            "select * from backroom.confirm_answer($1)",
            pyotp.TOTP(e.secret).at(time.time() + 30),
        )
        if row["outcome"] != "ok":
            raise SystemExit(f"step-up refused: {row['outcome']}")
        codes.append(took)
    print(summary("step-up code (confirm_code)", codes))
    await owner_conn.close()
    await console.close()


async def reads(owner_dsn: str, console_dsn: str, n: int) -> None:
    owner = await asyncpg.connect(owner_dsn)
    staff = await owner.fetchval("select id from backroom.staff where role = 'manager' limit 1")
    token = await owner.fetchval("select backroom_meta.open_session($1)", staff)
    console = await asyncpg.connect(console_dsn)
    read = (
        "select count(*) from backroom.booking b join backroom.guest g on g.id = b.guest_id"
        " join backroom.night n on n.id = b.night_id where n.date = $1"
    )

    async def as_owner() -> None:
        async with owner.transaction(readonly=True):
            # The same round trips as the console's: one to set up, one to read.
            await owner.execute("select set_config('backroom.op', '', true)")
            await owner.fetchval(read, SAMPLE_NIGHT)

    async def as_console() -> None:
        async with console.transaction(readonly=True):
            await console.execute(
                "select set_config('role', 'backroom_console', true),"
                " set_config('backroom.session', $1, true)",
                token,
            )
            await console.fetchval(read, SAMPLE_NIGHT)

    bare: list[float] = []
    session: list[float] = []
    for _ in range(n):
        for call, into in ((as_owner, bare), (as_console, session)):
            start = time.perf_counter()
            await call()
            into.append(time.perf_counter() - start)
    print(summary("night read, owner (no RLS)", bare))
    print(summary("night read, console + session", session))
    print(f"{'session / owner, p50':<34} x{statistics.median(session) / statistics.median(bare):.2f}")
    await owner.close()
    await console.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--reads", type=int, default=400)
    args = parser.parse_args()
    async with bench_database() as dsn:
        login = await read_login(dsn)
        assert login is not None
        console = with_login(dsn, login)
        await sign_ins(dsn, console, args.accounts)
        await reads(dsn, console, args.reads)


if __name__ == "__main__":
    asyncio.run(main())
