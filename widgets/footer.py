"""The footer of every main screen: Textual's, rebuilt only when what it shows changes.

Textual's footer builds new key widgets each time the screen's bindings are
updated, which on the floor is every move of the selection, even when the keys
it shows stay the same. This one remembers what it showed (each key, its label,
description, whether it is enabled, its group) and keeps its widgets when that
is unchanged.

Each new key widget also subscribes to the footer's `compact` setting, and
Textual lets go of the subscriptions of removed keys only when `compact` itself
changes, which on a console that stays one size never happens: every key ever
shown would stay in memory. This footer drops them after each rebuild.

Compact, Textual's footer leaves no space after a key's label, which runs
"Select" into the next key; this one keeps one.
"""

from __future__ import annotations

from typing import Any

from textual.widget import Widget
from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    # Compact, Textual's footer runs a key's label into the next key: a space keeps them apart.
    DEFAULT_CSS = """
    Footer.-compact FooterLabel { margin: 0 1 0 0; }
    """

    _shown: tuple[Any, ...] | None = None
    rebuilds = 0
    """How many times the keys were built (for tests and benchmarks)."""

    def _what_it_shows(self) -> tuple[Any, ...]:
        bindings = self.screen.active_bindings
        keys = tuple(
            (
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                enabled,
                tooltip,
                binding.group,
            )
            for (_node, binding, enabled, tooltip) in bindings.values()
            if binding.show
        )
        palette = bindings.get(self.app.COMMAND_PALETTE_BINDING)
        palette_shown = (palette[2], palette[3]) if palette is not None else None
        return (
            keys,
            palette_shown,
            self.compact,
            self.show_command_palette,
            self.combine_groups,
            self._bindings_ready,
        )

    async def recompose(self) -> None:
        if not self.is_attached:
            return
        shown = self._what_it_shows()
        if shown == self._shown:
            return
        self._shown = shown
        self.rebuilds += 1
        await super().recompose()
        # Where Textual keeps the watchers of a reactive object's attributes.
        watchers = getattr(self, "__watchers", None)
        if not watchers:
            return
        for entries in watchers.values():
            entries[:] = [
                (node, callback)
                for node, callback in entries
                if not isinstance(node, Widget) or node is self or node.is_attached
            ]
