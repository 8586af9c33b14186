"""The night's operations (migration 0019) in the staff's words, for the audit list."""

from __future__ import annotations

NIGHT_OPERATION_WORDS: dict[str, str] = {
    "guest_list_create": "guest list made",
    "guest_list_change": "guest list changed",
    "guest_list_add": "added to a guest list",
    "guest_list_remove": "removed from a guest list",
    "guest_list_check_in": "guest list name checked in",
    "door_count": "counted at the door",
    "ban_add": "ban added",
    "ban_lift": "ban lifted",
    "spend_record": "spend recorded",
    "spend_close_out": "spend closed out",
    "alert_send": "alert sent",
    "alert_dismiss": "alert dismissed",
    "alert_clear": "alert cleared",
}
