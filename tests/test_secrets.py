"""Secrets: the keyring when it works, the environment when it does not,
never a plain file."""

from __future__ import annotations

import io
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from services.identity.secrets import SecretStore, SecretUnavailable
from tests.memory_keyring import KeyringModule, MemoryKeyring, no_keyring


def test_without_a_keyring_secrets_come_from_the_environment(tmp_path: Path) -> None:
    store = SecretStore(KeyringModule(no_keyring()), env={"BACKROOM_PROFILE_BAR": "from-env"})
    status = store.status()
    assert not status.usable and "environment variables" in status.explain()
    assert store.get("profile:bar") == "from-env"
    with pytest.raises(SecretUnavailable, match="BACKROOM_PROFILE_VENUE"):
        store.set("profile:venue", "secret")
    assert list(tmp_path.iterdir()) == [], "nothing is written to disk instead"


def test_with_a_keyring_secrets_go_there() -> None:
    backend = MemoryKeyring()
    store = SecretStore(KeyringModule(backend), env={})
    assert store.status().usable
    store.set("profile:venue", "s3cret")
    assert store.get("profile:venue") == "s3cret"
    assert backend.items == {("backroom-console", "profile:venue"): "s3cret"}
    store.delete("profile:venue")
    assert store.get("profile:venue") is None


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """A working keyring for the whole process, as on a desktop."""
    backend = MemoryKeyring()
    before = keyring.get_keyring()
    keyring.set_keyring(backend)
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield backend
    finally:
        keyring.set_keyring(before)
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def test_staff_accounts_and_the_demo_keep_no_secret_in_the_keyring_or_a_file(
    dsn: str,
    tmp_path: Path,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With a keyring to hand, enrolling a venue's accounts and the demo's still puts no
    key or secret in it, or in the console's own directories: Postgres alone keeps them."""
    from console import cli

    monkeypatch.setenv("BACKROOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BACKROOM_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DATABASE_URL", dsn)
    for argv in (
        ["staff", "add", "first@venue.test", "--role", "admin", "--password-stdin"],
        ["staff", "add", "next@venue.test", "--role", "door", "--password-stdin"],
        ["demo", "--no-console"],
        ["demo", "--codes"],
    ):
        monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough password\n"))
        assert cli.main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "Added next@venue.test as door" in out
    rows = [line.split() for line in out.splitlines() if "@backroom.demo" in line]
    assert rows and all(row[-1].isdigit() and len(row[-1]) == 6 for row in rows), (
        "the demo reads its codes from Postgres"
    )
    assert memory_keyring.items == {}
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_profile_keeps_its_password_out_of_the_file(tmp_path: Path) -> None:
    from console import profiles

    backend = MemoryKeyring()
    store = SecretStore(KeyringModule(backend), env={})
    saved = profiles.save(
        tmp_path, store, "venue", "postgresql://staff:p%40ss w0rd@db.venue.test:5432/backroom"
    )
    assert saved.url == "postgresql://staff@db.venue.test:5432/backroom"
    text = (tmp_path / profiles.FILE).read_text()
    assert "p@ss" not in text and "w0rd" not in text
    assert (tmp_path / profiles.FILE).stat().st_mode & 0o777 == 0o600
    assert (
        profiles.resolve(tmp_path, store, "venue")
        == "postgresql://staff:p%40ss%20w0rd@db.venue.test:5432/backroom"
    )

    headless = SecretStore(KeyringModule(no_keyring()), env={"BACKROOM_PROFILE_BAR": "from-env"})
    saved = profiles.save(tmp_path, headless, "bar", "postgresql://u:secret@h/db")
    assert "BACKROOM_PROFILE_BAR" in saved.where
    assert "secret" not in (tmp_path / profiles.FILE).read_text()
    assert profiles.resolve(tmp_path, headless, "bar") == "postgresql://u:from-env@h/db"
