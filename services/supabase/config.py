"""Where a venue's Supabase project is: its URL and API key, from the
environment (SUPABASE_URL with SUPABASE_ANON_KEY) or a saved profile.

The console uses the project's anon (publishable) key, never the service role
(secret) key: that key bypasses Row Level Security, and the console is meant
to act as the signed-in staff member. A saved profile keeps the URL in the
config directory and the key in the keyring (or BACKROOM_SUPABASE_KEY_<NAME>
where there is no keyring), like database profiles.

Nothing here imports `supabase`.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from services.identity.secrets import SecretStore, SecretUnavailable, env_name
from services.store.db import DatabaseError

FILE = "supabase.json"
KEY_ENV = ("SUPABASE_ANON_KEY", "SUPABASE_PUBLISHABLE_KEY", "SUPABASE_KEY")


class SupabaseConfigError(DatabaseError):
    """The Supabase settings are missing or wrong; `str(err)` says what to do."""


def key_secret(profile: str) -> str:
    return f"supabase-key:{profile}"


@dataclass(frozen=True)
class SupabaseConfig:
    url: str
    key: str = field(repr=False)
    profile: str | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or self.url

    @property
    def project_ref(self) -> str:
        """The project's reference (the first label of <ref>.supabase.co), or the host."""
        host = self.host
        return host.split(".", 1)[0] if host.endswith(".supabase.co") else host

    @property
    def auth_url(self) -> str:
        return self.url.rstrip("/") + "/auth/v1"

    @property
    def rest_url(self) -> str:
        return self.url.rstrip("/") + "/rest/v1"

    @property
    def realtime_url(self) -> str:
        """The Realtime websocket endpoint (protocol 1.0.0, JSON)."""
        parts = urlsplit(self.url.rstrip("/"))
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}{parts.path}/realtime/v1/websocket"


def validate(url: str, key: str) -> SupabaseConfig:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme in ("postgres", "postgresql"):
        raise SupabaseConfigError(
            "SUPABASE_URL is the project's API address (https://<project>.supabase.co), not a "
            "database URL; the database URL goes in DATABASE_URL."
        )
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise SupabaseConfigError(
            f"{url!r} is not a Supabase project URL. The form is https://<project>.supabase.co "
            "(Project Settings > API in the dashboard)."
        )
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise SupabaseConfigError(
            "A Supabase project URL must use https (plain http only for a local Supabase)."
        )
    key = key.strip()
    if not key:
        raise SupabaseConfigError(
            "The Supabase API key is missing: set SUPABASE_ANON_KEY to the project's anon "
            "(publishable) key, or save a profile with `backroom supabase configure`."
        )
    if is_secret_key(key):
        raise SupabaseConfigError(
            "That is the project's service role (secret) key, which bypasses Row Level Security. "
            "The console needs the anon (publishable) key; keep the secret key off this machine."
        )
    return SupabaseConfig(url.rstrip("/"), key)


def is_secret_key(key: str) -> bool:
    """The new-style secret key, or a legacy JWT key whose role is service_role."""
    if key.startswith("sb_secret_"):
        return True
    parts = key.split(".")
    if len(parts) != 3:
        return False
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return False
    return isinstance(claims, dict) and claims.get("role") == "service_role"


def from_env(env: Mapping[str, str] | None = None) -> SupabaseConfig | None:
    """SUPABASE_URL with its key, or None when SUPABASE_URL is not set."""
    env = os.environ if env is None else env
    url = env.get("SUPABASE_URL")
    if not url:
        return None
    key = next((env[name] for name in KEY_ENV if env.get(name)), "")
    return validate(url, key)


def _path(config_dir: Path) -> Path:
    return config_dir / FILE


def load_profiles(config_dir: Path) -> dict[str, str]:
    path = _path(config_dir)
    if not path.exists():
        return {}
    data: dict[str, str] = json.loads(path.read_text("utf-8"))
    return data


def save_profile(config_dir: Path, store: SecretStore, name: str, url: str, key: str) -> str:
    """Save the URL in the config directory and the key in the keyring; says where the key went."""
    if not name.replace("-", "").replace("_", "").isalnum():
        raise SupabaseConfigError(f"A profile name is letters, digits, - and _ only, not {name!r}.")
    config = validate(url, key)
    try:
        store.set(key_secret(name), config.key)
        where = "key in the system keyring"
    except SecretUnavailable:
        where = (
            f"no keyring here, so the key is not saved: set {env_name(key_secret(name))} "
            "in the console's environment"
        )
    profiles = load_profiles(config_dir)
    profiles[name] = config.url
    config_dir.mkdir(parents=True, exist_ok=True)
    tmp = _path(config_dir).with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(profiles, out, indent=2, sort_keys=True)
    tmp.replace(_path(config_dir))
    return where


def load_profile(config_dir: Path, store: SecretStore, name: str) -> SupabaseConfig:
    profiles = load_profiles(config_dir)
    if name not in profiles:
        known = ", ".join(sorted(profiles)) or "none yet"
        raise SupabaseConfigError(
            f"There is no Supabase profile {name!r} (saved: {known}). Save one with "
            f"`backroom supabase configure {name} --url https://<project>.supabase.co`."
        )
    key = store.get(key_secret(name))
    if key is None:
        raise SupabaseConfigError(
            f"The API key of Supabase profile {name!r} is not in the keyring here; set "
            f"{env_name(key_secret(name))} or save the profile again."
        )
    config = validate(profiles[name], key)
    return SupabaseConfig(config.url, config.key, profile=name)


def resolve(
    config_dir: Path,
    store: SecretStore | None = None,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
) -> SupabaseConfig | None:
    """A named profile, else the environment, else None (Supabase is not configured)."""
    if profile:
        return load_profile(config_dir, store or SecretStore(), profile)
    return from_env(env)
