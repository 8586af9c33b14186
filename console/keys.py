"""The venue's TOTP key: which secret store holds it, and the demo's own key."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet

from services.secrets import TOTP_KEY, SecretStore, SecretUnavailable, env_name, new_totp_key

DEMO_KEY_FILE = "demo-totp.key"


def checked(key: str) -> str:
    """The key, if it is one (32 bytes in URL-safe base64, 44 characters)."""
    try:
        Fernet(key.strip().encode())
    except (ValueError, TypeError):
        raise SecretUnavailable(
            f"The venue key (in the keyring, or {env_name(TOTP_KEY)}) is not a valid key: it is 44 "
            "characters of letters, digits, '-', '_' and a final '=', as `backroom staff add` "
            "showed it when it made the key. Put the venue's key there as it was shown."
        ) from None
    return key.strip()


def venue_key(store: SecretStore) -> str:
    """The key from the keyring, or from BACKROOM_TOTP_KEY where there is no keyring."""
    return checked(store.require(TOTP_KEY))


def known_key(store: SecretStore) -> str | None:
    """The venue key if one is set, else None."""
    existing = store.get(TOTP_KEY)
    return checked(existing) if existing else None


def first_key(store: SecretStore) -> tuple[str, str]:
    """The key for a venue's first staff account: the existing one, or a new one kept
    in the keyring. Returns the key and a sentence saying where it is."""
    existing = known_key(store)
    if existing:
        return existing, "the existing venue key"
    key = new_totp_key()
    try:
        store.set(TOTP_KEY, key)
    except SecretUnavailable:
        return key, (
            f"a NEW venue key, shown once; no keyring here, so put it in every console's "
            f"environment: {env_name(TOTP_KEY)}={key}"
        )
    return key, "a new venue key, saved in the system keyring"


def demo_key(demo_dir: Path) -> str:
    """The demo only: a key file in the demo's own data directory, readable by this
    user alone, kept apart from any venue key. A venue never gets a key file."""
    path = demo_dir / DEMO_KEY_FILE
    if path.exists():
        return path.read_text().strip()
    key = new_totp_key()
    demo_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return key
