"""Bounded waits that never lose a cancel.

`asyncio.wait_for` before Python 3.12 can swallow the cancellation of the task
that awaits it when the awaited thing finishes at the same moment (CPython
gh-86296): a cancelled background task then runs on, and whoever awaits it
waits for ever. `within` waits on `asyncio.timeout` instead, which does not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def within(awaitable: Awaitable[T], seconds: float | None) -> T:
    """`await awaitable`, or TimeoutError after `seconds` (None: no bound)."""
    async with asyncio.timeout(seconds):
        return await awaitable
