"""Who may do what. Checked here for a clear message before anything is
tried; Row Level Security checks again in Postgres."""

from __future__ import annotations

from enum import StrEnum

from services.db import Actor
from services.errors import NotAllowed


class Role(StrEnum):
    DOOR = "door"
    MANAGER = "manager"
    ADMIN = "admin"
    SUPPORT = "support"


DOOR_OPERATIONS = frozenset({"check_in", "seat_walk_in", "no_show", "correct_arrivals",
                             "reverse_no_show"})
MANAGER_OPERATIONS = DOOR_OPERATIONS | {
    "create", "hold", "renew_hold", "release_hold", "confirm", "move", "cancel", "complete",
    "waitlist_add", "waitlist_offer", "waitlist_book", "waitlist_leave", "open_night",
    "reverse_completion", "reopen",
}

ALLOWED: dict[Role, frozenset[str]] = {
    Role.DOOR: DOOR_OPERATIONS,
    Role.MANAGER: frozenset(MANAGER_OPERATIONS),
    Role.ADMIN: frozenset(MANAGER_OPERATIONS | {"manage_staff"}),
    Role.SUPPORT: frozenset(),
}

WORDS = {
    "check_in": "check guests in", "seat_walk_in": "seat walk-ins", "no_show": "mark no-shows",
    "create": "create bookings", "hold": "hold tables", "renew_hold": "hold tables",
    "release_hold": "release holds", "confirm": "confirm bookings", "move": "move bookings",
    "cancel": "cancel bookings", "complete": "complete bookings", "waitlist_add": "use the waitlist",
    "waitlist_offer": "use the waitlist", "waitlist_book": "use the waitlist",
    "waitlist_leave": "use the waitlist", "manage_staff": "manage staff accounts",
    "open_night": "open nights", "correct_arrivals": "correct arrival counts",
    "reverse_no_show": "reverse no-shows", "reverse_completion": "reverse completions",
    "reopen": "reopen cancelled bookings",
}


def may(role: Role | str | None, operation: str) -> bool:
    if role is None:
        return False
    return operation in ALLOWED.get(Role(role), frozenset())


def require(actor: Actor, operation: str) -> None:
    if actor.role is None:
        # Scripts and the CLI act as the system, outside the staff roles.
        return
    if not may(actor.role, operation):
        raise NotAllowed(
            f"{actor.name} is signed in as {actor.role} staff, who may not "
            f"{WORDS.get(operation, operation.replace('_', ' '))}."
        )
