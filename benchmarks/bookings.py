"""Booking operations under load.

1. Latency (p50/p95/p99) and throughput of confirm and check-in through the
   service, against a bare one-row UPDATE transaction on the same server in
   the same run; the ratio says what the rules, audit and notify cost.
2. 64 consoles contending for one table and time, round after round: exactly
   one winner each round, and how long a loser waits for its answer.

Each figure is checked against its target (benchmarks/targets.py): a line per
target, or with --json one JSON object of the figures in milliseconds (and
operations per second), the bare figures of the same run alongside.

Run: .venv/bin/python benchmarks/bookings.py [--n 400] [--rounds 40] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial

import asyncpg
from harness import SAMPLE_NIGHT, bench_database, percentile, summary
from targets import Target, as_json, readable_to_stderr, report

from services.bookings import BookingService, GuestDetails
from services.errors import TableTaken
from services.identity.roles import Role
from services.store.db import Actor, Database
from services.store.seed import open_nights

FIRST_EXTRA_NIGHT = 14  # nights after the sample fortnight are left empty for the benchmark
RACE_LIMIT_MS = 50


def targets(clients: int) -> list[Target]:
    found = []
    for suffix, who in (("", "1 client"), (f"_{clients}", f"{clients} clients")):
        for op in ("confirm", "checkin"):
            found.append(
                Target(
                    f"{op}{suffix}_p50_ms", f"{op} p50, {who}", bare=f"bare_update{suffix}_p50_ms", times=2
                )
            )
            found.append(
                Target(
                    f"{op}{suffix}_per_s",
                    f"{op} throughput, {who}",
                    bare=f"bare_update{suffix}_per_s",
                    times=0.5,
                    at_least=True,
                    unit="/s",
                )
            )
    found.append(Target("winner_p99_ms", "racing consoles: the winner booked, p99", limit_ms=RACE_LIMIT_MS))
    found.append(
        Target("loser_p99_ms", "racing consoles: each loser's typed answer, p99", limit_ms=RACE_LIMIT_MS)
    )
    return found


async def make_pending(owner: asyncpg.Connection, count: int) -> dict[int, datetime]:
    """`count` pending bookings on empty nights, one per table per night: each one's id and
    when its night starts."""
    nights = -(-count // 16)
    await open_nights(owner, SAMPLE_NIGHT + timedelta(days=FIRST_EXTRA_NIGHT), nights + 80)
    tx = owner.transaction()  # the tables must be there by commit
    await tx.start()
    rows = await owner.fetch(
        """
        with slots as (
            select n.id as night_id, n.starts_at, n.ends_at, t.id as table_id, t.min_party,
                   row_number() over (order by n.date, t.id) as k
            from backroom.night n cross join backroom.venue_table t
            where n.date >= $1 and n.date < $1 + $3::int
            limit $2
        ), guests as (
            insert into backroom.guest (name) select 'Bench guest ' || k from slots returning id, name
        )
        insert into backroom.booking (night_id, guest_id, party_size, starts_at, ends_at, notes)
        select s.night_id, g.id, s.min_party, s.starts_at, s.ends_at, s.table_id::text
        from slots s join guests g on g.name = 'Bench guest ' || s.k
        returning id, notes::smallint as table_id, starts_at
        """,
        SAMPLE_NIGHT + timedelta(days=FIRST_EXTRA_NIGHT),
        count,
        nights,
    )
    await owner.executemany(
        "insert into backroom.booking_table (booking_id, table_id, during, active)"
        " select id, $2, tstzrange(starts_at, ends_at), true from backroom.booking where id = $1",
        [(r["id"], r["table_id"]) for r in rows],
    )
    await tx.commit()
    return {r["id"]: r["starts_at"] for r in sorted(rows, key=lambda r: r["id"])}


async def timed(calls: list[Callable[[], Awaitable[object]]], concurrency: int) -> tuple[list[float], float]:
    """Run the calls with `concurrency` workers; per-call latencies and wall time."""
    queue = list(reversed(calls))
    latencies: list[float] = []

    async def worker() -> None:
        while queue:
            call = queue.pop()
            t0 = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - start


async def latency_and_throughput(dsn: str, n: int, concurrency: int) -> dict[str, float]:
    owner = await asyncpg.connect(dsn)
    await owner.execute(
        "create schema bench; create table bench.counter (id int primary key, n bigint not null);"
        " insert into bench.counter values (1, 0)"
    )
    manager = await owner.fetchval(
        "insert into backroom.staff (email, display_name, role)"
        " values ('bench@backroom.test', 'Bench', 'manager') returning id"
    )
    token = await owner.fetchval("select backroom_meta.open_session($1)", manager)
    actor = Actor(staff_id=manager, name="Bench", role=Role.MANAGER, session=token)
    ids = await make_pending(owner, 2 * n)
    await owner.close()

    db = Database(dsn, min_size=concurrency, max_size=concurrency)
    await db.open()
    svc = BookingService(db)

    # A check-in belongs to its night: each night's service tells the time an hour after opening.
    def an_hour_after(start: datetime) -> Callable[[], datetime]:
        return lambda: start + timedelta(hours=1)

    at_night = {start: BookingService(db, an_hour_after(start)) for start in set(ids.values())}

    def check_in(booking: int) -> Awaitable[object]:
        return at_night[ids[booking]].check_in(actor, booking, 2, 1)

    async def bare() -> None:
        async with db.pool.acquire() as conn, conn.transaction():
            await conn.execute("update bench.counter set n = n + 1 where id = 1")

    # Warm the pool and the statement caches before measuring.
    for _ in range(20):
        await bare()

    ordered = list(ids)
    seq, par = ordered[:n], ordered[n:]
    results: dict[str, tuple[list[float], float]] = {}
    results["bare UPDATE (1 client)"] = await timed([bare] * n, 1)
    results["confirm (1 client)"] = await timed([partial(svc.confirm, actor, b, 1) for b in seq], 1)
    results["check-in (1 client)"] = await timed([partial(check_in, b) for b in seq], 1)
    results[f"bare UPDATE ({concurrency} clients)"] = await timed([bare] * n, concurrency)
    results[f"confirm ({concurrency} clients)"] = await timed(
        [partial(svc.confirm, actor, b, 1) for b in par], concurrency
    )
    results[f"check-in ({concurrency} clients)"] = await timed(
        [partial(check_in, b) for b in par], concurrency
    )
    await db.close()

    print("Latency and throughput (the same server, the same run)")
    figures: dict[str, float] = {}
    for label, (lat, wall) in results.items():
        print(f"  {summary(label, lat)}  {len(lat) / wall:8.0f} ops/s")
        op, clients = label.split(" (")
        key = op.replace(" ", "_").replace("-", "").lower()
        if not clients.startswith("1 "):
            key += f"_{concurrency}"
        figures[f"{key}_p50_ms"] = statistics.median(lat) * 1000
        figures[f"{key}_p99_ms"] = percentile(lat, 99) * 1000
        figures[f"{key}_per_s"] = len(lat) / wall
    for count in (1, concurrency):
        bare_lat, bare_wall = results[f"bare UPDATE ({count} client{'s' if count > 1 else ''})"]
        for op in ("confirm", "check-in"):
            lat, wall = results[f"{op} ({count} client{'s' if count > 1 else ''})"]
            p50_ratio = statistics.median(lat) / statistics.median(bare_lat)
            rate_ratio = (len(bare_lat) / bare_wall) / (len(lat) / wall)
            print(
                f"  {op} / bare, {count} client(s): p50 x{p50_ratio:.1f}, throughput x{rate_ratio:.1f} lower"
            )
    return figures


async def contention(dsn: str, consoles: int, rounds: int) -> dict[str, float]:
    owner = await asyncpg.connect(dsn)
    rows = await owner.fetch(
        "insert into backroom.staff (email, display_name, role)"
        " select 'c' || n || '@backroom.test', 'Console ' || n, 'manager'"
        " from generate_series(1, $1) n"
        " returning id, display_name, backroom_meta.open_session(id) as token",
        consoles,
    )
    nights = await owner.fetch(
        "select id, starts_at, ends_at from backroom.night where date >= $1 order by date limit $2",
        SAMPLE_NIGHT + timedelta(days=FIRST_EXTRA_NIGHT + 60),
        rounds,
    )
    await owner.close()
    if len(nights) < rounds:
        raise SystemExit("not enough empty nights for the rounds")
    actors = [
        Actor(staff_id=r["id"], name=r["display_name"], role=Role.MANAGER, session=r["token"]) for r in rows
    ]
    dbs = [Database(dsn, min_size=1, max_size=1) for _ in range(consoles)]
    await asyncio.gather(*(d.open() for d in dbs))
    services = [BookingService(d) for d in dbs]

    winners_per_round: list[int] = []
    loser_latency: list[float] = []
    winner_latency: list[float] = []
    for r, night in enumerate(nights):
        table = 1 + r % 16
        gate = asyncio.Event()

        async def attempt(
            svc: BookingService,
            actor: Actor,
            night: asyncpg.Record = night,
            table: int = table,
            gate: asyncio.Event = gate,
        ) -> tuple[bool, float]:
            await gate.wait()
            t0 = time.perf_counter()
            try:
                await svc.create(
                    actor,
                    night_id=night["id"],
                    table_ids=[table],
                    party_size=4 if table not in (8, 16) else 6,
                    starts_at=night["starts_at"] + timedelta(hours=1),
                    guest=GuestDetails(f"{actor.name} guest"),
                )
                return True, time.perf_counter() - t0
            except TableTaken:
                return False, time.perf_counter() - t0

        tasks = [asyncio.create_task(attempt(s, a)) for s, a in zip(services, actors, strict=True)]
        await asyncio.sleep(0.05)
        gate.set()
        outcome = await asyncio.gather(*tasks)
        winners_per_round.append(sum(1 for won, _ in outcome if won))
        loser_latency += [t for won, t in outcome if not won]
        winner_latency += [t for won, t in outcome if won]
    await asyncio.gather(*(d.close() for d in dbs))

    exact = sum(1 for w in winners_per_round if w == 1)
    print(f"Contention: {consoles} consoles, one table and time, {rounds} rounds")
    print(
        f"  rounds with exactly one winner: {exact}/{rounds}"
        f" (winners per round: min {min(winners_per_round)}, max {max(winners_per_round)})"
    )
    print(f"  {summary('winner: time to booked', winner_latency)}")
    print(f"  {summary('loser: time to TableTaken answer', loser_latency)}")
    if exact != rounds:
        raise SystemExit("a round did not have exactly one winner")
    return {
        "winner_p50_ms": statistics.median(winner_latency) * 1000,
        "winner_p99_ms": percentile(winner_latency, 99) * 1000,
        "loser_p50_ms": statistics.median(loser_latency) * 1000,
        "loser_p99_ms": percentile(loser_latency, 99) * 1000,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=400, help="operations per measurement")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients for throughput")
    parser.add_argument("--consoles", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object of the figures; the report goes to standard error",
    )
    args = parser.parse_args()
    with readable_to_stderr(args.json):
        async with bench_database() as dsn:
            figures = await latency_and_throughput(dsn, args.n, args.clients)
            figures |= await contention(dsn, args.consoles, args.rounds)
        print()
        checked = targets(args.clients)
        report(figures, checked)
    if args.json:
        print(
            as_json("bookings", figures, checked, {"clients": args.clients, "consoles": args.consoles}),
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
