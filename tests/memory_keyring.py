"""A keyring in memory, for the tests: what `SecretStore` calls on the `keyring`
module, over a backend that stands in for an OS keyring (Secret Service, macOS
Keychain) and shows what was written to it."""

from __future__ import annotations

from typing import Generic, TypeVar

from keyring.backend import KeyringBackend
from keyring.backends.fail import Keyring as FailKeyring


class MemoryKeyring(KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # keyring leaves KeyringBackend.__init__ unannotated
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


B = TypeVar("B", bound=KeyringBackend)


class KeyringModule(Generic[B]):
    """The calls SecretStore makes on the `keyring` module, over one backend."""

    def __init__(self, backend: B) -> None:
        self.backend = backend

    def get_keyring(self) -> B:
        return self.backend

    def get_password(self, service: str, name: str) -> str | None:
        return self.backend.get_password(service, name)

    def set_password(self, service: str, name: str, value: str) -> None:
        self.backend.set_password(service, name, value)

    def delete_password(self, service: str, name: str) -> None:
        self.backend.delete_password(service, name)


def no_keyring() -> FailKeyring:
    """keyring's own backend for a machine without a keyring, as on a headless server."""
    return FailKeyring()  # type: ignore[no-untyped-call]  # keyring leaves its backends' __init__ unannotated
