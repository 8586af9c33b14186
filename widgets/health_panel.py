"""The health figures of the support screen, as lines of words a support person reads aloud.

The server's side (reachable, version, round trip, connections, listeners,
the NOTIFY queue) and this console's feed (state, commit-to-console latency,
reconnects, age of the last event). When the server cannot be reached the
panel says so first and keeps showing the last figures it had, with their
age; the feed's own figures are always this console's, so they stay current.

Every state has a word and a symbol, so it reads the same without colour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.theme import Theme
from textual.widget import Widget

from services.live.health import FeedHealth, HealthReport, LatencyFigures
from widgets.connection_badge import age
from widgets.display import local_time, plain, theme_style, theme_variables

LABEL_WIDTH = 13

# FeedHealth.state values, as the connection badge shows them.
FEED_WORDS: dict[str, tuple[str, str]] = {
    "connecting": ("◌", "Connecting"),
    "live": ("●", "Live"),
    "reconnecting": ("↻", "Reconnecting"),
    "offline": ("✕", "Offline"),
}

NO_FEED = "no live feed on this console"


def milliseconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value / 1000:.1f} s"
    if value >= 10:
        return f"{value:.0f} ms"
    return f"{value:.1f} ms"


def latency_words(figures: LatencyFigures) -> tuple[str, str]:
    """What is measured, then the percentiles (empty when nothing was measured)."""
    if not figures.samples:
        return "commit to console: no changes measured yet", ""
    changes = "the last change" if figures.samples == 1 else f"the last {figures.samples} changes"
    return (
        f"commit to console, over {changes}",
        f"p50 {milliseconds(figures.p50_ms)} · p95 {milliseconds(figures.p95_ms)}"
        f" · p99 {milliseconds(figures.p99_ms)}",
    )


def connection_words(report: HealthReport) -> str:
    here = "-" if report.connections is None else str(report.connections)
    states = ", ".join(f"{n} {state}" for state, n in sorted(report.connections_by_state.items()))
    text = f"{here} to this database" + (f" ({states})" if states else "")
    if report.server_connections is not None or report.max_connections is not None:
        used = "-" if report.server_connections is None else str(report.server_connections)
        limit = "-" if report.max_connections is None else str(report.max_connections)
        text += f" · server {used} / {limit} in use"
    return text


def feed_state_words(feed: FeedHealth) -> str:
    """The feed's state, how long it has been down and whether it is trying again,
    and how often it came back before (not a count of failures)."""
    symbol, word = FEED_WORDS.get(feed.state, ("?", feed.state.capitalize()))
    text = f"{symbol} {word}"
    if feed.state == "offline":
        if feed.offline_s is not None:
            text += f" {age(feed.offline_s)}"
        if feed.retry_in_s is None:
            text += " · not reconnecting" if feed.offline_s is None else ""
        else:
            attempt = f"attempt {feed.attempt}, " if feed.attempt else ""
            text += (
                f" · {attempt}reconnecting now"
                if feed.retry_in_s < 1
                else f" · {attempt}next try in {age(feed.retry_in_s)}"
            )
    elif feed.state != "live":
        if feed.attempt:
            text += f" (attempt {feed.attempt})"
        if feed.offline_s is not None:
            text += f" · offline {age(feed.offline_s)}"
    before = "once" if feed.reconnects == 1 else f"{feed.reconnects} times"
    if feed.state == "live":
        history = "no outage since start" if not feed.reconnects else f"reconnected {before} since start"
    elif feed.state == "connecting":
        return text
    else:
        history = "first outage since start" if not feed.reconnects else f"came back {before} before"
    return f"{text} · {history}"


def event_words(feed: FeedHealth) -> str:
    last = "none yet" if feed.last_event_age_s is None else f"{age(feed.last_event_age_s)} ago"
    data = "never confirmed" if feed.data_age_s is None else f"confirmed {age(feed.data_age_s)} ago"
    return f"{last} · data {data}"


@dataclass(frozen=True, slots=True)
class HealthView:
    """What the panel shows: the latest report, the last one that reached the server,
    and how many seconds ago that one was made."""

    latest: HealthReport | None = None
    last_good: HealthReport | None = None
    good_age_s: float | None = None
    timezone: str = "UTC"
    has_feed: bool = True


class _Section:
    """A heading over label/value rows; a long value wraps under itself, not under the label."""

    def __init__(self, heading: Text) -> None:
        self.heading = heading
        self.grid = Table.grid(padding=(0, 1))
        self.grid.add_column(width=LABEL_WIDTH - 1, no_wrap=True, style="bold")
        self.grid.add_column(ratio=1)

    def line(self, label: str, value: str | Text, style: str = "") -> None:
        self.grid.add_row(label, value if isinstance(value, Text) else Text(value, style=style))

    def renderables(self) -> list[RenderableType]:
        return [self.heading, self.grid]


def health_renderable(view: HealthView, variables: Mapping[str, str]) -> RenderableType:
    """The panel's lines; plain words first, colour only as an extra (from the theme's
    `variables`: $status-ok, $status-problem)."""
    latest = view.latest
    figures = None if latest is None else latest if latest.reachable else view.last_good
    heading = Text("Server", style="bold underline")
    if latest is not None:
        heading.append(f"  {plain(latest.database)}", style="not underline")
    if figures is not None:
        heading.append(
            f" · checked {local_time(figures.checked_at, view.timezone, seconds=True)}",
            style="not underline dim",
        )
    server = _Section(heading)
    if latest is None:
        server.line("Database", "checking…")
    elif latest.reachable:
        server.line(
            "Database",
            Text.assemble(
                ("● reachable", theme_style("bold $status-ok", variables)),
                f" · PostgreSQL {latest.server_version or '?'}"
                f" · round trip {milliseconds(latest.round_trip_ms)}",
            ),
        )
    else:
        server.line(
            "Database",
            Text.assemble(
                ("✕ UNREACHABLE", theme_style("bold $status-problem", variables)),
                f": {plain(latest.error or '')}",
            ),
        )
        if figures is not None:
            how_old = "" if view.good_age_s is None else f", {age(view.good_age_s)} ago"
            server.line(
                "",
                f"Last figures below are from "
                f"{local_time(figures.checked_at, view.timezone, seconds=True)}{how_old}.",
                style="italic",
            )
            server.line(
                "Version",
                f"PostgreSQL {figures.server_version or '?'}"
                f" · round trip {milliseconds(figures.round_trip_ms)}",
            )
        else:
            server.line(
                "", "No figures yet: the server has not answered since this screen opened.", style="italic"
            )
    if figures is not None:
        server.line("Connections", connection_words(figures))
        server.line(
            "Listeners",
            f"{_count(figures.listeners)} listening for changes"
            f" · {_count(figures.presence_connections)} announcing presence",
        )
        usage = figures.notify_queue_usage
        server.line("Notify queue", "-" if usage is None else f"{usage:.2%} used")

    console = _Section(Text("This console's feed", style="bold underline"))
    feed = latest.feed if latest is not None else None
    if feed is None:
        console.line("Feed", "checking…" if latest is None and view.has_feed else NO_FEED)
    else:
        console.line("State", feed_state_words(feed))
        what, percentiles = latency_words(feed.commit_to_console)
        console.line("Latency", what)
        if percentiles:
            console.line("", percentiles)
        console.line("Last event", event_words(feed))
    return Group(*server.renderables(), *console.renderables())


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


class HealthPanel(Widget):
    """Shows a `HealthView`; set `view` to redraw."""

    DEFAULT_CSS = """
    HealthPanel {
        height: auto;
        padding: 0 1;
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._view = HealthView()

    @property
    def view(self) -> HealthView:
        return self._view

    @view.setter
    def view(self, view: HealthView) -> None:
        self._view = view
        self.set_class(view.latest is not None and not view.latest.reachable, "-unreachable")
        self.refresh(layout=True)

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: Theme) -> None:
        self.refresh()

    def render(self) -> RenderableType:
        return health_renderable(self._view, theme_variables(self))
