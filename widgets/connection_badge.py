"""The state of the live feed, in words: Live, Connecting, Reconnecting (attempt n), Offline.

When the feed is not Live the badge also says how old the shown data is, so
staff know how far to trust the floor.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget

from services.realtime import FeedState, FeedStatus

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
    """Shows a `FeedStatus`; `data_at` is the monotonic time the shown data was read."""

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
    data_at: reactive[float | None] = reactive(None, layout=True)

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
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
        symbol, word = _WORDS[self.status.state]
        text = f"{symbol} {word}"
        if self.status.state is FeedState.RECONNECTING and self.status.attempt:
            text += f" (attempt {self.status.attempt})"
        if self.status.state is not FeedState.LIVE:
            if self.data_at is None:
                text += " · no data yet"
            else:
                text += f" · data {age(time.monotonic() - self.data_at)} old"
        return Text(text)
