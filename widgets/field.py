"""One labelled input on a form, checked as it is typed.

A field is a single row: the label, a compact input, and a note that says
what the check found ("table 11 seats 2-6", "outside tonight's hours"). A
check returns a `Verdict`: ok, a warning (allowed, but worth saying) or an
error (the form will not send). Errors turn red once the field has been
typed in or the form asks (`reveal`), so a fresh form is not all red; they
also start with ✗, which reads the same on a terminal without colour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Input, Static

from widgets.display import literal


@dataclass(frozen=True, slots=True)
class Verdict:
    level: Literal["ok", "warn", "error"]
    text: str = ""

    @property
    def blocks(self) -> bool:
        return self.level == "error"


def ok(text: str = "") -> Verdict:
    return Verdict("ok", text)


def warn(text: str) -> Verdict:
    return Verdict("warn", text)


def error(text: str) -> Verdict:
    return Verdict("error", text)


Check = Callable[[str], Verdict]

# Marks an error shown in full: the note says it without colour too.
ERROR_MARK = "✗ "


class Field(Widget):
    """Label, input and the check's note on one row; `value` is the text typed."""

    DEFAULT_CSS = """
    Field {
        layout: horizontal;
        height: 1;
        width: 1fr;
        & > .field--label { width: 12; color: $text-muted; }
        & > Input {
            width: 22;
            background: $foreground 10%;
            &:focus { background: $primary 25%; }
        }
        & > .field--note { width: 1fr; padding-left: 1; color: $text-muted; }
        &.-warn > .field--note { color: $text-warning; }
        &.-error > .field--note { color: $text-error; text-style: bold; }
        /* A class, not :focus-within: the label of a field left behind kept its bold. */
        &.-focused > .field--label { color: $foreground; text-style: bold; }
    }
    """

    def __init__(
        self,
        label: str,
        value: str = "",
        *,
        check: Check | None = None,
        placeholder: str = "",
        restrict: str | None = None,
        max_length: int = 0,
        input_width: int | None = None,
        password: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.label = label
        self._check = check
        self._revealed = False
        self._input = Input(
            value,
            placeholder=placeholder,
            restrict=restrict,
            max_length=max_length,
            password=password,
            compact=True,
        )
        if input_width is not None:
            self._input.styles.width = input_width

    def compose(self) -> ComposeResult:
        yield Static(literal(self.label), classes="field--label")
        yield self._input
        yield Static("", classes="field--note")

    def on_mount(self) -> None:
        self._show(self.verdict)

    @property
    def input(self) -> Input:
        return self._input

    @property
    def value(self) -> str:
        return self._input.value

    @value.setter
    def value(self, text: str) -> None:
        self._input.value = text

    @property
    def verdict(self) -> Verdict:
        return self._check(self.value) if self._check is not None else ok()

    def focus(self, scroll_visible: bool = True) -> Field:
        self._input.focus(scroll_visible)
        return self

    def reveal(self) -> Verdict:
        """Show the check's verdict in full, errors too, and return it."""
        self._revealed = True
        verdict = self.verdict
        self._show(verdict)
        return verdict

    def on_descendant_focus(self) -> None:
        self.add_class("-focused")

    def on_descendant_blur(self) -> None:
        self.remove_class("-focused")

    def on_input_changed(self, event: Input.Changed) -> None:
        # Bubbles on to the form, which may re-check other fields that depend on this one.
        self._revealed = True
        self._show(self.verdict)

    def clear(self) -> None:
        self._input.clear()

    def recheck(self) -> None:
        self._show(self.verdict)

    def _show(self, verdict: Verdict) -> None:
        shown_error = verdict.blocks and self._revealed
        self.set_class(shown_error, "-error")
        self.set_class(verdict.level == "warn", "-warn")
        self._input.set_class(shown_error, "-invalid")
        # Before it is touched an error reads as a hint ("needed"), not in red.
        text = ERROR_MARK + verdict.text if shown_error and verdict.text else verdict.text
        self.query_one(".field--note", Static).update(literal(text))
