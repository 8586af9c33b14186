"""A console with the support screens, and waiting for the audit screen to load."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen

from console.wiring import Services
from screens.audit import AuditScreen
from screens.help import HelpScreen, describe_bindings
from screens.live import LiveScreen, NightChanged
from screens.support import SupportScreen
from services.live.feed import (
    Change,
    ChangeBatch,
    ChangeBatcher,
    ChangeFeed,
    FeedState,
    FeedStatus,
    ListenTransport,
)
from services.live.presence import Presence, PresenceEntry
from services.store.db import Actor
from tests.tui.helpers import until


class ConsoleApp(App[None]):
    """A console in small: one real change feed and one real presence, as the App keeps
    them, posting every screen `NightChanged` and keeping `actor`, `feed_status` and
    `roster` for the screens to watch; F1 lists the screen's keys as the console's help does."""

    BINDINGS = [Binding("question_mark,f1", "help", "Help", id="app.help")]

    actor: reactive[Actor] = reactive(Actor, init=False)
    feed_status: reactive[FeedStatus] = reactive(
        lambda: FeedStatus(FeedState.CONNECTING), init=False, always_update=True
    )
    roster: reactive[tuple[PresenceEntry, ...] | None] = reactive(None, init=False, always_update=True)

    def __init__(
        self,
        services: Services,
        screen: Callable[[Services], Screen[Any]],
        *,
        feed: bool = True,
        presence: bool = True,
    ) -> None:
        super().__init__()
        self.services = services
        self._make_screen = screen
        self._want_feed = feed
        self._want_presence = presence
        self._feed: ChangeFeed | None = None
        self._presence: Presence | None = None
        self._batcher: ChangeBatcher | None = None

    @property
    def feed(self) -> ChangeFeed | None:
        return self._feed

    @property
    def presence(self) -> Presence | None:
        return self._presence

    def announce(
        self, *, screen: str | None = None, table_id: int | None = None, night_id: int | None = None
    ) -> None:
        if self._presence is not None:
            self._presence.announce(
                actor=self.services.actor, screen=screen, selected_table=table_id, night_id=night_id
            )

    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, SupportScreen | AuditScreen):
            keys = describe_bindings(screen.help_bindings(), self.get_key_display)
            self.push_screen(HelpScreen(screen.sub_title or "", keys))

    def on_mount(self) -> None:
        self.actor = self.services.actor
        if self._want_feed:
            self._batcher = ChangeBatcher(self._merged, every=0.05)
            self._feed = ChangeFeed(
                ListenTransport(self.services.db.listener_connection),
                on_change=self._heard,
                on_status=self._status_changed,
                resync=self._resync,
            )
            self.run_worker(self._feed.run(), group="feed", exit_on_error=False)
        if self._want_presence:
            self._presence = self.services.presence(self._roster)
            self.roster = self._presence.online()
            self.run_worker(self._presence.run(), group="presence", exit_on_error=False)
        self.push_screen(self._make_screen(self.services))

    def _heard(self, change: Change) -> None:
        if self._batcher is not None:
            self._batcher.add(change)

    def _merged(self, batch: ChangeBatch) -> None:
        for screen in self.screen_stack:
            screen.post_message(NightChanged(batch))

    def _status_changed(self, status: FeedStatus) -> None:
        self.feed_status = status

    def _roster(self, entries: tuple[PresenceEntry, ...]) -> None:
        self.roster = entries

    async def _resync(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, LiveScreen) and screen.is_mounted:
                await screen.resync()

    async def on_unmount(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
        stops = [part.stop() for part in (self._feed, self._presence) if part is not None]
        await asyncio.gather(*stops, return_exceptions=True)


async def audit_loaded(pilot: Any, loads: int = 1) -> AuditScreen:
    screen = pilot.app.screen
    assert isinstance(screen, AuditScreen)
    await until(pilot, lambda: screen.loads >= loads and not screen.reading, what="audit loaded")
    await pilot.pause()
    return screen
