"""Who may do what. Checked here for a clear message before anything is
tried; Row Level Security checks again in Postgres."""

from __future__ import annotations

from services.errors import NotAllowed
from services.identity.roles import Operation as Operation
from services.identity.roles import Role as Role
from services.store.db import Actor

DOOR_OPERATIONS = frozenset(
    {
        Operation.CHECK_IN,
        Operation.SEAT_WALK_IN,
        Operation.NO_SHOW,
        Operation.CORRECT_ARRIVALS,
        Operation.REVERSE_NO_SHOW,
    }
)
MANAGER_OPERATIONS = DOOR_OPERATIONS | {
    Operation.CREATE,
    Operation.HOLD,
    Operation.RENEW_HOLD,
    Operation.RELEASE_HOLD,
    Operation.CONFIRM,
    Operation.MOVE,
    Operation.CANCEL,
    Operation.COMPLETE,
    Operation.WAITLIST_ADD,
    Operation.WAITLIST_OFFER,
    Operation.WAITLIST_BOOK,
    Operation.WAITLIST_LEAVE,
    Operation.OPEN_NIGHT,
    Operation.REVERSE_COMPLETION,
    Operation.REOPEN,
}

# The night beside the tables (services/night).
NIGHT_DOOR_OPERATIONS = frozenset(
    {Operation.GUEST_LIST_CHECK_IN, Operation.DOOR_COUNT, Operation.SPEND_RECORD, Operation.ALERT_DISMISS}
)
NIGHT_MANAGER_OPERATIONS = NIGHT_DOOR_OPERATIONS | {
    Operation.GUEST_LIST_CREATE,
    Operation.GUEST_LIST_CHANGE,
    Operation.GUEST_LIST_ADD,
    Operation.GUEST_LIST_REMOVE,
    Operation.BAN_ADD,
    Operation.BAN_LIFT,
    Operation.SPEND_CLOSE_OUT,
    Operation.ALERT_SEND,
    Operation.ALERT_CLEAR,
    Operation.OVERRIDE,
}
PROMOTER_OPERATIONS = frozenset(
    {Operation.GUEST_LIST_ADD, Operation.GUEST_LIST_REMOVE, Operation.ALERT_DISMISS}
)

ALLOWED: dict[Role, frozenset[Operation]] = {
    Role.DOOR: DOOR_OPERATIONS | NIGHT_DOOR_OPERATIONS,
    Role.MANAGER: frozenset(MANAGER_OPERATIONS | NIGHT_MANAGER_OPERATIONS),
    Role.ADMIN: frozenset(MANAGER_OPERATIONS | NIGHT_MANAGER_OPERATIONS | {Operation.MANAGE_STAFF}),
    Role.SUPPORT: frozenset({Operation.ALERT_DISMISS}),
    Role.PROMOTER: PROMOTER_OPERATIONS,
}

WORDS: dict[Operation, str] = {
    Operation.CHECK_IN: "check guests in",
    Operation.SEAT_WALK_IN: "seat walk-ins",
    Operation.NO_SHOW: "mark no-shows",
    Operation.CREATE: "create bookings",
    Operation.HOLD: "hold tables",
    Operation.RENEW_HOLD: "hold tables",
    Operation.RELEASE_HOLD: "release holds",
    Operation.CONFIRM: "confirm bookings",
    Operation.MOVE: "move bookings",
    Operation.CANCEL: "cancel bookings",
    Operation.COMPLETE: "complete bookings",
    Operation.WAITLIST_ADD: "use the waitlist",
    Operation.WAITLIST_OFFER: "use the waitlist",
    Operation.WAITLIST_BOOK: "use the waitlist",
    Operation.WAITLIST_LEAVE: "use the waitlist",
    Operation.MANAGE_STAFF: "manage staff accounts",
    Operation.OPEN_NIGHT: "open nights",
    Operation.CORRECT_ARRIVALS: "correct arrival counts",
    Operation.REVERSE_NO_SHOW: "reverse no-shows",
    Operation.REVERSE_COMPLETION: "reverse completions",
    Operation.REOPEN: "reopen cancelled bookings",
    Operation.GUEST_LIST_CREATE: "make guest lists",
    Operation.GUEST_LIST_CHANGE: "change guest lists",
    Operation.GUEST_LIST_ADD: "add names to guest lists",
    Operation.GUEST_LIST_REMOVE: "remove names from guest lists",
    Operation.GUEST_LIST_CHECK_IN: "check guest list names in",
    Operation.DOOR_COUNT: "count people in and out",
    Operation.BAN_ADD: "add bans",
    Operation.BAN_LIFT: "lift bans",
    Operation.SPEND_RECORD: "record spend",
    Operation.SPEND_CLOSE_OUT: "close out a table's spend",
    Operation.ALERT_SEND: "send alerts",
    Operation.ALERT_CLEAR: "clear alerts",
    Operation.ALERT_DISMISS: "dismiss alerts",
    Operation.OVERRIDE: "override the capacity or a ban",
}


def may(role: Role | None, operation: Operation) -> bool:
    if role is None:
        return False
    return operation in ALLOWED.get(Role(role), frozenset())


def require(actor: Actor, operation: Operation) -> None:
    if actor.role is None:
        # Scripts and the CLI act as the system, outside the staff roles.
        return
    if not may(actor.role, operation):
        raise NotAllowed(
            f"{actor.name} is signed in as {actor.role} staff, who may not "
            f"{WORDS.get(operation, operation.replace('_', ' '))}."
        )


# The jobs' screens that not every role may open (the others every role may).
SCREEN_ROLES: dict[str, frozenset[Role]] = {
    "support": frozenset({Role.SUPPORT, Role.MANAGER, Role.ADMIN}),
    "audit": frozenset({Role.SUPPORT, Role.MANAGER, Role.ADMIN}),
}


def may_open(role: Role | None, screen: str) -> bool:
    """Whether `role` may open the job's screen `screen`; the system (no role) opens all."""
    allowed = SCREEN_ROLES.get(screen)
    return role is None or allowed is None or role in allowed
