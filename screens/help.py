"""The keys of the screen underneath, built from its live bindings so it never goes stale."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import ActiveBinding, Binding, BindingsMap
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.geometry import Size
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Static


@dataclass(frozen=True, slots=True)
class KeyHelp:
    keys: str
    description: str
    detail: str = ""


def describe_bindings(
    active: Iterable[tuple[str, ActiveBinding]], key_display: Callable[[Binding], str]
) -> list[KeyHelp]:
    """One line per action with every key that reaches it ("← → ↑ ↓", "? f1").

    The screen's own keys come first, then the app's, then Textual's generic
    ones (focus moves, copy), which are true but least interesting. Actions
    that share one key ("h" holds a free table, releases your own hold) share
    a line. A footer word that has a longer tooltip keeps it as the detail. A key
    that a priority binding takes (the App's Ctrl+C) is listed for that binding
    only: the others never get it.
    """
    generic = {(b.action, b.description) for b in Screen.BINDINGS if isinstance(b, Binding)}
    active = list(active)
    taken = {key for key, active_binding in active if active_binding.binding.priority}
    grouped: dict[tuple[str, str], tuple[int, list[str], str]] = {}
    for key, active_binding in active:
        binding = active_binding.binding
        if binding.system or not binding.description:
            continue
        if key in taken and not binding.priority:
            continue
        description = binding.group.description if binding.group else binding.description
        detail = binding.tooltip if binding.tooltip != description else ""
        if binding.tooltip and description[:1].islower():
            # Textual's own terse labels ("palette") read better as their tooltip.
            description, detail = binding.tooltip, ""
        if (binding.action, binding.description) in generic:
            rank = 2
        else:
            rank = 1 if active_binding.node is active_binding.node.app else 0
        group = (description, "" if binding.group else binding.action)
        _rank, keys, _detail = grouped.setdefault(group, (rank, [], detail))
        shown = key_display(binding)
        if shown not in keys:
            keys.append(shown)
    ordered = sorted(grouped.items(), key=lambda item: item[1][0])
    lines: list[KeyHelp] = []
    for (description, _), (_, keys, detail) in ordered:
        joined = " ".join(keys)
        same = next((i for i, line in enumerate(lines) if line.keys == joined), None)
        if same is not None:
            first = lines[same]
            lines[same] = KeyHelp(joined, f"{first.description} / {description}", first.detail or detail)
        else:
            lines.append(KeyHelp(joined, description, detail))
    return lines


class KeyTable:
    """Keys, what they do, and the longer word on it, in three columns. The last one wraps,
    so every word is shown however narrow the terminal: at 80 columns a long detail takes
    a second line. A description with no detail beside it runs on into the detail's room."""

    def __init__(self, keys: list[KeyHelp]) -> None:
        self.keys = keys

    def _widths(self) -> tuple[int, int, int]:
        keys = max((cell_len(item.keys) for item in self.keys), default=0)
        beside = max((cell_len(item.description) for item in self.keys if item.detail), default=8)
        longest = max(
            (
                cell_len(item.description) + 2 + cell_len(item.detail)
                if item.detail
                else cell_len(item.description)
                for item in self.keys
            ),
            default=0,
        )
        return keys, beside, max(longest, beside + 2 + cell_len("x" * 16))

    def _grid(self, keys: int, beside: int, detailed: bool) -> Table:
        table = Table.grid(padding=(0, 2, 0, 0))
        # The same key column in every run of rows, so the runs line up as one table.
        table.add_column(style="bold", no_wrap=True, width=keys)
        if detailed:
            table.add_column(width=beside, overflow="fold")
            table.add_column(style="dim", ratio=1, overflow="fold")
        else:
            table.add_column(ratio=1, overflow="fold")
        return table

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        keys, beside, longest = self._widths()
        return Measurement(keys + 2 + beside + 2 + 16, keys + 2 + longest)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        keys, beside, _longest = self._widths()
        runs: list[Table] = []
        for item in self.keys:
            detailed = bool(item.detail)
            if not runs or bool(runs[-1].columns[2:]) != detailed:
                runs.append(self._grid(keys, beside, detailed))
            if detailed:
                runs[-1].add_row(item.keys, item.description, item.detail)
            else:
                runs[-1].add_row(item.keys, item.description)
        yield Group(*runs)


class KeyList(Widget):
    """The `KeyTable` drawn as lines of text at the width the layout gives it."""

    DEFAULT_CSS = """
    KeyList { width: auto; height: auto; }
    """

    def __init__(self, keys: list[KeyHelp], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.table = KeyTable(keys)
        self._drawn: tuple[int, list[Text]] | None = None

    def lines(self, width: int) -> list[Text]:
        if self._drawn is None or self._drawn[0] != width:
            console = self.app.console
            options = console.options.update(width=width, highlight=False)
            drawn = console.render_lines(self.table, options, pad=False)
            self._drawn = (
                width,
                [
                    Text.assemble(*((seg.text, seg.style or "") for seg in line if not seg.control))
                    for line in drawn
                ],
            )
        return self._drawn[1]

    def get_content_width(self, container: Size, viewport: Size) -> int:
        # As wide as the widest line; the box's max-width narrows it, and the table wraps.
        return self.table.__rich_measure__(self.app.console, self.app.console.options).maximum

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines(width))

    def render(self) -> Text:
        return Text("\n").join(self.lines(self.content_region.width or self.size.width))


class HelpScreen(ModalScreen[None]):
    """Lists the keys it is given; escape, q or ? close it."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        & > Vertical {
            width: auto;
            max-width: 94%;
            height: auto;
            max-height: 90%;
            padding: 0 1;
            border: thick $accent;
            background: $surface;
        }
        /* Docked, so a list longer than the terminal scrolls between them. */
        & #help-title { text-style: bold; width: auto; dock: top; }
        /* Never wider than the box: the table wraps its last column to fit instead. */
        & VerticalScroll { width: auto; max-width: 100%; height: auto; max-height: 1fr; }
        & #help-keys { width: auto; max-width: 100%; }
        & #help-hint { color: $text-muted; width: auto; dock: bottom; }
    }
    """

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help.close"),
    ]

    def __init__(
        self,
        title: str,
        keys: list[KeyHelp],
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.help_title = title
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Keys: {self.help_title}", id="help-title")
            # A long list scrolls; the title and the way out stay in view.
            with VerticalScroll():
                yield KeyList(self.keys, id="help-keys")
            yield Static("escape, q or ? to close", id="help-hint")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


def mapped_bindings(node: DOMNode) -> BindingsMap:
    """`node`'s own bindings with the keys of the App's keymap, as Textual applies them."""
    bindings = node._bindings.copy()
    keymap = node.app._keymap
    if keymap:
        bindings.apply_keymap(keymap)
    return bindings


def key_label(app: App[Any], binding_id: str, default: str) -> str:
    """The key staff press for a binding, as a keyboard names it ('Ctrl+W'): the keymap's
    first key for it, else `default`."""
    keys = app._keymap.get(binding_id, default)
    return key_words(keys.split(",")[0].strip())


def key_words(key: str) -> str:
    """'ctrl+o' as staff read it on a keyboard: 'Ctrl+O'."""
    return "+".join(part.upper() if len(part) == 1 else part.capitalize() for part in key.split("+"))
