"""The dialog a manager opens a night with: a date, checked as a date before Enter acts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

from textual.widget import Widget
from textual.widgets import Input, Static

from screens.dialogs.ask import Dialog
from widgets.display import literal


class OpenNightDialog(Dialog[date]):
    """A date (YYYY-MM-DD), prefilled with the first one that has no night yet."""

    def __init__(
        self, suggested: date, *, on_answer: Callable[[date, Dialog[date]], None] | None = None
    ) -> None:
        super().__init__("Open a night", on_answer=on_answer)
        self.suggested = suggested

    def compose_body(self) -> Iterable[Widget]:
        yield Static(
            literal("Which night? The venue's usual hours apply; bookings can then be taken for it."),
            classes="dialog--text",
        )
        yield Input(
            value=self.suggested.isoformat(), placeholder="YYYY-MM-DD", max_length=10, id="night-date"
        )

    def hint(self) -> str:
        return "Enter  open it · Esc  close"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            day = date.fromisoformat(event.value.strip())
        except ValueError:
            self.say(f"Type the date as YYYY-MM-DD, for example {self.suggested.isoformat()}.", error=True)
            return
        self.answer(day)
