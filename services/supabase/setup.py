"""Deploying the schema to a Supabase project, and linking staff to Supabase Auth users.

- `export_supabase_migrations(dir)` writes the migrations of services/store/sql as
  Supabase CLI migrations (`<dir>/supabase/migrations/<timestamp>_backroom_<name>.sql`),
  so `supabase db push` applies them with the project's own. Each file also
  records itself in `backroom_meta.migration` with the checksum `backroom db
  migrate` uses, so the console accepts a database migrated either way and
  `backroom db migrate` afterwards has nothing left to do.
- `enable(conn)` runs `backroom_meta.enable_supabase()` (migration 0006) again,
  for a database that came to Supabase after it was migrated.
- `link_staff(conn, ...)` ties a staff member to their Supabase Auth user.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from services.errors import InvalidInput, NotFound
from services.identity.permissions import Role
from services.store import migrations
from services.store.db import DatabaseError

_EXPORTED = re.compile(r"^(\d{14})_backroom_(\d{4})_([a-z0-9_]+)\.sql$")
_TIMESTAMP = "%Y%m%d%H%M%S"

_RECORD = """
-- Recorded as `backroom db migrate` records it, so the console accepts this database.
create schema if not exists backroom_meta;
create table if not exists backroom_meta.migration (
    version    int primary key,
    name       text not null,
    checksum   text not null,
    applied_at timestamptz not null default now(),
    applied_by text not null default current_user
);
revoke all on schema backroom_meta from public;
insert into backroom_meta.migration (version, name, checksum)
values ({version}, '{name}', '{checksum}')
on conflict (version) do nothing;
"""


class ExportChanged(DatabaseError):
    pass


class ExportTarget(DatabaseError):
    """The directory to export to is not one, or cannot be made or written."""


@dataclass(frozen=True)
class Exported:
    path: Path
    written: bool
    """False when an identical file was already there."""


def supabase_migration_text(m: migrations.Migration) -> str:
    header = (
        f"-- Backroom Console migration {m.filename}, exported for the Supabase CLI.\n"
        f"-- Do not edit: change services/store/sql and export again.\n\n"
    )
    return (
        header
        + m.sql.rstrip("\n")
        + "\n"
        + _RECORD.format(version=m.version, name=m.name, checksum=m.checksum)
    )


def export_supabase_migrations(
    target: Path, *, now: datetime | None = None, loaded: list[migrations.Migration] | None = None
) -> list[Exported]:
    """Write each migration as `<target>/supabase/migrations/<timestamp>_backroom_<NNNN>_<name>.sql`.

    `target` is the Supabase project directory (the one `supabase init` made);
    a path that already ends in supabase/migrations is used as it is. Running it
    again rewrites nothing: a migration already exported keeps its file and
    name; a new one gets a timestamp after every file in the directory, so
    `supabase db push` applies it after them. A file whose content differs from
    what would be written is refused, as an applied migration must not change.
    """
    loaded = migrations.load() if loaded is None else loaded
    directory = target
    if target.parts[-2:] != ("supabase", "migrations"):
        directory = target / "supabase" / "migrations"
    _make_directory(target, directory)
    try:
        return _export(directory, loaded, now)
    except OSError as err:
        raise ExportTarget(
            f"Cannot write the migrations to {directory}: {err.strerror or err}. "
            "Check the path and that you may write there; each file written is "
            "complete, and a second run keeps them and writes the rest."
        ) from err


def _make_directory(target: Path, directory: Path) -> None:
    """`target` itself may be made, not its parents: a mistyped path makes no tree."""
    if target.exists() and not target.is_dir():
        raise ExportTarget(
            f"{target} is a file, not a directory. Give the Supabase project "
            "directory (the one `supabase init` made)."
        )
    if not target.exists() and not target.parent.is_dir():
        raise ExportTarget(
            f"{target.parent} does not exist (or is not a directory), so {target} "
            "cannot be made in it. Check the path, or make the directory first."
        )
    try:
        target.mkdir(exist_ok=True)
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError as err:
        raise ExportTarget(
            f"{err.filename} is a file, not a directory: move it away, or give another project directory."
        ) from err
    except OSError as err:
        raise ExportTarget(
            f"Cannot make {directory}: {err.strerror or err}. Check that you may write there."
        ) from err


def _write_whole(path: Path, text: str) -> None:
    """The file complete, or not there at all."""
    part = path.with_name(path.name + ".part")
    try:
        part.write_text(text, encoding="utf-8")
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)


def _export(directory: Path, loaded: list[migrations.Migration], now: datetime | None) -> list[Exported]:
    existing: dict[int, Path] = {}
    latest: datetime | None = None
    for path in directory.glob("*.sql"):
        stamp = path.name.split("_", 1)[0]
        if stamp.isdigit() and len(stamp) == 14:
            when = datetime.strptime(stamp, _TIMESTAMP).replace(tzinfo=UTC)
            latest = when if latest is None or when > latest else latest
        match = _EXPORTED.match(path.name)
        if match:
            existing[int(match[2])] = path
    changed = [
        p.name
        for v, p in existing.items()
        for m in loaded
        if m.version == v and p.read_text("utf-8") != supabase_migration_text(m)
    ]
    if changed:
        raise ExportChanged(
            f"{', '.join(sorted(changed))} in {directory} differ from the migrations of this "
            "version of the console. An applied migration must stay as it was: restore the files "
            "(or delete them if they were never pushed) and export again."
        )
    clock = (now or datetime.now(UTC)).replace(microsecond=0)
    next_stamp = clock if latest is None else max(clock, latest + timedelta(seconds=1))
    done = []
    for m in loaded:
        if m.version in existing:
            done.append(Exported(existing[m.version], written=False))
            continue
        path = directory / f"{next_stamp.strftime(_TIMESTAMP)}_backroom_{m.version:04d}_{m.name}.sql"
        _write_whole(path, supabase_migration_text(m))
        done.append(Exported(path, written=True))
        next_stamp += timedelta(seconds=1)
    return done


@dataclass(frozen=True)
class SupabaseState:
    """What of Supabase this database has, and what the schema made of it."""

    auth: bool
    api_role: bool
    realtime: bool
    publication: bool
    linked: bool
    linked_staff: int
    broadcast_triggers: int
    published_tables: tuple[str, ...]

    def lines(self) -> list[str]:
        def yes(flag: bool) -> str:
            return "yes" if flag else "no"

        return [
            f"Supabase auth schema (auth.uid())      {yes(self.auth)}",
            f"role authenticated                      {yes(self.api_role)}",
            f"Realtime (realtime.send)                {yes(self.realtime)}",
            f"publication supabase_realtime           {yes(self.publication)}",
            "staff linked to Supabase users          "
            + (f"{self.linked_staff}" if self.linked else "not set up (run `backroom supabase enable`)"),
            f"broadcast triggers                      {self.broadcast_triggers}",
            f"tables in supabase_realtime             {', '.join(self.published_tables) or '-'}",
        ]


async def state(conn: asyncpg.Connection) -> SupabaseState:
    row = await conn.fetchrow("""
        select to_regprocedure('auth.uid()') is not null as auth,
               exists (select from pg_roles where rolname = 'authenticated') as api_role,
               to_regprocedure('realtime.send(jsonb, text, text, boolean)') is not null as realtime,
               exists (select from pg_publication where pubname = 'supabase_realtime') as publication,
               exists (select from pg_attribute where attrelid = to_regclass('backroom.staff')
                       and attname = 'auth_user_id' and not attisdropped) as linked,
               (select count(*) from pg_trigger t join pg_class c on c.oid = t.tgrelid
                where c.relnamespace = to_regnamespace('backroom')
                  and t.tgname like '%\\_broadcast')::int as broadcast_triggers,
               array(select tablename::text from pg_publication_tables
                     where pubname = 'supabase_realtime' and schemaname = 'backroom'
                     order by tablename) as published
    """)
    assert row is not None
    linked_staff = 0
    if row["linked"]:
        linked_staff = await conn.fetchval(
            "select count(*) from backroom.staff where auth_user_id is not null"
        )
    return SupabaseState(
        auth=row["auth"],
        api_role=row["api_role"],
        realtime=row["realtime"],
        publication=row["publication"],
        linked=row["linked"],
        linked_staff=int(linked_staff),
        broadcast_triggers=row["broadcast_triggers"],
        published_tables=tuple(row["published"]),
    )


async def enable(conn: asyncpg.Connection) -> list[str]:
    """Set up what this database's Supabase parts allow (as the schema's owner); what was done."""
    if await conn.fetchval("select to_regprocedure('backroom_meta.enable_supabase()')") is None:
        raise DatabaseError("This database is not migrated to 0006 yet: run `backroom db migrate` first.")
    try:
        done = await conn.fetchval("select backroom_meta.enable_supabase()")
    except asyncpg.InsufficientPrivilegeError as err:
        raise DatabaseError(
            f"Only the owner of the backroom schema can set up Supabase ({err}). Connect as the "
            "user that ran the migrations (on Supabase: postgres, direct or session-mode URL)."
        ) from err
    return list(done)


@dataclass(frozen=True)
class Linked:
    email: str
    auth_user_id: str
    created: bool


async def link_staff(
    conn: asyncpg.Connection,
    email: str,
    *,
    auth_user_id: str | None = None,
    role: str | None = None,
    name: str | None = None,
) -> Linked:
    """Tie a staff member to their Supabase Auth user (as the schema's owner).

    Without `auth_user_id` the user is found in auth.users by email. With
    `role`, a staff member who does not exist yet is created (no password of
    the console's own: they sign in through Supabase only).
    """
    email = email.strip().lower()
    if role is not None and role not in {r.value for r in Role}:
        raise InvalidInput(f"The role must be one of {', '.join(r.value for r in Role)}.")
    ready = await conn.fetchval(
        "select exists (select from pg_attribute where attrelid = to_regclass('backroom.staff')"
        " and attname = 'auth_user_id' and not attisdropped)"
    )
    if not ready:
        raise DatabaseError(
            "This database has no link to Supabase Auth: it needs Supabase's auth "
            "schema and migration 0006 (`backroom supabase enable`)."
        )
    if auth_user_id is not None:
        try:
            auth_user_id = str(uuid.UUID(auth_user_id))
        except ValueError:
            raise InvalidInput(f"{auth_user_id!r} is not a Supabase user id (a UUID).") from None
    async with conn.transaction():
        if auth_user_id is None:
            if await conn.fetchval("select to_regclass('auth.users')") is None:
                raise NotFound("auth.users is not readable here: give the user id with --auth-user.")
            found = await conn.fetchval("select id::text from auth.users where lower(email) = $1", email)
            if found is None:
                raise NotFound(
                    f"There is no Supabase Auth user {email}. Create it first (dashboard: "
                    "Authentication > Users > Add user)."
                )
            auth_user_id = str(found)
        staff_id = await conn.fetchval("select id from backroom.staff where email = $1", email)
        created = staff_id is None
        if created:
            if role is None:
                raise NotFound(f"There is no staff member {email}: give --role (and --name) to create one.")
            staff_id = await conn.fetchval(
                "insert into backroom.staff (email, display_name, role, auth_user_id)"
                " values ($1, $2, $3, $4::uuid) returning id",
                email,
                (name or email).strip(),
                role,
                auth_user_id,
            )
        else:
            await conn.execute(
                "update backroom.staff set auth_user_id = $2::uuid,"
                " role = coalesce($3, role), display_name = coalesce($4, display_name)"
                " where id = $1",
                staff_id,
                auth_user_id,
                role,
                name,
            )
        await conn.execute(
            "insert into backroom.audit_log (staff_id, operation, entity, entity_id, after)"
            " values (null, 'staff_linked', 'staff', $1, jsonb_build_object('email', $2::text,"
            " 'auth_user_id', $3::text, 'created', $4::boolean))",
            staff_id,
            email,
            auth_user_id,
            created,
        )
    return Linked(email=email, auth_user_id=auth_user_id, created=created)
