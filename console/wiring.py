"""Builds the services a console needs and hands them to the App."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from services.bookings import BookingService
from services.db import Actor, Database
from services.floor import FloorService, utc_now
from services.identity import IdentityService, SecretBox
from services.realtime import ListenTransport, Transport


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

    def transport(self) -> Transport:
        if self.transport_factory is not None:
            return self.transport_factory()
        return ListenTransport(self.db.listener_connection)


async def open_services(dsn: str, *, clock: Callable[[], datetime] = utc_now,
                        pool_size: int = 5, actor: Actor | None = None,
                        totp_key: str | None = None) -> Services:
    db = Database(dsn, max_size=pool_size)
    await db.open()
    identity = IdentityService(db, SecretBox(totp_key)) if totp_key else None
    return Services(db=db, floor=FloorService(db, clock), bookings=BookingService(db, clock),
                    actor=actor or Actor(), identity=identity, clock=clock)
