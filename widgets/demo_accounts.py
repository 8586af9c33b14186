"""The demo's accounts on its sign-in screen: one line each, with the key that fills it in.

It says plainly, in words and in its border's title, that these accounts are
the demo's own, so nobody takes them for a venue's. Everything in it is plain
text: an email is never read as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.content import Content
from textual.widgets import Static

DEMO_TITLE = "DEMO ONLY"
DEMO_WORDS = "These accounts exist only in the demo database."
FILL_WORDS = "A key fills in the email, password and the code valid now."


@dataclass(frozen=True, slots=True)
class DemoRow:
    keys: str
    role: str
    email: str


def demo_content(rows: Sequence[DemoRow]) -> Content:
    keys_width = max((len(row.keys) for row in rows), default=0)
    role_width = max((len(row.role) for row in rows), default=0)
    parts: list[str | tuple[str, str]] = [(DEMO_WORDS, "bold"), "\n"]
    for row in rows:
        parts += [
            (row.keys.ljust(keys_width), "bold"),
            "  ",
            row.role.ljust(role_width),
            "  ",
            row.email,
            "\n",
        ]
    parts.append(FILL_WORDS)
    return Content.assemble(*parts)


class DemoAccountList(Static):
    """The rows it is given, under the words that say it is the demo."""

    DEFAULT_CSS = """
    DemoAccountList {
        width: 1fr;
        height: auto;
        border: round $warning;
        border-title-style: bold;
        padding: 0 1;
    }
    """

    def __init__(
        self,
        rows: Sequence[DemoRow],
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(demo_content(rows), name=name, id=id, classes=classes)
        self.border_title = DEMO_TITLE
