"""What staff feel: key press to painted screen, start-up, commit to painted tile and
memory, for the Backroom Console against a bare Textual app in the same run.

Everything runs headless (`App.run_test`) on one embedded Postgres seeded with
the sample night (2026-11-20), the console's clock fixed at 23:30 that night,
as the tests do. The floor runs as the demo manager at 160x48, the door as
the demo door account at 80x24 (the sizes the TUI tests use), with toasts on
(`run_test` turns them off by default). The bare app is a plain `App` whose
only widget is a `Static`; the arrow keys and Enter change its text
("Pressed n times"). It is measured at both sizes.

"Painted", exactly: Textual's headless driver writes nothing, but each screen
still composites every frame and hands it to `App._display`. This benchmark
wraps `App._display` on the instance: for each frame it serialises the update
to terminal bytes as a real terminal driver would
(`CompositorUpdate.render_segments`), takes the time stamp, then applies the
frame's characters to a virtual screen (text only, no colours). A measurement
ends at the time stamp of the first frame after which the virtual screen
shows the change: what is timed is everything up to the bytes a terminal
would be sent; only the write system call and the terminal's drawing are
missing. The virtual screen's own cost comes after the time stamp and is shown
separately (per frame; it still occupies the event loop).

A measured key is sent the way a terminal driver sends it
(`Driver.send_message` with a `Key` event, as `Pilot.press` does, without
Pilot's waiting), one at a time: before each, the app is left until a spell
of 30 ms passes with no frame painted and the process next to idle (under a
tenth of the spell in CPU time).

1. Key press to painted, per key:
   bare     the Static shows the new count.
   arrow    floor: the newly selected tile has its double (focus) border and
            the one left behind its round border again; separately, the
            detail panel names the new table. Also: the process's CPU time
            per key until it is idle again (the bare app's and the floor's),
            how that grows from the first tenth of the presses to the last,
            the RSS growth over the presses, and how many removed widgets are
            still alive (garbage collected first) before and after them.
   door     for each check-in a booking is made by the owner connection (a new
            guest "Bench nnn", confirmed, party of 2, table 11, which is free
            all night), its name typed briskly, then Enter, Enter. Timed: the
            first Enter to the count dialog on screen, and the final Enter to
            the "Checked in" toast naming its booking reference; also the time
            spent in `BookingService.check_in` (the database's share). Between
            check-ins (not timed) toasts are cleared and the owner connection
            marks the booking completed, freeing the table for the next one.
   held     floor, at 160x48 and at 80x24: the right arrow held down, 90
            repeats sent 1/30 s apart without waiting for paint. Timed: the last
            repeat sent -> the first frame with the tile that many presses lead to
            selected, once every repeat has been handled; and how many repeats
            were still waiting when the last was sent (the backlog).
2. Start-up: each run a fresh Python process (warm disk cache, .pyc files
   compiled; one warm-up run of each is not counted), bare and Backroom
   alternating. Imports (textual.app; the console and its services);
   `App()` to the first painted frame; for Backroom `App()` to an interactive
   floor: the first frame after which the floor has its night, the feed is
   Live, no reload is running, every tile is drawn on screen and the badge
   says Live; and spawn to that frame (interpreter start and imports
   included). Backroom's services (pool, staff lookup) open before `App()`,
   timed on their own. Medians.
3. Commit to painted tile: the owner connection commits
   `update backroom.booking set party_size = ...` (autocommit; the real
   triggers: audit row, NOTIFY payload) on Alice Moreau's confirmed booking at
   table 1, alternating 4 and 3, which her tile shows as "4 ppl" / "3 ppl".
   Timed from just before the writer sends the statement: to the commit's
   acknowledgement, to the App's feed handing the change on (`_change_heard`,
   time-stamped in a subclass), to the floor's read of the night returning
   (`FloorService.snapshot`, wrapped), and to the frame showing the new size
   on the tile. Each commit waits until the previous one is painted and the app is
   idle, plus --gap-ms (60 ms, more than the App's 50 ms batching, so each is
   the first change after a quiet spell). The writer runs in the app's
   process and event loop. Alongside, in the same process with no app
   running: bare asyncpg LISTEN/NOTIFY, writer sends `pg_notify` -> the
   listener's callback.
   Then the same again with 49 other consoles' live feeds (a child process of
   ChangeFeeds, all Live) listening on the same server: 50 consoles in all.
4. Resident memory (VmRSS, and the peak VmHWM, from /proc/self/status) of the
   start-up processes half a second after they are ready: bare once its first
   frame is painted, Backroom once the floor is interactive. Medians.

Each figure is checked against its target (benchmarks/targets.py): a line per target, or with
--json one JSON object of the figures in milliseconds, the bare figures of the same run alongside.

Run: .venv/bin/python benchmarks/ui.py [--presses 150] [--checkins 30] [--commits 100] [--json]
     [--startups 5] [--gap-ms 60]

This module imports only the standard library at the top, so that a start-up
child process (`--child bare`) loads no more than a bare Textual app needs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncpg
    from textual.app import App
    from textual.pilot import Pilot
    from textual.widget import Widget

    from console.wiring import Services
    from screens.door import DoorScreen

STARTED_AT = time.monotonic()  # as near to the start of the process as this file gets

sys.path.insert(0, str(Path(__file__).resolve().parent))
from targets import Target, as_json, readable_to_stderr, report  # noqa: E402

FIXED_NOW = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # 23:30 on the sample night
FLOOR_SIZE = (160, 48)
DOOR_SIZE = (80, 24)
DOOR_TABLE = 11  # free all night on the sample night; seats 2 to 6
COMMIT_TABLE = 1  # Alice Moreau, confirmed, party of 4; seats 2 to 4
ARROWS = ("right", "right", "right", "down", "left", "left", "up", "right", "down", "left")
HELD_RATE, HELD_SECONDS = 30.0, 3.0  # a terminal's key repeat, held for three seconds
CROWD = 50  # consoles listening on the server, this one included
FRAME_MS = 1000 / 60
RESULT = "UI-BENCH-RESULT "
THIS_FILE = str(Path(__file__).resolve())


def fixed_clock() -> datetime:
    return FIXED_NOW


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# ------------------------------------------------------------------ frames as a terminal sees them


class Frames:
    """Every frame an App paints, serialised as a terminal driver would and applied to a
    virtual screen of characters; `when(condition)` resolves at the first frame after
    which `condition(self)` holds, with that frame's time stamp."""

    def __init__(self, app: App[Any], size: tuple[int, int]) -> None:
        from rich.cells import cell_len
        from textual._compositor import ChopsUpdate, CompositorUpdate, LayoutUpdate

        self.width, self.height = size
        self.rows = [[" "] * self.width for _ in range(self.height)]
        self.count = 0
        self.bytes = 0
        self.first_at: float | None = None
        self.last_at = 0.0
        self.serialise_seconds = 0.0
        self.instrument_seconds = 0.0
        self._waiters: list[tuple[Callable[[Frames], bool], asyncio.Future[float]]] = []
        self._cell_len = cell_len
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if not isinstance(renderable, CompositorUpdate) or app._batch_count:
                return
            t0 = time.perf_counter()
            data = renderable.render_segments(app.console)  # what a driver would write
            at = time.perf_counter()
            self.serialise_seconds += at - t0
            self.count += 1
            self.bytes += len(data)
            self.first_at = at if self.first_at is None else self.first_at
            self.last_at = at
            if isinstance(renderable, LayoutUpdate):
                self._layout(renderable.strips, renderable.region.x, renderable.region.y)
            elif isinstance(renderable, ChopsUpdate):
                self._chops(renderable)
            self._check(at)
            self.instrument_seconds += time.perf_counter() - at

        # An instance attribute: Screen calls `app._display(...)`, so this wraps every frame.
        setattr(app, "_display", display)  # noqa: B010

    # Applying a frame to the virtual screen ------------------------------------

    def _put(self, x: int, y: int, strip: Any) -> int:
        if not 0 <= y < self.height:
            return x
        row = self.rows[y]
        for segment in strip:
            text = segment.text
            if segment.control or not text:
                continue
            width = self._cell_len(text)
            if width == len(text):
                end = min(x + width, self.width)
                if x < end:
                    row[x:end] = text[: end - x]
                x += width
            else:
                for ch in text:
                    w = self._cell_len(ch)
                    if 0 <= x < self.width:
                        row[x] = ch
                        if w == 2 and x + 1 < self.width:
                            row[x + 1] = ""
                    x += w
        return x

    def _layout(self, strips: list[Iterable[Any]], x0: int, y0: int) -> None:
        for y, line in enumerate(strips, y0):
            x = x0
            for strip in line:
                x = self._put(x, y, strip)

    def _chops(self, update: Any) -> None:
        # As ChopsUpdate.render_segments does: whole chops inside a span, others cut at its end.
        for y, x1, x2 in update.spans:
            for end, (x, strip) in zip(update.chop_ends[y], update.chops[y].items(), strict=False):
                if strip is None or x > x2 or end <= x1:
                    continue
                if not (x2 > x >= x1 and end <= x2):
                    strip = strip.crop(0, min(end, x2) - x)
                self._put(x, y, strip)

    def _check(self, at: float) -> None:
        waiting = []
        for condition, future in self._waiters:
            if future.done():
                continue
            try:
                met = condition(self)
            except Exception as err:
                future.set_exception(err)
                continue
            if met:
                future.set_result(at)
            else:
                waiting.append((condition, future))
        self._waiters = waiting

    # Reading it -----------------------------------------------------------------

    def line(self, y: int) -> str:
        return "".join(self.rows[y]) if 0 <= y < self.height else ""

    def text(self) -> str:
        return "\n".join("".join(row) for row in self.rows)

    def region_text(self, region: Any) -> str:
        return "\n".join(
            "".join(self.rows[y][region.x : region.x + region.width])
            for y in range(region.y, min(region.y + region.height, self.height))
        )

    def char(self, x: int, y: int) -> str:
        return self.rows[y][x] if 0 <= y < self.height and 0 <= x < self.width else ""

    def when(self, condition: Callable[[Frames], bool]) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters.append((condition, future))
        return future

    async def settle(self, quiet: float = 0.03, most: float = 5.0) -> None:
        """Until a spell of `quiet` seconds passes with no frame painted and this process
        next to idle (under a tenth of that in CPU time), or `most` seconds have passed."""
        deadline = time.perf_counter() + most
        while time.perf_counter() < deadline:
            last, cpu = self.last_at, time.process_time()
            await asyncio.sleep(quiet)
            if self.last_at == last and time.process_time() - cpu < quiet / 10:
                return

    def per_frame(self) -> str:
        n = max(self.count, 1)
        return (
            f"{self.count} frames, {self.bytes / n / 1024:.1f} KiB each;"
            f" serialising {self.serialise_seconds / n * 1000:.2f} ms/frame (timed),"
            f" virtual screen {self.instrument_seconds / n * 1000:.2f} ms/frame (not timed)"
        )


def showing(words: str, widget: Widget | None = None) -> Callable[[Frames], bool]:
    """The condition: `words` are on screen (within `widget`'s region if given)."""

    def condition(frames: Frames) -> bool:
        shown = frames.text() if widget is None else frames.region_text(widget.region)
        return words in shown

    return condition


def send_key(app: App[Any], key: str) -> float:
    """Send one key as a terminal driver does; the time it was sent."""
    from textual import events

    char = {"enter": "\r", "space": " "}.get(key, key if len(key) == 1 else None)
    event = events.Key(key, char)
    event.set_sender(app)
    assert app._driver is not None
    at = time.perf_counter()
    app._driver.send_message(event)
    return at


async def painted_at(
    painted: asyncio.Future[float], frames: Frames, what: str, timeout: float = 10.0
) -> float:
    try:
        return await asyncio.wait_for(painted, timeout)
    except TimeoutError:
        raise SystemExit(f"{what}: the screen did not show it within {timeout}s:\n{frames.text()}") from None


async def timed_key(app: App[Any], frames: Frames, key: str, condition: Callable[[Frames], bool]) -> float:
    """From sending `key` to the first frame after which `condition` holds."""
    painted = frames.when(condition)
    sent = send_key(app, key)
    return await painted_at(painted, frames, f"after {key!r}") - sent


def detached_widgets() -> int:
    """Widgets still alive though no longer in any DOM (removed, but referenced from somewhere)."""
    import gc

    from textual.widget import Widget

    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, Widget) and not o.is_attached)


class Growth:
    """This process's RSS and the removed-but-alive widgets, from creation to `stop()`."""

    def __init__(self) -> None:
        self.rss_before, self.detached_before = rss()["VmRSS"], detached_widgets()
        self.rss_after, self.detached_after = self.rss_before, self.detached_before

    def stop(self) -> None:
        self.rss_after, self.detached_after = rss()["VmRSS"], detached_widgets()

    def words(self) -> str:
        return (
            f"RSS {(self.rss_after - self.rss_before) / 1024:+.1f} MiB, removed widgets still alive"
            f" {self.detached_before} -> {self.detached_after}"
        )


def rss() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in KiB."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


# ------------------------------------------------------------------ the bare app


def bare_app() -> App[None]:
    from textual.app import App, ComposeResult
    from textual.binding import Binding
    from textual.widgets import Static

    class Bare(App[None]):
        BINDINGS = [Binding(key, "bump", "Bump") for key in ("left", "right", "up", "down", "enter")]

        def __init__(self) -> None:
            super().__init__()
            self.presses = 0

        def compose(self) -> ComposeResult:
            yield Static(bare_words(0), id="count")

        def action_bump(self) -> None:
            self.presses += 1
            self.query_one("#count", Static).update(bare_words(self.presses))

    return Bare()


def bare_words(n: int) -> str:
    return f"Pressed {n} times"


async def bare_presses(presses: int, size: tuple[int, int]) -> tuple[list[float], list[float], str]:
    app = bare_app()
    frames = Frames(app, size)
    shown = frames.when(lambda f: bare_words(0) in f.line(0))
    latencies, cpu = [], []
    async with app.run_test(size=size):
        await asyncio.wait_for(shown, 10)
        await frames.settle()
        for n in range(1, presses + 1):
            words = bare_words(n)
            before = time.process_time()
            latencies.append(await timed_key(app, frames, ARROWS[n % len(ARROWS)], showing(words)))
            await frames.settle()
            cpu.append(time.process_time() - before)
    return latencies, cpu, frames.per_frame()


# ------------------------------------------------------------------ the console


def floor_interactive(app: App[Any], frames: Frames) -> bool:
    """The floor has its night, the feed is Live, and every tile and the badge are drawn."""
    from screens.floor.screen import FloorScreen

    screen = app.screen
    if not (
        isinstance(screen, FloorScreen)
        and screen.snapshot is not None
        and screen.live
        and not screen.reloading
        and screen.plans
    ):
        return False
    tiles = [tile for plan in screen.plans for tile in plan.tiles.values()]
    if len(tiles) != len(screen.snapshot.tables):
        return False
    for tile in tiles:
        r = tile.region
        if r.width == 0 or frames.char(r.x, r.y) not in ("╭", "╔"):
            return False
        if (
            tile.state is None
            or str(tile.state.table.number) not in frames.line(r.y + 1)[r.x : r.x + r.width]
        ):
            return False
    return "● Live" in frames.text()


async def open_console(dsn: str, email: str) -> Services:
    from console.wiring import open_services
    from services.identity import staff

    services = await open_services(dsn, clock=fixed_clock)
    services.actor = await staff.owner_session(dsn, email)
    return services


async def floor_presses(
    app: App[Any], frames: Frames, presses: int
) -> tuple[list[float], list[float], list[float], Growth]:
    """Arrow keys on the floor: to the tile's focus border, and to the detail naming the table."""
    from screens.floor.screen import FloorScreen
    from widgets.table_detail import TableDetail
    from widgets.table_tile import TableTile

    screen = app.screen
    assert isinstance(screen, FloorScreen)
    detail = screen.query_one(TableDetail)
    tiles = {key: tile for plan in screen.plans for key, tile in plan.tiles.items()}
    selection, detailed, cpu = [], [], []
    growth = Growth()
    for n in range(presses):
        before = screen.focused
        assert isinstance(before, TableTile)

        def moved(f: Frames, before: TableTile = before) -> bool:
            now = screen.focused
            if not isinstance(now, TableTile) or now is before:
                return False
            a, b = now.region, before.region
            return f.char(a.x, a.y) == "╔" and f.char(b.x, b.y) == "╭"

        def named(f: Frames, before: TableTile = before) -> bool:
            now = screen.focused
            if not isinstance(now, TableTile) or now is before or now.state is None:
                return False
            number = now.state.table.number
            return re.search(rf"\bTable {number}\b", f.region_text(detail.region)) is not None

        key = ARROWS[n % len(ARROWS)]
        shown_tile, shown_detail = frames.when(moved), frames.when(named)
        before_cpu = time.process_time()
        sent = send_key(app, key)
        selection.append(await painted_at(shown_tile, frames, f"tile after {key!r}") - sent)
        detailed.append(await painted_at(shown_detail, frames, f"detail after {key!r}") - sent)
        await frames.settle()
        cpu.append(time.process_time() - before_cpu)
    assert len(tiles) == 16
    growth.stop()
    return selection, detailed, cpu, growth


async def commit_to_paint(
    app: App[Any], frames: Frames, owner: asyncpg.Connection, commits: int, gap: float, read_back: list[float]
) -> tuple[list[float], list[float], list[float], list[float], Growth]:
    """Party size of table 1's booking changed by another client, until the tile shows it."""
    from screens.floor.screen import FloorScreen

    screen = app.screen
    assert isinstance(screen, FloorScreen) and screen.snapshot is not None
    table_id = next(t.table.id for t in screen.snapshot.tables.values() if t.table.number == COMMIT_TABLE)
    tile = next(plan.tiles[table_id] for plan in screen.plans if table_id in plan.tiles)
    assert tile.state is not None and tile.state.booking is not None
    booking_id, size = tile.state.booking.id, tile.state.booking.party_size
    update = await owner.prepare("update backroom.booking set party_size = $2 where id = $1")
    heard: list[tuple[float, int | None]] = []
    hook: dict[str, Any] = {"heard": heard}
    app.__dict__["_bench_hook"] = hook
    to_feed, to_read, to_paint, acked = [], [], [], []
    growth = Growth()
    for _ in range(commits):
        size = 3 if size == 4 else 4
        words = f"{size} ppl"
        painted = frames.when(showing(words, tile))
        heard.clear()
        sent = time.perf_counter()
        await update.fetch(booking_id, size)
        acked.append(time.perf_counter() - sent)
        to_paint.append(await painted_at(painted, frames, f"table {COMMIT_TABLE} with {words}") - sent)
        ours = [t for t, changed in heard if changed == booking_id]
        if ours:
            to_feed.append(ours[0] - sent)
        reads = [t for t in read_back if t > sent]
        if reads:
            to_read.append(reads[0] - sent)
        await frames.settle()
        await asyncio.sleep(gap)
    growth.stop()
    return to_feed, to_read, to_paint, acked, growth


def console_app(services: Services) -> App[Any]:
    """The console, with the feed's hand-over of each change time-stamped."""
    from console.app import BackroomApp

    class Timed(BackroomApp):
        def _change_heard(self, change: Any) -> None:
            hook = self.__dict__.get("_bench_hook")
            if hook is not None:
                hook["heard"].append((time.perf_counter(), getattr(change, "id", None)))
            super()._change_heard(change)

    return Timed(services)


async def floor_and_commits(
    dsn: str, presses: int, commits: int, gap: float, *, size: tuple[int, int] = FLOOR_SIZE, held: bool = True
) -> dict[str, Any]:
    import asyncpg

    from services.store import seed

    owner = await asyncpg.connect(dsn)
    services = await open_console(dsn, seed.DEMO_MANAGER)
    read_back: list[float] = []
    snapshot = services.floor.snapshot

    async def timed_snapshot(*args: Any, **kwargs: Any) -> Any:
        try:
            return await snapshot(*args, **kwargs)
        finally:
            read_back.append(time.perf_counter())

    services.floor.snapshot = timed_snapshot  # type: ignore[method-assign]
    found: dict[str, Any] = {}
    try:
        app = console_app(services)
        frames = Frames(app, size)
        ready = frames.when(lambda f: floor_interactive(app, f))
        async with app.run_test(size=size):
            await asyncio.wait_for(ready, 30)
            await frames.settle(quiet=0.2)
            if presses:
                selection, detail, cpu, growth = await floor_presses(app, frames, presses)
                found |= {
                    "selection": selection,
                    "detail": detail,
                    "cpu": cpu,
                    "growth": growth,
                    "frames": frames.per_frame(),
                }
            if held:
                found["held"] = await held_arrow(app, frames)
            if commits:
                to_feed, to_read, to_paint, acked, commit_growth = await commit_to_paint(
                    app, frames, owner, commits, gap, read_back
                )
                found |= {
                    "to_feed": to_feed,
                    "to_read": to_read,
                    "to_paint": to_paint,
                    "acked": acked,
                    "commit_growth": commit_growth,
                }
    finally:
        await services.db.close()
        await owner.close()
    return found


async def held_arrow(
    app: App[Any], frames: Frames, key: str = "right", rate: float = HELD_RATE, seconds: float = HELD_SECONDS
) -> dict[str, float]:
    """An arrow held down: repeats sent at the terminal's repeat rate, without waiting for paint.

    The tile it must end on is where that many presses lead (the floor's own wrap-around
    rule, `neighbour`). Timed: the last repeat sent -> the first frame with that tile
    selected once every repeat has been handled. Also: how many repeats were still
    waiting to be handled when the last one was sent (the backlog).
    """
    from screens.floor.arrows import neighbour
    from screens.floor.screen import FloorScreen
    from widgets.table_tile import TableTile

    screen = app.screen
    assert isinstance(screen, FloorScreen)
    await frames.settle()
    focused = screen.focused
    assert isinstance(focused, TableTile)
    cells = screen._cells()
    repeats = round(rate * seconds)
    expected = focused.table_id
    for _ in range(repeats):
        expected = neighbour(cells, expected, key)  # type: ignore[arg-type]
    tiles = {tile.table_id: tile for plan in screen.plans for tile in plan.tiles.values()}
    target = tiles[expected]
    handled = 0
    move = screen.action_move

    def counted(direction: Any) -> None:
        nonlocal handled
        handled += 1
        move(direction)

    screen.action_move = counted  # type: ignore[method-assign]
    try:

        def landed(f: Frames) -> bool:
            r = target.region
            return handled == repeats and screen.focused is target and f.char(r.x, r.y) == "╔"

        start = time.perf_counter()
        backlog = 0
        for n in range(repeats):
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            if n == repeats - 1:
                backlog = n - handled
                painted = frames.when(landed)
            last = send_key(app, key)
        # A floor slower than the repeats works through a backlog first: allow for it.
        try:
            landed_after = await asyncio.wait_for(painted, 120) - last
        except TimeoutError:
            landed_after = float("nan")  # never on its tile: the target says so
        await frames.settle()
    finally:
        del screen.action_move
    return {"last_to_painted": landed_after, "backlog": float(backlog), "repeats": float(repeats)}


async def listening_consoles(dsn: str, count: int) -> asyncio.subprocess.Process:
    """`count` other consoles' live feeds, in a process of their own, Live before this returns."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        THIS_FILE,
        "--child",
        "listeners",
        "--dsn",
        dsn,
        "--count",
        str(count),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 120)
    if not line.startswith(RESULT.encode()):
        raise SystemExit(f"the {count} listening consoles did not start: {line!r}")
    return proc


async def stop_listening(proc: asyncio.subprocess.Process) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    await asyncio.wait_for(proc.wait(), 60)


async def child_listeners(dsn: str, count: int) -> None:
    import asyncpg

    from services.live.feed import ChangeFeed, ListenTransport

    live = 0
    all_live = asyncio.Event()

    def status(s: object) -> None:
        nonlocal live
        live += getattr(s, "state", None) == "live"
        if live >= count:
            all_live.set()

    async def nothing() -> None:
        return None

    feeds = [
        ChangeFeed(
            ListenTransport(lambda: asyncpg.connect(dsn)),
            on_change=lambda _c: None,
            on_status=status,
            resync=nothing,
        )
        for _ in range(count)
    ]
    tasks = [asyncio.create_task(feed.run()) for feed in feeds]
    await asyncio.wait_for(all_live.wait(), 60)
    print(RESULT + json.dumps({"live": live}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for feed in feeds:
        await feed.stop()
    await asyncio.gather(*tasks, return_exceptions=True)


async def bare_notify(dsn: str, commits: int, gap: float) -> list[float]:
    import asyncpg

    writer = await asyncpg.connect(dsn)
    listener = await asyncpg.connect(dsn)
    heard: dict[str, float] = {}
    got = asyncio.Event()

    def on_notify(_c: object, _pid: int, _ch: str, payload: object) -> None:
        heard[str(payload)] = time.perf_counter()
        got.set()

    await listener.add_listener("bench_ui_bare", on_notify)
    latencies = []
    try:
        for n in range(commits):
            got.clear()
            sent = time.perf_counter()
            await writer.execute("select pg_notify('bench_ui_bare', $1)", str(n))
            await asyncio.wait_for(got.wait(), 10)
            latencies.append(heard[str(n)] - sent)
            await asyncio.sleep(gap)
    finally:
        await listener.close()
        await writer.close()
    return latencies


# ------------------------------------------------------------------ the door


async def door_checkins(dsn: str, checkins: int) -> dict[str, Any]:
    import asyncpg

    from screens.dialogs.ask import CountDialog
    from screens.door import DoorScreen
    from services.store import seed

    door_email = next(email for email, _name, role in seed.DEMO_STAFF if role == "door")
    owner = await asyncpg.connect(dsn)
    services = await open_console(dsn, door_email)
    db_seconds: list[float] = []
    check_in = services.bookings.check_in

    async def timed_check_in(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await check_in(*args, **kwargs)
        finally:
            db_seconds.append(time.perf_counter() - t0)

    services.bookings.check_in = timed_check_in  # type: ignore[method-assign]
    night = await owner.fetchrow(
        "select n.id, n.ends_at from backroom.night n where n.date = $1", FIXED_NOW.date()
    )
    table_id = await owner.fetchval("select id from backroom.venue_table where number = $1", DOOR_TABLE)
    assert night is not None and table_id is not None
    dialog_times, toast_times = [], []
    try:
        app = console_app(services)
        app.__dict__["_bench_hook"] = None
        frames = Frames(app, DOOR_SIZE)
        async with app.run_test(size=DOOR_SIZE, notifications=True) as pilot:
            screen = await door_ready(pilot)

            def listed(name: str) -> bool:
                return name in [b.guest_name for b in screen.booking_list.bookings]

            def found(text: str, name: str) -> bool:
                return bool(
                    screen.current
                    and screen.shown_text == text
                    and screen.selected is not None
                    and screen.selected.guest_name == name
                )

            growth = Growth()
            for n in range(1, checkins + 1):
                name = f"Bench {n:03d}"
                ref = await make_booking(owner, night["id"], table_id, name, FIXED_NOW, night["ends_at"])
                await until(partial(listed, name))
                await frames.settle()
                text = name.lower()
                for key in text:  # typed briskly; the door waits for the list of the whole name
                    send_key(app, "space" if key == " " else key)
                    await asyncio.sleep(0.01)
                await until(partial(found, text, name))
                await frames.settle()
                dialog_times.append(await timed_key(app, frames, "enter", showing(f"Check in {ref}")))
                await until(lambda: isinstance(app.screen, CountDialog))
                await frames.settle()
                before = len(db_seconds)
                toast_times.append(await timed_key(app, frames, "enter", partial(checked_in_shown, ref=ref)))
                assert len(db_seconds) == before + 1
                await until(
                    lambda: isinstance(app.screen, DoorScreen) and screen.current and not screen.writing
                )
                await frames.settle()
                app.clear_notifications()
                await owner.execute("update backroom.booking set status = 'completed' where ref = $1", ref)
                await frames.settle()
            growth.stop()
            summary = frames.per_frame()
    finally:
        await services.db.close()
        await owner.close()
    return {
        "dialog": dialog_times,
        "toast": toast_times,
        "db": db_seconds,
        "frames": summary,
        "growth": growth,
    }


def checked_in_shown(frames: Frames, ref: str) -> bool:
    """The toast 'Checked in n · REF · ...' is on screen (it may wrap after the count)."""
    flat = re.sub(r"[\s▌▐│┃]+", " ", frames.text())
    return re.search(rf"Checked in \d+ · {ref}\b", flat) is not None


async def make_booking(
    owner: asyncpg.Connection, night_id: int, table_id: int, name: str, starts: datetime, ends: datetime
) -> str:
    async with owner.transaction():
        guest = await owner.fetchval("insert into backroom.guest (name) values ($1) returning id", name)
        row = await owner.fetchrow(
            "insert into backroom.booking (night_id, guest_id, party_size, status, starts_at, ends_at)"
            " values ($1, $2, 2, 'confirmed', $3, $4) returning id, ref",
            night_id,
            guest,
            starts,
            ends,
        )
        assert row is not None
        await owner.execute(
            "insert into backroom.booking_table (booking_id, table_id, during, active)"
            " values ($1, $2, tstzrange($3, $4), true)",
            row["id"],
            table_id,
            starts,
            ends,
        )
    ref: str = row["ref"]
    return ref


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise SystemExit(f"not met within {timeout}s: {condition}")
        await asyncio.sleep(0.005)


async def door_ready(pilot: Pilot[Any]) -> DoorScreen:
    from screens.door import DoorScreen

    def ready() -> bool:
        screen = pilot.app.screen
        return (
            isinstance(screen, DoorScreen) and screen.snapshot is not None and screen.current and screen.live
        )

    await until(ready, 30)
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, DoorScreen)
    return screen


# ------------------------------------------------------------------ start-up (child processes)


async def child_bare(size: tuple[int, int]) -> dict[str, Any]:
    t0 = time.monotonic()
    import textual.app  # noqa: F401

    imported = time.monotonic()
    created = time.monotonic()
    app = bare_app()
    frames = Frames(app, size)
    shown = frames.when(lambda f: bare_words(0) in f.line(0))
    async with app.run_test(size=size):
        painted = await asyncio.wait_for(shown, 30)
        await asyncio.sleep(0.5)
        memory = rss()
    return {
        "imports": imported - t0,
        "first_paint": mono(painted) - created,
        "ready_at": mono(painted),
        **memory,
    }


def mono(perf: float) -> float:
    """A perf_counter stamp as time.monotonic (both CLOCK_MONOTONIC on Linux, but not promised)."""
    return perf - time.perf_counter() + time.monotonic()


async def child_console(dsn: str, size: tuple[int, int]) -> dict[str, Any]:
    t0 = time.monotonic()
    import console.app
    import console.wiring  # noqa: F401
    from services.store import seed

    imported = time.monotonic()
    services = await open_console(dsn, seed.DEMO_MANAGER)
    opened = time.monotonic()
    try:
        created = time.monotonic()
        app = console_app(services)
        frames = Frames(app, size)
        ready = frames.when(lambda f: floor_interactive(app, f))
        async with app.run_test(size=size):
            at = await asyncio.wait_for(ready, 30)
            await asyncio.sleep(0.5)
            memory = rss()
            first = frames.first_at
            assert first is not None
    finally:
        await services.db.close()
    return {
        "imports": imported - t0,
        "services": opened - imported,
        "first_paint": mono(first) - created,
        "interactive": mono(at) - created,
        "ready_at": mono(at),
        **memory,
    }


def child_main(kind: str, dsn: str, size: tuple[int, int]) -> None:
    result = asyncio.run(child_bare(size) if kind == "bare" else child_console(dsn, size))
    result["process_start"] = STARTED_AT
    print(RESULT + json.dumps(result), flush=True)


async def startups(dsn: str, runs: int) -> dict[str, list[dict[str, Any]]]:
    results: dict[str, list[dict[str, Any]]] = {"bare": [], "console": []}
    size = f"{FLOOR_SIZE[0]}x{FLOOR_SIZE[1]}"
    for run in range(runs + 1):
        for kind in ("bare", "console"):
            spawned = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                THIS_FILE,
                "--child",
                kind,
                "--dsn",
                dsn,
                "--size",
                size,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), 120)
            found = [line for line in out.decode().splitlines() if line.startswith(RESULT)]
            if proc.returncode != 0 or not found:
                raise SystemExit(f"start-up run ({kind}) failed:\n{out.decode()}\n{err.decode()}")
            result = json.loads(found[-1].removeprefix(RESULT))
            result["spawn_to_ready"] = result["ready_at"] - spawned
            if run:  # the first run of each warms the disk cache and compiles .pyc files
                results[kind].append(result)
    return results


# ------------------------------------------------------------------ report


def ms(values: list[float], p: float) -> float:
    return percentile([v * 1000 for v in values], p)


def row(label: str, values: list[float], bare: list[float] | None = None) -> str:
    text = (
        f"  {label:<50} n={len(values):>4}  p50 {ms(values, 50):7.2f}  p95 {ms(values, 95):7.2f}"
        f"  p99 {ms(values, 99):7.2f} ms"
    )
    if bare:
        text += f"   x{ms(values, 50) / ms(bare, 50):5.1f} bare p50"
    return text


def median_ms(results: list[dict[str, Any]], key: str) -> float:
    values: list[float] = [r[key] for r in results]
    return statistics.median(values) * 1000


def targets() -> list[Target]:
    small = f"{DOOR_SIZE[0]}x{DOOR_SIZE[1]}"
    return [
        Target("arrow_p95_ms", f"floor arrow -> painted, p95, {FLOOR_SIZE[0]}x{FLOOR_SIZE[1]}", limit_ms=16),
        Target("arrow_80x24_p95_ms", f"floor arrow -> painted, p95, {small}", limit_ms=16),
        Target("cpu_per_arrow_p50_ms", "floor CPU per arrow, p50", bare="bare_cpu_per_key_p50_ms", times=5),
        Target("held_last_to_painted_ms", "held arrow: last repeat -> on its tile", limit_ms=FRAME_MS),
        Target("held_backlog_keys", "held arrow: repeats waiting at the last one", limit_ms=0, unit=" keys"),
        Target("checkin_toast_p95_ms", "door final Enter -> 'Checked in' toast, p95", limit_ms=40),
        Target(
            "door_widgets_alive",
            "door: removed widgets still alive after the check-ins",
            limit_ms=0,
            unit=" widgets",
        ),
        Target(
            "floor_rss_growth_mib", "floor resident memory growth over the arrows", limit_ms=1, unit=" MiB"
        ),
        Target(
            "door_rss_growth_mib", "door resident memory growth over the check-ins", limit_ms=1, unit=" MiB"
        ),
        Target("commit_to_tile_p95_ms", "commit on another connection -> tile painted, p95", limit_ms=20),
        Target(
            f"commit_to_tile_{CROWD}_p95_ms",
            f"commit -> tile painted with {CROWD} consoles listening, p95",
            limit_ms=30,
        ),
        Target(
            "startup_spawn_to_interactive_ms",
            "start-up: spawn -> interactive floor",
            bare="bare_startup_ms",
            times=1.5,
        ),
    ]


def figures_of(
    bare_floor: list[float],
    bare_cpu: list[float],
    bare_door: list[float],
    floor: dict[str, Any],
    small: dict[str, Any],
    crowd: dict[str, Any],
    door: dict[str, Any],
    starts: dict[str, list[dict[str, Any]]],
    bare_listen: list[float],
) -> dict[str, float]:
    def mib(growth: Growth) -> float:
        return (growth.rss_after - growth.rss_before) / 1024

    return {
        "bare_key_p95_ms": ms(bare_floor, 95),
        "bare_key_80x24_p95_ms": ms(bare_door, 95),
        "arrow_p50_ms": ms(floor["selection"], 50),
        "arrow_p95_ms": ms(floor["selection"], 95),
        "arrow_p99_ms": ms(floor["selection"], 99),
        "arrow_80x24_p95_ms": ms(small["selection"], 95),
        "detail_p95_ms": ms(floor["detail"], 95),
        "bare_cpu_per_key_p50_ms": ms(bare_cpu, 50),
        "cpu_per_arrow_p50_ms": ms(floor["cpu"], 50),
        "cpu_per_arrow_80x24_p50_ms": ms(small["cpu"], 50),
        "held_last_to_painted_ms": floor["held"]["last_to_painted"] * 1000,
        "held_backlog_keys": floor["held"]["backlog"],
        "held_80x24_last_to_painted_ms": small["held"]["last_to_painted"] * 1000,
        "held_80x24_backlog_keys": small["held"]["backlog"],
        "checkin_dialog_p95_ms": ms(door["dialog"], 95),
        "checkin_toast_p50_ms": ms(door["toast"], 50),
        "checkin_toast_p95_ms": ms(door["toast"], 95),
        "checkin_db_p50_ms": ms(door["db"], 50),
        "door_widgets_alive": float(door["growth"].detached_after - door["growth"].detached_before),
        "floor_rss_growth_mib": mib(floor["growth"]),
        "door_rss_growth_mib": mib(door["growth"]),
        "bare_notify_p95_ms": ms(bare_listen, 95),
        "commit_to_feed_p95_ms": ms(floor["to_feed"], 95),
        "commit_to_tile_p50_ms": ms(floor["to_paint"], 50),
        "commit_to_tile_p95_ms": ms(floor["to_paint"], 95),
        "commit_to_tile_p99_ms": ms(floor["to_paint"], 99),
        f"commit_to_tile_{CROWD}_p95_ms": ms(crowd["to_paint"], 95),
        "startup_spawn_to_interactive_ms": median_ms(starts["console"], "spawn_to_ready"),
        "bare_startup_ms": median_ms(starts["bare"], "spawn_to_ready"),
        "app_to_interactive_ms": median_ms(starts["console"], "interactive"),
        "bare_app_to_first_paint_ms": median_ms(starts["bare"], "first_paint"),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--presses", type=int, default=150, help="arrow key presses (and bare presses)")
    parser.add_argument("--checkins", type=int, default=30, help="door check-ins (two keys each)")
    parser.add_argument("--commits", type=int, default=100, help="commits for commit-to-paint")
    parser.add_argument("--startups", type=int, default=5, help="start-up runs of each app")
    parser.add_argument(
        "--gap-ms",
        type=float,
        default=60,
        help="pause after each painted commit (more than the App's 50 ms batching)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object of the figures; the report goes to standard error",
    )
    args = parser.parse_args()
    with readable_to_stderr(args.json):
        figures = await measure(args)
        print()
        checked = targets()
        report(figures, checked)
    if args.json:
        print(
            as_json(
                "ui",
                figures,
                checked,
                {"presses": args.presses, "checkins": args.checkins, "commits": args.commits},
            ),
            flush=True,
        )


async def measure(args: argparse.Namespace) -> dict[str, float]:
    gap = args.gap_ms / 1000

    import textual
    from harness import bench_database

    began = time.monotonic()
    async with bench_database() as dsn:
        import asyncpg

        conn = await asyncpg.connect(dsn)
        server = await conn.fetchval("show server_version")
        await conn.close()
        print(
            f"Backroom UI benchmark: Textual {textual.__version__}, Python {platform.python_version()},"
            f" {os.cpu_count()} cores, PostgreSQL {server}; floor {FLOOR_SIZE[0]}x{FLOOR_SIZE[1]},"
            f" door {DOOR_SIZE[0]}x{DOOR_SIZE[1]}; console clock {FIXED_NOW:%Y-%m-%d %H:%M} UTC",
            flush=True,
        )

        took: dict[str, float] = {}
        mark = began

        def lap(what: str) -> None:
            nonlocal mark
            took[what], mark = time.monotonic() - mark, time.monotonic()

        lap("database")
        starts = await startups(dsn, args.startups)
        lap("start-ups")
        bare_floor, bare_cpu, bare_floor_frames = await bare_presses(args.presses, FLOOR_SIZE)
        bare_door, _cpu, _frames = await bare_presses(args.presses, DOOR_SIZE)
        lap("bare keys")
        bare_listen = await bare_notify(dsn, args.commits, gap)
        lap("bare notify")
        floor = await floor_and_commits(dsn, args.presses, args.commits, gap)
        lap("floor keys and commits")
        small = await floor_and_commits(dsn, args.presses, 0, gap, size=DOOR_SIZE)
        lap(f"floor keys at {DOOR_SIZE[0]}x{DOOR_SIZE[1]}")
        others = await listening_consoles(dsn, CROWD - 1)
        try:
            crowd = await floor_and_commits(dsn, 0, args.commits, gap, held=False)
        finally:
            await stop_listening(others)
        lap(f"commits with {CROWD} consoles")
        door = await door_checkins(dsn, args.checkins)
        lap("door")

    print()
    print("1. Key press -> painted frame (sent as a terminal driver sends it -> frame showing it)")
    print(row(f"bare App: key -> Static text ({FLOOR_SIZE[0]}x{FLOOR_SIZE[1]})", bare_floor))
    print(row("floor: arrow -> new tile's focus border", floor["selection"], bare_floor))
    print(row("floor: arrow -> detail names the table", floor["detail"], bare_floor))
    print(row("bare App: CPU time per key, until idle again", bare_cpu))
    print(row("floor: CPU time per arrow, until idle again", floor["cpu"], bare_cpu))
    cpu = floor["cpu"]
    tenth = max(len(cpu) // 10, 1)
    print(
        f"  floor over the {len(cpu)} arrows: CPU per arrow p50 {ms(cpu[:tenth], 50):.0f} ms in the first"
        f" tenth, {ms(cpu[-tenth:], 50):.0f} ms in the last; {floor['growth'].words()}"
    )
    print(row(f"bare App: key -> Static text ({DOOR_SIZE[0]}x{DOOR_SIZE[1]})", bare_door))
    print(
        row(
            f"floor at {DOOR_SIZE[0]}x{DOOR_SIZE[1]}: arrow -> new tile's focus border",
            small["selection"],
            bare_door,
        )
    )
    print(row(f"floor at {DOOR_SIZE[0]}x{DOOR_SIZE[1]}: CPU time per arrow", small["cpu"], bare_cpu))
    for label, held in (
        (f"{FLOOR_SIZE[0]}x{FLOOR_SIZE[1]}", floor["held"]),
        (f"{DOOR_SIZE[0]}x{DOOR_SIZE[1]}", small["held"]),
    ):
        print(
            f"  floor at {label}: right arrow held ({held['repeats']:.0f} repeats, {HELD_RATE:.0f}/s):"
            f" last repeat -> on its tile {held['last_to_painted'] * 1000:.1f} ms,"
            f" {held['backlog']:.0f} repeats still waiting at the last"
        )
    print(row("door: Enter on the name -> count dialog", door["dialog"], bare_door))
    print(row("door: final Enter -> 'Checked in' toast", door["toast"], bare_door))
    print(row("  of which BookingService.check_in (database)", door["db"]))
    print(f"  door over the {len(door['toast'])} check-ins: {door['growth'].words()}")
    print(f"  frames: bare {bare_floor_frames}")
    print(f"          floor {floor['frames']}")
    print(f"          door {door['frames']}")

    print()
    print(f"2. Start-up, fresh process each, median of {args.startups} (after one warm-up run each)")
    b, c = starts["bare"], starts["console"]
    print(f"  {'':<50} {'bare':>10} {'Backroom':>10} {'ratio':>7}")
    lines = [
        ("imports (textual / console + services)", "imports", "imports"),
        ("App() -> first painted frame", "first_paint", "first_paint"),
        ("App() -> interactive (bare: first frame)", "first_paint", "interactive"),
        ("spawn -> interactive (interpreter, imports, all)", "spawn_to_ready", "spawn_to_ready"),
    ]
    for label, kb, kc in lines:
        vb, vc = median_ms(b, kb), median_ms(c, kc)
        print(f"  {label:<50} {vb:8.0f} ms {vc:8.0f} ms {vc / vb:6.1f}x")
    print(
        f"  {'Backroom services opened (pool, staff lookup)':<50} {'':>10} {median_ms(c, 'services'):8.0f} ms"
    )

    print()
    print("3. Commit -> painted tile (writer sends; commits autocommit, one at a time)")
    print(row("bare asyncpg LISTEN/NOTIFY: send -> callback", bare_listen))
    print(row("booking UPDATE: send -> commit acknowledged", floor["acked"]))
    print(row("booking UPDATE: send -> App's feed hands it on", floor["to_feed"], bare_listen))
    print(row("booking UPDATE: send -> floor's snapshot read back", floor["to_read"]))
    print(row("booking UPDATE: send -> tile shows it", floor["to_paint"], bare_listen))
    print(f"  floor over the {len(floor['to_paint'])} commits: {floor['commit_growth'].words()}")
    print(
        row(
            f"  with {CROWD - 1} other consoles listening: send -> tile shows it",
            crowd["to_paint"],
            bare_listen,
        )
    )

    print()
    print("4. Resident memory of the start-up processes, median (0.5 s after ready)")
    for label, kind, results in (
        ("bare App, first frame painted", "bare", b),
        ("Backroom, floor interactive", "console", c),
    ):
        rss_mib = statistics.median(r["VmRSS"] for r in results) / 1024
        hwm_mib = statistics.median(r["VmHWM"] for r in results) / 1024
        print(f"  {label:<50} VmRSS {rss_mib:7.1f} MiB   peak {hwm_mib:7.1f} MiB  ({kind})")
    ratio = statistics.median(r["VmRSS"] for r in c) / statistics.median(r["VmRSS"] for r in b)
    print(f"  {'Backroom / bare':<50} x{ratio:.1f}")
    print()
    print(
        f"Took {time.monotonic() - began:.0f} s: "
        + ", ".join(f"{what} {seconds:.0f} s" for what, seconds in took.items())
    )
    return figures_of(bare_floor, bare_cpu, bare_door, floor, small, crowd, door, starts, bare_listen)


if __name__ == "__main__":
    cli = argparse.ArgumentParser(add_help=False)
    cli.add_argument("--child", choices=["bare", "console", "listeners"])
    cli.add_argument("--dsn", default="")
    cli.add_argument("--size", default=f"{FLOOR_SIZE[0]}x{FLOOR_SIZE[1]}")
    cli.add_argument("--count", type=int, default=CROWD - 1)
    known, _rest = cli.parse_known_args()
    if known.child == "listeners":
        asyncio.run(child_listeners(known.dsn, known.count))
    elif known.child:
        w, h = (int(v) for v in known.size.split("x"))
        child_main(known.child, known.dsn, (w, h))
    else:
        asyncio.run(main())
