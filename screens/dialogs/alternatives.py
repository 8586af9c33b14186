"""Where else the party could go when the table asked for is taken or does not fit.

Lists the alternatives the booking service found (another table now, or the
same table at another time), numbered 1 to 6: a digit picks one at once,
arrows and Enter work too, Escape keeps nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from zoneinfo import ZoneInfo

from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from screens.dialogs.ask import Dialog
from services.errors import Alternative
from widgets.display import literal

MOST = 6


class AlternativesDialog(Dialog[Alternative]):
    """`reason` is the refusal, in staff words; `alternatives` the places to offer instead."""

    DEFAULT_CSS = """
    AlternativesDialog OptionList, AlternativesDialog OptionList:focus {
        height: auto;
        max-height: 8;
        border: none;
        padding: 0;
        background: $surface;
    }
    """

    BINDINGS = [
        Binding(str(n), f"pick({n - 1})", f"Choose {n}", show=False, id=f"alternatives.{n}")
        for n in range(1, MOST + 1)
    ]

    def __init__(
        self,
        heading: str,
        reason: str,
        alternatives: Sequence[Alternative],
        timezone: str,
        *,
        verb: str = "book it there",
        on_answer: Callable[[Alternative, Dialog[Alternative]], None] | None = None,
    ) -> None:
        super().__init__(heading, on_answer=on_answer)
        self.reason = reason
        self.verb = verb
        self.alternatives = list(alternatives)[:MOST]
        self.timezone = timezone

    def compose_body(self) -> Iterable[Widget]:
        yield Static(literal(self.reason), classes="dialog--text")
        yield Static("Free instead:", classes="dialog--text")
        zone = ZoneInfo(self.timezone)
        yield OptionList(
            *(
                Option(literal(f"{n}  {alt.label(zone)}"), id=str(n - 1))
                for n, alt in enumerate(self.alternatives, start=1)
            )
        )

    def hint(self) -> str:
        last = len(self.alternatives)
        keys = "1" if last == 1 else f"1-{last}"
        return f"{keys} or ↑↓ Enter  {self.verb} · Esc  leave it"

    def action_pick(self, index: int) -> None:
        if 0 <= index < len(self.alternatives):
            self.answer(self.alternatives[index])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_pick(event.option_index)
