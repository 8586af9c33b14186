"""Running the `backroom` command in a subprocess and checking what it explains."""

from __future__ import annotations

import os
import subprocess
import sys


def backroom(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )


def assert_explained(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr + result.stdout
    text = " ".join(result.stderr.split())
    for phrase in phrases:
        assert phrase in text, text
