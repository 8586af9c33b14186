"""Seating a walk-in: how many, and a name if they give one.

At the selected table when it is free, else at the best free table that
fits the party right now. Two keys for a party at the default size: w, Enter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from textual.widget import Widget

from screens.dialogs.ask import Dialog
from screens.forms.base import FormDialog, party_check
from services.models import Table
from widgets.display import capacity
from widgets.field import Field

WALK_IN_NAME = "Walk-in"


@dataclass(frozen=True, slots=True)
class WalkInRequest:
    party_size: int
    name: str


class WalkInForm(FormDialog[WalkInRequest]):
    """`table` is where they will sit, or None for the best free table."""

    def __init__(
        self,
        table: Table | None,
        *,
        party: int,
        on_answer: Callable[[WalkInRequest, Dialog[WalkInRequest]], None] | None = None,
    ) -> None:
        where = (
            f"table {table.number} · {capacity(table)} guests" if table is not None else "the best free table"
        )
        super().__init__(f"Walk-in · {where}", on_answer=on_answer)
        self.table = table
        self.party = party

    def compose_body(self) -> Iterable[Widget]:
        yield Field(
            "Party size",
            str(self.party),
            check=party_check(self.table, fits_hint="Enter offers tables that fit"),
            restrict=r"\d*",
            max_length=2,
            input_width=6,
            id="party",
        )
        yield Field("Name", placeholder=WALK_IN_NAME, max_length=80, input_width=28, id="name")

    def hint(self) -> str:
        return "Enter  seat them now · Tab/↑↓  fields · Esc  close"

    def send(self) -> None:
        self.answer(WalkInRequest(int(self.value_of("party")), self.value_of("name").strip() or WALK_IN_NAME))
