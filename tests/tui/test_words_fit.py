"""Nothing staff need is cut at 80x24: every help text is shown in full (wrapped, not cut),
and the line at the top of each screen stays one line."""

from __future__ import annotations

import io
import re
import time
from typing import Any

import asyncpg
import pytest
from rich.console import Console
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Static

from console.app import BackroomApp
from console.wiring import Services
from screens.audit import AuditScreen
from screens.door import DoorScreen
from screens.help import HelpScreen, KeyHelp, KeyList, KeyTable
from services.live.feed import FeedState, FeedStatus
from tests.tui.helpers import SMALL, colleague, floor_loaded, screen_text, shown_text, stop_feed, until
from widgets.display import local_time
from widgets.top_bar import TopBar

# A scroll bar's blocks, drawn inside the help box's right edge.
BARS = re.compile("[▁▂▃▄▅▆▇▔▕▏▎▍▌▋▊▉]")


def drawn(widget: Widget) -> str:
    """What a widget draws at the width the layout gave it, as plain text."""
    out = io.StringIO()
    console = Console(width=widget.content_region.width, file=out, color_system=None, legacy_windows=False)
    console.print(widget.render())
    return out.getvalue()


def in_full(keys: list[KeyHelp], text: str) -> list[str]:
    """The help lines whose words are not all there, in order (a wrapped line continues on
    the next, under its own column)."""
    joined = re.sub(r"\s+", " ", text)
    return [
        f"{item.keys} {item.description} {item.detail}".strip()
        for item in keys
        if re.sub(r"\s+", " ", f"{item.keys} {item.description} {item.detail}".strip()) not in joined
    ]


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


@pytest.mark.parametrize(
    "key", [None, "f3", "f4", "f5", "f6"], ids=["floor", "door", "nights", "support", "audit"]
)
async def test_every_help_text_is_shown_in_full_at_80x24(services: Services, key: str | None) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        screen = await help_of(pilot, key)
        table = screen.query_one("#help-keys", KeyList)
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
            inside = [
                BARS.sub(" ", line[line.index("█") + 1 : line.rindex("█")])
                for line in screen_text(pilot.app).splitlines()
                if line.count("█") >= 2
            ]
            assert inside and not any("…" in line for line in inside), "\n".join(inside)
            pages.append("\n".join(inside))
        missing = [
            line
            for line in in_full(screen.keys, pages[0])
            if not any(
                not in_full(
                    [k for k in screen.keys if f"{k.keys} {k.description} {k.detail}".strip() == line], page
                )
                for page in pages
            )
        ]
        assert missing == [], pages


def test_a_long_detail_wraps_under_its_own_column() -> None:
    keys = [
        KeyHelp("^q", "Quit", "Quit the app and return to the command prompt"),
        KeyHelp("^p", "Open the command palette"),
    ]
    console = Console(width=40, file=io.StringIO(), color_system=None)
    console.print(KeyTable(keys))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert in_full(keys, text) == [], text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 40


LONG_NAME = "Alexandra Featherstonehaugh"


async def outage(pilot: Pilot[Any], state: FeedState) -> None:
    """The feed down 1m20s, on its third attempt, next try in 4s."""
    await stop_feed(pilot)
    await pilot.pause()
    now = time.monotonic()
    app = pilot.app
    assert isinstance(app, BackroomApp)
    app._status_changed(FeedStatus(state, attempt=3, down_since=now - 80, retry_at=now + 4.5))
    await pilot.pause()


@pytest.mark.parametrize(
    "key", [None, "f3", "f4", "f5", "f6"], ids=["floor", "door", "nights", "support", "audit"]
)
async def test_the_top_line_is_one_line_at_80_columns(
    services: Services, admin: asyncpg.Connection, key: str | None
) -> None:
    services.actor = await colleague(admin, LONG_NAME, "alexandra@backroom.test")
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        await floor_loaded(pilot)
        if key is not None:
            await pilot.press(key)
            await until(pilot, lambda: len(pilot.app.screen_stack) > 2, what="screen open")
            await pilot.pause(0.5)
        for state, words in (
            (FeedState.RECONNECTING, "↻ Reconnecting · 1m2"),
            (FeedState.OFFLINE, "✕ Offline 1m2"),
        ):
            await outage(pilot, state)
            top = screen_text(pilot.app).splitlines()[0]
            assert "…" not in top, top
            assert LONG_NAME in top and words in top, top
            bar = pilot.app.screen.query_one(TopBar)

            def ageless(text: str) -> str:
                # The outage's age ticks each second, between reading the screen and the bar.
                return re.sub(r"\d+m\d+s", "<age>", " ".join(text.split()))

            assert bar.size.height == 1 and ageless(bar.shown) in ageless(top), (bar.shown, top)


async def test_the_top_line_says_everything_when_there_is_room(
    services: Services, admin: asyncpg.Connection
) -> None:
    services.actor = await colleague(admin, LONG_NAME, "alexandra@backroom.test")
    async with BackroomApp(services).run_test(size=(160, 48)) as pilot:
        await floor_loaded(pilot)
        await outage(pilot, FeedState.RECONNECTING)
        top = screen_text(pilot.app).splitlines()[0]
        assert "The Backroom · Fri 20 Nov 2026" in top, top
        assert f"{LONG_NAME} (manager)" in top, top
        assert "↻ Reconnecting (attempt 3) · offline 1m2" in top, top


# The door's list while the feed is down ------------------------------------------------


async def test_the_door_marks_its_list_stale_while_the_feed_is_down(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without colour the mark must still be seen: it is in words.
    monkeypatch.setenv("NO_COLOR", "1")
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        await floor_loaded(pilot)
        await pilot.press("f3")
        await until(
            pilot,
            lambda: isinstance(pilot.app.screen, DoorScreen) and pilot.app.screen.current,
            what="door open",
        )
        door = pilot.app.screen
        assert isinstance(door, DoorScreen)
        assert "Not live" not in screen_text(pilot.app)
        assert not door.booking_list.has_class("-stale")
        as_of = local_time(door.services.clock(), door.timezone)

        # The feed stops: the list says since when it is what it shows, and that nothing retries.
        await stop_feed(pilot)
        await until(pilot, lambda: "Not live" in screen_text(pilot.app), what="marked stale")
        assert f"Not live: list as of {as_of}, offline, not reconnecting" in screen_text(pilot.app)
        assert door.booking_list.has_class("-stale")

        await outage(pilot, FeedState.RECONNECTING)
        text = screen_text(pilot.app)
        line = next(line for line in text.splitlines() if "Not live" in line)
        assert line.strip() == f"Not live: list as of {as_of}, offline 1m20s, reconnecting (attempt 3)"
        assert len(line.rstrip()) <= SMALL[0]
        # Every row is still there, dimmed under the line.
        assert "Dev Patel" in text and "Isla MacLeod" in text

        # Live again: the mark goes.
        app = pilot.app
        assert isinstance(app, BackroomApp)
        app._status_changed(FeedStatus(FeedState.LIVE))
        await until(pilot, lambda: "Not live" not in screen_text(pilot.app), what="mark cleared")
        assert not door.booking_list.has_class("-stale")


async def test_every_table_name_is_shown_whole_on_a_wide_floor(services: Services) -> None:
    async with BackroomApp(services).run_test(size=(160, 48)) as pilot:
        screen = await floor_loaded(pilot)
        tiles = [t for plan in screen.plans for t in plan.tiles.values() if t.state is not None]
        named = [
            t
            for t in tiles
            if t.state is not None
            and t.state.table.name
            and not t.state.table.name.endswith(str(t.state.table.number))
        ]
        assert any(t.state is not None and t.state.table.name == "The Vault" for t in named)
        for tile in named:
            assert tile.state is not None
            first = shown_text(tile).splitlines()[0]
            assert tile.state.table.name in first and "…" not in first, first


async def test_the_audit_status_drops_its_hints_before_cutting_the_filter(services: Services) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        await floor_loaded(pilot)
        await pilot.press("f6")
        await until(
            pilot,
            lambda: (
                isinstance(pilot.app.screen, AuditScreen)
                and pilot.app.screen.loads >= 1
                and not pilot.app.screen.reading
            ),
            what="audit loaded",
        )
        await pilot.press(
            "slash", "tab", *"system", "tab", *"2026-01-01 00:00", "tab", *"2027-01-01 00:00", "enter"
        )
        screen = pilot.app.screen
        assert isinstance(screen, AuditScreen)
        await until(pilot, lambda: screen.filter.until is not None and not screen.reading, what="filtered")
        await pilot.pause()
        status = str(screen.query_one("#audit-status", Static).content)
        line = next(line for line in screen_text(pilot.app).splitlines() if "entries" in line)
        assert "…" not in line and status in line, line
        assert "staff system · from " in status and "until " in status, status
