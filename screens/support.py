"""The support screen: how the server and this console's feed are doing, and
who is online. Read only; made for a plain 80x24 terminal over SSH.

The figures are read every few seconds in the "health" worker, which is
started again only once the last read has finished, so a slow server never
stacks reads up. If the server cannot be reached the screen says so and keeps
the last figures with their age. Who is online is the App's `roster`, which the
screen watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, Unpack, runtime_checkable

from textual import work
from textual.app import App, ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import VerticalScroll
from textual.timer import Timer

from screens.live import LiveScreen, ScreenOptions
from screens.palette import ScreenCommands
from services.live.health import Directory, HealthReport, directory, gather_health
from services.live.presence import PresenceEntry
from widgets.footer import Footer
from widgets.health_panel import HealthPanel, HealthView
from widgets.presence_list import PresenceList, PresenceNames
from widgets.top_bar import TopBar

if TYPE_CHECKING:
    from services.live.feed import ChangeFeed
    from services.store.db import Actor, Database

Gather = Callable[["Database", "ChangeFeed | None"], Awaitable[HealthReport]]

NO_PRESENCE = "presence is not running on this console"


@dataclass(frozen=True, slots=True)
class KeyCommand:
    """A key of a read-only screen, offered in the command palette too."""

    title: str
    help: str
    run: Callable[[], object]


def key_commands(
    bindings: Iterable[tuple[str, ActiveBinding]], titles: Mapping[str, str], app: App[Any]
) -> list[KeyCommand]:
    """One command per binding named in `titles` (by id), run on the node that has the key."""
    commands: dict[str, KeyCommand] = {}
    for _key, active in bindings:
        binding = active.binding
        title = titles.get(binding.id or "")
        if title is None or binding.id in commands:
            continue
        commands[binding.id or title] = KeyCommand(
            title,
            f"{binding.tooltip or binding.description} ({app.get_key_display(binding)})",
            partial(app.run_action, binding.action, active.node),
        )
    return [commands[i] for i in titles if i in commands]


@runtime_checkable
class OffersKeyCommands(Protocol):
    def key_commands(self) -> list[KeyCommand]: ...


class KeyCommands(ScreenCommands):
    """The palette's entries for a screen that offers `key_commands`."""

    def commands(self) -> list[KeyCommand]:
        screen = self.screen
        return screen.key_commands() if isinstance(screen, OffersKeyCommands) else []


PALETTE_TITLES = {
    "support.refresh": "Refresh the health figures",
    "support.back": "Leave the support screen",
}


class SupportServices(Protocol):
    """What the support screen needs from the console's services."""

    @property
    def db(self) -> Database: ...

    @property
    def actor(self) -> Actor: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...


class SupportScreen(LiveScreen):
    """Health figures above, who is online below."""

    SUB_TITLE = "Support"

    PRESENCE_NAME = "support"

    COMMANDS = {KeyCommands}

    # How often the figures are read again.
    REFRESH_SECONDS = 3.0
    # The longest the names of tables and nights may take to read.
    NAMES_TIMEOUT = 5.0

    DEFAULT_CSS = """
    SupportScreen {
        layout: vertical;
        #support-body { height: 1fr; }
        HealthPanel { margin-bottom: 1; }
        HealthPanel.-unreachable { background: $error 10%; }
    }
    """

    BINDINGS = [
        Binding(
            "r", "refresh", "Refresh", id="support.refresh", tooltip="Read the figures now (else every 3 s)"
        ),
        Binding("escape", "back", "Back", id="support.back", tooltip="Back to the screen before"),
    ]

    def __init__(
        self,
        services: SupportServices,
        *,
        gather: Gather | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        refresh_every: float | None = None,
        **options: Unpack[ScreenOptions],
    ) -> None:
        super().__init__(**options)
        self.services = services
        self._gather: Gather = gather or gather_health
        self._monotonic = monotonic
        self._refresh_every = self.REFRESH_SECONDS if refresh_every is None else refresh_every
        self._checking = False
        self._again = False
        self._latest: HealthReport | None = None
        self._last_good: HealthReport | None = None
        self._last_good_at: float | None = None
        self._directory: Directory | None = None
        self._entries: tuple[PresenceEntry, ...] | None = None
        self._ticker: Timer | None = None
        self.checks = 0

    def compose(self) -> ComposeResult:
        yield TopBar("Support · health", short="Health")
        # The body scrolls with the arrow keys when many consoles are online.
        with VerticalScroll(id="support-body"):
            yield HealthPanel(id="health")
            yield PresenceList(id="presence")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        live = self.live_app
        self._entries = live.roster if live is not None else None
        self._show_presence()
        self._show_health()
        self.set_interval(self._refresh_every, self.refresh_health)
        self.refresh_health()
        self.follow("roster", self._roster_changed, init=False)

    # Reading -------------------------------------------------------------------------

    @property
    def latest(self) -> HealthReport | None:
        return self._latest

    @property
    def checking(self) -> bool:
        return self._checking

    def refresh_health(self) -> None:
        """Read the figures soon; a read under way is not doubled, one more follows it."""
        if self._checking:
            self._again = True
            return
        self._checking = True
        self._check()

    @work(exclusive=True, group="health", exit_on_error=False)
    async def _check(self) -> None:
        try:
            again = True
            while again:
                self._again = False
                await self._read()
                again = self._again
        finally:
            self._checking = False

    async def _read(self) -> None:
        live = self.live_app
        feed = live.feed if live is not None else None
        report = await self._gather(self.services.db, feed)
        self.checks += 1
        if report.reachable and self._needs_names():
            # Names are a nicety: without them the figures still show, with ids for names.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.NAMES_TIMEOUT):
                    self._directory = await directory(self.services.db, self._night_ids())
        self._took(report)

    def _took(self, report: HealthReport) -> None:
        self._latest = report
        if report.reachable:
            self._last_good, self._last_good_at = report, self._monotonic()
        self._show_health()
        self._show_presence()
        # Only while the server is away does the age of the figures change between reads.
        if not report.reachable and self._ticker is None:
            self._ticker = self.set_interval(1.0, self._show_health)
        elif report.reachable and self._ticker is not None:
            self._ticker.stop()
            self._ticker = None

    def _night_ids(self) -> set[int]:
        return {e.night_id for e in self._entries or () if e.night_id is not None}

    def _needs_names(self) -> bool:
        return self._directory is None or not self._night_ids() <= set(self._directory.nights)

    async def resync(self) -> None:
        """Back online: read the figures again (without holding the feed up)."""
        self.refresh_health()

    # Showing -------------------------------------------------------------------------

    @property
    def timezone(self) -> str:
        return self._directory.timezone if self._directory is not None else "UTC"

    def _show_health(self) -> None:
        age = None if self._last_good_at is None else self._monotonic() - self._last_good_at
        self.query_one(HealthPanel).view = HealthView(
            latest=self._latest,
            last_good=self._last_good,
            good_age_s=age,
            timezone=self.timezone,
            has_feed=self._has_feed(),
        )

    def _has_feed(self) -> bool:
        live = self.live_app
        return live is not None and live.feed is not None

    def _show_presence(self) -> None:
        panel = self.query_one(PresenceList)
        if self._entries is None:
            panel.show_unavailable(NO_PRESENCE)
            return
        live = self.live_app
        presence = live.presence if live is not None else None
        found = self._directory
        panel.show(
            self._entries,
            PresenceNames(
                timezone=self.timezone,
                tables=found.tables if found is not None else {},
                nights=found.nights if found is not None else {},
                this_console=presence.console_id if presence is not None else None,
            ),
        )

    def _roster_changed(self, entries: tuple[PresenceEntry, ...] | None) -> None:
        self._entries = entries
        self._show_presence()
        if self._needs_names():
            self.refresh_health()

    # Keys ----------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.refresh_health()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.dismiss(None)

    def help_bindings(self) -> list[tuple[str, ActiveBinding]]:
        """This screen's keys and the console's own (not the presence list's cursor keys)."""
        return [
            (key, active)
            for key, active in self.active_bindings.items()
            if (active.binding.id or "").startswith("support.") or active.node is self.app
        ]

    def key_commands(self) -> list[KeyCommand]:
        return key_commands(self.help_bindings(), PALETTE_TITLES, self.app)
