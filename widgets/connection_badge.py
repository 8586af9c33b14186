"""The state of the live feed, in words: Live, Connecting, Reconnecting (attempt n), Offline.

When the feed is down the badge says how long it has been down, counted from
when the outage began (what is shown is as it was then), and whether the
console is trying again: "✕ Offline 3m00s · next try in 4s", or "not
reconnecting" once the feed has stopped. `outage_words` is the same for a
screen's own stale marker.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static

from services.live.feed import FeedState, FeedStatus

_WORDS: dict[FeedState, tuple[str, str]] = {
    FeedState.CONNECTING: ("◌", "Connecting"),
    FeedState.LIVE: ("●", "Live"),
    FeedState.RECONNECTING: ("↻", "Reconnecting"),
    FeedState.OFFLINE: ("✕", "Offline"),
}


def age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class ConnectionBadge(Widget):
    """Shows a `FeedStatus`. `data_at` is the monotonic time the shown data was read (kept
    for screens that set it; the words count from when the outage began, not from it)."""

    DEFAULT_CSS = """
    ConnectionBadge {
        width: auto;
        height: 1;
        padding: 0 1;
        text-style: bold;
        &.-connecting { background: $warning 30%; }
        &.-live { background: $success 35%; }
        &.-reconnecting { background: $warning 50%; }
        &.-offline { background: $error 60%; }
    }
    """

    status: reactive[FeedStatus] = reactive(lambda: FeedStatus(FeedState.CONNECTING), layout=True)
    # How terse the words are (see `badge_words`): a crowded line asks for fewer.
    brevity: reactive[int] = reactive(0, layout=True)
    data_at: reactive[float | None] = reactive(None, layout=True)

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._ticker: Timer | None = None

    def on_mount(self) -> None:
        self.watch_status(self.status)

    def watch_status(self, status: FeedStatus) -> None:
        for state in FeedState:
            self.set_class(state is status.state, f"-{state.value}")
        # Only a badge that shows an age needs to redraw as time passes.
        if status.state is not FeedState.LIVE and self._ticker is None:
            self._ticker = self.set_interval(1, self._tick)
        elif status.state is FeedState.LIVE and self._ticker is not None:
            self._ticker.stop()
            self._ticker = None

    def _tick(self) -> None:
        self.refresh(layout=True)

    def render(self) -> Text:
        return Text(badge_words(self.status, brevity=self.brevity))


def outage_words(status: FeedStatus, now: float | None = None) -> str | None:
    """'offline 3m00s, next try in 4s' while the feed is down; None while it is Live
    (or still making its first connection, with nothing shown yet to doubt)."""
    if status.state is FeedState.LIVE:
        return None
    now = time.monotonic() if now is None else now
    parts = []
    if status.down_since is not None:
        parts.append(f"offline {age(now - status.down_since)}")
    elif status.state is FeedState.OFFLINE:
        parts.append("offline")
    if status.state is FeedState.OFFLINE:
        if status.retry_at is None and status.down_since is None:
            parts.append("not reconnecting")
        elif status.retry_at is None or status.retry_at <= now:
            parts.append("reconnecting now")
        else:
            parts.append(f"next try in {age(status.retry_at - now)}")
    return ", ".join(parts) if parts else None


def stale_words(status: FeedStatus, as_of: str, what: str = "list", now: float | None = None) -> str | None:
    """'Not live: list as of 22:14, offline 1m20s, reconnecting (attempt 3)' while the feed
    is down; None while it is Live (or making its first connection)."""
    outage = outage_words(status, now)
    if outage is None:
        return None
    words = f"Not live: {what} as of {as_of}, {outage}" if as_of else f"Not live: {outage}"
    if status.state is FeedState.RECONNECTING:
        words += f", reconnecting (attempt {status.attempt})" if status.attempt else ", reconnecting"
    return words


class StaleNote(Static):
    """A line over a list the feed no longer keeps current, in words (so it shows without
    colour too): 'Not live: list as of 22:14, offline 1m20s, reconnecting (attempt 3)'.
    Hidden while the feed is Live; the age counts on each second while it is not."""

    DEFAULT_CSS = """
    StaleNote {
        display: none;
        height: auto;
        padding: 0 1;
        text-style: bold reverse;
        &.-shown { display: block; }
    }
    """

    def __init__(self, what: str = "list", *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.what = what
        self._status = FeedStatus(FeedState.CONNECTING)
        self._as_of = ""
        self._ticker: Timer | None = None

    @property
    def words(self) -> str | None:
        return stale_words(self._status, self._as_of, self.what)

    def show(self, status: FeedStatus, as_of: str) -> None:
        """The feed's state, and the time (venue clock, HH:MM) what is shown was read."""
        self._status, self._as_of = status, as_of
        self._redraw()
        if self.words is not None and self._ticker is None:
            self._ticker = self.set_interval(1, self._redraw)
        elif self.words is None and self._ticker is not None:
            self._ticker.stop()
            self._ticker = None

    def _redraw(self) -> None:
        words = self.words
        self.set_class(words is not None, "-shown")
        self.update(Text(words or ""))


def badge_words(status: FeedStatus, now: float | None = None, *, brevity: int = 0) -> str:
    """'● Live', '↻ Reconnecting (attempt 2) · offline 12s', '✕ Offline 3m00s · next try in 4s'.

    With `brevity` 1 the attempt and the next try are left out ('↻ Reconnecting · 12s',
    '✕ Offline 3m00s'); with 2, the outage's age too ('↻ Reconnecting')."""
    symbol, word = _WORDS[status.state]
    text = f"{symbol} {word}"
    if brevity >= 2:
        return text
    if status.state in (FeedState.RECONNECTING, FeedState.CONNECTING) and status.attempt and not brevity:
        text += f" (attempt {status.attempt})"
    if status.state in (FeedState.LIVE, FeedState.CONNECTING) and status.down_since is None:
        return text
    now = time.monotonic() if now is None else now
    if status.down_since is not None and status.state is not FeedState.LIVE:
        how_long = age(now - status.down_since)
        if status.state is FeedState.OFFLINE:
            text += f" {how_long}"
        else:
            text += f" · {how_long}" if brevity else f" · offline {how_long}"
    if status.state is FeedState.OFFLINE and not brevity:
        if status.retry_at is None and status.down_since is None:
            text += " · not reconnecting"
        elif status.retry_at is None or status.retry_at <= now:
            text += " · reconnecting now"
        else:
            text += f" · next try in {age(status.retry_at - now)}"
    return text
