"""A night's report as a table: one row per floor and a total, the figures right-aligned."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rich import box
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from services.reports import ALL_FLOORS, ReportRow
from widgets.display import plain

# (field of ReportRow, heading): short headings, so the table fits 80 columns.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("bookings", "Bookings"),
    ("covers_booked", "Covers"),
    ("covers_arrived", "Arrived"),
    ("no_shows", "No-shows"),
    ("cancellations", "Cancelled"),
    ("deposits_taken", "Deposits"),
)


def money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def figure(row: ReportRow, field: str) -> str:
    value = getattr(row, field)
    return money(value) if isinstance(value, Decimal) else str(value)


class NightReportTable(Widget):
    """Draws `rows` (from `ReportService.night_report`); the total row stands out."""

    DEFAULT_CSS = """
    NightReportTable {
        height: auto;
        width: auto;
        max-width: 100%;
        & > .night-report-table--header { text-style: bold; }
        & > .night-report-table--total { text-style: bold; }
    }
    """

    COMPONENT_CLASSES = {"night-report-table--header", "night-report-table--total"}

    rows: reactive[tuple[ReportRow, ...]] = reactive((), layout=True)

    def show(self, rows: Sequence[ReportRow]) -> None:
        self.rows = tuple(rows)

    def render(self) -> Table:
        header = self.get_component_rich_style("night-report-table--header", partial=True)
        total_style = self.get_component_rich_style("night-report-table--total", partial=True)
        floors = [row for row in self.rows if row.floor != ALL_FLOORS]
        total = next((row for row in self.rows if row.floor == ALL_FLOORS), None)
        # The total is the footer: a rule sets it apart from the floors above it.
        table = Table(
            box=box.SIMPLE,
            padding=(0, 1),
            header_style=header,
            footer_style=total_style,
            show_footer=total is not None,
            show_edge=False,
            pad_edge=False,
            expand=False,
        )
        table.add_column("Floor", no_wrap=True, footer=total.floor if total else "")
        for field, heading in COLUMNS:
            table.add_column(
                heading, justify="right", no_wrap=True, footer=figure(total, field) if total else ""
            )
        for row in floors:
            # Text, not a string: a Rich table reads a string cell as markup.
            table.add_row(Text(plain(row.floor)), *(figure(row, f) for f, _h in COLUMNS))
        return table
