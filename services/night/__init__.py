"""The club's night beside the tables: guest lists, the headcount, the ban list,
spend against the minimum and alerts (migration 0019)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from services.floor import utc_now
from services.night.alerts import AlertService
from services.night.bans import BanService
from services.night.guest_lists import GuestListService, ListArrivals
from services.night.headcount import HeadcountService, HourPeak
from services.night.ops import NightOps
from services.night.spend import FloorSpend, SpendService
from services.store.db import Database


@dataclass(frozen=True, slots=True)
class NightReport:
    """The night's figures beside the tables, for the night report."""

    lists: list[ListArrivals]
    capacity: int | None
    peak: int
    peak_at: datetime | None
    hours: list[HourPeak]
    floors: list[FloorSpend]


class NightServices:
    """One of each, sharing one runner."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utc_now) -> None:
        self.ops = NightOps(db, clock)
        self.lists = GuestListService(self.ops)
        self.headcount = HeadcountService(self.ops)
        self.bans = BanService(self.ops)
        self.spend = SpendService(self.ops)
        self.alerts = AlertService(self.ops)

    async def report(self, night_id: int) -> NightReport:
        """Each list's arrivals, the peak and the hour it came, spend against minimums per floor."""
        count = await self.headcount.current(night_id)
        return NightReport(
            lists=await self.lists.arrivals_by_list(night_id),
            capacity=count.capacity,
            peak=count.peak,
            peak_at=count.peak_at,
            hours=await self.headcount.by_hour(night_id),
            floors=await self.spend.night_totals(night_id),
        )
