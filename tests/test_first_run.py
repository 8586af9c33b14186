"""First-run set-up of the machine, raced by several processes at once, on a throwaway user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.store.first_run import FirstRunError, server_user_name

REPO = Path(__file__).resolve().parents[1]
RACERS = 6

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("useradd") is None,
    reason="creating system users needs root and useradd",
)

_RACER = """
import sys, time
from services.store.first_run import ensure_server_user
start = float(sys.argv[2])
while time.time() < start:
    pass
user = ensure_server_user(sys.argv[1])
print(user.pw_uid)
"""


@pytest.fixture
def throwaway_user() -> Iterator[str]:
    name = f"brt_{uuid.uuid4().hex[:10]}"
    yield name
    subprocess.run(["userdel", name], capture_output=True, check=False)


@needs_root
def test_processes_racing_to_create_the_server_user_all_see_one_uid_that_exists(
    throwaway_user: str,
) -> None:
    start = time.time() + 1.5  # every racer imported and spinning before the gun
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, throwaway_user, str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(RACERS)
    ]
    results = [racer.communicate(timeout=60) for racer in racers]
    failures = [err for racer, (_, err) in zip(racers, results, strict=True) if racer.returncode]
    assert not failures, failures
    uids = {int(out) for out, _ in results}
    assert len(uids) == 1, uids
    (uid,) = uids
    assert pwd.getpwuid(uid).pw_name == throwaway_user
    assert pwd.getpwnam(throwaway_user).pw_uid == uid


@needs_root
def test_an_existing_user_is_taken_as_it_is(throwaway_user: str) -> None:
    from services.store.first_run import ensure_server_user

    made = ensure_server_user(throwaway_user)
    assert ensure_server_user(throwaway_user) == made


def test_the_server_user_can_be_named_for_one_run() -> None:
    assert server_user_name({}) == "backroom_pg"
    assert server_user_name({"BACKROOM_SERVER_USER": "backroom_ci_42"}) == "backroom_ci_42"


@pytest.mark.parametrize("name", ["root; rm -rf /", "Capital", "-dash", "x" * 33, "a b"])
def test_a_name_that_is_no_user_name_is_refused_in_words(name: str) -> None:
    with pytest.raises(FirstRunError, match="BACKROOM_SERVER_USER"):
        server_user_name({"BACKROOM_SERVER_USER": name})
