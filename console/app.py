"""The Backroom Console application: takes the services it is given, signs staff in,
opens the floor, and locks itself when left alone.

`services.actor` is who the console acts for. With an identity service and
nobody signed in, the console opens on the sign-in screen; signing out, or
someone else taking over a locked console, goes back there. The floor, once
open, keeps running through sign-outs and locks (its feed stays live) and acts
for whoever signs in next.

The idle lock: every key, mouse event or paste marks the time on `monotonic`
(injectable, so a test moves time on instead of waiting), and a timer compares
the time since with the signed-in role's limit in `idle_minutes`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from console.settings import DEFAULT_IDLE_MINUTES
from screens.floor import FloorScreen
from screens.help import HelpScreen, describe_bindings
from screens.lock import LockScreen, idle_words
from screens.sign_in import SignInScreen
from services.db import Actor
from services.identity import Session

if TYPE_CHECKING:
    from console.wiring import Services


def key_words(key: str) -> str:
    """'ctrl+o' as staff read it on a keyboard: 'Ctrl+O'."""
    return "+".join(part.upper() if len(part) == 1 else part.capitalize() for part in key.split("+"))


class BackroomApp(App[None]):
    """The staff console. The services come from outside, so a test can hand in its own."""

    TITLE = "Backroom Console"

    # How often the idle lock looks at the clock.
    IDLE_CHECK_SECONDS = 1.0

    BINDINGS = [
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        # Kept off the floor's footer, which needs every column at 80; listed in help and the
        # palette. Priority, so they work from a dialog too (a modal hides the App's own keys).
        Binding("ctrl+l", "lock", "Lock", show=False, priority=True, id="app.lock",
                tooltip="Cover the screen; your code opens it"),
        Binding("ctrl+o", "sign_out", "Sign out", show=False, priority=True, id="app.sign_out",
                tooltip="The next staff member signs in"),
        # Staff expect Ctrl+C to leave; it stops the feed and the embedded server like Ctrl+Q.
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="app.interrupt"),
    ]

    def __init__(self, services: Services, *, night_id: int | None = None,
                 idle_minutes: dict[str, float] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.services = services
        self.night_id = night_id
        self.idle_minutes = dict(DEFAULT_IDLE_MINUTES if idle_minutes is None else idle_minutes)
        self._monotonic = monotonic
        self._last_input = monotonic()

    # Who is at the console ----------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        return self.services.actor.staff_id is not None

    @property
    def locked(self) -> bool:
        return any(isinstance(screen, LockScreen) for screen in self.screen_stack)

    @property
    def floor_screen(self) -> FloorScreen | None:
        return next((s for s in self.screen_stack if isinstance(s, FloorScreen)), None)

    def on_mount(self) -> None:
        self._last_input = self._monotonic()
        self.set_interval(self.IDLE_CHECK_SECONDS, self.check_idle_lock)
        # Lapsed holds and unconfirmed bookings expire even if no one touches them.
        self.run_worker(self.services.bookings.keep_sweeping(every=5.0), name="sweeper",
                        group="sweeper", exit_on_error=False)
        if self.services.identity is not None and not self.signed_in:
            self._ask_to_sign_in("")
        else:
            self._open_floor()

    def _open_floor(self) -> None:
        self.push_screen(FloorScreen(self.services, night_id=self.night_id))

    def _ask_to_sign_in(self, note: str) -> None:
        identity = self.services.identity
        assert identity is not None
        self.push_screen(SignInScreen(identity, note=note), self._signed_in)

    def _signed_in(self, session: Session | None) -> None:
        if session is None:
            return
        self.services.actor = session.actor
        self._last_input = self._monotonic()
        floor = self.floor_screen
        if floor is None:
            self._open_floor()
        else:
            # The floor kept running under the sign-in; from now on it acts for this person.
            floor.show_staff()
        self.refresh_bindings()

    def action_sign_out(self) -> None:
        """Sign out (from the floor) or let someone else sign in (from the lock)."""
        if self.services.identity is None or not self.signed_in:
            return
        leaving = self.services.actor
        note = (f"The console was locked for {leaving.name}. Sign in to take over."
                if self.locked else f"{leaving.name} signed out.")
        self.services.actor = Actor()
        # What the one leaving had open, and their toasts, are not for the next person.
        self.clear_notifications()
        floor = self.floor_screen
        with self.batch_update():
            if floor is not None:
                for _ in range(len(self.screen_stack)):
                    if self.screen is floor:
                        break
                    self.screen.dismiss(None)
                floor.show_staff()
            self._ask_to_sign_in(note)
        self.refresh_bindings()

    # The idle lock ------------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseEvent | events.Paste):
            self._last_input = self._monotonic()
        await super().on_event(event)

    def idle_limit(self) -> float | None:
        """Minutes without input before the console locks, for the role signed in; None: never."""
        role = self.services.actor.role
        minutes = self.idle_minutes.get(role) if role is not None else None
        if minutes is None:
            # A role the settings do not name gets the strictest limit.
            minutes = min(self.idle_minutes.values(), default=None)
        return minutes if minutes is not None and minutes > 0 else None

    def check_idle_lock(self) -> None:
        if not self._may_lock():
            return
        limit = self.idle_limit()
        if limit is not None and self._monotonic() - self._last_input >= limit * 60:
            self.lock(why=f"Nothing was pressed for {idle_words(limit)}.")

    def _may_lock(self) -> bool:
        return self.services.identity is not None and self.signed_in and not self.locked

    def action_lock(self) -> None:
        self.lock(why=f"{self.services.actor.name} locked it.")

    def lock(self, *, why: str) -> None:
        """Cover the console until the signed-in staff member's code opens it."""
        identity = self.services.identity
        if identity is None or not self._may_lock():
            return
        self.push_screen(LockScreen(identity, self.services.actor, why=why,
                                    someone_else_key=self._key_of("app.sign_out")),
                         self._unlocked)

    def _unlocked(self, opened: bool | None) -> None:
        if opened:
            self._last_input = self._monotonic()
        self.refresh_bindings()

    def _key_of(self, binding_id: str) -> str:
        for bindings in self._bindings.key_to_bindings.values():
            for binding in bindings:
                if binding.id == binding_id:
                    return key_words(binding.key)
        return binding_id

    # Keys, help and the palette -------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "lock":
            return self._may_lock()
        if action == "sign_out":
            return self.services.identity is not None and self.signed_in
        return True

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if self._may_lock():
            yield SystemCommand("Lock the console", f"Cover it now; your code opens it again "
                                f"({self._key_of('app.lock')})", self.action_lock)
        if self.check_action("sign_out", ()):
            who = self.services.actor.name
            yield SystemCommand("Sign out", f"{who} signs out; the next staff member signs in "
                                f"({self._key_of('app.sign_out')})", self.action_sign_out)

    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        # A screen may list more than its active keys: the floor lists every table action
        # staff may use, not only those that fit the table selected now.
        bindings = (screen.help_bindings() if isinstance(screen, FloorScreen)
                    else screen.active_bindings.items())
        keys = describe_bindings(bindings, self.get_key_display)
        title = screen.sub_title or type(screen).__name__.removesuffix("Screen")
        self.push_screen(HelpScreen(title, keys))

    async def action_quit(self) -> None:
        await self.stop_feeds()
        self.exit()

    async def stop_feeds(self) -> None:
        """Close every live feed before the loop goes, so no LISTEN connection is left behind."""
        for screen in self.screen_stack:
            if isinstance(screen, FloorScreen):
                await screen.stop_feed()
