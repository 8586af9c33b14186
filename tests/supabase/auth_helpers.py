"""Shared pieces of the Supabase sign-in tests: staff sessions against the stand-in
auth server, a TOTP secret, and reading the claims of a token."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import replace
from typing import Any

import pyotp

from services.store.db import Actor
from services.supabase.auth import AuthUser
from tests.supabase.conftest import JWT_KEY
from tests.supabase.standins import verified

PASSWORD = "correct horse battery"
SECRET = pyotp.random_base32()
STEP_UP_SECONDS = 120


class Sessions:
    """The database's side of a Supabase sign-in, answering as backroom.supabase_session
    and backroom.supabase_confirm do: a session for a verified aal2 token of a linked
    staff member; a confirmation for a fresh TOTP token of the session's own member."""

    def __init__(self) -> None:
        self.staff: dict[str, Actor] = {}
        self.owners: dict[str, str] = {}  # session token -> Supabase user
        self.confirmed: list[tuple[Actor, str, dict[str, Any]]] = []
        self.accept = True

    async def open(self, user: AuthUser) -> Actor | None:
        claims = verified(JWT_KEY, user.access_token)
        if claims is None or claims.get("aal") != "aal2" or claims["sub"] not in self.staff:
            return None
        token = uuid.uuid4().hex
        self.owners[token] = claims["sub"]
        return replace(self.staff[claims["sub"]], session=token)

    async def confirm(self, actor: Actor, purpose: str, access_token: str) -> bool:
        claims = verified(JWT_KEY, access_token)
        if not self.accept or claims is None or actor.session is None:
            return False
        fresh = any(
            m["method"] == "totp" and m["timestamp"] > time.time() - STEP_UP_SECONDS
            for m in claims.get("amr", [])
        )
        if self.owners.get(actor.session) != claims["sub"] or not fresh:
            return False
        self.confirmed.append((actor, purpose, claims))
        return True


def claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return data
