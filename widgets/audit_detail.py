"""One audit entry in full: when, who, what, the operation id, and every field
of the row before and after, the changed ones marked with a star (so the
difference reads without colour too).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from services.reports import AuditEntry
from services.wording import local_moment
from widgets.audit_table import entity_words, what_words
from widgets.display import plain, theme_style

ABSENT = ""
NULL = "(none)"


def value_words(row: dict[str, Any] | None, key: str) -> str:
    if row is None or key not in row:
        return ABSENT
    value = row[key]
    if value is None:
        return NULL
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def field_order(entry: AuditEntry) -> list[str]:
    """Every field of either side: those that changed first, then the rest by name."""
    keys = sorted(set(entry.before or {}) | set(entry.after or {}))
    changed = [k for k in keys if value_words(entry.before, k) != value_words(entry.after, k)]
    return changed + [k for k in keys if k not in changed]


def _who(entry: AuditEntry) -> str:
    if entry.staff_id is not None:
        return f"{entry.who} (staff {entry.staff_id})"
    # Support may need to know which login the database saw.
    return f"{entry.who} (database user {entry.db_user})" if entry.db_user else entry.who


def detail_renderable(entry: AuditEntry, timezone: str, variables: Mapping[str, str]) -> RenderableType:
    """The entry in full; a changed field's two sides in the theme's $diff-removed and
    $diff-added (`variables` are the app's theme variables)."""
    head = Text()
    for label, value in (
        ("When", f"{local_moment(entry.at, timezone, '%a %d %b %Y %H:%M:%S')} ({timezone})"),
        ("Who", _who(entry)),
        ("What", what_words(entry)),
        ("On", entity_words(entry)),
        ("Entry", f"{entry.id}" + (f" · operation id {entry.op_id}" if entry.op_id else "")),
    ):
        head.append(f"{label:<7}", style="bold")
        head.append(f"{plain(value)}\n")
    head.rstrip()

    keys = field_order(entry)
    if not keys:
        return Group(head, Text("\nNo row data was recorded for this entry.", style="italic"))
    table = Table(show_edge=False, expand=True, pad_edge=False, header_style="bold", box=None, padding=(0, 1))
    table.add_column("  Field", no_wrap=True, ratio=None)
    table.add_column("Before", ratio=1, overflow="fold")
    table.add_column("After", ratio=1, overflow="fold")
    removed, added = theme_style("$diff-removed", variables), theme_style("$diff-added", variables)
    for key in keys:
        before, after = value_words(entry.before, key), value_words(entry.after, key)
        changed = before != after
        mark = "* " if changed else "  "
        style = "bold" if changed else ""
        table.add_row(
            Text(mark + plain(key), style=style),
            Text(plain(before), style=removed if changed else ""),
            Text(plain(after), style=added if changed and after else style),
        )
    legend = Text("* changed", style="dim")
    return Group(head, Text(""), table, Text(""), legend)
