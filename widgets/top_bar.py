"""The line at the top of every main screen: what it shows, who is signed in, the feed's state."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from services.db import Actor
from services.realtime import FeedStatus
from widgets.connection_badge import ConnectionBadge
from widgets.display import literal


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
        /* Who the console acts for: always in view, a long name cut short. */
        #staff {
            width: auto;
            max-width: 32;
            padding: 0 1;
            text-wrap: nowrap;
            text-overflow: ellipsis;
        }
    }
    """

    def __init__(self, title: str = "", *, id: str | None = "header") -> None:
        super().__init__(id=id)
        self._title = title

    def compose(self) -> ComposeResult:
        yield Static(literal(self._title), id="title")
        yield Static("", id="staff")
        yield ConnectionBadge(id="badge")

    @property
    def badge(self) -> ConnectionBadge:
        return self.query_one(ConnectionBadge)

    def set_title(self, title: str) -> None:
        self._title = title
        self.query_one("#title", Static).update(literal(title))

    def show_staff(self, actor: Actor) -> None:
        label = self.query_one("#staff", Static)
        signed_in = actor.staff_id is not None
        label.update(literal(f"{actor.name} ({actor.role})" if signed_in and actor.role else
                             actor.name if signed_in else ""))
        label.display = signed_in

    def show_status(self, status: FeedStatus) -> None:
        self.badge.status = status
