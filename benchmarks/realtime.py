"""Commit-to-listener latency of the live feed, with 1, 10, 50 and 200
listening consoles, against bare asyncpg LISTEN/NOTIFY in the same run.

Every console is a dedicated LISTEN connection. The consoles are spread over
worker processes (one per core by default), as real consoles are separate
processes; one Python loop serving 200 connections would measure itself.

For each console count, per (commit, console):

  bare   a writer commits `select pg_notify('bench_bare', n)`; each console is a
         raw asyncpg connection with add_listener. Latency: writer sends -> the
         listener's callback runs.
  feed   a writer commits a booking UPDATE (the real triggers: audit row,
         notify_change with its payload); each console is a ChangeFeed over a
         ListenTransport, pinging as it does in the console. Latency: writer
         sends -> the feed hands the Change to on_change. Also shown: the
         feed's own figure (commit time in the payload -> receipt, on the
         server's clock), which is what `health` reports.

Plus a bare ping-pong between two connections (one NOTIFYs, the other answers
on receipt), whose round trip is the floor for anything over LISTEN/NOTIFY.

All clocks are this machine's, so the times compare directly.

Each figure is checked against its target (benchmarks/targets.py): a line per
target, or with --json one JSON object of the figures in milliseconds, the bare
figures of the same run alongside (feed_<n>_p95_ms beside bare_<n>_p95_ms).

Run: .venv/bin/python benchmarks/realtime.py [--commits 200] [--gap-ms 20] [--workers 2] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import asyncpg
from harness import bench_database, percentile
from targets import Target, as_json, readable_to_stderr, report

from services.live.feed import Change, ChangeFeed, ListenTransport

BARE_CHANNEL = "bench_bare"
CONSOLE_COUNTS = (1, 10, 50, 200)
TARGET_P95_MS, TARGET_P99_MS, TARGET_AT = 50.0, 100.0, 50
TARGETS = [
    Target(
        f"feed_{TARGET_AT}_p95_ms",
        f"commit -> feed with {TARGET_AT} consoles listening, p95",
        limit_ms=TARGET_P95_MS,
    ),
    Target(
        f"feed_{TARGET_AT}_p99_ms",
        f"commit -> feed with {TARGET_AT} consoles listening, p99",
        limit_ms=TARGET_P99_MS,
    ),
]


# ------------------------------------------------------------------ worker processes


async def _listen(dsn: str, count: int, mode: str, pipe: Connection) -> None:
    received: list[tuple[str, float, float | None]] = []
    feeds: list[ChangeFeed] = []
    tasks: list[asyncio.Task[None]] = []
    raw: list[asyncpg.Connection] = []

    def bare_heard(_c: object, _pid: int, _ch: str, payload: object) -> None:
        received.append((str(payload), time.time(), None))

    async def nothing() -> None:
        return None

    if mode == "bare":
        for _ in range(count):
            conn = await asyncpg.connect(dsn)
            await conn.add_listener(BARE_CHANNEL, bare_heard)
            raw.append(conn)
    else:
        live = 0
        all_live = asyncio.Event()

        def make(feed_ref: list[ChangeFeed]) -> Callable[[Change], None]:
            def heard(change: Change) -> None:
                received.append(
                    (f"{change.id}:{change.version}", time.time(), feed_ref[0].since_commit(change))
                )

            return heard

        def status(s: object) -> None:
            nonlocal live
            live += getattr(s, "state", None) == "live"
            if live >= count:
                all_live.set()

        for _ in range(count):
            ref: list[ChangeFeed] = []
            feed = ChangeFeed(
                ListenTransport(lambda: asyncpg.connect(dsn)),
                on_change=make(ref),
                on_status=status,
                resync=nothing,
            )
            ref.append(feed)
            feeds.append(feed)
            tasks.append(asyncio.create_task(feed.run()))
        await all_live.wait()

    loop = asyncio.get_running_loop()
    pipe.send("ready")
    await loop.run_in_executor(None, pipe.recv)  # "stop"
    for feed in feeds:
        await feed.stop()
    await asyncio.gather(*tasks, return_exceptions=True)
    for conn in raw:
        await conn.close()
    pipe.send(received)


def _worker(dsn: str, count: int, mode: str, pipe: Connection) -> None:
    asyncio.run(_listen(dsn, count, mode, pipe))


# ------------------------------------------------------------------ the writer


@dataclass
class Result:
    label: str
    consoles: int
    latencies: list[float]
    in_payload: list[float]
    expected: int

    def figures(self) -> dict[str, float]:
        ms = [x * 1000 for x in self.latencies]
        key = f"{self.label}_{self.consoles}"
        return {
            f"{key}_p50_ms": percentile(ms, 50),
            f"{key}_p95_ms": percentile(ms, 95),
            f"{key}_p99_ms": percentile(ms, 99),
            f"{key}_lost": float(self.expected - len(ms)),
        }

    def line(self) -> str:
        ms = sorted(x * 1000 for x in self.latencies)
        lost = self.expected - len(ms)
        text = (
            f"{self.label:<5} {self.consoles:>4} consoles  n={len(ms):>6}"
            f"  p50={percentile(ms, 50):7.2f}  p95={percentile(ms, 95):7.2f}"
            f"  p99={percentile(ms, 99):7.2f}  max={ms[-1]:7.2f} ms"
        )
        if self.in_payload:
            own = sorted(x * 1000 for x in self.in_payload)
            text += (
                f"   [feed's own: p50={percentile(own, 50):6.2f} p95={percentile(own, 95):6.2f}"
                f" p99={percentile(own, 99):6.2f}]"
            )
        if lost:
            text += f"  LOST {lost}"
        return text


async def _run(dsn: str, mode: str, consoles: int, commits: int, gap: float, workers: int) -> Result:
    ctx = mp.get_context("spawn")
    shares = [consoles // workers + (1 if i < consoles % workers else 0) for i in range(workers)]
    procs: list[tuple[Any, Connection]] = []
    for share in (s for s in shares if s):
        ours, theirs = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(dsn, share, mode, theirs), daemon=True)
        proc.start()
        procs.append((proc, ours))
    loop = asyncio.get_running_loop()
    for _proc, pipe in procs:
        if await loop.run_in_executor(None, pipe.recv) != "ready":
            raise SystemExit("a worker did not start")

    writer = await asyncpg.connect(dsn)
    sent: dict[str, float] = {}
    try:
        if mode == "feed":
            ids = [
                r["id"]
                for r in await writer.fetch(
                    "select id from backroom.booking where status in ('pending', 'confirmed', 'arrived')"
                    " order by id limit 64"
                )
            ]
            update = await writer.prepare(
                "update backroom.booking set notes = $2 where id = $1 returning id, version"
            )
        await asyncio.sleep(0.5)  # let the consoles settle into their ping rhythm
        for n in range(commits):
            t0 = time.time()
            if mode == "bare":
                await writer.execute("select pg_notify($1, $2)", BARE_CHANNEL, str(n))
                sent[str(n)] = t0
            else:
                row = await update.fetchrow(ids[n % len(ids)], f"bench {n}")
                assert row is not None
                sent[f"{row['id']}:{row['version']}"] = t0
            await asyncio.sleep(gap)
        await asyncio.sleep(1.0)  # stragglers
    finally:
        await writer.close()

    latencies: list[float] = []
    own: list[float] = []
    for proc, pipe in procs:
        pipe.send("stop")
        received = await loop.run_in_executor(None, pipe.recv)
        proc.join(10)
        for key, at, in_payload in received:
            if key in sent:
                latencies.append(at - sent[key])
                if in_payload is not None:
                    own.append(in_payload)
    return Result(mode, consoles, latencies, own, expected=commits * consoles)


async def ping_pong(dsn: str, rounds: int) -> list[float]:
    a = await asyncpg.connect(dsn)
    b = await asyncpg.connect(dsn)
    pongs: asyncio.Queue[str] = asyncio.Queue()
    answering: set[asyncio.Task[object]] = set()

    def ping(_c: object, _pid: int, _ch: str, payload: object) -> None:
        task = asyncio.ensure_future(b.execute("select pg_notify('bench_pong', $1)", str(payload)))
        answering.add(task)
        task.add_done_callback(answering.discard)

    await b.add_listener("bench_ping", ping)
    await a.add_listener("bench_pong", lambda _c, _p, _ch, payload: pongs.put_nowait(str(payload)))
    trips: list[float] = []
    for n in range(rounds):
        t0 = time.perf_counter()
        await a.execute("select pg_notify('bench_ping', $1)", str(n))
        while await pongs.get() != str(n):
            pass
        trips.append(time.perf_counter() - t0)
        await asyncio.sleep(0.005)
    await a.close()
    await b.close()
    return trips


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--commits", type=int, default=200, help="commits per measurement")
    parser.add_argument("--gap-ms", type=float, default=20, help="pause between commits")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 2, help="processes the consoles are spread over"
    )
    parser.add_argument("--consoles", type=int, nargs="*", default=list(CONSOLE_COUNTS))
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object of the figures; the report goes to standard error",
    )
    args = parser.parse_args()

    figures: dict[str, float] = {}
    with readable_to_stderr(args.json):
        async with bench_database() as dsn:
            print(
                f"{os.cpu_count()} cores; {args.commits} commits {args.gap_ms:.0f} ms apart per row;"
                f" consoles over {args.workers} worker processes; times writer-sends -> console-has-it"
            )
            trips = sorted(t * 1000 for t in await ping_pong(dsn, args.commits))
            figures["ping_pong_p50_ms"] = percentile(trips, 50)
            print(
                f"ping-pong (2 connections)  n={len(trips)}  round trip p50={percentile(trips, 50):.2f}"
                f"  p95={percentile(trips, 95):.2f}  p99={percentile(trips, 99):.2f} ms"
                f"  (one way ~{percentile(trips, 50) / 2:.2f} ms)"
            )
            for consoles in args.consoles:
                for mode in ("bare", "feed"):
                    result = await _run(
                        dsn, mode, consoles, args.commits, args.gap_ms / 1000, min(args.workers, consoles)
                    )
                    figures |= result.figures()
                    print(result.line(), flush=True)
        print()
        report(figures, TARGETS)
    if args.json:
        print(as_json("realtime", figures, TARGETS, {"commits": args.commits}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
