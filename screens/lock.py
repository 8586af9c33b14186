"""The idle lock: covers the console when the staff member signed in has left it alone
(or locked it on purpose), and says whom it is locked for.

The lock closes the session in Postgres too: until their current authenticator
code opens it again (checked there, against this session), it reads and changes
nothing. Anyone else signs in instead with the App's sign-out
key, which this screen names in its hint. The floor keeps running underneath:
the feed stays live, so the floor is current the moment the lock opens.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual import work
from textual.widget import Widget
from textual.widgets import Input, Static

from screens.cover import WORKING, CoverScreen, trouble
from services.identity.accounts import SignInError
from services.identity.sign_in import SignInBackend
from services.store.db import Actor
from widgets.display import literal
from widgets.field import Field, ok


def staff_words(actor: Actor) -> str:
    return f"{actor.name} ({actor.role})" if actor.role else actor.name


def idle_words(minutes: float) -> str:
    """'5 minutes', '1 minute', '12 seconds'."""
    seconds = round(minutes * 60)
    if seconds % 60:
        return f"{seconds} seconds" if seconds != 1 else "1 second"
    whole = seconds // 60
    return f"{whole} minutes" if whole != 1 else "1 minute"


class LockScreen(CoverScreen[bool]):
    """Closes with True once `actor`'s code is accepted. `why` says how it came to lock."""

    DEFAULT_CSS = """
    LockScreen {
        & #locked-for { text-style: bold; }
        & #lock-why { color: $text-muted; }
    }
    """

    SUB_TITLE = "Locked"

    def __init__(
        self,
        identity: SignInBackend,
        actor: Actor,
        *,
        why: str,
        someone_else_key: str,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__("Locked", name=name, id=id, classes=classes)
        self.identity = identity
        self.actor = actor
        self.why = why
        self.someone_else_key = someone_else_key
        self.working = False

    def compose_body(self) -> Iterable[Widget]:
        yield Static(
            literal(f"This console is locked for {staff_words(self.actor)}."),
            id="locked-for",
            classes="cover--text",
        )
        yield Static(literal(self.why), id="lock-why", classes="cover--text")
        yield Static("", classes="cover--gap")
        yield Field(
            "Code",
            placeholder="123456",
            restrict=r"[\d ]*",
            max_length=7,
            input_width=12,
            id="code",
            check=lambda _text: ok("from your authenticator"),
        )

    def hint(self) -> str:
        return f"Enter  unlock · {self.someone_else_key}  someone else signs in"

    def on_mount(self) -> None:
        self.query_one("#code", Field).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.working:
            self.say("Still checking the last code; Enter again once it is answered.")
            return
        code = "".join(event.value.split())
        # Empty at once: what is typed from here on is the next code, never added to this one.
        self.query_one("#code", Field).clear()
        if len(code) != 6:
            self.say("The code is six digits. Type it again.", error=True)
            return
        self.working = True
        self.say(WORKING)
        self._unlock(code)

    @work(exclusive=True, group="unlock", exit_on_error=False)
    async def _unlock(self, code: str) -> None:
        try:
            await self.identity.verify_code(self.actor, code, "unlock")
        except SignInError as err:
            self._refused(str(err))
            return
        except Exception as err:
            self._refused(trouble(err))
            return
        finally:
            self.working = False
        self.dismiss(True)

    def _refused(self, text: str) -> None:
        # The field was emptied when the code went: anything in it now is the next code.
        self.say(text, error=True)
