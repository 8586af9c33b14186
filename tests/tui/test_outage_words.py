"""What the console says during an outage: how long it has been offline, counted from when
the outage began, whether it is trying again, and advice that fits how it is configured."""

from __future__ import annotations

import time

from textual.app import App, ComposeResult

from services.live.feed import FeedState, FeedStatus
from services.live.health import FeedHealth, LatencyFigures, check, configured_by, fit_advice
from tests.tui.helpers import shown_text
from widgets.connection_badge import ConnectionBadge, badge_words, outage_words
from widgets.health_panel import feed_state_words

NOW = 10_000.0
EMBEDDED_DSN = "postgresql://postgres@/backroom?host=/home/kemi/.local/share/backroom/run&port=5433"
PROFILE_DSN = "postgresql://staff@db.venue.example:5432/venue"


def test_the_badge_counts_from_the_outage_and_says_whether_it_retries() -> None:
    assert badge_words(FeedStatus(FeedState.LIVE), NOW) == "● Live"
    assert badge_words(FeedStatus(FeedState.CONNECTING), NOW) == "◌ Connecting"
    reconnecting = FeedStatus(FeedState.RECONNECTING, attempt=2, down_since=NOW - 75, retry_at=NOW + 2)
    assert badge_words(reconnecting, NOW) == "↻ Reconnecting (attempt 2) · offline 1m15s"
    waiting = FeedStatus(FeedState.OFFLINE, attempt=6, down_since=NOW - 180, retry_at=NOW + 4)
    assert badge_words(waiting, NOW) == "✕ Offline 3m00s · next try in 4s"
    trying = FeedStatus(FeedState.OFFLINE, attempt=7, down_since=NOW - 181, retry_at=NOW - 0.5)
    assert badge_words(trying, NOW) == "✕ Offline 3m01s · reconnecting now"
    stopped = FeedStatus(FeedState.OFFLINE)
    assert badge_words(stopped, NOW) == "✕ Offline · not reconnecting"
    # Terser, for a crowded line: the attempt and the next try go first, then the age.
    assert badge_words(reconnecting, NOW, brevity=1) == "↻ Reconnecting · 1m15s"
    assert badge_words(waiting, NOW, brevity=1) == "✕ Offline 3m00s"
    assert badge_words(waiting, NOW, brevity=2) == "✕ Offline"
    assert badge_words(FeedStatus(FeedState.LIVE), NOW, brevity=2) == "● Live"

    assert outage_words(FeedStatus(FeedState.LIVE), NOW) is None
    assert outage_words(waiting, NOW) == "offline 3m00s, next try in 4s"
    assert outage_words(reconnecting, NOW) == "offline 1m15s"


class BadgeApp(App[None]):
    def compose(self) -> ComposeResult:
        yield ConnectionBadge()


async def test_fresh_data_does_not_hide_how_long_the_outage_has_lasted() -> None:
    async with BadgeApp().run_test(size=(80, 3)) as pilot:
        badge = pilot.app.query_one(ConnectionBadge)
        now = time.monotonic()
        # The screen read its data a moment ago, but the feed went down two minutes ago.
        badge.data_at = now
        badge.status = FeedStatus(FeedState.OFFLINE, attempt=9, down_since=now - 120, retry_at=now + 30)
        await pilot.pause()
        text = shown_text(badge)
        assert "Offline 2m0" in text and "next try in" in text, text
        assert "no data yet" not in text and "old" not in text

        # Never "no data yet" while something is shown, whatever the state.
        badge.data_at = None
        badge.status = FeedStatus(FeedState.RECONNECTING, attempt=1, down_since=now - 5)
        await pilot.pause()
        assert "no data yet" not in shown_text(badge)


def _feed(
    state: str,
    *,
    attempt: int = 0,
    reconnects: int = 0,
    offline_s: float | None = None,
    retry_in_s: float | None = None,
) -> FeedHealth:
    return FeedHealth(
        state=state,
        attempt=attempt,
        reconnects=reconnects,
        last_event_age_s=None,
        data_age_s=None,
        commit_to_console=LatencyFigures(),
        clock_offset_ms=None,
        detection_bound_s=4.0,
        offline_s=offline_s,
        retry_in_s=retry_in_s,
    )


def test_health_never_says_0_reconnects_while_reconnecting() -> None:
    words = feed_state_words(_feed("reconnecting", attempt=3, offline_s=12))
    assert words == "↻ Reconnecting (attempt 3) · offline 12s · first outage since start"
    assert "0 reconnects" not in words
    assert feed_state_words(_feed("offline", attempt=8, reconnects=1, offline_s=200, retry_in_s=5)) == (
        "✕ Offline 3m20s · attempt 8, next try in 5s · came back once before"
    )
    assert feed_state_words(_feed("live")) == "● Live · no outage since start"
    assert feed_state_words(_feed("live", reconnects=2)) == "● Live · reconnected 2 times since start"


def test_the_advice_fits_the_configuration() -> None:
    said = (
        "Cannot reach Postgres at x: refused. Is the server running, and are the host and port "
        "in DATABASE_URL right? Unset DATABASE_URL to use the built-in embedded server instead."
    )
    assert configured_by(EMBEDDED_DSN, {}) == "embedded"
    assert configured_by(PROFILE_DSN, {}) == "profile"
    assert configured_by(PROFILE_DSN, {"DATABASE_URL": PROFILE_DSN}) == "DATABASE_URL"

    embedded = fit_advice(said, EMBEDDED_DSN, {})
    assert "DATABASE_URL" not in embedded
    assert embedded.startswith("Cannot reach Postgres at x: refused.")
    assert "embedded Postgres" in embedded and "start the console again" in embedded
    profile = fit_advice(said, PROFILE_DSN, {})
    assert "DATABASE_URL" not in profile and "saved profile" in profile
    assert fit_advice(said, PROFILE_DSN, {"DATABASE_URL": PROFILE_DSN}) == said


async def test_health_of_an_embedded_server_that_is_gone_names_no_setting_it_does_not_use(
    tmp_path: object,
) -> None:
    # conftest unsets DATABASE_URL, as on a console that runs its own embedded server.
    report = await check(f"postgresql://postgres@/backroom?host={tmp_path}/run&port=1", probe=0, timeout=2.0)
    assert not report.reachable and report.error is not None
    assert "DATABASE_URL" not in report.error
    assert "embedded Postgres" in report.error
