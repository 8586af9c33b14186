"""The staff roles, and the operations whose rights they are given
(services/identity/permissions.py says who may do which)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    DOOR = "door"
    MANAGER = "manager"
    ADMIN = "admin"
    SUPPORT = "support"
    PROMOTER = "promoter"


class Operation(StrEnum):
    """What a role may be allowed to do; the value is the operation's name in the
    database's audit and refusal logs."""

    # Bookings, holds and the waitlist (services/bookings).
    CHECK_IN = "check_in"
    SEAT_WALK_IN = "seat_walk_in"
    NO_SHOW = "no_show"
    CORRECT_ARRIVALS = "correct_arrivals"
    REVERSE_NO_SHOW = "reverse_no_show"
    CREATE = "create"
    HOLD = "hold"
    RENEW_HOLD = "renew_hold"
    RELEASE_HOLD = "release_hold"
    CONFIRM = "confirm"
    MOVE = "move"
    CANCEL = "cancel"
    COMPLETE = "complete"
    WAITLIST_ADD = "waitlist_add"
    WAITLIST_OFFER = "waitlist_offer"
    WAITLIST_BOOK = "waitlist_book"
    WAITLIST_LEAVE = "waitlist_leave"
    OPEN_NIGHT = "open_night"
    REVERSE_COMPLETION = "reverse_completion"
    REOPEN = "reopen"
    # Changing a booking where it is; its right is the right to move it (AMEND_RIGHT).
    AMEND = "amend"
    MANAGE_STAFF = "manage_staff"
    # The night beside the tables (services/night).
    GUEST_LIST_CHECK_IN = "guest_list_check_in"
    DOOR_COUNT = "door_count"
    SPEND_RECORD = "spend_record"
    ALERT_DISMISS = "alert_dismiss"
    GUEST_LIST_CREATE = "guest_list_create"
    GUEST_LIST_CHANGE = "guest_list_change"
    GUEST_LIST_ADD = "guest_list_add"
    GUEST_LIST_REMOVE = "guest_list_remove"
    BAN_ADD = "ban_add"
    BAN_LIFT = "ban_lift"
    SPEND_CLOSE_OUT = "spend_close_out"
    ALERT_SEND = "alert_send"
    ALERT_CLEAR = "alert_clear"
    OVERRIDE = "override"
