"""Command palette entries as plain text: a title that names a guest is never read as markup.

Textual reads a palette entry's prompt and help as markup when they are strings,
and the floor's and door's entries name the booking's guest ("Check in ·
ZCEV35 Chloe Tanaka"). The providers build their hits here instead: the prompt
is `Content`, with the letters the search matched marked, and the help escaped.

A screen offers its own commands through a `ScreenCommands` provider: the
provider only says which commands the screen offers now (`commands`), and the
base offers them before anything is typed and matches them against a search.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher
from textual.markup import escape
from textual.types import IgnoreReturnCallbackType

from widgets.display import literal, plain


def discovery_hit(title: str, run: IgnoreReturnCallbackType, help: str) -> DiscoveryHit:
    """An entry shown before anything is typed."""
    return DiscoveryHit(literal(title), run, text=title, help=escape(plain(help)))


def search_hit(matcher: Matcher, title: str, run: IgnoreReturnCallbackType, help: str) -> Hit | None:
    """The entry if `title` matches what was typed, else None."""
    score = matcher.match(title)
    if score <= 0:
        return None
    return Hit(score, highlighted(matcher, title), run, text=title, help=escape(plain(help)))


def highlighted(matcher: Matcher, title: str) -> Content:
    """`title` as itself, the letters the search matched in the palette's match style."""
    content = literal(title)  # one character for one: the offsets still fit
    _score, offsets = matcher.fuzzy_search.match(matcher.query, title)
    for offset in offsets:
        if not title[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class Command(Protocol):
    """What a palette entry needs of a screen's command: its title, its help, and what
    choosing it runs."""

    @property
    def title(self) -> str: ...

    @property
    def help(self) -> str: ...

    @property
    def run(self) -> Callable[[], object]: ...


class PaletteCommand(NamedTuple):
    """A palette entry made for a command that is not already a `Command`."""

    title: str
    help: str
    run: Callable[[], object]


class ScreenCommands(Provider):
    """Palette entries built from the screen's own commands when the palette opens.

    A subclass says which commands the screen offers now; this offers them all before
    anything is typed, and those whose title matches when something is.
    """

    def commands(self) -> Sequence[Command]:
        """The screen's commands that fit now; none by default."""
        return ()

    async def discover(self) -> Hits:
        for command in self.commands():
            yield discovery_hit(command.title, command.run, command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.commands():
            hit = search_hit(matcher, command.title, command.run, command.help)
            if hit is not None:
                yield hit
