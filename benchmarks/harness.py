"""A database to measure against: an embedded Postgres in a temporary
directory (or BACKROOM_BENCH_DATABASE_URL), migrated and seeded."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import asyncpg

from services.embedded.server import EmbeddedPostgres
from services.store import migrations, seed

SAMPLE_NIGHT = date(2026, 11, 20)


@contextlib.asynccontextmanager
async def bench_database(nights: int = 14) -> AsyncIterator[str]:
    external = os.environ.get("BACKROOM_BENCH_DATABASE_URL")
    data: Path | None = None
    if external:
        server_dsn = external
    else:
        data = Path(tempfile.mkdtemp(prefix="backroom-bench-"))
        # Same settings as a real venue server: durability on.
        pg = EmbeddedPostgres(data)
        server_dsn = pg.start().dsn()
    name = f"bench_{uuid.uuid4().hex[:8]}"
    root = await asyncpg.connect(server_dsn)
    await root.execute(f"create database {name}")
    dsn = (
        server_dsn.replace("/postgres?", f"/{name}?", 1)
        if "/postgres?" in server_dsn
        else server_dsn.rsplit("/", 1)[0] + f"/{name}"
    )
    try:
        conn = await asyncpg.connect(dsn)
        try:
            await migrations.migrate(conn)
            await seed.seed_venue(conn, seed.load_layout())
            await seed.seed_sample(conn, SAMPLE_NIGHT, days=nights)
        finally:
            await conn.close()
        yield dsn
    finally:
        await root.execute(f"drop database if exists {name} with (force)")
        await root.close()
        if data is not None:
            pg.stop()
            shutil.rmtree(data, ignore_errors=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(label: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{label:<34} n={len(ms):>5}  p50={statistics.median(ms):7.2f} ms"
        f"  p95={percentile(ms, 95):7.2f} ms  p99={percentile(ms, 99):7.2f} ms"
    )
