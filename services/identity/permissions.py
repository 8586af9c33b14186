"""Who may do what. Checked here for a clear message before anything is
tried; Row Level Security checks again in Postgres."""

from __future__ import annotations

from enum import StrEnum

from services.errors import NotAllowed
from services.store.db import Actor


class Role(StrEnum):
    DOOR = "door"
    MANAGER = "manager"
    ADMIN = "admin"
    SUPPORT = "support"
    PROMOTER = "promoter"


DOOR_OPERATIONS = frozenset({"check_in", "seat_walk_in", "no_show", "correct_arrivals", "reverse_no_show"})
MANAGER_OPERATIONS = DOOR_OPERATIONS | {
    "create",
    "hold",
    "renew_hold",
    "release_hold",
    "confirm",
    "move",
    "cancel",
    "complete",
    "waitlist_add",
    "waitlist_offer",
    "waitlist_book",
    "waitlist_leave",
    "open_night",
    "reverse_completion",
    "reopen",
}

# The night beside the tables (services/night).
NIGHT_DOOR_OPERATIONS = frozenset({"guest_list_check_in", "door_count", "spend_record", "alert_dismiss"})
NIGHT_MANAGER_OPERATIONS = NIGHT_DOOR_OPERATIONS | {
    "guest_list_create",
    "guest_list_change",
    "guest_list_add",
    "guest_list_remove",
    "ban_add",
    "ban_lift",
    "spend_close_out",
    "alert_send",
    "alert_clear",
    "override",
}
PROMOTER_OPERATIONS = frozenset({"guest_list_add", "guest_list_remove", "alert_dismiss"})

ALLOWED: dict[Role, frozenset[str]] = {
    Role.DOOR: DOOR_OPERATIONS | NIGHT_DOOR_OPERATIONS,
    Role.MANAGER: frozenset(MANAGER_OPERATIONS | NIGHT_MANAGER_OPERATIONS),
    Role.ADMIN: frozenset(MANAGER_OPERATIONS | NIGHT_MANAGER_OPERATIONS | {"manage_staff"}),
    Role.SUPPORT: frozenset({"alert_dismiss"}),
    Role.PROMOTER: PROMOTER_OPERATIONS,
}

WORDS = {
    "check_in": "check guests in",
    "seat_walk_in": "seat walk-ins",
    "no_show": "mark no-shows",
    "create": "create bookings",
    "hold": "hold tables",
    "renew_hold": "hold tables",
    "release_hold": "release holds",
    "confirm": "confirm bookings",
    "move": "move bookings",
    "cancel": "cancel bookings",
    "complete": "complete bookings",
    "waitlist_add": "use the waitlist",
    "waitlist_offer": "use the waitlist",
    "waitlist_book": "use the waitlist",
    "waitlist_leave": "use the waitlist",
    "manage_staff": "manage staff accounts",
    "open_night": "open nights",
    "correct_arrivals": "correct arrival counts",
    "reverse_no_show": "reverse no-shows",
    "reverse_completion": "reverse completions",
    "reopen": "reopen cancelled bookings",
    "guest_list_create": "make guest lists",
    "guest_list_change": "change guest lists",
    "guest_list_add": "add names to guest lists",
    "guest_list_remove": "remove names from guest lists",
    "guest_list_check_in": "check guest list names in",
    "door_count": "count people in and out",
    "ban_add": "add bans",
    "ban_lift": "lift bans",
    "spend_record": "record spend",
    "spend_close_out": "close out a table's spend",
    "alert_send": "send alerts",
    "alert_clear": "clear alerts",
    "alert_dismiss": "dismiss alerts",
    "override": "override the capacity or a ban",
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
