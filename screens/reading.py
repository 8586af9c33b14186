"""One read covers every change: how the live screens keep what they show current.

A live screen reads when it opens, when the feed tells of a change that
concerns it, when staff ask, and after a change of its own. The reads a burst
of changes asks for must not queue up behind each other: `request()` notes
that a read is wanted and, unless one is under way, starts the screen's
reading worker. That worker reads while something is still wanted, so changes
arriving during a read make one more read, never a backlog.

`once()` reads now and waits for it (the feed's resync before it says Live, or
a read after a write, so the next key acts on what the database holds).

Two reads may overlap (the worker's and a resync's). What is shown never goes
back in time: by default each read takes a number as it starts, and a result
is shown only if no read started after it has been shown already; showing is
one at a time (the floor, the door). With `one_at_a_time`, reads do not
overlap at all: each read and its showing wait for the one before (the
nights, the night report, the waitlist).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from textual.dom import DOMNode
from textual.worker import Worker

from services.store.db import DatabaseError

T = TypeVar("T")

# Changes that are not tied to one night but alter what every night shows.
VENUE_KINDS = frozenset({"venue", "floor", "venue_table", "night", "guest"})


def failure_words(err: BaseException, *, retrying: bool = True) -> str:
    """Why a read failed, in staff words. A dropped connection surfaces as a bare socket
    error: it is said as what it means (and, with `retrying`, that reads go on trying)."""
    text = str(err) or type(err).__name__
    if isinstance(err, OSError) and not isinstance(err, DatabaseError):
        text = f"the database cannot be reached ({text})"
        if retrying:
            text += ". Retrying in the background."
    return text


ShowResult = Awaitable[None] | None


class CoalescingReader(Generic[T]):
    """Reads for `node` in its worker `group`: `read` fetches, `show` puts it on screen,
    `failed` says why a read went wrong; `settled` runs once the worker has nothing left
    to read."""

    def __init__(
        self,
        node: DOMNode,
        *,
        read: Callable[[], Awaitable[T]],
        show: Callable[[T], ShowResult],
        failed: Callable[[Exception], None],
        group: str,
        one_at_a_time: bool = False,
        settled: Callable[[], None] | None = None,
    ) -> None:
        self._node = node
        self._read = read
        self._show = show
        self._failed = failed
        self._group = group
        self._one_at_a_time = one_at_a_time
        self._settled = settled
        self._wanted = False
        self._running = False
        self._worker: Worker[None] | None = None
        self._started = 0  # the number of the last read begun
        self._shown = 0  # the number of the last read shown
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        """Whether the reading worker is under way (a read wanted or being made)."""
        return self._running

    def request(self) -> None:
        """Read soon; while a read runs, just note that another is needed."""
        self._wanted = True
        if not self._running:
            self._running = True
            self._worker = self._node.run_worker(
                self._run, name=self._group, group=self._group, exclusive=True, exit_on_error=False
            )

    async def _run(self) -> None:
        try:
            # What is asked for during a read sets _wanted again: one more read covers it all.
            while self._wanted:
                self._wanted = False
                await self.once()
        finally:
            self._running = False
        if self._settled is not None:
            self._settled()

    async def once(
        self,
        *,
        read: Callable[[], Awaitable[T]] | None = None,
        catch: type[Exception] | tuple[type[Exception], ...] = Exception,
        failed: Callable[[Exception], None] | None = None,
    ) -> None:
        """Read now (with `read` instead of the usual one, if given) and show it.

        A failure of a kind in `catch` goes to `failed` (the reader's own, unless another
        is given: one that asks for a read in the background, say); any other is raised.
        """
        if self._one_at_a_time:
            async with self._lock:
                await self._read_and_show(read, catch, failed, ordered=False)
        else:
            await self._read_and_show(read, catch, failed, ordered=True)

    async def _read_and_show(
        self,
        read: Callable[[], Awaitable[T]] | None,
        catch: type[Exception] | tuple[type[Exception], ...],
        failed: Callable[[Exception], None] | None,
        *,
        ordered: bool,
    ) -> None:
        self._started += 1
        number = self._started
        try:
            value = await (read or self._read)()
        except catch as err:
            (failed or self._failed)(err)
            return
        if not ordered:
            self._shown = number
            await self._put(value)
            return
        # A resync and a read may finish together: one at a time, and never back in time.
        async with self._lock:
            if number < self._shown:
                return
            self._shown = number
            await self._put(value)

    async def _put(self, value: T) -> None:
        shown = self._show(value)
        if inspect.isawaitable(shown):
            await shown


def reads_in_turn(
    node: DOMNode,
    read: Callable[[], Awaitable[T]],
    show: Callable[[T], ShowResult],
    *,
    problem: Callable[[str], None],
    what: str,
    group: str,
) -> CoalescingReader[T]:
    """A reader whose reads wait for each other (the worker's and the feed's resync), so the
    last shown is the newest; a failed read goes to `problem` as "Could not `what`: why"."""
    return CoalescingReader[T](
        node,
        read=read,
        show=show,
        failed=lambda err: problem(f"Could not {what}: {failure_words(err, retrying=False)}"),
        group=group,
        one_at_a_time=True,
    )


class ReadsThrough:
    """What a live screen that reads through its `CoalescingReader` offers the App and the
    tests: whether it is reading, a read soon, and the feed's resync (a read now)."""

    _reader: CoalescingReader[Any]

    @property
    def reloading(self) -> bool:
        """Whether a read is wanted or under way."""
        return self._reader.running

    def request_reload(self) -> None:
        """Read soon; while a read runs, just note that another is needed."""
        self._reader.request()

    async def resync(self) -> None:
        """Read now: the feed awaits this before it says Live."""
        await self._reader.once()
