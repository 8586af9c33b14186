"""The login a console connects with: a member of the console role and nothing else.

`backroom db migrate` (migration 0010) creates it and keeps its password where only the
database owner can read it. A console given the owner's address connects as this login
instead, so nothing a console does can reach the owner; `backroom db console-url` prints the
address a console should be given in the first place.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import asyncpg

from services.store.db import DatabaseError, connect

__all__ = ["ConsoleLogin", "login_of", "read_login", "with_login"]


@dataclass(frozen=True)
class ConsoleLogin:
    role: str
    password: str


def with_login(dsn: str, login: ConsoleLogin) -> str:
    """`dsn` with the console login's name and password in place of its user's."""
    parts = urlsplit(dsn)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(login.role, safe='')}:{quote(login.password, safe='')}@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k not in ("user", "password")], safe="/")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


async def login_of(conn: asyncpg.Connection) -> ConsoleLogin | None:
    """The console login, read by the owner; None when this connection is not the owner's."""
    owner = await conn.fetchval(
        "select pg_has_role(current_user, nspowner, 'member') from pg_namespace where nspname = 'backroom'"
    )
    if not owner:
        return None
    if await conn.fetchval("select to_regclass('backroom_meta.console_login')") is None:
        raise DatabaseError(
            "This database has no console login yet: run `backroom db migrate` "
            "with the owner's address, then try again."
        )
    row = await conn.fetchrow("select rolname, password from backroom_meta.console_login")
    if row is None:
        raise DatabaseError(
            "The console login is missing: run `backroom db migrate` with the "
            "owner's address to make it again."
        )
    return ConsoleLogin(row["rolname"], row["password"])


async def read_login(dsn: str) -> ConsoleLogin | None:
    """The console login, when `dsn` is the owner's; else None."""
    conn = await connect(dsn)
    try:
        return await login_of(conn)
    finally:
        await conn.close()
