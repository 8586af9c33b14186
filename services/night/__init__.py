"""The club's night beside the tables: guest lists, the headcount, the ban list,
spend against the minimum and alerts (migration 0019)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.db import Database
from services.floor import utc_now
from services.night.alerts import AlertService
from services.night.bans import BanService
from services.night.guest_lists import GuestListService
from services.night.headcount import HeadcountService
from services.night.ops import NightOps
from services.night.spend import SpendService


class NightServices:
    """One of each, sharing one runner."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utc_now) -> None:
        self.ops = NightOps(db, clock)
        self.lists = GuestListService(self.ops)
        self.headcount = HeadcountService(self.ops)
        self.bans = BanService(self.ops)
        self.spend = SpendService(self.ops)
        self.alerts = AlertService(self.ops)
