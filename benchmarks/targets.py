"""The speed targets, checked against one run's figures, and the two ways a benchmark reports.

Standard library only: the UI benchmark's start-up children import this module
too, and a bare Textual app must not pay for more.

A target is met or not by one figure of the run, in milliseconds, compared with
a fixed limit or with a multiple of a bare figure of the same run (a bare
Textual app, a bare UPDATE). `--json` prints one JSON object on standard
output: every figure, and each target with its verdict; the readable report then
goes to standard error, so the object can be piped on its own.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO


@dataclass(frozen=True, slots=True)
class Target:
    figure: str  # key into the figures
    words: str  # what is measured, in a reader's words
    limit_ms: float | None = None
    bare: str | None = None  # a bare figure of the same run ...
    times: float = 1.0  # ... and the multiple of it allowed
    at_least: bool = False  # the figure must reach the bound (throughput), not stay under it
    unit: str = " ms"

    def bound(self, figures: dict[str, float]) -> float:
        bounds = []
        if self.limit_ms is not None:
            bounds.append(self.limit_ms)
        if self.bare is not None:
            bounds.append(figures.get(self.bare, math.nan) * self.times)
        if not bounds:
            raise ValueError(f"target {self.figure} has neither a limit nor a bare figure")
        return max(bounds) if self.at_least else min(bounds)

    def met(self, figures: dict[str, float]) -> bool:
        value, bound = figures.get(self.figure, math.nan), self.bound(figures)
        if math.isnan(value) or math.isnan(bound):
            return False
        return value >= bound if self.at_least else value <= bound

    def line(self, figures: dict[str, float]) -> str:
        value, bound = figures.get(self.figure, math.nan), self.bound(figures)
        relation = ">=" if self.at_least else "<="
        basis = ""
        if self.bare is not None:
            basis = f" ({self.times:g}x {self.bare} {figures.get(self.bare, math.nan):.2f})"
        verdict = "met    " if self.met(figures) else "NOT MET"
        unit = self.unit
        return (
            f"  {verdict} {self.words}: {self.figure} {value:.2f}{unit} {relation} {bound:.2f}{unit}{basis}"
        )


def report(figures: dict[str, float], targets: list[Target], *, out: TextIO | None = None) -> bool:
    """Print one line per target; True when every target is met."""
    out = out or sys.stdout
    print("Targets", file=out)
    for target in targets:
        print(target.line(figures), file=out)
    met = sum(target.met(figures) for target in targets)
    print(f"  {met} of {len(targets)} targets met", file=out)
    return met == len(targets)


def as_json(
    benchmark: str, figures: dict[str, float], targets: list[Target], context: dict[str, Any] | None = None
) -> str:
    def number(value: float) -> float | None:
        return None if math.isnan(value) else round(value, 3)

    return json.dumps(
        {
            "benchmark": benchmark,
            **(context or {}),
            **{key: number(value) for key, value in figures.items()},
            "targets": [
                {
                    "figure": t.figure,
                    "words": t.words,
                    "value": number(figures.get(t.figure, math.nan)),
                    "bound": number(t.bound(figures)),
                    "at_least": t.at_least,
                    "met": t.met(figures),
                }
                for t in targets
            ],
        }
    )


@contextlib.contextmanager
def readable_to_stderr(json_wanted: bool) -> Iterator[None]:
    """With --json, the readable report goes to standard error and standard output keeps the object."""
    if not json_wanted:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield
