"""The footer of every main screen: Textual's, without letting go of nothing.

Each time the keys change (on every move of the selection on the floor) the
footer builds new key widgets, and each new one subscribes to the footer's
`compact` setting. Textual lets go of the subscriptions of removed keys only
when `compact` itself changes, which on a console that stays one size never
happens: every key ever shown would stay in memory. This footer drops them
after each rebuild.
"""

from __future__ import annotations

from textual.widget import Widget
from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    async def recompose(self) -> None:
        await super().recompose()
        # Where Textual keeps the watchers of a reactive object's attributes.
        watchers = getattr(self, "__watchers", None)
        if not watchers:
            return
        for entries in watchers.values():
            entries[:] = [(node, callback) for node, callback in entries
                          if not isinstance(node, Widget) or node is self or node.is_attached]
