"""Saved connection profiles: the address in the config file, the password in
the keyring (or the environment where there is no keyring). Never together,
never the password in a file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from services.identity.secrets import SecretStore, SecretUnavailable, env_name
from services.store.db import DatabaseError, validate_dsn

FILE = "profiles.json"


def secret_name(profile: str) -> str:
    return f"profile:{profile}"


@dataclass(frozen=True)
class Saved:
    name: str
    url: str
    where: str


def _path(config_dir: Path) -> Path:
    return config_dir / FILE


def load(config_dir: Path) -> dict[str, str]:
    path = _path(config_dir)
    if not path.exists():
        return {}
    data: dict[str, str] = json.loads(path.read_text("utf-8"))
    return data


def split_password(url: str) -> tuple[str, str | None]:
    """The URL without its password, and the password."""
    validate_dsn(url)
    parts = urlsplit(url)
    password = unquote(parts.password) if parts.password is not None else None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    if parts.username:
        netloc = f"{quote(unquote(parts.username), safe='')}@{netloc}"
    return urlunsplit(parts._replace(netloc=netloc)), password


def save(config_dir: Path, store: SecretStore, name: str, url: str) -> Saved:
    if not name.replace("-", "").replace("_", "").isalnum():
        raise DatabaseError(f"A profile name is letters, digits, - and _ only, not {name!r}.")
    bare, password = split_password(url)
    where = "no password"
    if password is not None:
        try:
            store.set(secret_name(name), password)
            where = "password in the system keyring"
        except SecretUnavailable:
            where = (
                f"no keyring here, so the password is not saved: set "
                f"{env_name(secret_name(name))} in the console's environment"
            )
    profiles = load(config_dir)
    profiles[name] = bare
    config_dir.mkdir(parents=True, exist_ok=True)
    tmp = _path(config_dir).with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(profiles, out, indent=2, sort_keys=True)
    tmp.replace(_path(config_dir))
    return Saved(name, bare, where)


def resolve(config_dir: Path, store: SecretStore, name: str) -> str:
    """The full DSN of a saved profile, with its password from the keyring or environment."""
    profiles = load(config_dir)
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none yet"
        raise DatabaseError(
            f"There is no profile {name!r} (saved: {known}). "
            f"Save one with `backroom connect {name} --url URL`."
        )
    bare = profiles[name]
    password = store.get(secret_name(name))
    if password is None:
        return bare
    parts = urlsplit(bare)
    user = parts.username or ""
    host = parts.netloc.split("@", 1)[-1]
    netloc = f"{quote(unquote(user), safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))
