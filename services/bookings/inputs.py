"""What staff type for a booking or the waitlist, and why it cannot be saved."""

from __future__ import annotations

from dataclasses import dataclass

from services.errors import InvalidInput
from services.guests import NAME_MOST, NOTES_MOST, REASON_MOST, email_problem, phone_problem, text_problem


@dataclass(frozen=True)
class GuestDetails:
    """Who a booking is for. With `guest_id` it is that guest on file, as they are;
    without, a new guest with these details."""

    name: str
    phone: str | None = None
    email: str | None = None
    notes: str = ""
    vip: bool = False
    guest_id: int | None = None


def guest_problem(guest: GuestDetails) -> str | None:
    """Why these details cannot be saved for a guest, in staff words; None if they can.
    A guest on file (`guest_id`) is taken as they are."""
    if guest.guest_id is not None:
        return None
    if not guest.name.strip():
        return "The guest needs a name."
    if problem := text_problem("The guest's name", guest.name.strip(), NAME_MOST):
        return problem
    if guest.phone and (problem := phone_problem(guest.phone)):
        return f"The phone number is not right ({problem})."
    if guest.email and (problem := email_problem(guest.email)):
        return f"The email address is not right ({problem})."
    return text_problem("The guest's notes", guest.notes.strip(), NOTES_MOST, plural=True, one_line=False)


def notes_problem(notes: str) -> str | None:
    """Why these booking notes cannot be saved (as typed, before trimming); None if they can."""
    return text_problem("Notes", notes.strip(), NOTES_MOST, plural=True, one_line=False)


def reason_problem(reason: str, *, what: str = "A cancellation") -> str | None:
    """Why this reason (for a cancellation, or for `what`) cannot be saved; None if it can."""
    if not reason.strip():
        return f"{what} needs a reason."
    return text_problem("The reason", reason.strip(), REASON_MOST, one_line=False)


DEPOSIT_OUTCOMES = ("kept", "refunded")
"""What becomes of a paid deposit when its booking is cancelled."""


def guest_fields(guest: GuestDetails) -> tuple[str, str | None, str | None]:
    """Name, phone and email as they are saved: trimmed, and an empty one is none."""
    return (guest.name.strip(), (guest.phone or "").strip() or None, (guest.email or "").strip() or None)


def refuse(*problems: str | None) -> None:
    for problem in problems:
        if problem:
            raise InvalidInput(problem)
