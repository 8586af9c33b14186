"""The booking service the console uses: every part of it in one object."""

from __future__ import annotations

from services.bookings.holds import HoldOperations
from services.bookings.undo import UndoOperations
from services.bookings.waitlist import WaitlistOperations


class BookingService(UndoOperations, WaitlistOperations, HoldOperations):
    """Bookings, their undo, holds and the waitlist, each one operation at a time."""
