"""Builds the services a console needs and hands them to the App."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from services.bookings import BookingService
from services.db import Actor, Database
from services.floor import FloorService, utc_now
from services.identity import IdentityService, SecretBox
from services.presence import PostgresPresence, Presence, PresenceEntry
from services.realtime import ListenTransport, Transport
from services.reports import ReportService

PresenceFactory = Callable[[Actor, Callable[[tuple[PresenceEntry, ...]], None]], Presence]


@dataclass
class Services:
    """Everything the screens may call. A test builds one on its own database."""

    db: Database
    floor: FloorService
    bookings: BookingService
    actor: Actor = field(default_factory=Actor)
    identity: IdentityService | None = None
    clock: Callable[[], datetime] = utc_now
    transport_factory: Callable[[], Transport] | None = field(default=None)
    presence_factory: PresenceFactory | None = field(default=None)
    reports: ReportService = field(init=False)

    def __post_init__(self) -> None:
        self.reports = ReportService(self.db)

    def transport(self) -> Transport:
        if self.transport_factory is not None:
            return self.transport_factory()
        return ListenTransport(self.db.listener_connection)

    def presence(self, on_change: Callable[[tuple[PresenceEntry, ...]], None]) -> Presence:
        """This console's presence, announcing `actor`; `on_change` gets the whole roster."""
        if self.presence_factory is not None:
            return self.presence_factory(self.actor, on_change)
        return PostgresPresence(self.db.listener_connection, self.actor, on_change=on_change)


async def open_services(dsn: str, *, clock: Callable[[], datetime] = utc_now,
                        pool_size: int = 5, actor: Actor | None = None,
                        totp_key: str | None = None) -> Services:
    db = Database(dsn, max_size=pool_size)
    await db.open()
    identity = IdentityService(db, SecretBox(totp_key)) if totp_key else None
    return Services(db=db, floor=FloorService(db, clock), bookings=BookingService(db, clock),
                    actor=actor or Actor(), identity=identity, clock=clock)
