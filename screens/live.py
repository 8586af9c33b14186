"""How screens follow the live feed the App keeps.

The App owns one change feed for the whole console. It merges bursts of
changes (per table, `services.live.feed.ChangeBatcher`) and posts every screen
in the stack a `NightChanged` with the merged batch. After every
(re)connection, before the feed says Live, it awaits `resync()` on each
screen that has one, so a screen that says Live shows everything committed up
to then.

What the console is in, rather than what happened, is state on the App that
screens watch (`LiveApp`): who is signed in (`actor`), the feed's state
(`feed_status`) and who is online (`roster`). The App only sets them; every
screen that shows them follows them itself.

`LiveScreen` is the base for main screens: it keeps a `TopBar` current (who
is signed in, the badge) and answers `live`, which writes check before they
start. A screen reads the App's feed, presence and state through `LiveApp`,
so it can also run under a plain App in a test (then it is never Live). Its
toasts are plain text: they name guests and staff, which are never markup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict, overload, runtime_checkable

from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen

from screens.protocols import ActsForStaff, TellsNews
from services.live.feed import ChangeBatch, ChangeFeed, FeedState, FeedStatus
from services.store.db import Actor
from widgets.display import plain
from widgets.top_bar import TopBar

if TYPE_CHECKING:
    from services.live.presence import Presence, PresenceEntry


@dataclass
class NightChanged(Message):
    """Changes committed by any console (this one included), merged over a short interval."""

    batch: ChangeBatch


# The App's state that screens watch (see `LiveApp`).
AppState = Literal["actor", "feed_status", "roster"]


@runtime_checkable
class LiveApp(Protocol):
    """What the App offers screens about the live feed and who else is online.

    `actor`, `feed_status` and `roster` are reactive on the App: a screen watches them
    (`LiveScreen.follow`) rather than being told. `roster` is None while the console
    keeps no presence."""

    @property
    def actor(self) -> Actor: ...

    @property
    def feed_status(self) -> FeedStatus: ...

    @property
    def roster(self) -> tuple[PresenceEntry, ...] | None: ...

    @property
    def feed(self) -> ChangeFeed | None: ...

    @property
    def presence(self) -> Presence | None: ...

    def announce(
        self, *, screen: str | None = None, table_id: int | None = None, night_id: int | None = None
    ) -> None: ...


class ScreenOptions(TypedDict, total=False):
    """What Textual's Screen takes beside what a screen of ours is given."""

    name: str | None
    id: str | None
    classes: str | None


class LiveScreen(Screen[None]):
    """A main screen that follows the feed: its `TopBar` shows who is signed in and the badge."""

    # What presence says this screen is ("floor", "door", ...): other consoles show it.
    PRESENCE_NAME = ""

    @property
    def live_app(self) -> LiveApp | None:
        app = self.app
        return app if isinstance(app, LiveApp) else None

    @property
    def in_front(self) -> bool:
        """Whether this is the main screen staff see now (dialogs over it included)."""
        mains = [s for s in self.app.screen_stack if isinstance(s, LiveScreen)]
        return bool(mains) and mains[-1] is self

    @property
    def feed_status(self) -> FeedStatus:
        live = self.live_app
        return live.feed_status if live is not None else FeedStatus(FeedState.OFFLINE)

    @property
    def live(self) -> bool:
        return self.feed_status.state is FeedState.LIVE

    @property
    def actor(self) -> Actor:
        """Who is signed in: the App's, or under a plain App whoever the services act for."""
        live = self.live_app
        if live is not None:
            return live.actor
        return self.services.actor if isinstance(self, ActsForStaff) else Actor()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast as plain text: a guest's name or a note in it is never read as markup, and
        no control character in it reaches the terminal."""
        super().notify(
            plain(message, lines=True), title=plain(title), severity=severity, timeout=timeout, markup=markup
        )

    def say_news(self, text: str) -> None:
        """A toast with what another console changed; the App merges a burst of them into one."""
        app = self.app
        if isinstance(app, TellsNews):
            app.tell_news(text)
        else:
            self.notify(text, timeout=6)

    def on_mount(self) -> None:
        if self.live_app is None:
            # A plain App keeps no feed (never Live) and no one signs in on it.
            self.show_status(self.feed_status)
            self.show_staff()
        self.follow("feed_status", self.show_status)
        self.follow("actor", self._actor_changed)

    @overload
    def follow(
        self, state: Literal["actor"], callback: Callable[[Actor], None], *, init: bool = True
    ) -> None: ...

    @overload
    def follow(
        self, state: Literal["feed_status"], callback: Callable[[FeedStatus], None], *, init: bool = True
    ) -> None: ...

    @overload
    def follow(
        self,
        state: Literal["roster"],
        callback: Callable[[tuple[PresenceEntry, ...] | None], None],
        *,
        init: bool = True,
    ) -> None: ...

    def follow(self, state: AppState, callback: Callable[[Any], None], *, init: bool = True) -> None:
        """Call `callback` with the App's `state` each time it changes (and now, with `init`).
        Under a plain App, which has no such state, never."""
        if self.live_app is not None:
            self.watch(self.app, state, callback, init=init)

    def _actor_changed(self, _actor: Actor) -> None:
        # A sign-in, a sign-out or a handover: the screen runs on for the next person.
        self.show_staff()

    def on_screen_resume(self) -> None:
        # Back on top: it shows who is signed in afresh, and presence says where they are.
        self.show_staff()
        self.announce()

    def announce(self, *, table_id: int | None = None, night_id: int | None = None) -> None:
        live = self.live_app
        if live is not None and self.PRESENCE_NAME:
            live.announce(screen=self.PRESENCE_NAME, table_id=table_id, night_id=night_id)

    def show_staff(self) -> None:
        for bar in self.query(TopBar):
            bar.show_staff(self.actor)

    def show_status(self, status: FeedStatus) -> None:
        for bar in self.query(TopBar):
            bar.show_status(status)

    async def resync(self) -> None:
        """Read what the screen shows; the feed awaits this before it says Live."""
