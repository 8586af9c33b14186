"""What screens and the App offer one another beyond Textual's own API, as typed protocols.

A screen that lists its keys for the help screen, an App that announces
holds or merges news into one toast: each is a `runtime_checkable` protocol,
so a caller asks `isinstance` and mypy checks the call. An App in a test may
offer none of them; the caller then does without.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from textual.binding import ActiveBinding

from services.store.db import Actor


@runtime_checkable
class ListsHelp(Protocol):
    """A screen whose help lists other keys than its active ones (more, or fewer)."""

    def help_bindings(self) -> list[tuple[str, ActiveBinding]]: ...


@runtime_checkable
class AnnouncesHold(Protocol):
    """An App that tells the other consoles which table this staff member holds."""

    def announce_hold(self, table_id: int | None) -> None: ...


@runtime_checkable
class TellsNews(Protocol):
    """An App that shows what another console changed, a burst of changes in one toast."""

    def tell_news(self, text: str) -> None: ...


class StaffServices(Protocol):
    """Services that act for a staff member."""

    @property
    def actor(self) -> Actor: ...


@runtime_checkable
class ActsForStaff(Protocol):
    """A screen built with services that act for a staff member."""

    @property
    def services(self) -> StaffServices: ...
