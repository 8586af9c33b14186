"""The holds of the staff member at the floor, watched so that their end is said, not silent.

The floor keeps a watch for each of this staff member's holds on the night it
shows. `follow_holds` brings the watches up to date with a new read, and
`due_holds` (once a second) finds the holds about to lapse, to warn of once,
and those that have lapsed. A hold said to have lapsed is remembered: a read
made before the database sweeps it away still has it, and it must not be
watched (and said) again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.models import Hold
from widgets.display import seconds_left

# A hold lasts about 30 s; while its booking form is open it is renewed well before that.
HOLD_RENEW_SECONDS = 10
# A hold of yours this close to lapsing (and not being renewed) says so, once.
HOLD_WARN_SECONDS = 10


@dataclass(slots=True)
class HoldWatch:
    """A hold of this staff member's, watched so that its end is said, not silent."""

    table: int  # the table's number
    expires_at: datetime
    warned: bool = False


def follow_holds(
    watched: dict[int, HoldWatch], lapsed: set[int], mine: Iterable[tuple[Hold, int]], now: datetime
) -> list[HoldWatch]:
    """Watch each of `mine` (a hold, its table's number) that is not watched yet; the holds
    gone from a read because their time ran out are returned, to be said (a hold booked or
    let go is not)."""
    seen = set()
    for hold, table in mine:
        seen.add(hold.id)
        watch = watched.get(hold.id)
        if watch is None:
            if hold.id in lapsed:
                continue
            watched[hold.id] = HoldWatch(table, hold.expires_at)
        elif watch.expires_at != hold.expires_at:
            watch.expires_at = hold.expires_at
            watch.warned = watch.warned and seconds_left(hold.expires_at, now) <= HOLD_WARN_SECONDS
    gone = []
    for hold_id in [h for h in watched if h not in seen]:
        watch = watched.pop(hold_id)
        if watch.expires_at <= now + timedelta(seconds=1):
            lapsed.add(hold_id)
            gone.append(watch)
    return gone


def due_holds(watched: dict[int, HoldWatch], lapsed: set[int], now: datetime) -> list[tuple[HoldWatch, bool]]:
    """The watches with something to say now, in order, each with whether it has lapsed
    (True: no longer watched) or is about to (False: warned of, once)."""
    due = []
    for hold_id, watch in list(watched.items()):
        left = seconds_left(watch.expires_at, now)
        if left <= 0:
            del watched[hold_id]
            lapsed.add(hold_id)
            due.append((watch, True))
        elif left <= HOLD_WARN_SECONDS and not watch.warned:
            watch.warned = True
            due.append((watch, False))
    return due
