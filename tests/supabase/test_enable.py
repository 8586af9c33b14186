"""`backroom supabase enable` as the database's owner: Supabase's parts of the
schema and the project's JWT secret, with which Postgres checks the access
tokens consoles sign in with. The secret comes from standard input, the
environment or a hidden prompt, never from an option, and is never echoed."""

from __future__ import annotations

import asyncio
import io
import signal
import sys
from collections.abc import Iterator

import asyncpg
import pytest

from console import cli
from services.supabase.auth import JWT_SECRET_ENV
from tests.supabase.conftest import JWT_KEY, JWT_SECRET, SupabaseDb


@pytest.fixture(autouse=True)
def _own_signal_handlers() -> Iterator[None]:
    """main() makes SIGTERM and SIGHUP interrupt; the test process keeps its own handlers."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


async def _stored(dsn: str) -> bytes | None:
    conn = await asyncpg.connect(dsn)
    try:
        found = await conn.fetchval("select secret from backroom_private.supabase_jwt")
    finally:
        await conn.close()
    return None if found is None else bytes(found)


def stored(dsn: str) -> bytes | None:
    return asyncio.run(_stored(dsn))


async def _forget(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("delete from backroom_private.supabase_jwt")
    finally:
        await conn.close()


@pytest.fixture
def no_secret(supabase_db: SupabaseDb, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The Supabase-like database without a JWT secret; the project's again afterwards."""
    monkeypatch.delenv(JWT_SECRET_ENV, raising=False)
    asyncio.run(_forget(supabase_db.dsn))
    yield supabase_db.dsn
    if stored(supabase_db.dsn) != JWT_KEY:
        monkeypatch.setenv(JWT_SECRET_ENV, JWT_SECRET)
        assert run(monkeypatch, "--database-url", supabase_db.dsn)[0] == 0


def run(monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = "") -> tuple[int, str]:
    """`backroom supabase enable ...` with standard input that is not a terminal."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    code = cli.main(["supabase", "enable", *argv])
    return code, out.getvalue() + err.getvalue()


def test_enable_stores_the_secret_from_standard_input(
    no_secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, said = run(
        monkeypatch, "--database-url", no_secret, "--jwt-secret-stdin", stdin=f"  {JWT_SECRET}  \n"
    )
    assert code == 0, said
    assert "stored the project's JWT secret" in said and JWT_SECRET not in said
    assert stored(no_secret) == JWT_KEY


def test_enable_takes_the_secret_from_the_environment(
    no_secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(JWT_SECRET_ENV, JWT_SECRET)
    code, said = run(monkeypatch, "--database-url", no_secret)
    assert code == 0, said
    assert JWT_SECRET not in said
    assert stored(no_secret) == JWT_KEY


def test_without_a_terminal_enable_says_how_to_give_the_secret(
    no_secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, said = run(monkeypatch, "--database-url", no_secret)
    assert code != 0
    assert "there is no terminal to ask" in said
    assert "--jwt-secret-stdin" in said and JWT_SECRET_ENV in said
    assert stored(no_secret) is None


def test_a_secret_too_short_to_be_one_is_refused(no_secret: str, monkeypatch: pytest.MonkeyPatch) -> None:
    code, said = run(monkeypatch, "--database-url", no_secret, "--jwt-secret-stdin", stdin="short\n")
    assert code != 0 and "not a JWT secret" in said and "short" not in said
    assert stored(no_secret) is None


def test_on_plain_postgres_enable_stores_nothing(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(JWT_SECRET_ENV, JWT_SECRET)
    code, said = run(monkeypatch, "--database-url", dsn)
    assert code == 0, said
    assert "nothing to set up" in said and "no JWT secret stored" in said
    assert stored(dsn) is None
