"""The forms that make a booking, edit or move one, seat a walk-in and run the waitlist."""
