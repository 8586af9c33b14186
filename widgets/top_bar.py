"""The line at the top of every main screen: what it shows, who is signed in, the feed's state.

It is one line at any width. When everything does not fit, the least needed
parts go first: the staff member's role, then the badge's detail (the attempt,
the next try), then the title's long form (a screen may give a short one:
"Fri 20 Nov" for "The Backroom · Fri 20 Nov 2026"), then the outage's age.
Only then is anything cut, the title first.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import Static

from services.live.feed import FeedState, FeedStatus
from services.store.db import Actor
from widgets.connection_badge import ConnectionBadge, badge_words
from widgets.display import literal

# The staff member's name is cut beyond this many columns.
STAFF_WIDTH = 32


class TopBar(Horizontal):
    """A title on the left, the staff member and the connection badge on the right."""

    DEFAULT_CSS = """
    TopBar {
        height: 1;
        background: $panel;
        #title {
            width: 1fr;
            padding: 0 1;
            text-style: bold;
            text-wrap: nowrap;
            text-overflow: ellipsis;
        }
        /* Who the console acts for: always in view, a long name cut short if need be. */
        #staff {
            width: auto;
            padding: 0 1;
            text-wrap: nowrap;
            text-overflow: ellipsis;
        }
    }
    """

    def __init__(self, title: str = "", *, short: str = "", id: str | None = "header") -> None:
        super().__init__(id=id)
        self._title = title
        self._short = short
        self._staff_name = ""
        self._staff_role = ""
        self._ticker: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(literal(self._title), id="title")
        yield Static("", id="staff")
        yield ConnectionBadge(id="badge")

    @property
    def badge(self) -> ConnectionBadge:
        return self.query_one(ConnectionBadge)

    @property
    def shown(self) -> str:
        """The title, staff member and badge as shown now (for tests and the health view)."""
        parts = [
            str(self.query_one("#title", Static).content),
            str(self.query_one("#staff", Static).content),
            badge_words(self.badge.status, brevity=self.badge.brevity),
        ]
        return "  ".join(part for part in parts if part)

    def set_title(self, title: str, *, short: str = "") -> None:
        """The title; `short`, if given, is shown instead when the line is crowded."""
        self._title, self._short = title, short
        self.fit()

    def show_staff(self, actor: Actor) -> None:
        signed_in = actor.staff_id is not None
        self._staff_name = (actor.name or "") if signed_in else ""
        self._staff_role = (actor.role or "") if signed_in else ""
        self.query_one("#staff", Static).display = signed_in
        self.fit()

    def show_status(self, status: FeedStatus) -> None:
        self.badge.status = status
        # An outage's age grows, and with it the badge: fit again as it does.
        if status.state is not FeedState.LIVE and self._ticker is None:
            self._ticker = self.set_interval(1, self.fit)
        elif status.state is FeedState.LIVE and self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        self.fit()

    def on_resize(self) -> None:
        self.fit()

    def fit(self) -> None:
        """Choose the longest words that keep the line to one line at this width."""
        if not self.is_mounted:
            return
        width = self.size.width or 10_000  # before the first layout: the full words
        status = self.badge.status
        titles = [self._title] + ([self._short] if self._short else [])
        name, role = self._staff_name, self._staff_role
        staffs = [f"{name} ({role})" if name and role else name, name]
        # From the fullest to the tersest, dropping the least needed part at each step.
        steps = [
            (titles[0], staffs[0], 0),
            (titles[0], staffs[1], 0),
            (titles[0], staffs[1], 1),
            (titles[-1], staffs[1], 1),
            (titles[-1], staffs[1], 2),
        ]
        fitted = False
        for title, staff, brevity in steps:
            need = (
                cell_len(title)
                + 2
                + (cell_len(staff) + 2 if staff else 0)
                + cell_len(badge_words(status, brevity=brevity))
                + 2
            )
            if need <= width:
                fitted = True
                break
        label = self.query_one("#staff", Static)
        # A name that fits is shown whole; one that does not is cut at STAFF_WIDTH.
        label.styles.max_width = None if fitted else STAFF_WIDTH
        self.query_one("#title", Static).update(literal(title))
        label.update(literal(staff))
        self.badge.brevity = brevity
