"""The arrow keys a screen moves its selection with, one group in the footer."""

from __future__ import annotations

from collections.abc import Mapping

from textual.binding import Binding

ARROWS = {"left": "←", "right": "→", "up": "↑", "down": "↓"}


def arrow_keys(
    prefix: str, label: str, actions: Mapping[str, str], *, priority: bool = False
) -> list[Binding]:
    """A binding for each arrow in `actions` ("up" -> "step(-1)", ...), each shown as its
    arrow and all of them as one compact footer entry `label`; ids are `<prefix>.<arrow>`.
    With `priority` they run ahead of the focused widget's own arrow keys."""
    group = Binding.Group(label, compact=True)
    return [
        Binding(
            arrow,
            action,
            label,
            id=f"{prefix}.{arrow}",
            key_display=ARROWS[arrow],
            priority=priority,
            group=group,
        )
        for arrow, action in actions.items()
    ]
