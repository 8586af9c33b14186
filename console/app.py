"""The Backroom Console application: takes the services it is given, signs staff in,
opens the floor, and locks itself when left alone.

`actor` is who the console acts for: reactive state that the screens watch,
which `services.actor` follows (the services act with it). With an identity
service and nobody signed in, the console opens on the sign-in screen;
signing out, or someone else taking over a locked console, goes back there.
The floor, once open, keeps running through sign-outs and locks (its feed
stays live) and acts for whoever signs in next.

The App keeps one change feed for the console (LISTEN/NOTIFY, or whatever
transport the services were built with). Bursts are merged per table and
posted to every screen in the stack as `NightChanged`; after each
(re)connection it awaits each screen's `resync()` before it says Live. The
feed's state is `feed_status`, reactive too. It also keeps this console's
presence: who is signed in, on which screen, which table, for the other
consoles to see; who is online, as presence last heard, is `roster`.

Only the demo hands in `demo_accounts`: every sign-in screen it shows then
lists the demo's accounts and fills one in with a key.

The idle lock: every key, mouse event or paste marks the time on `monotonic`
(injectable, so a test moves time on instead of waiting), and a timer compares
the time since with the signed-in role's limit in `idle_minutes`.

Quitting: a locked console never quits (its code opens it first). Ctrl+C asks
before it quits, as it is pressed by reflex. On a `kiosk` (a shared terminal)
Ctrl+Q asks too, and quitting needs a staff member signed in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.notifications import Notification, Notify
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.worker import Worker, WorkerState

from console.keymap import Keymap
from console.settings import DEFAULT_IDLE_MINUTES
from screens.cover import CoverScreen
from screens.dialogs.ask import ConfirmDialog
from screens.floor.screen import FloorScreen
from screens.help import HelpScreen, describe_bindings, key_label, mapped_bindings
from screens.live import LiveScreen, NightChanged
from screens.lock import LockScreen, idle_words
from screens.protocols import ListsHelp
from screens.sign_in import DemoAccounts, SignInScreen
from services.identity.accounts import Session
from services.identity.permissions import may_open
from services.live.feed import Change, ChangeBatch, ChangeBatcher, ChangeFeed, FeedState, FeedStatus
from services.live.presence import Presence, PresenceEntry
from services.store.db import Actor
from widgets.display import THEME_COLOURS, plain

if TYPE_CHECKING:
    from console.wiring import Services


log = logging.getLogger(__name__)


class BackroomApp(App[None]):
    """The staff console. The services come from outside, so a test can hand in its own."""

    TITLE = "Backroom Console"

    # Toasts stay short and few, at the bottom right: at 80x24 they cover the bottom of the
    # screen (the floor's detail, the door's selected line), not the tiles or the list.
    CSS = """
    Toast {
        width: 56;
        max-width: 100%;
        padding: 0 1;
    }
    """
    # At most this many toasts at once; the oldest goes first.
    MAX_TOASTS = 3
    # How long a toast with news from another console stays.
    NEWS_SECONDS = 6.0

    # How often the idle lock looks at the clock.
    IDLE_CHECK_SECONDS = 1.0

    BINDINGS = [
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        # Kept off the floor's footer, which needs every column at 80; listed in help and the
        # palette. Priority, so they work from a dialog too (a modal hides the App's own keys).
        Binding(
            "ctrl+l",
            "lock",
            "Lock",
            show=False,
            priority=True,
            id="app.lock",
            tooltip="Cover the screen; your code opens it",
        ),
        Binding(
            "ctrl+o",
            "sign_out",
            "Sign out",
            show=False,
            priority=True,
            id="app.sign_out",
            tooltip="The next staff member signs in",
        ),
        # Each job's screen, pushed over the floor (F2 goes back to it). Kept off the footers,
        # which need every column at 80; listed in help and the palette.
        Binding("f2", "go('floor')", "Floor", show=False, id="app.floor", tooltip="Both floors, live"),
        Binding(
            "f3",
            "go('door')",
            "Door",
            show=False,
            id="app.door",
            tooltip="Find tonight's bookings, check guests in",
        ),
        Binding(
            "f4",
            "go('nights')",
            "Nights",
            show=False,
            id="app.nights",
            tooltip="The coming nights, their occupancy and reports",
        ),
        Binding(
            "f5",
            "go('support')",
            "Health",
            show=False,
            id="app.support",
            tooltip="Health of the database and feed; who is online",
        ),
        Binding(
            "f6",
            "go('audit')",
            "Audit",
            show=False,
            id="app.audit",
            tooltip="The audit trail, by booking, staff and time",
        ),
        # Staff press Ctrl+C by reflex: it asks before it quits (and copies nothing: the
        # screens' own Ctrl+C copy never gets the key). Ctrl+Q is Textual's own.
        Binding(
            "ctrl+c",
            "interrupt",
            "Quit, after asking",
            show=False,
            priority=True,
            id="app.interrupt",
            tooltip="Asks, then quits like Ctrl+Q",
        ),
    ]

    # What a role is called in a sentence ("door staff").
    ROLE_WORDS = {
        "door": "door staff",
        "support": "support staff",
        "manager": "a manager",
        "admin": "an admin",
    }
    # Who may open each job's screen that not every role may (see _may_go).
    GO_ROLES = {
        "support": "support staff, managers and admins",
        "audit": "support staff, managers and admins",
    }

    # Changes are merged for this long at most during a burst (the first one goes at once).
    CHANGE_BATCH_SECONDS = 0.05

    # What the console is in, which the screens watch (screens.live.LiveApp). Watchers run
    # on every setting, an equal value included: each sign-in and each report reaches them.
    # Who is signed in: taken from `services.actor` at mount; `services.actor` follows it
    # from then on. The App's own keys (lock, sign out, the jobs' screens) depend on it.
    actor: reactive[Actor] = reactive(Actor, init=False, always_update=True, bindings=True)
    # The live feed's state, as its badge shows it.
    feed_status: reactive[FeedStatus] = reactive(
        lambda: FeedStatus(FeedState.CONNECTING), init=False, always_update=True
    )
    # Who is online, as presence last heard; None while this console keeps no presence.
    roster: reactive[tuple[PresenceEntry, ...] | None] = reactive(None, init=False, always_update=True)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """Textual's, and the console's colours ($status-free, $booking-late and so on) a
        theme may change."""
        return {**super().get_theme_variable_defaults(), **THEME_COLOURS}

    def __init__(
        self,
        services: Services,
        *,
        night_id: int | None = None,
        idle_minutes: dict[str, float] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        with_presence: bool = True,
        keymap: Keymap | None = None,
        demo_accounts: DemoAccounts | None = None,
        kiosk: bool = False,
    ) -> None:
        super().__init__()
        self.services = services
        # A shared terminal: quitting asks first and needs someone signed in.
        self.kiosk = kiosk
        # The demo's own accounts, for its sign-in screen; a venue's console has none.
        self.demo_accounts = demo_accounts
        # Keys staff changed in keymap.toml (by binding id), and what was wrong with the file.
        self.keymap = keymap if keymap is not None else Keymap()
        if self.keymap.keys:
            self.set_keymap(self.keymap.keys)
        self.night_id = night_id
        self.idle_minutes = dict(DEFAULT_IDLE_MINUTES if idle_minutes is None else idle_minutes)
        self._monotonic = monotonic
        self._last_input = monotonic()
        self._with_presence = with_presence
        self._feed: ChangeFeed | None = None
        self._batcher: ChangeBatcher | None = None
        self._presence: Presence | None = None
        # The toast with news from other consoles now shown, and how many changes it counts.
        self._news: Notification | None = None
        self._news_count = 0

    # The live feed and presence ---------------------------------------------------------

    @property
    def feed(self) -> ChangeFeed | None:
        return self._feed

    @property
    def presence(self) -> Presence | None:
        return self._presence

    def announce(
        self, *, screen: str | None = None, table_id: int | None = None, night_id: int | None = None
    ) -> None:
        """Tell the other consoles where this one is (screen, night, selected table)."""
        if self._presence is not None:
            self._presence.announce(
                actor=self.services.actor, screen=screen, selected_table=table_id, night_id=night_id
            )

    def announce_hold(self, table_id: int | None) -> None:
        if self._presence is not None:
            self._presence.announce(held_table=table_id)

    def _start_live(self) -> None:
        self._batcher = ChangeBatcher(self._changes_merged, every=self.CHANGE_BATCH_SECONDS)
        self._feed = ChangeFeed(
            self.services.transport(),
            on_change=self._change_heard,
            on_status=self._status_changed,
            resync=self._resync,
        )
        self.run_worker(self._feed.run(), name="feed", group="feed", exit_on_error=False)
        if self._with_presence:
            self._presence = self.services.presence(self._roster_changed)
            self.roster = self._presence.online()
            self.run_worker(self._presence.run(), name="presence", group="presence", exit_on_error=False)

    def _change_heard(self, change: Change) -> None:
        if self._batcher is not None:
            self._batcher.add(change)

    def _changes_merged(self, batch: ChangeBatch) -> None:
        self._broadcast(lambda: NightChanged(batch))

    def _status_changed(self, status: FeedStatus) -> None:
        self.feed_status = status

    def _roster_changed(self, entries: tuple[PresenceEntry, ...]) -> None:
        self.roster = entries

    def _broadcast(self, message: Callable[[], Message]) -> None:
        """Post a message to every screen in the stack (each gets its own instance)."""
        for screen in self.screen_stack:
            screen.post_message(message())

    # Toasts -------------------------------------------------------------------------

    def tell_news(self, text: str) -> None:
        """A toast with what another console changed. While one is still shown, the next
        replaces it and counts them: "3 changes on other consoles. Latest: ...", so a burst
        takes one toast."""
        shown = self._news
        merging = shown is not None and shown in self._notifications and not shown.has_expired
        count = self._news_count + 1 if merging else 1
        if shown is not None and merging:
            self._unnotify(shown, refresh=False)
        message = text if count == 1 else f"{count} changes on other consoles. Latest: {text}"
        news = Notification(plain(message, lines=True), "", "information", self.NEWS_SECONDS, markup=False)
        self._news, self._news_count = news, count
        self.post_message(Notify(news))

    def on_notify(self, event: Notify) -> None:
        # Runs before Textual's own handler shows the toasts: keep the newest few.
        self._notifications.add(event.notification)
        newest_first = sorted(self._notifications, key=lambda n: n.raised_at, reverse=True)
        for old in newest_first[self.MAX_TOASTS :]:
            del self._notifications[old]

    async def _resync(self) -> None:
        """Every live screen reads what it shows before the feed says Live."""
        screens = [s for s in self.screen_stack if isinstance(s, LiveScreen) and s.is_mounted]
        await asyncio.gather(*(screen.resync() for screen in screens))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR and event.worker.group == "feed":
            error = event.worker.error
            self._status_changed(FeedStatus(FeedState.OFFLINE, error=str(error)))
            self.notify(plain(f"The live feed stopped: {error}"), severity="error", timeout=10, markup=False)

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

    def watch_actor(self, actor: Actor) -> None:
        # The services act for whoever is signed in.
        self.services.actor = actor

    def on_mount(self) -> None:
        # Whoever the services were handed in acting for (nobody, until a sign-in).
        self.set_reactive(BackroomApp.actor, self.services.actor)
        self._last_input = self._monotonic()
        for problem in self.keymap.problems:
            self.notify(plain(problem), title="Keymap", severity="warning", timeout=20, markup=False)
        self.set_interval(self.IDLE_CHECK_SECONDS, self.check_idle_lock)
        # Lapsed holds and unconfirmed bookings expire even if no one touches them.
        self.run_worker(
            self.services.bookings.keep_sweeping(every=5.0),
            name="sweeper",
            group="sweeper",
            exit_on_error=False,
        )
        # Supabase Realtime's private channels need a signed-in staff member's token.
        if not self.services.live_after_sign_in or self.signed_in:
            self._start_live()
        if self.services.identity is not None and not self.signed_in:
            self._ask_to_sign_in("")
        else:
            self._open_floor()

    def _open_floor(self) -> None:
        self.push_screen(FloorScreen(self.services, night_id=self.night_id))
        self._go_to_start()

    def _go_to_start(self) -> None:
        """Door staff start at the door, support staff at the health screen, others on the
        floor: after a first sign-in and after a handover alike."""
        role = self.services.actor.role
        if role == "door":
            self.action_go("door")
        elif role == "support":
            self.action_go("support")
        else:
            self.action_go("floor")

    # Screen for each job ------------------------------------------------------------

    @staticmethod
    def screen_for(name: str) -> type[Screen[Any]] | None:
        """The screen class for a job, or None for the floor. Each is imported when it is
        first opened, so that start-up loads only the sign-in screen and the floor."""
        if name == "door":
            from screens.door import DoorScreen

            return DoorScreen
        if name == "nights":
            from screens.nights import NightsScreen

            return NightsScreen
        if name == "support":
            from screens.support import SupportScreen

            return SupportScreen
        if name == "audit":
            from screens.audit import AuditScreen

            return AuditScreen
        return None

    def action_go(self, name: str) -> None:
        """Show the screen for a job over the floor, closing the one shown before."""
        floor = self.floor_screen
        if floor is None or self.locked or not self.check_action("go", (name,)):
            return
        wanted = self.screen_for(name)
        if wanted is not None and isinstance(self.screen, wanted):
            return
        with self.batch_update():
            while self.screen is not floor and len(self.screen_stack) > 1:
                self.pop_screen()
            if wanted is not None:
                self.push_screen(wanted(self.services))  # type: ignore[arg-type]

    def _ask_to_sign_in(self, note: str) -> None:
        identity = self.services.identity
        assert identity is not None
        self.push_screen(SignInScreen(identity, note=note, demo=self.demo_accounts), self._signed_in)

    def _signed_in(self, session: Session | None) -> None:
        if session is None:
            return
        self.actor = session.actor
        self._last_input = self._monotonic()
        if self._feed is None:
            self._start_live()
        if self._presence is not None:
            self._presence.announce(actor=session.actor)
        floor = self.floor_screen
        if floor is None:
            self._open_floor()
        else:
            # The floor kept running under the sign-in (it follows `actor`); from now on it
            # acts for this person, who starts where their job is, as after a first sign-in.
            self._go_to_start()

    def action_sign_out(self) -> None:
        """Sign out (from the floor) or let someone else sign in (from the lock)."""
        if self.services.identity is None or not self.signed_in:
            return
        leaving = self.services.actor
        note = (
            f"The console was locked for {leaving.name}. Sign in to take over."
            if self.locked
            else f"{leaving.name} signed out."
        )
        self.actor = Actor()
        self._end_session(leaving, "handover" if self.locked else "signed_out")
        if self._presence is not None:
            self._presence.announce(actor=Actor(), screen="sign-in", selected_table=None, held_table=None)
        # What the one leaving had open, and their toasts, are not for the next person.
        self.clear_notifications()
        floor = self.floor_screen
        with self.batch_update():
            if floor is not None:
                for _ in range(len(self.screen_stack)):
                    if self.screen is floor:
                        break
                    self.screen.dismiss(None)
            self._ask_to_sign_in(note)

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
        self.push_screen(
            LockScreen(identity, self.services.actor, why=why, someone_else_key=self._key_of("app.sign_out")),
            self._unlocked,
        )
        self._lock_session(self.services.actor)

    @work(group="session", exit_on_error=False)
    async def _end_session(self, leaving: Actor, why: str) -> None:
        try:
            await self.services.end(leaving, why)
        except Exception as err:
            # Nothing left to act with: the token is forgotten here and expires there.
            log.info("ending the session failed: %s", type(err).__name__)

    @work(group="session", exit_on_error=False)
    async def _lock_session(self, actor: Actor) -> None:
        try:
            await self.services.lock(actor)
        except Exception as err:
            # The cover is up whatever the database said; the code opens both.
            log.info("locking the session failed: %s", type(err).__name__)

    def _unlocked(self, opened: bool | None) -> None:
        if opened:
            self._last_input = self._monotonic()
        self.refresh_bindings()

    def _key_of(self, binding_id: str) -> str:
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.id == binding_id:
                return key_label(self, binding_id, binding.key)
        return binding_id

    # Keys, help and the palette -------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "lock":
            return self._may_lock()
        if action == "sign_out":
            return self.services.identity is not None and self.signed_in
        if action == "go":
            return self._may_go(str(parameters[0]) if parameters else "")
        return True

    def on_key(self, event: events.Key) -> None:
        """A job's key that this staff member may not use says why (no binding acts on it)."""
        if (
            self.floor_screen is None
            or self.locked
            or not self.signed_in
            or isinstance(self.screen, ModalScreen | CoverScreen)
        ):
            return
        active = self.screen.active_bindings.get(event.key)
        if active is not None and active.enabled:
            return  # something on the screen acts on it
        for binding in mapped_bindings(self).key_to_bindings.get(event.key, ()):
            if not binding.action.startswith("go("):
                continue
            name = binding.action[4:-2]
            if not self._may_go(name) and name in self.GO_ROLES:
                role = self.services.actor.role or ""
                self.notify(
                    f"{binding.description} ({key_label(self, binding.id or '', event.key)})"
                    f" is for {self.GO_ROLES[name]}, not {self.ROLE_WORDS.get(role, role)}.",
                    severity="warning",
                    markup=False,
                )
                event.stop()
                return

    def _may_go(self, name: str) -> bool:
        if self.services.identity is not None and not self.signed_in:
            return False
        return may_open(self.services.actor.role, name)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if self._may_lock():
            yield SystemCommand(
                "Lock the console",
                f"Cover it now; your code opens it again ({self._key_of('app.lock')})",
                self.action_lock,
            )
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.action.startswith("go("):
                name = binding.action[4:-2]
                if self._may_go(name) and not self.locked:
                    yield SystemCommand(
                        f"Go to {binding.description}",
                        f"{binding.tooltip} ({key_label(self, binding.id or '', binding.key)})",
                        lambda name=name: self.action_go(name),
                    )
        if self.check_action("sign_out", ()):
            # The palette reads help text as markup: a name is data.
            who = escape(plain(self.services.actor.name))
            yield SystemCommand(
                "Sign out",
                f"{who} signs out; the next staff member signs in ({self._key_of('app.sign_out')})",
                self.action_sign_out,
            )

    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        # A screen may list more than its active keys: the floor lists every table action
        # staff may use, not only those that fit the table selected now.
        bindings = screen.help_bindings() if isinstance(screen, ListsHelp) else screen.active_bindings.items()
        keys = describe_bindings(bindings, self.get_key_display)
        title = screen.sub_title or type(screen).__name__.removesuffix("Screen")
        self.push_screen(HelpScreen(title, keys))

    # Quitting ------------------------------------------------------------------------

    QUIT_QUESTION = "quit-question"

    async def action_quit(self) -> None:
        """Ctrl+Q and the palette's Quit: at once, unless locked (never) or on a kiosk (asks)."""
        if self._may_not_quit():
            return
        if self.kiosk:
            self._ask_to_quit()
            return
        await self.quit_now()

    def action_interrupt(self) -> None:
        """Ctrl+C: asks before quitting, so a reflex does not close a shared console."""
        if not self._may_not_quit():
            self._ask_to_quit()

    def _may_not_quit(self) -> bool:
        """Whether quitting is refused now; if so, say why where the staff are looking."""
        quit_key = "Ctrl+Q"
        if self.locked:
            why = (
                f"Locked: it cannot be quit. Your code opens it; then {quit_key} quits. "
                f"{self._key_of('app.sign_out')} lets someone else sign in."
            )
        elif self.kiosk and self.services.identity is not None and not self.signed_in:
            why = "This terminal keeps the console open: sign in to quit."
        else:
            return False
        screen = self.screen
        if isinstance(screen, CoverScreen):
            # A cover hides the toasts: its own status line says it.
            screen.say(why, error=True)
        else:
            self.notify(why, severity="warning", markup=False)
        return True

    def _ask_to_quit(self) -> None:
        if self.screen.id == self.QUIT_QUESTION:
            return  # asking already
        who = plain(self.services.actor.name) if self.signed_in else "Nobody is signed in"
        where = (
            "The next staff member needs the console started again."
            if self.kiosk
            else "The live floor stops here until the console is started again."
        )
        self.push_screen(
            ConfirmDialog("Quit the console?", f"{who} · {where}", yes="quit", id=self.QUIT_QUESTION),
            self._quit_answered,
        )

    async def _quit_answered(self, yes: bool | None) -> None:
        if yes and not self.locked:
            await self.quit_now()

    async def quit_now(self) -> None:
        await self.stop_feeds()
        self.exit()

    async def stop_feeds(self) -> None:
        """Close the feed and presence before the loop goes, so no connection is left behind."""
        if self._batcher is not None:
            self._batcher.close()
        stops: list[Any] = []
        if self._feed is not None:
            stops.append(self._feed.stop())
        if self._presence is not None:
            stops.append(self._presence.stop())
        await asyncio.gather(*stops, return_exceptions=True)

    async def on_unmount(self) -> None:
        await self.stop_feeds()
