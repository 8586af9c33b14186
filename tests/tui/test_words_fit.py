"""Nothing staff need is cut at 80x24: every help text is shown in full (wrapped, not cut),
and the line at the top of each screen stays one line."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from rich.console import Console
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widgets import Static

from console.app import BackroomApp
from console.wiring import Services
from screens.help import HelpScreen, KeyHelp, KeyTable
from tests.tui.helpers import floor_loaded, screen_text, until

SMALL = (80, 24)
# A scroll bar's blocks, drawn inside the help box's right edge.
BARS = re.compile("[▁▂▃▄▅▆▇▔▕▏▎▍▌▋▊▉]")


def drawn(widget: Static) -> str:
    """What a Static draws at the width the layout gave it, as plain text."""
    console = Console(width=widget.content_region.width, file=io.StringIO(), color_system=None,
                      legacy_windows=False)
    console.print(widget.content)
    return console.file.getvalue()  # type: ignore[attr-defined]


def in_full(keys: list[KeyHelp], text: str) -> list[str]:
    """The help lines whose words are not all there, in order (a wrapped line continues on
    the next, under its own column)."""
    joined = re.sub(r"\s+", " ", text)
    return [f"{item.keys} {item.description} {item.detail}".strip() for item in keys
            if re.sub(r"\s+", " ", f"{item.keys} {item.description} {item.detail}".strip())
            not in joined]


async def help_of(pilot: Pilot[Any], key: str | None) -> HelpScreen:
    await floor_loaded(pilot)
    if key is not None:
        await pilot.press(key)
        await pilot.pause(0.5)
    await pilot.press("f1")
    await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="help open")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, HelpScreen)
    return screen


@pytest.mark.parametrize("key", [None, "f3", "f4", "f5", "f6"],
                         ids=["floor", "door", "nights", "support", "audit"])
async def test_every_help_text_is_shown_in_full_at_80x24(services: Services, key: str | None) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        screen = await help_of(pilot, key)
        table = screen.query_one("#help-keys", Static)
        assert table.region.right <= SMALL[0] and table.region.x >= 0
        text = drawn(table)
        assert all(len(line.rstrip()) <= table.content_region.width for line in text.splitlines())
        assert in_full(screen.keys, text) == [], text
        # And the terminal shows it: line by line down the list, inside the box, nothing is
        # cut and every help text is there.
        scroll = screen.query_one(VerticalScroll)
        pages = []
        for y in range(int(scroll.max_scroll_y) + 1):
            scroll.scroll_to(y=y, animate=False)
            await pilot.pause()
            inside = [BARS.sub(" ", line[line.index("█") + 1:line.rindex("█")])
                      for line in screen_text(pilot.app).splitlines() if line.count("█") >= 2]
            assert inside and not any("…" in line for line in inside), "\n".join(inside)
            pages.append("\n".join(inside))
        missing = [line for line in in_full(screen.keys, pages[0])
                   if not any(not in_full([k for k in screen.keys
                                           if f"{k.keys} {k.description} {k.detail}".strip()
                                           == line], page) for page in pages)]
        assert missing == [], pages


def test_a_long_detail_wraps_under_its_own_column() -> None:
    keys = [KeyHelp("^q", "Quit", "Quit the app and return to the command prompt"),
            KeyHelp("^p", "Open the command palette")]
    console = Console(width=40, file=io.StringIO(), color_system=None)
    console.print(KeyTable(keys))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert in_full(keys, text) == [], text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 40
