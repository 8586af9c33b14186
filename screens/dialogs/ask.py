"""The floor's small questions: yes or no, a reason, a count; and the protocol every
dialog of the floor follows.

A `Dialog` gathers an answer. Given no `on_answer` it closes with the answer
(the caller's push_screen callback gets it). Given `on_answer`, it hands the
answer over and stays open showing "Saving…" until the caller says how the
change went: `finish()` closes it, `failed(text)` shows why and lets the
user try again from the same dialog (the caller keeps the operation id, so a
retry after a lost connection cannot act twice).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, Static

from services.errors import BackroomError
from services.identity.accounts import AccountLocked, SignInError
from widgets.display import literal
from widgets.entry import whole_number

A = TypeVar("A")

SAVING = "Saving…"


class Dialog(ModalScreen[A | None], Generic[A]):
    """A modal box: a heading, the body of a subclass, a status line and a hint of keys."""

    DEFAULT_CSS = """
    Dialog {
        align: center middle;
        background: $background 60%;
        & > .dialog--box {
            width: 72;
            max-width: 100%;
            height: auto;
            max-height: 100%;
            border: thick $accent;
            border-title-style: bold;
            background: $surface;
            padding: 0 1;
        }
        & .dialog--text { width: 1fr; height: auto; }
        & .dialog--status { width: 1fr; height: auto; color: $text-muted; }
        & .dialog--status.-error { color: $text-error; text-style: bold; }
        & .dialog--hint { width: 1fr; height: auto; color: $text-muted; }
        & .dialog--gap { height: 1; }
    }
    """

    BINDINGS = [Binding("escape", "close", "Close", id="dialog.close")]

    working: reactive[bool] = reactive(False)

    def __init__(
        self,
        heading: str,
        *,
        on_answer: Callable[[A, Dialog[A]], None] | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.heading = heading
        self._on_answer = on_answer
        self._finish_on_resume = False
        # Whether the answer went on its way and has not failed since: closed then, the
        # dialog is done with; closed before (Esc), the user let it go.
        self.answered = False

    # What a subclass provides -----------------------------------------------

    def compose_body(self) -> Iterable[Widget]:
        return ()

    def hint(self) -> str:
        return "Enter  go · Esc  close"

    # The protocol --------------------------------------------------------------

    def compose(self) -> ComposeResult:
        box = Vertical(classes="dialog--box")
        box.border_title = literal(self.heading)
        with box:
            yield from self.compose_body()
            yield Static("", classes="dialog--status")
            yield Static(literal(self.hint()), classes="dialog--hint")

    def answer(self, value: A) -> None:
        if self.working:
            return
        self.answered = True
        if self._on_answer is None:
            self.dismiss(value)
            return
        self.working = True
        self.say(SAVING)
        self._on_answer(value, self)

    def keeps_open(self, refusal: BackroomError) -> bool:
        """Whether a refusal leaves this dialog open to correct and send again."""
        return False

    def failed(self, text: str) -> None:
        """The change was refused or did not reach the database: say why, stay open."""
        self.working = False
        self.answered = False
        if self.is_attached:
            self.say(text, error=True)

    def finish(self) -> None:
        """The change is made (or handed to another dialog): close."""
        self.working = False
        if not self.is_attached:
            return
        if self.app.screen is self:
            self.dismiss(None)
        else:
            # Help (or the palette) is open over it: close once it is back on top.
            self._finish_on_resume = True

    def on_screen_resume(self) -> None:
        # Not when a sign-out is closing the screens above the floor: it is going already.
        if self._finish_on_resume and self.is_current:
            self.dismiss(None)

    def say(self, text: str, *, error: bool = False) -> None:
        status = self.query_one(".dialog--status", Static)
        status.update(literal(text))
        status.set_class(error, "-error")

    @property
    def status_text(self) -> str:
        return str(self.query_one(".dialog--status", Static).content)

    def action_close(self) -> None:
        # Closing while saving is allowed: the result still arrives as a toast.
        self.dismiss(None)


class ConfirmDialog(Dialog[bool]):
    """Yes or no before a change that cannot be undone; y to go ahead, n or Esc to keep things."""

    BINDINGS = [
        Binding("y", "yes", "Yes", id="confirm.yes"),
        Binding("n", "close", "No", id="confirm.no"),
    ]

    def __init__(
        self,
        heading: str,
        question: str,
        *,
        yes: str,
        on_answer: Callable[[bool, Dialog[bool]], None] | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(heading, on_answer=on_answer, id=id)
        self.question = question
        self.yes = yes

    def compose_body(self) -> Iterable[Widget]:
        yield Static(literal(self.question), classes="dialog--text")
        yield Static("", classes="dialog--gap")

    def hint(self) -> str:
        return f"y  {self.yes} · n or Esc  keep it as it is"

    def action_yes(self) -> None:
        self.answer(True)


class ReasonDialog(Dialog[str]):
    """A line of text that must not be empty (why a booking is cancelled)."""

    def __init__(
        self,
        heading: str,
        question: str,
        *,
        placeholder: str = "",
        verb: str = "next",
        on_answer: Callable[[str, Dialog[str]], None] | None = None,
    ) -> None:
        super().__init__(heading, on_answer=on_answer)
        self.question = question
        self.placeholder = placeholder
        self.verb = verb

    def compose_body(self) -> Iterable[Widget]:
        yield Static(literal(self.question), classes="dialog--text")
        yield Input(placeholder=self.placeholder, max_length=200, id="reason")

    def hint(self) -> str:
        return f"Enter  {self.verb} · Esc  keep the booking"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        reason = event.value.strip()
        if not reason:
            self.say("A reason is needed.", error=True)
            return
        self.answer(reason)


class CountInput(Input):
    """The count's box: a key it refuses (a letter) is said, not only rung."""

    class Refused(Message):
        """A key the box does not take was typed."""

    def restricted(self) -> None:
        self.post_message(self.Refused())


class CountDialog(Dialog[int]):
    """A number between 1 and `most`, prefilled with `default` (so Enter alone accepts it).

    The number is checked as it is typed; an empty or invalid box never means the
    default: Enter then says what to type and does nothing.
    """

    DEFAULT_CSS = """
    CountDialog #count { width: 10; }
    """

    def __init__(
        self,
        heading: str,
        question: str,
        *,
        default: int,
        most: int,
        verb: str = "accept",
        least: int = 1,
        on_answer: Callable[[int, Dialog[int]], None] | None = None,
    ) -> None:
        super().__init__(heading, on_answer=on_answer)
        self.question = question
        self.default = default
        self.most = most
        self.least = least
        self.verb = verb

    def compose_body(self) -> Iterable[Widget]:
        yield Static(literal(self.question), classes="dialog--text")
        # Prefilled and selected: Enter accepts it, typing replaces it.
        yield CountInput(str(self.default), restrict=r"\d*", max_length=3, id="count")

    def hint(self) -> str:
        return f"Enter  {self.verb} · Esc  close"

    def problem(self, text: str) -> str | None:
        """What is wrong with `text` as the count, in a sentence; None when it will do."""
        try:
            whole_number(text, least=self.least, most=self.most)
        except ValueError as err:
            return f"Type {_range(self.most, self.least)}: {err}."
        return None

    def on_count_input_refused(self, event: CountInput.Refused) -> None:
        event.stop()
        if not self.working:
            self.say(f"Type {_range(self.most, self.least)} (digits only).", error=True)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.working:
            return
        problem = self.problem(event.value)
        self.say(problem or "", error=problem is not None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        problem = self.problem(event.value)
        if problem is not None:
            self.say(problem, error=True)
            return
        self.answer(whole_number(event.value, least=self.least, most=self.most))


class CodeDialog(Dialog[str]):
    """The six digits an authenticator shows now: the step-up some changes need."""

    DEFAULT_CSS = """
    CodeDialog #code { width: 12; }
    """

    def __init__(
        self, heading: str, reason: str, *, on_answer: Callable[[str, Dialog[str]], None] | None = None
    ) -> None:
        super().__init__(heading, on_answer=on_answer)
        self.reason = reason

    def compose_body(self) -> Iterable[Widget]:
        yield Static(literal(self.reason), classes="dialog--text")
        yield Input(restrict=r"[0-9 ]*", max_length=7, placeholder="123456", id="code")

    def hint(self) -> str:
        return "Enter  go on · Esc  leave it"

    def keeps_open(self, refusal: BackroomError) -> bool:
        # A mistyped or stale code can be typed again; a locked account cannot.
        return isinstance(refusal, SignInError) and not isinstance(refusal, AccountLocked)

    def failed(self, text: str) -> None:
        super().failed(text)
        if self.is_attached:
            self.query_one("#code", Input).clear()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        code = event.value.replace(" ", "")
        if len(code) != 6:
            self.say("The code is six digits.", error=True)
            return
        self.answer(code)


class ChoiceDialog(Dialog[int]):
    """One of a few numbered choices: its digit picks it (the answer is its index)."""

    BINDINGS = [Binding(str(n), f"choose({n})", str(n), id=f"choice.{n}", show=False) for n in range(1, 10)]

    def __init__(
        self,
        heading: str,
        question: str,
        choices: list[str],
        *,
        on_answer: Callable[[int, Dialog[int]], None] | None = None,
    ) -> None:
        super().__init__(heading, on_answer=on_answer)
        self.question = question
        self.choices = choices[:9]

    def compose_body(self) -> Iterable[Widget]:
        yield Static(literal(self.question), classes="dialog--text")
        for n, choice in enumerate(self.choices, start=1):
            yield Static(literal(f"{n}  {choice}"), classes="dialog--text")
        yield Static("", classes="dialog--gap")

    def hint(self) -> str:
        last = len(self.choices)
        return ("1  choose" if last == 1 else f"1 to {last}  choose") + " · Esc  close"

    def action_choose(self, n: int) -> None:
        if 1 <= n <= len(self.choices):
            self.answer(n - 1)
        else:
            self.say(f"Press 1 to {len(self.choices)}.", error=True)


def _range(most: int, least: int = 1) -> str:
    return str(least) if most == least else f"a number from {least} to {most}"
