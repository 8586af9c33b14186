"""What the sign-in and lock screens share: a full, opaque screen with one box in the middle.

Nothing of the floor shows through, toasts included: a toast can name a guest,
and a covered console must not. Staff read the box without colour: its status
line says in words what went wrong, and a hint line lists the keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from services.errors import BookingError
from services.identity.accounts import SignInError
from services.store.db import DatabaseError
from widgets.display import literal

R = TypeVar("R")

WORKING = "Checking…"


class CoverScreen(Screen[R]):
    """A heading, the body of a subclass, a status line and a hint of keys, alone on screen."""

    DEFAULT_CSS = """
    CoverScreen {
        align: center middle;
        background: $background;
        /* A toast can name a guest: nothing of the floor shows on a cover. (The rack sets
           its own display, so the toasts themselves are hidden.) */
        & Toast { display: none; }
        & > .cover--box {
            width: 68;
            max-width: 100%;
            height: auto;
            max-height: 100%;
            border: thick $accent;
            border-title-style: bold;
            background: $surface;
            padding: 0 1;
        }
        & .cover--text { width: 1fr; height: auto; }
        & .cover--gap { height: 1; }
        & .cover--status { width: 1fr; height: auto; }
        & .cover--status.-error { color: $text-error; text-style: bold; }
        & .cover--hint { width: 1fr; height: auto; color: $text-muted; }
    }
    """

    BINDINGS = [
        Binding("down", "app.focus_next", "Next field", show=False, id="cover.next"),
        Binding("up", "app.focus_previous", "Previous field", show=False, id="cover.previous"),
    ]

    def __init__(
        self, heading: str, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.heading = heading

    def compose_body(self) -> Iterable[Widget]:
        return ()

    def hint(self) -> str:
        return ""

    def compose(self) -> ComposeResult:
        box = Vertical(classes="cover--box")
        box.border_title = self.heading
        with box:
            yield from self.compose_body()
            yield Static("", classes="cover--gap")
            yield Static("", classes="cover--status")
            yield Static(literal(self.hint()), classes="cover--hint")

    def say(self, text: str, *, error: bool = False) -> None:
        status = self.query_one(".cover--status", Static)
        # Plain text: a refusal or a note can carry a name or an email.
        status.update(literal(text))
        status.set_class(error, "-error")

    @property
    def status_text(self) -> str:
        return str(self.query_one(".cover--status", Static).content)


def trouble(err: Exception) -> str:
    """A sentence for a failure that is not a refusal: the database away, or a bug.

    An unknown error is named by its type only: its text could carry what was typed.
    """
    if isinstance(err, DatabaseError | BookingError | SignInError):
        return str(err)
    if isinstance(err, OSError | ConnectionError | TimeoutError):
        return "The database did not answer. Try again in a moment."
    return f"Something went wrong ({type(err).__name__}). Try again; if it goes on, tell a manager."
