"""Guests on file who match what is being typed, offered under a booking form's
name and phone fields, and the guest chosen from them.

The form says what was typed (`look_for`); after a short pause the lookup asks
its `search` in a worker and lists the best few. The form passes ↓ and ↑ on
while a name or phone field has the cursor: they move a marker through the
list, and the form takes the marked guest on Enter (`marked`). Once one is
taken the lookup says so in one line (`show_chosen`). Matches for text that
has changed since are never shown, and a failed lookup only says it failed:
the booking can still be typed in full.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from rich.text import Text
from textual import work
from textual.widget import Widget

from services.guests import GuestMatch, searchable
from widgets.display import plain

Search = Callable[[str], Awaitable[Sequence[GuestMatch]]]

# Up to this many guests are offered; more would push the form off an 80x24 screen.
SHOWN = 4
# Typing pauses this long (seconds) before the database is asked.
PAUSE = 0.15


def describe(match: GuestMatch) -> str:
    """One guest on one line: name, phone, what they have booked before."""
    name, phone = plain(match.name), plain(match.phone or "no phone")
    return f"{name[:22]:<22} {phone[:16]:<16} {match.summary(short=True)}"


class GuestLookup(Widget):
    """The guests on file that match, or the one chosen; nothing while neither."""

    DEFAULT_CSS = """
    GuestLookup {
        height: auto;
        width: 1fr;
        display: none;
        color: $text-muted;
        &.-shown { display: block; }
    }
    """

    can_focus = False

    def __init__(
        self, search: Search, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._search = search
        self._wanted = ""
        self._matches: list[GuestMatch] = []
        self._marker: int | None = None
        self._chosen: GuestMatch | None = None
        self._trouble = ""

    # What the form asks --------------------------------------------------------

    @property
    def matches(self) -> list[GuestMatch]:
        return list(self._matches)

    @property
    def offering(self) -> bool:
        """Whether guests are listed to choose from."""
        return bool(self._matches)

    @property
    def marked(self) -> GuestMatch | None:
        if self._marker is None or not self._matches:
            return None
        return self._matches[self._marker]

    @property
    def searching(self) -> bool:
        """Whether a lookup is waiting or running (tests wait for it to settle)."""
        return any(w.node is self and w.group == "guest-lookup" and not w.is_finished for w in self.workers)

    def look_for(self, text: str) -> None:
        """Offer the guests matching `text`, once typing pauses; too little text offers none."""
        text = " ".join(text.split())
        if text == self._wanted and (self.offering or self.searching):
            return
        self._wanted = text
        self._trouble = ""
        if not searchable(text):
            self._set_matches([])
            self.workers.cancel_group(self, "guest-lookup")
            return
        self._lookup(text)

    def drop(self) -> None:
        """Offer nothing (the chosen guest, if any, is still said)."""
        self._wanted = ""
        self._trouble = ""
        self.workers.cancel_group(self, "guest-lookup")
        self._set_matches([])

    def move(self, step: int) -> bool:
        """Move the marker by `step`; False when the key is not the lookup's to take.

        ↓ marks the first guest; ↑ from the first takes the marker away again,
        back to typing; ↑ with nothing marked is left to the form.
        """
        if not self._matches:
            return False
        if self._marker is None:
            if step < 0:
                return False
            self._marker = 0
        else:
            after = self._marker + step
            self._marker = None if after < 0 else min(after, len(self._matches) - 1)
        self._redraw()
        return True

    def unmark(self) -> bool:
        """Take the marker away; False if nothing was marked."""
        if self._marker is None:
            return False
        self._marker = None
        self._redraw()
        return True

    def show_chosen(self, match: GuestMatch | None) -> None:
        """Say which guest on file the booking is for (None: a new guest)."""
        self._chosen = match
        self.drop()

    # Looking up ------------------------------------------------------------------

    @work(exclusive=True, group="guest-lookup", exit_on_error=False)
    async def _lookup(self, text: str) -> None:
        # A newer keystroke cancels this while it waits: one query per pause in typing.
        await asyncio.sleep(PAUSE)
        try:
            found = await self._search(text)
        except Exception as err:
            if text == self._wanted:
                self._trouble = f"Could not look up guests on file: {err or type(err).__name__}"
                self._set_matches([])
            return
        if text != self._wanted:
            return
        self._set_matches(list(found)[:SHOWN])

    def _set_matches(self, matches: list[GuestMatch]) -> None:
        marked = self.marked
        self._matches = matches
        # The marker stays on the same guest if they are still offered.
        self._marker = next((i for i, m in enumerate(matches) if marked and m.id == marked.id), None)
        self._redraw()

    # Drawing -------------------------------------------------------------------------

    def _redraw(self) -> None:
        self.set_class(bool(self._matches or self._chosen or self._trouble), "-shown")
        self.refresh(layout=True)

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        if self._matches:
            keys = "Enter takes the marked one" if self._marker is not None else "↓ to choose"
            text.append(f"On file · {keys}", style="italic")
            for index, match in enumerate(self._matches):
                marked = index == self._marker
                text.append("\n")
                text.append(
                    ("▸ " if marked else "  ") + describe(match), style="bold reverse" if marked else ""
                )
        elif self._trouble:
            text.append(plain(self._trouble))
        elif self._chosen is not None:
            text.append(f"✓ On file: {plain(self._chosen.name)} · {self._chosen.summary()}", style="bold")
        return text
