"""Where secrets live: the system keyring, or the environment where no keyring
backend exists (a headless server, an SSH session). Never a plain file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from services.errors import BackroomError

SERVICE = "backroom-console"


def env_name(name: str) -> str:
    """The environment variable that stands in for a keyring entry."""
    return "BACKROOM_" + name.upper().replace("-", "_").replace(":", "_").replace(".", "_")


class SecretUnavailable(BackroomError):
    """A secret is needed and neither the keyring nor the environment has it."""


@dataclass(frozen=True)
class KeyringStatus:
    usable: bool
    backend: str

    def explain(self) -> str:
        if self.usable:
            return f"Secrets are kept in the system keyring ({self.backend})."
        return (
            "No keyring backend is available here (a headless server or an SSH session); "
            "secrets are taken from BACKROOM_* environment variables instead."
        )


class SecretStore:
    """Read and write named secrets. `keyring_module` is injectable for tests."""

    def __init__(self, keyring_module: object | None = None, env: dict[str, str] | None = None) -> None:
        if keyring_module is None:
            import keyring

            keyring_module = keyring
        self._keyring = keyring_module
        self._env = os.environ if env is None else env

    def status(self) -> KeyringStatus:
        backend = self._keyring.get_keyring()  # type: ignore[attr-defined]
        name = f"{type(backend).__module__}.{type(backend).__name__}"
        priority = getattr(backend, "priority", 0)
        usable = not name.startswith("keyring.backends.fail") and priority > 0
        if name.startswith("keyring.backends.chainer"):
            usable = bool(getattr(backend, "backends", []))
        return KeyringStatus(usable, name)

    def get(self, name: str) -> str | None:
        if self.status().usable:
            value = self._keyring.get_password(SERVICE, name)  # type: ignore[attr-defined]
            if value:
                return str(value)
        return self._env.get(env_name(name)) or None

    def set(self, name: str, value: str) -> None:
        status = self.status()
        if not status.usable:
            raise SecretUnavailable(f"{status.explain()} Set {env_name(name)} in the console's environment.")
        self._keyring.set_password(SERVICE, name, value)  # type: ignore[attr-defined]

    def delete(self, name: str) -> None:
        if self.status().usable:
            try:
                self._keyring.delete_password(SERVICE, name)  # type: ignore[attr-defined]
            except Exception:
                pass

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise SecretUnavailable(
                f"The secret {name!r} is not set. {self.status().explain()} "
                f"Set {env_name(name)} or store it in the keyring."
            )
        return value
