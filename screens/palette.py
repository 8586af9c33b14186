"""Command palette entries as plain text: a title that names a guest is never read as markup.

Textual reads a palette entry's prompt and help as markup when they are strings,
and the floor's and door's entries name the booking's guest ("Check in ·
ZCEV35 Chloe Tanaka"). The providers build their hits here instead: the prompt
is `Content`, with the letters the search matched marked, and the help escaped.
"""

from __future__ import annotations

from textual.command import DiscoveryHit, Hit
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
