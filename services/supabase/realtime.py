"""Supabase Realtime as the live feed and the presence of consoles, for a
console that reaches the project only through its API.

The Realtime protocol is Phoenix channels over a websocket (serializer
1.0.0: one JSON object per text frame with `topic`, `event`, `payload`,
`ref` and `join_ref`). `PhoenixSocket` speaks it; on top of it:

- `SupabaseTransport` is a `services.live.feed.Transport` like
  `ListenTransport`: it joins the private topic `backroom:changes`, on which
  the database broadcasts every change (`realtime.send` in the trigger of
  migration 0006, the same small payload as the NOTIFY), and hands each
  payload to the `ChangeFeed`. It reports loss (the socket closes, the channel
  errs or closes, the server says the token expired) through `on_lost`, and
  `ping` is a Phoenix heartbeat, so the feed's reconnect-then-resync guarantee
  holds unchanged: a broadcast missed while away is covered by the reload.
- `SupabasePresence` is a `services.live.presence.Presence` on the private topic
  `backroom:presence`, through Realtime presence (track, `presence_state`,
  `presence_diff`): a console that closes or loses its socket drops out of
  everyone's roster as soon as Realtime notices.

Private topics need the staff member's access token (a Supabase Auth session,
see `services.supabase.auth`) and the policies on `realtime.messages` that
0006 creates. While nobody is signed in (the token source answers None) no
socket is opened: joining would only be refused. Both then say `NotSignedIn`
and try again later; presence tries again as soon as the console announces
someone. Nothing here imports `supabase`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from services.live.presence import Announcing, PresenceEntry, Whereabouts
from services.store.db import Actor
from services.supabase.config import SupabaseConfig
from services.waiting import within
from services.wording import error_reason

log = logging.getLogger(__name__)

TOPIC_CHANGES = "backroom:changes"
TOPIC_PRESENCE = "backroom:presence"
CHANGE_EVENT = "change"
VSN = "1.0.0"

TokenSource = Callable[[], Awaitable[str | None]]


class RealtimeRefused(ConnectionError):
    """The server refused to join a channel (usually: not allowed by its policies)."""


class NotSignedIn(ConnectionError):
    """There is no Supabase session to join the private channels with."""

    def __init__(self) -> None:
        super().__init__("nobody is signed in to Supabase yet; the live feed starts with the next sign-in")


def socket_url(config: SupabaseConfig) -> str:
    return f"{config.realtime_url}?{urlencode({'apikey': config.key, 'vsn': VSN})}"


def join_payload(token: str | None, *, presence_key: str = "", private: bool = True) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "config": {
            "broadcast": {"self": False, "ack": False},
            "presence": {"key": presence_key, "enabled": bool(presence_key)},
            "postgres_changes": [],
            "private": private,
        }
    }
    if token:
        payload["access_token"] = token
    return payload


def _refusal_reason(response: Any) -> str:
    if isinstance(response, dict):
        return str(response.get("reason") or response.get("message") or response)
    return str(response)


class PhoenixSocket:
    """One websocket speaking Phoenix channels (JSON, version 1.0.0).

    `on_message` gets every message that is not the reply to one of our
    requests; `on_closed` is called once when the socket ends by itself, not
    after `close()`.
    """

    def __init__(
        self, url: str, *, on_message: Callable[[dict[str, Any]], None], on_closed: Callable[[str], None]
    ) -> None:
        self._url = url
        self._on_message = on_message
        self._on_closed = on_closed
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._ref = 0
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._closing = False
        self._ended = False

    @property
    def is_open(self) -> bool:
        return self._ws is not None and not self._ended

    async def connect(self, timeout: float) -> None:
        from websockets.asyncio.client import connect

        # No websocket-level pings: the Phoenix heartbeat is the liveness check.
        self._ws = await connect(
            self._url, open_timeout=timeout, close_timeout=1, ping_interval=None, max_size=2**22
        )
        self._reader = asyncio.create_task(self._read(), name="phoenix-reader")

    def next_ref(self) -> str:
        self._ref += 1
        return str(self._ref)

    async def push(
        self,
        topic: str,
        event: str,
        payload: dict[str, Any],
        *,
        join_ref: str | None = None,
        ref: str | None = None,
    ) -> str:
        if not self.is_open:
            raise ConnectionError("the Realtime socket is closed")
        ref = ref or self.next_ref()
        message = {"topic": topic, "event": event, "payload": payload, "ref": ref, "join_ref": join_ref}
        await self._ws.send(json.dumps(message))
        return ref

    async def request(
        self,
        topic: str,
        event: str,
        payload: dict[str, Any],
        *,
        timeout: float,
        join_ref: str | None = None,
        ref: str | None = None,
    ) -> dict[str, Any]:
        """Push and wait for its `phx_reply`; an error reply raises RealtimeRefused."""
        ref = ref or self.next_ref()
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ref] = waiter
        try:
            await self.push(topic, event, payload, join_ref=join_ref, ref=ref)
            reply = await within(waiter, timeout)
        finally:
            self._waiting.pop(ref, None)
        if reply.get("status") != "ok":
            raise RealtimeRefused(_refusal_reason(reply.get("response")))
        response = reply.get("response")
        return response if isinstance(response, dict) else {}

    async def join(self, topic: str, payload: dict[str, Any], *, timeout: float) -> str:
        """Join a channel; returns its join_ref."""
        ref = self.next_ref()
        try:
            await self.request(topic, "phx_join", payload, timeout=timeout, join_ref=ref, ref=ref)
        except RealtimeRefused as err:
            raise RealtimeRefused(f"Supabase Realtime refused to join {topic}: {err}") from None
        return ref

    async def heartbeat(self, timeout: float) -> None:
        await self.request("phoenix", "heartbeat", {}, timeout=timeout)

    async def close(self) -> None:
        self._closing = True
        ws, self._ws = self._ws, None
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            # wait() neither raises the reader's own end nor swallows a cancel of this task.
            await asyncio.wait([reader], timeout=1.0)
        if ws is not None:
            try:
                await within(ws.close(), 1.0)
            except Exception:
                # A hung peer never answers a goodbye.
                with contextlib.suppress(Exception):
                    ws.transport.abort()
        self._fail_waiting("the Realtime socket was closed")

    def _fail_waiting(self, reason: str) -> None:
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(ConnectionError(reason))
        self._waiting.clear()

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        reason = "the server closed the connection"
        try:
            async for raw in self._ws:
                try:
                    message = json.loads(raw)
                except (TypeError, ValueError):
                    log.warning("ignoring a Realtime frame that is not JSON")
                    continue
                if not isinstance(message, dict):
                    continue
                ref = message.get("ref")
                if message.get("event") == "phx_reply" and ref in self._waiting:
                    waiter = self._waiting.pop(ref)
                    if not waiter.done():
                        payload = message.get("payload")
                        waiter.set_result(payload if isinstance(payload, dict) else {})
                    continue
                try:
                    self._on_message(message)
                except Exception:
                    log.exception("a Realtime message could not be handled")
        except ConnectionClosed as err:
            reason = f"the connection closed ({err.rcvd.code if err.rcvd else 'no close frame'})"
        except OSError as err:
            reason = f"the connection failed ({type(err).__name__})"
        self._ended = True
        self._fail_waiting(reason)
        if not self._closing:
            self._on_closed(reason)


class SupabaseTransport:
    """Changes from Supabase Realtime's private topic `backroom:changes`."""

    def __init__(
        self,
        config: SupabaseConfig,
        access_token: TokenSource | None = None,
        *,
        topic: str = TOPIC_CHANGES,
        event: str = CHANGE_EVENT,
        timeout: float = 5.0,
    ) -> None:
        self._config = config
        self._token_source = access_token
        self._topic = f"realtime:{topic}"
        self._event = event
        self._timeout = timeout
        self._socket: PhoenixSocket | None = None
        self._join_ref: str | None = None
        self._sent_token: str | None = None

    async def _token(self) -> str | None:
        return await self._token_source() if self._token_source is not None else None

    async def open(self, on_payload: Callable[[str], None], on_lost: Callable[[str], None]) -> None:
        reported = False

        def lost(reason: str) -> None:
            nonlocal reported
            if not reported and self._socket is socket:
                reported = True
                on_lost(reason)

        def heard(message: dict[str, Any]) -> None:
            if message.get("topic") != self._topic:
                return
            event = message.get("event")
            payload = message.get("payload")
            if event == "broadcast" and isinstance(payload, dict):
                if payload.get("event") == self._event and payload.get("payload") is not None:
                    on_payload(json.dumps(payload["payload"]))
            elif event in ("phx_error", "phx_close"):
                lost(f"Realtime {'closed' if event == 'phx_close' else 'dropped'} the channel")
            elif event == "system" and isinstance(payload, dict) and payload.get("status") == "error":
                lost(f"Realtime: {payload.get('message') or 'channel error'}")

        token = await self._token()
        if token is None and self._token_source is not None:
            raise NotSignedIn()
        socket = PhoenixSocket(
            socket_url(self._config), on_message=heard, on_closed=lambda reason: lost(reason)
        )
        self._socket = socket
        try:
            await socket.connect(self._timeout)
            self._join_ref = await socket.join(self._topic, join_payload(token), timeout=self._timeout)
            self._sent_token = token
        except BaseException:
            self._socket = None
            await socket.close()
            raise

    async def ping(self) -> float | None:
        socket = self._socket
        if socket is None or not socket.is_open:
            raise ConnectionError("not connected")
        token = await self._token()
        if token and token != self._sent_token:
            # A refreshed token must reach the channel before the old one expires.
            await socket.push(self._topic, "access_token", {"access_token": token}, join_ref=self._join_ref)
            self._sent_token = token
        await socket.heartbeat(self._timeout)
        return None  # Realtime does not tell its clock

    async def close(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            await socket.close()


# Presence ------------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _when(value: Any, default: datetime) -> datetime:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value)
    return default


class SupabasePresence(Announcing):
    """Presence through Realtime presence on the private topic `backroom:presence`.

    Each console tracks one presence under its console id, carrying who is
    signed in and what they look at; `announce` re-tracks it. The roster is
    Realtime's presence state, kept from `presence_state` and `presence_diff`.
    Without a connection for `ttl` seconds the roster is dropped as too old.
    """

    def __init__(
        self,
        config: SupabaseConfig,
        actor: Actor,
        *,
        access_token: TokenSource | None = None,
        on_change: Callable[[tuple[PresenceEntry, ...]], None] | None = None,
        whereabouts: Whereabouts | None = None,
        console_id: str | None = None,
        beat_every: float = 5.0,
        ttl: float = 10.0,
        timeout: float = 5.0,
        backoff_base: float = 0.25,
        backoff_cap: float = 10.0,
        topic: str = TOPIC_PRESENCE,
    ) -> None:
        self.console_id = console_id or str(uuid.uuid4())
        self._config = config
        self._actor = actor
        self._token_source = access_token
        self._on_change = on_change
        self._whereabouts = whereabouts or Whereabouts()
        self._beat_every = beat_every
        self._ttl = ttl
        self._timeout = timeout
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._topic = f"realtime:{topic}"
        self._since = datetime.now(UTC)
        self._state: dict[str, list[dict[str, Any]]] = {}
        self._seen: dict[str, datetime] = {}
        self._entries: tuple[PresenceEntry, ...] = ()
        self._socket: PhoenixSocket | None = None
        self._joined = False
        self._join_ref: str | None = None
        self._sent_token: str | None = None
        self._lost = asyncio.Event()
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._finished = asyncio.Event()
        self._running = False
        self._stopping = False
        self._dirty = True
        self._disconnected_at: float | None = None
        self.error: str | None = None
        self.tracks = 0

    # ------------------------------------------------------------------ what screens use

    @property
    def connected(self) -> bool:
        return self._joined and self._socket is not None and self._socket.is_open

    def meta(self) -> dict[str, Any]:
        """What this console tracks (never a token or anything secret)."""
        a, w = self._actor, self._whereabouts
        return {
            "console_id": self.console_id,
            "staff_id": a.staff_id,
            "staff_name": a.name,
            "role": a.role,
            "screen": w.screen,
            "night_id": w.night_id,
            "selected_table": w.selected_table,
            "held_table": w.held_table,
            "since": self._since.isoformat(),
        }

    # ------------------------------------------------------------------ the background task

    async def run(self) -> None:
        """Keep tracking until `stop()`; reconnect with backoff when the socket fails."""
        self._running = True
        self._finished.clear()
        attempt = 0
        try:
            while not self._stopping:
                lost = asyncio.Event()
                try:
                    socket = await self._open(lost)
                except Exception as err:
                    attempt += 1
                    self._disconnected(f"cannot join: {error_reason(err)}")
                    # Nobody signed in: the next announce (someone signing in) tries at once.
                    await self._pause(self.backoff(attempt), until_announced=isinstance(err, NotSignedIn))
                    continue
                attempt = 0
                try:
                    await self._session(socket, lost)
                except Exception as err:
                    self._disconnected(error_reason(err))
                finally:
                    self._joined = False
                    self._socket = None
                    await socket.close()
                if not self._stopping:
                    attempt = 1
                    await self._pause(self.backoff(attempt))
        finally:
            self._running = False
            self._finished.set()

    async def stop(self, timeout: float = 2.0) -> None:
        """Untrack (so the others drop this console at once) and close."""
        self._stopping = True
        self._stopped.set()
        self._wake.set()
        if self._running:
            with contextlib.suppress(TimeoutError):
                await within(self._finished.wait(), timeout)
        socket = self._socket
        if socket is not None:
            await socket.close()

    async def _open(self, lost: asyncio.Event) -> PhoenixSocket:
        def closed(_reason: str) -> None:
            lost.set()
            self._wake.set()

        self._lost = lost  # a channel error during the join counts too
        token = await self._token_source() if self._token_source is not None else None
        if token is None and self._token_source is not None:
            raise NotSignedIn()
        socket = PhoenixSocket(socket_url(self._config), on_message=self._heard, on_closed=closed)
        try:
            await socket.connect(self._timeout)
            join_ref = await socket.join(
                self._topic, join_payload(token, presence_key=self.console_id), timeout=self._timeout
            )
        except BaseException:
            await socket.close()
            raise
        self._join_ref = join_ref
        self._sent_token = token
        return socket

    def _heard(self, message: dict[str, Any]) -> None:
        if message.get("topic") != self._topic:
            return
        event, payload = message.get("event"), message.get("payload")
        if event == "presence_state" and isinstance(payload, dict):
            self._state = {
                key: list(value.get("metas") or [])
                for key, value in payload.items()
                if isinstance(value, dict)
            }
            now = datetime.now(UTC)
            self._seen = dict.fromkeys(self._state, now)
            self._rebuild()
        elif event == "presence_diff" and isinstance(payload, dict):
            self._apply_diff(payload)
        elif event in ("phx_error", "phx_close") or (
            event == "system" and isinstance(payload, dict) and payload.get("status") == "error"
        ):
            self._lost.set()
            self._wake.set()

    def _apply_diff(self, diff: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        for key, value in (diff.get("joins") or {}).items():
            metas = list((value or {}).get("metas") or [])
            refs = {m.get("phx_ref") for m in metas}
            kept = [m for m in self._state.get(key, []) if m.get("phx_ref") not in refs]
            self._state[key] = kept + metas
            self._seen[key] = now
        for key, value in (diff.get("leaves") or {}).items():
            refs = {m.get("phx_ref") for m in (value or {}).get("metas") or []}
            kept = [m for m in self._state.get(key, []) if m.get("phx_ref") not in refs]
            if kept:
                self._state[key] = kept
            else:
                self._state.pop(key, None)
                self._seen.pop(key, None)
        self._rebuild()

    def _rebuild(self) -> None:
        entries = []
        for key, metas in self._state.items():
            if not metas:
                continue
            m = metas[-1]  # the newest track of that console
            seen = self._seen.get(key, datetime.now(UTC))
            entries.append(
                PresenceEntry(
                    console_id=str(m.get("console_id") or key),
                    staff_id=_int(m.get("staff_id")),
                    staff_name=str(m.get("staff_name") or "unknown"),
                    role=m.get("role") if isinstance(m.get("role"), str) else None,
                    screen=m.get("screen") if isinstance(m.get("screen"), str) else None,
                    night_id=_int(m.get("night_id")),
                    selected_table=_int(m.get("selected_table")),
                    held_table=_int(m.get("held_table")),
                    since=_when(m.get("since"), seen),
                    last_seen=seen,
                )
            )
        entries.sort(key=lambda e: (e.staff_name, e.since, e.console_id))
        self._set_entries(tuple(entries))

    async def _track(self, socket: PhoenixSocket) -> None:
        await socket.request(
            self._topic,
            "presence",
            {"type": "presence", "event": "track", "payload": self.meta()},
            timeout=self._timeout,
            join_ref=self._join_ref,
        )
        self.tracks += 1

    async def _session(self, socket: PhoenixSocket, lost: asyncio.Event) -> None:
        self._socket = socket
        self._joined = True
        self._dirty = True
        next_beat = time.monotonic() + self._beat_every
        while True:
            if lost.is_set():
                raise ConnectionError("the Realtime connection closed")
            if self._stopping:
                with contextlib.suppress(Exception):
                    await socket.request(
                        self._topic,
                        "presence",
                        {"type": "presence", "event": "untrack", "payload": {}},
                        timeout=1.0,
                        join_ref=self._join_ref,
                    )
                    await socket.request(self._topic, "phx_leave", {}, timeout=1.0, join_ref=self._join_ref)
                return
            if self._dirty:
                self._dirty = False
                await self._track(socket)
                self._disconnected_at = None
                self.error = None
            if time.monotonic() >= next_beat:
                token = await self._token_source() if self._token_source is not None else None
                if token and token != self._sent_token:
                    await socket.push(
                        self._topic, "access_token", {"access_token": token}, join_ref=self._join_ref
                    )
                    self._sent_token = token
                await socket.heartbeat(self._timeout)
                next_beat = time.monotonic() + self._beat_every
            if self._dirty or lost.is_set() or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                await within(self._wake.wait(), max(0.0, next_beat - time.monotonic()))
            self._wake.clear()

    def _disconnected(self, reason: str) -> None:
        self.error = reason
        if self._disconnected_at is None:
            self._disconnected_at = time.monotonic()
        log.info("Realtime presence lost: %s", reason)

    async def _pause(self, delay: float, *, until_announced: bool = False) -> None:
        """Wait before retrying; past `ttl` without a connection, the roster is too old to show.
        With `until_announced`, an announce ends the wait early."""
        until = time.monotonic() + delay
        if until_announced:
            self._wake.clear()
        while not self._stopping:
            if until_announced and self._wake.is_set():
                return
            now = time.monotonic()
            if (
                self._entries
                and self._disconnected_at is not None
                and now - self._disconnected_at >= self._ttl
            ):
                self._state, self._seen = {}, {}
                self._set_entries(())
            if now >= until:
                return
            wake = until
            if self._entries and self._disconnected_at is not None:
                wake = min(wake, self._disconnected_at + self._ttl)
            await self._wait(max(0.0, wake - now), announced=until_announced)

    async def _wait(self, timeout: float, *, announced: bool) -> None:
        """Until `stop()` (or, with `announced`, an announce), at most `timeout` seconds."""
        if not announced:
            with contextlib.suppress(TimeoutError):
                await within(self._stopped.wait(), timeout)
            return
        waits = {asyncio.ensure_future(self._stopped.wait()), asyncio.ensure_future(self._wake.wait())}
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
