"""Secrets: the keyring when it works, the environment when it does not,
never a plain file."""

from __future__ import annotations

from pathlib import Path

import pytest
from keyring.backend import KeyringBackend
from keyring.backends.fail import Keyring as FailKeyring

from console.keys import DEMO_KEY_FILE, demo_key, first_key
from services.secrets import SecretStore, SecretUnavailable, env_name


class MemoryKeyring(KeyringBackend):
    """Stands in for an OS keyring (Secret Service, macOS Keychain): the same
    backend interface the keyring package calls, kept in memory."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


class KeyringModule:
    """The three calls SecretStore makes on the `keyring` module, over one backend."""

    def __init__(self, backend: KeyringBackend) -> None:
        self.backend = backend

    def get_keyring(self) -> KeyringBackend:
        return self.backend

    def get_password(self, service: str, name: str) -> str | None:
        return self.backend.get_password(service, name)

    def set_password(self, service: str, name: str, value: str) -> None:
        self.backend.set_password(service, name, value)

    def delete_password(self, service: str, name: str) -> None:
        self.backend.delete_password(service, name)


def test_without_a_keyring_secrets_come_from_the_environment(tmp_path: Path) -> None:
    store = SecretStore(KeyringModule(FailKeyring()), env={"BACKROOM_TOTP_KEY": "from-env"})
    status = store.status()
    assert not status.usable and "environment variables" in status.explain()
    assert store.get("totp-key") == "from-env"
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


def test_a_venue_key_is_kept_in_the_keyring_or_shown_once() -> None:
    backend = MemoryKeyring()
    key, where = first_key(SecretStore(KeyringModule(backend), env={}))
    assert "keyring" in where and backend.items[("backroom-console", "totp-key")] == key
    key2, where2 = first_key(SecretStore(KeyringModule(FailKeyring()), env={}))
    assert key2 in where2 and env_name("totp-key") in where2


def test_the_demo_key_file_is_private(tmp_path: Path) -> None:
    key = demo_key(tmp_path)
    path = tmp_path / DEMO_KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert demo_key(tmp_path) == key


def test_a_profile_keeps_its_password_out_of_the_file(tmp_path: Path) -> None:
    from console import profiles

    backend = MemoryKeyring()
    store = SecretStore(KeyringModule(backend), env={})
    saved = profiles.save(tmp_path, store, "venue", "postgresql://staff:p%40ss w0rd@db.venue.test:5432/backroom")
    assert saved.url == "postgresql://staff@db.venue.test:5432/backroom"
    text = (tmp_path / profiles.FILE).read_text()
    assert "p@ss" not in text and "w0rd" not in text
    assert (tmp_path / profiles.FILE).stat().st_mode & 0o777 == 0o600
    assert profiles.resolve(tmp_path, store, "venue") == "postgresql://staff:p%40ss%20w0rd@db.venue.test:5432/backroom"

    headless = SecretStore(KeyringModule(FailKeyring()), env={"BACKROOM_PROFILE_BAR": "from-env"})
    saved = profiles.save(tmp_path, headless, "bar", "postgresql://u:secret@h/db")
    assert "BACKROOM_PROFILE_BAR" in saved.where
    assert "secret" not in (tmp_path / profiles.FILE).read_text()
    assert profiles.resolve(tmp_path, headless, "bar") == "postgresql://u:from-env@h/db"
