"""Which processes use the private server: the pids registered in ``clients.json``
by acquire() and not yet release(), and whether a process is still alive.

The file is read and written under the server's lock; a dead pid is pruned on read.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import psutil


def read_clients(path: Path) -> list[int]:
    """The live pids registered in `path`; the file is rewritten when some were dead."""
    try:
        raw: Any = json.loads(path.read_text())
    except (OSError, ValueError):
        raw = []
    pids = [p for p in raw if isinstance(p, int)] if isinstance(raw, list) else []
    live = [p for p in dict.fromkeys(pids) if pid_alive(p)]
    if live != raw:
        write_clients(path, live)
    return live


def write_clients(path: Path, pids: list[int]) -> None:
    atomic_write(path, json.dumps(pids))


def pid_alive(pid: int) -> bool:
    if pid <= 0 or not psutil.pid_exists(pid):
        return False
    try:
        # Our container init may never reap, so a dead postmaster can linger as a zombie.
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True


def wait_gone(pids: list[int], deadline: float) -> None:
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
