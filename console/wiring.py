"""Builds the services a console needs and hands them to the App.

Without Supabase: the console's own staff accounts (`IdentityService`), the
live feed over LISTEN/NOTIFY and presence in `backroom.presence`, all on the
console's database. With a Supabase project (`open_services(...,
supabase=config)`, or `use_supabase` on services already open): staff sign in
through Supabase Auth, and the live feed and presence go over Supabase
Realtime with the signed-in staff member's access token. The database is the
same either way. `supabase` is imported only in the second case.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from console.settings import Settings
from services.bookings import BookingService
from services.floor import FloorService, utc_now
from services.identity.accounts import IdentityService, end_session, lock_session
from services.identity.sign_in import SignInBackend
from services.live.feed import ListenTransport, Transport
from services.live.presence import PostgresPresence, Presence, PresenceEntry
from services.store.db import Actor, Database
from services.waiting import within

if TYPE_CHECKING:
    from services.identity.secrets import SecretStore
    from services.nights import NightService
    from services.reports import ReportService
    from services.supabase.auth import SupabaseAuth
    from services.supabase.config import SupabaseConfig

log = logging.getLogger(__name__)

PresenceFactory = Callable[[Actor, Callable[[tuple[PresenceEntry, ...]], None]], Presence]

# How long a console waits, on its way out, for Supabase to end its session.
SIGN_OUT_SECONDS = 5.0


@dataclass
class Services:
    """Everything the screens may call. A test builds one on its own database."""

    db: Database
    floor: FloorService
    bookings: BookingService
    actor: Actor = field(default_factory=Actor)
    identity: SignInBackend | None = None
    """Who checks sign-ins and fresh codes; None: nobody signs in (a script, a test)."""
    clock: Callable[[], datetime] = utc_now
    transport_factory: Callable[[], Transport] | None = field(default=None)
    presence_factory: PresenceFactory | None = field(default=None)
    supabase: SupabaseAuth | None = None
    """The Supabase Auth client when staff sign in through Supabase."""
    live_after_sign_in: bool = False
    """The live feed and presence need a signed-in staff member (Supabase Realtime's
    private channels): start them at the first sign-in, not before."""

    def __post_init__(self) -> None:
        # Reads present the signed-in staff member's session too: without one, Postgres shows nothing.
        self.db.acting = lambda: self.actor

    # Reports and nights serve screens other than the floor: built (and imported) when first used.

    @cached_property
    def reports(self) -> ReportService:
        from services.reports import ReportService

        return ReportService(self.db)

    @cached_property
    def nights(self) -> NightService:
        from services.nights import NightService

        return NightService(self.db)

    def transport(self) -> Transport:
        if self.transport_factory is not None:
            return self.transport_factory()
        return ListenTransport(self.db.listener_connection)

    def presence(self, on_change: Callable[[tuple[PresenceEntry, ...]], None]) -> Presence:
        """This console's presence, announcing `actor`; `on_change` gets the whole roster."""
        if self.presence_factory is not None:
            return self.presence_factory(self.actor, on_change)
        return PostgresPresence(self.db.listener_connection, self.actor, on_change=on_change)

    def report_folder(self) -> Path:
        """Where night reports go when a screen is given no folder: `reports/` in the data directory."""
        # Only the folders: a setting of something else cannot stand in the way of a report.
        folders = {k: v for k, v in os.environ.items() if k in ("BACKROOM_DATA_DIR", "BACKROOM_CONFIG_DIR")}
        return Settings.from_env(folders).data_dir / "reports"

    async def lock(self, actor: Actor) -> None:
        """Lock `actor`'s session in Postgres: it reads, and changes nothing, until a code opens it."""
        await lock_session(self.db, actor)

    async def end(self, actor: Actor, why: str) -> None:
        """End `actor`'s session in Postgres for good; its token opens nothing any more."""
        await end_session(self.db, actor, why)

    async def close(self) -> None:
        """Leave no session behind: end the database's and Supabase's, then close the database."""
        try:
            if self.actor.session:
                leaving, self.actor = self.actor, Actor()
                try:
                    await within(self.end(leaving, "closed"), SIGN_OUT_SECONDS)
                except Exception as err:
                    # It expires on its own; the token is gone with this process.
                    log.info("ending the session on close failed: %s", type(err).__name__)
            if self.supabase is not None:
                auth, self.supabase = self.supabase, None
                try:
                    await within(auth.sign_out(), SIGN_OUT_SECONDS)
                except Exception as err:
                    # The server keeps the session until it expires; here it is gone.
                    log.info("Supabase sign-out on close failed: %s", type(err).__name__)
                await auth.close()
        finally:
            await self.db.close()


def use_supabase(
    services: Services,
    config: SupabaseConfig,
    *,
    auth: SupabaseAuth | None = None,
    store: SecretStore | None = None,
) -> SupabaseAuth:
    """Sign staff in through Supabase Auth and follow Supabase Realtime of `config`'s project.

    Postgres turns the signed-in staff member's access token into a session of the
    console's database (`backroom.supabase_session`, migration 0011) and takes a fresh
    code's token as that session's step-up or unlock (`backroom.supabase_confirm`).
    `auth` replaces the Auth client (its own project's address), e.g. to reach a
    stand-in of Supabase Auth.
    """
    from services.supabase.auth import DatabaseSessions, SupabaseAuth
    from services.supabase.realtime import SupabasePresence, SupabaseTransport

    if auth is None:
        auth = SupabaseAuth(config, DatabaseSessions(services.db), store)
    signed_in = auth

    def presence(actor: Actor, on_change: Callable[[tuple[PresenceEntry, ...]], None]) -> Presence:
        return SupabasePresence(config, actor, access_token=signed_in.access_token, on_change=on_change)

    services.identity = auth
    services.supabase = auth
    services.transport_factory = lambda: SupabaseTransport(config, signed_in.access_token)
    services.presence_factory = presence
    services.live_after_sign_in = True
    return auth


async def supabase_ready(db: Database) -> bool:
    """Whether the database can sign Supabase users in: it has `backroom.supabase_session`
    (migration 0011), which the console may call, and staff linked to Supabase users
    (`backroom.staff.auth_user_id`, migration 0006 on a Supabase project). Whether the
    project's JWT secret is stored only the owner can see; `backroom supabase enable`
    stores it, and a sign-in without it says so."""
    async with db.transaction(Actor(), readonly=True) as conn:
        found = await conn.fetchval(
            "select coalesce(has_function_privilege("
            "           to_regprocedure('backroom.supabase_session(text)')::oid, 'execute'), false)"
            " and exists (select from pg_attribute where attrelid = to_regclass('backroom.staff')"
            "             and attname = 'auth_user_id' and not attisdropped)"
        )
    return bool(found)


async def open_services(
    dsn: str,
    *,
    clock: Callable[[], datetime] = utc_now,
    pool_size: int = 5,
    actor: Actor | None = None,
    own_accounts: bool = False,
    supabase: SupabaseConfig | None = None,
    store: SecretStore | None = None,
) -> Services:
    """The console's services on `dsn`: with `supabase`, signing in through that project's
    Auth and following its Realtime; else with `own_accounts`, the console's own accounts
    (checked by Postgres); with neither, nobody signs in and `actor` is who acts.

    Given the owner's address, the console connects as its own login instead (migration 0010):
    nothing it does can reach the owner."""
    from services.identity.console_login import login_of, with_login

    db = Database(dsn, max_size=pool_size)
    await db.open()
    try:
        async with db.connection() as conn:
            login = await login_of(conn)
        if login is not None:
            await db.close()
            db = Database(with_login(dsn, login), max_size=pool_size)
            await db.open()
        identity = IdentityService(db) if own_accounts and supabase is None else None
        services = Services(
            db=db,
            floor=FloorService(db, clock),
            bookings=BookingService(db, clock),
            actor=actor or Actor(),
            identity=identity,
            clock=clock,
        )
        if supabase is not None:
            if not await supabase_ready(db):
                from services.supabase.config import SupabaseConfigError

                raise SupabaseConfigError(
                    f"Supabase is configured ({supabase.host}), but this database does not know "
                    "Supabase users: run `backroom supabase enable` as the database's owner on the "
                    "project's database, or start the console with --no-supabase."
                )
            auth = use_supabase(services, supabase, store=store)
            await auth.warm_up()
    except BaseException:
        await db.close()
        raise
    return services
