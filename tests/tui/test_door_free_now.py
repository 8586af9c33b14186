"""The door's "Free now" never lists a table with a party in, even one that came early."""

from __future__ import annotations

from datetime import timedelta

from console.app import BackroomApp
from console.wiring import Services
from services.bookings import BookingService, GuestDetails
from services.models import Night
from tests.tui.door_helpers import open_door
from tests.tui.helpers import SMALL, screen_text, until


async def test_a_party_in_early_takes_its_table_off_free_now(services: Services, night: Night) -> None:
    bookings = BookingService(services.db, services.clock)
    # Table 12 is free now; a party booked for 01:00 turns up at 23:30 and is checked in.
    later = await bookings.create(
        services.actor,
        night_id=night.id,
        table_ids=[12],
        party_size=4,
        starts_at=night.starts_at + timedelta(hours=3),
        guest=GuestDetails("Early Party"),
    )
    later = await bookings.confirm(services.actor, later.id, later.version)
    await bookings.check_in(services.actor, later.id, later.version, 4)
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        await open_door(pilot)
        await until(pilot, lambda: "Free now:" in screen_text(pilot.app), what="free now shown")
        line = next(li for li in screen_text(pilot.app).splitlines() if "Free now:" in li)
        assert "12 (4-10)" not in line, line
        assert "11 (2-6)" in line, line


async def test_free_now_names_every_table_on_a_narrow_terminal(services: Services) -> None:
    async with BackroomApp(services).run_test(size=(50, 24)) as pilot:
        await open_door(pilot)
        await until(pilot, lambda: "Free now:" in screen_text(pilot.app), what="free now shown")
        lines = screen_text(pilot.app).splitlines()
        start = next(n for n, li in enumerate(lines) if "Free now:" in li)
        shown = " ".join(" ".join(lines[start : start + 2]).split())
        assert "…" not in lines[start], lines[start]
        for table in ("6 (2-6)", "7 (4-8)", "10 (2-4)", "11 (2-6)", "12 (4-10)"):
            assert table in shown, shown
