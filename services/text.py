"""Text that staff or guests typed, made safe to print: no control character reaches a terminal.

An ANSI escape, a bell or a backspace in a name would act on the terminal that shows it, so
each control character (Unicode category Cc) reads as the replacement mark instead; a tab
reads as a space. The screens use this through `widgets.display`, the `backroom` command
directly.
"""

from __future__ import annotations

__all__ = ["REPLACEMENT", "plain"]

REPLACEMENT = "\ufffd"
_CONTROLS = {code: REPLACEMENT for code in (*range(0x20), *range(0x7F, 0xA0))} | {0x09: " "}
_CONTROLS_IN_LINES = {code: shown for code, shown in _CONTROLS.items() if code != 0x0A}


def plain(text: str, *, lines: bool = False) -> str:
    """`text` with its control characters replaced, so none reaches the terminal; with
    `lines`, line breaks are kept (a message of several lines), else they are replaced too."""
    return text.translate(_CONTROLS_IN_LINES if lines else _CONTROLS)
