"""The OS user the private server runs as, and the permissions it needs.

Postgres refuses to run as root, so when we are root the server runs as a system user of its
own (services/store/first_run.py creates it under a machine-wide lock), and every ancestor of
the data directory must stay traversable by it. Not as root, the server runs as ourselves and
nothing here changes an owner.
"""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path
from typing import Any

from services.errors import EmbeddedServerError
from services.store.first_run import (
    FirstRunError,
    ensure_server_user,
    ensure_traversable,
    machine_lock,
    prepare_install,
    server_user_name,
)


class ServerUser:
    """Who the server's processes and files belong to; a failure names `log_path`."""

    def __init__(self, log_path: Path) -> None:
        self._log_path = log_path
        self._user: pwd.struct_passwd | None = None

    def get(self) -> pwd.struct_passwd | None:
        """The server's own system user when we are root (made on first use), else None."""
        if os.geteuid() != 0:
            return None
        if self._user is None:
            try:
                self._user = ensure_server_user(server_user_name())
            except FirstRunError as err:
                raise EmbeddedServerError(str(err), self._log_path) from None
        return self._user

    def popen_kwargs(self) -> dict[str, Any]:
        """subprocess.Popen arguments that run a server binary as the server user."""
        user = self.get()
        if user is None:
            return {"umask": 0o077}
        return {
            "user": user.pw_uid,
            "group": user.pw_gid,
            "extra_groups": [],  # do not keep root's supplementary groups
            "umask": 0o077,
        }

    def chown(self, path: Path) -> None:
        user = self.get()
        if user is not None:
            os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)

    def make_dir(self, path: Path) -> None:
        path.mkdir(mode=0o700, exist_ok=True)
        self.chown(path)
        path.chmod(0o700)

    def prepare_socket_dir(self, path: Path) -> None:
        """The socket dir is the access boundary: owned by the server user, mode 0700."""
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            raise EmbeddedServerError(f"socket directory {path} is not a directory", self._log_path)
        user = self.get()
        owner = user.pw_uid if user is not None else os.geteuid()
        if st.st_uid != owner:
            if os.geteuid() != 0:
                # Someone else pre-created our temp dir: do not put the socket there.
                raise EmbeddedServerError(f"socket directory {path} belongs to another user", self._log_path)
            self.chown(path)
        path.chmod(0o700)

    def prepare_permissions(self, install_dir: Path, data_dir: Path, pgdata: Path) -> None:
        """As root: the server user must reach the binaries under `install_dir` and the data
        directory, and own the cluster in `pgdata`."""
        user = self.get()
        if user is None:
            return
        try:
            prepare_install(install_dir, user)
            with machine_lock():
                ensure_traversable(data_dir, user)
        except FirstRunError as err:
            raise EmbeddedServerError(str(err), self._log_path) from None
        if (pgdata / "PG_VERSION").is_file():
            # e.g. a cluster made by an earlier non-root run of the same data dir
            if pgdata.stat().st_uid != user.pw_uid:
                for root, dirs, files in os.walk(pgdata):
                    for name in (*dirs, *files):
                        path = os.path.join(root, name)
                        os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
                self.chown(pgdata)
