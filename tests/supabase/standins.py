"""Local stand-ins for the Supabase services the adapters talk to. No Supabase
server can be reached from the tests; these follow the documented protocols
closely enough that the real clients (supabase-py's auth client, our Phoenix
socket) cannot tell the difference for the calls we make.

Both work with the access tokens a Supabase project uses: HS256 JWTs signed
with the project's JWT secret. The tests store the same secret in the database
(`backroom_meta.set_supabase_jwt_secret`), so Postgres checks what the Auth
stand-in issues as it would check Supabase Auth's own tokens, and the Realtime
stand-in refuses a token that secret did not sign, as Realtime does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint(secret: bytes, claims: dict[str, Any], *, alg: str = "HS256") -> str:
    """A JWT with `claims`, signed with HMAC-SHA256 under `secret` (as Supabase Auth signs
    with the project's JWT secret); `alg="none"` leaves the signature empty."""
    head = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    if alg == "none":
        return f"{head}.{body}."
    sig = _b64(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


def staff_claims(
    sub: str,
    *,
    aal: str = "aal2",
    totp_at: float | None = None,
    seconds: int = 3600,
    role: str = "authenticated",
) -> dict[str, Any]:
    """The claims of a Supabase Auth access token for user `sub`: at aal2 with a TOTP
    verification at `totp_at` (default now), after a password sign-in."""
    now = int(time.time())
    amr: list[dict[str, Any]] = [{"method": "password", "timestamp": now}]
    if aal == "aal2":
        amr.insert(0, {"method": "totp", "timestamp": int(now if totp_at is None else totp_at)})
    return {
        "sub": sub,
        "aud": "authenticated",
        "role": role,
        "aal": aal,
        "amr": amr,
        "session_id": str(uuid.uuid4()),
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + seconds,
    }


def verified(secret: bytes, token: str | None) -> dict[str, Any] | None:
    """The claims of `token` if `secret` signed it (HS256) and it has not expired."""
    try:
        head, body, sig = (token or "").split(".")
        if json.loads(_unb64(head)).get("alg") != "HS256":
            return None
        expected = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(sig)):
            return None
        claims: dict[str, Any] = json.loads(_unb64(body))
    except ValueError:
        return None
    return claims if float(claims.get("exp", 0)) > time.time() else None


@dataclass
class StandInFactor:
    id: str
    friendly_name: str
    secret: str
    status: str = "unverified"
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "friendly_name": self.friendly_name,
            "factor_type": "totp",
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.created_at,
        }


@dataclass
class StandInUser:
    id: str
    email: str
    password: str
    factors: list[StandInFactor] = field(default_factory=list)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "aud": "authenticated",
            "role": "authenticated",
            "email": self.email,
            "email_confirmed_at": self.created_at,
            "app_metadata": {"provider": "email"},
            "user_metadata": {},
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "factors": [f.public() for f in self.factors] or None,
            "is_anonymous": False,
        }


class GoTrueStandIn:
    """Stands in for Supabase Auth (GoTrue) at http://127.0.0.1:<port>/auth/v1, API
    version 2024-01-01, for the endpoints supabase-py calls in a password plus
    TOTP sign-in and a TOTP enrolment:

    - POST /token?grant_type=password   {email, password} -> a session (aal1, amr password)
    - POST /token?grant_type=refresh_token {refresh_token} -> a new session, same aal and amr
    - GET  /user                          -> the user with its `factors`
    - POST /factors                       {factor_type: totp, friendly_name, issuer} -> {id, type,
      friendly_name, totp: {qr_code, secret, uri}}; refused with insufficient_aal when the user
      already has a verified factor and the session is aal1
    - POST /factors/{id}/challenge        -> {id, type: totp, expires_at}
    - POST /factors/{id}/verify           {challenge_id, code} -> a session at aal2 whose amr
      starts with {method: totp, timestamp: now}; a wrong code is 422 mfa_verification_failed
    - DELETE /factors/{id}                -> {id}
    - POST /logout?scope=...              -> 204

    Errors carry the `X-Supabase-Api-Version: 2024-01-01` header and the body
    `{"code": <error code>, "message": ...}`, as GoTrue sends them; 400
    invalid_credentials for a wrong email or password, 429 over_request_rate_limit
    when `rate_limited` is set. Access tokens are HS256 JWTs signed with
    `jwt_secret` (the project's JWT secret), with sub, role authenticated, aal,
    amr (each method with the time it was used), session_id and exp; a refresh
    keeps the session's aal and amr, as GoTrue does.
    """

    def __init__(self, jwt_secret: bytes, *, token_seconds: int = 3600) -> None:
        self.users: dict[str, StandInUser] = {}
        self.token_seconds = token_seconds
        self.rate_limited = False
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[str] = []
        self._secret = jwt_secret
        self._tokens: dict[str, tuple[str, str, str]] = {}  # access token -> user, aal, session
        self._refresh: dict[str, tuple[str, str, str]] = {}
        self._amr: dict[str, list[dict[str, Any]]] = {}  # session -> methods, newest first
        self._challenges: dict[str, tuple[str, float]] = {}  # id -> factor, expires
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> GoTrueStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_user(self, email: str, password: str, *, totp_secret: str | None = None) -> StandInUser:
        user = StandInUser(str(uuid.uuid4()), email, password)
        if totp_secret:
            user.factors.append(StandInFactor(str(uuid.uuid4()), "phone", totp_secret, "verified"))
        self.users[email] = user
        return user

    # ------------------------------------------------------------------ tokens

    def _used(self, session_id: str, method: str) -> None:
        """`method` was used on the session now: its amr entry moves to the front."""
        amr = [m for m in self._amr.get(session_id, []) if m["method"] != method]
        self._amr[session_id] = [{"method": method, "timestamp": int(time.time())}, *amr]

    def _jwt(self, user: StandInUser, aal: str, session_id: str) -> str:
        now = int(time.time())
        claims = {
            "iss": f"{self.url}/auth/v1",
            "sub": user.id,
            "aud": "authenticated",
            "role": "authenticated",
            "email": user.email,
            "aal": aal,
            "amr": self._amr.get(session_id, []),
            "session_id": session_id,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + self.token_seconds,
        }
        return mint(self._secret, claims)

    def _session(self, user: StandInUser, aal: str, session_id: str | None = None) -> dict[str, Any]:
        session_id = session_id or str(uuid.uuid4())
        access = self._jwt(user, aal, session_id)
        refresh = uuid.uuid4().hex
        self._tokens[access] = (user.id, aal, session_id)
        self._refresh[refresh] = (user.id, aal, session_id)
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": self.token_seconds,
            "expires_at": int(time.time()) + self.token_seconds,
            "refresh_token": refresh,
            "user": user.public(),
        }

    def user_by_id(self, user_id: str) -> StandInUser:
        return next(u for u in self.users.values() if u.id == user_id)

    # ------------------------------------------------------------------ HTTP

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: Any = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Supabase-Api-Version", "2024-01-01")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, code: str, message: str) -> None:
                self._reply(status, {"code": code, "message": message})

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                standin.bodies.append(raw)
                return json.loads(raw) if raw else {}

            def _bearer(self) -> tuple[StandInUser, str, str] | None:
                auth = self.headers.get("Authorization", "")
                token = auth.removeprefix("Bearer ").strip()
                found = standin._tokens.get(token)
                if found is None:
                    return None
                return standin.user_by_id(found[0]), found[1], found[2]

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

            def do_DELETE(self) -> None:
                self._route("DELETE")

            def _route(self, method: str) -> None:
                parts = urlsplit(self.path)
                standin.requests.append((method, parts.path))
                body = self._body()
                with standin._lock:
                    self._dispatch(method, parts.path, parse_qs(parts.query), body)

            def _dispatch(
                self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]
            ) -> None:
                if standin.rate_limited:
                    return self._error(429, "over_request_rate_limit", "Request rate limit reached")
                if path == "/auth/v1/token" and method == "POST":
                    grant = (query.get("grant_type") or [""])[0]
                    if grant == "password":
                        user = standin.users.get(str(body.get("email", "")).lower())
                        if user is None or user.password != body.get("password"):
                            return self._error(400, "invalid_credentials", "Invalid login credentials")
                        session_id = str(uuid.uuid4())
                        standin._used(session_id, "password")
                        return self._reply(200, standin._session(user, "aal1", session_id))
                    if grant == "refresh_token":
                        found = standin._refresh.pop(str(body.get("refresh_token")), None)
                        if found is None:
                            return self._error(
                                400,
                                "refresh_token_not_found",
                                "Invalid Refresh Token: Refresh Token Not Found",
                            )
                        user = standin.user_by_id(found[0])
                        return self._reply(200, standin._session(user, found[1], found[2]))
                    return self._error(400, "validation_failed", "unsupported grant_type")
                who = self._bearer()
                if who is None:
                    return self._error(401, "bad_jwt", "invalid JWT")
                user, aal, session_id = who
                if path == "/auth/v1/user" and method == "GET":
                    return self._reply(200, user.public())
                if path == "/auth/v1/logout" and method == "POST":
                    for token, (uid, _aal, sid) in list(standin._tokens.items()):
                        if uid == user.id and sid == session_id:
                            del standin._tokens[token]
                    self.send_response(204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                segments = path.removeprefix("/auth/v1/").split("/")
                if segments[0] != "factors":
                    return self._error(404, "not_found", "not found")
                if len(segments) == 1 and method == "POST":
                    if any(f.status == "verified" for f in user.factors) and aal != "aal2":
                        return self._error(422, "insufficient_aal", "AAL2 required to enroll a new factor")
                    if any(f.friendly_name == body.get("friendly_name") for f in user.factors):
                        return self._error(
                            422, "mfa_factor_name_conflict", "A factor with the friendly name already exists"
                        )
                    secret = pyotp.random_base32()
                    new = StandInFactor(str(uuid.uuid4()), str(body.get("friendly_name")), secret)
                    user.factors.append(new)
                    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=body.get("issuer"))
                    return self._reply(
                        200,
                        {
                            "id": new.id,
                            "type": "totp",
                            "friendly_name": new.friendly_name,
                            "totp": {"qr_code": "<svg/>", "secret": secret, "uri": uri},
                        },
                    )
                factor = next((f for f in user.factors if f.id == segments[1]), None)
                if factor is None:
                    return self._error(404, "mfa_factor_not_found", "Factor not found")
                if len(segments) == 2 and method == "DELETE":
                    if factor.status == "verified" and aal != "aal2":
                        return self._error(422, "insufficient_aal", "AAL2 required")
                    user.factors.remove(factor)
                    return self._reply(200, {"id": factor.id})
                if segments[2:] == ["challenge"] and method == "POST":
                    challenge = str(uuid.uuid4())
                    expires = int(time.time()) + 300
                    standin._challenges[challenge] = (factor.id, expires)
                    return self._reply(200, {"id": challenge, "type": "totp", "expires_at": expires})
                if segments[2:] == ["verify"] and method == "POST":
                    asked = standin._challenges.pop(str(body.get("challenge_id")), None)
                    if asked is None or asked[0] != factor.id:
                        return self._error(404, "mfa_challenge_expired", "Challenge not found")
                    if asked[1] < time.time():
                        return self._error(422, "mfa_challenge_expired", "Challenge expired")
                    if not pyotp.TOTP(factor.secret).verify(str(body.get("code")), valid_window=1):
                        return self._error(422, "mfa_verification_failed", "Invalid TOTP code entered")
                    factor.status = "verified"
                    standin._used(session_id, "totp")
                    return self._reply(200, standin._session(user, "aal2", session_id))
                return self._error(404, "not_found", "not found")

        return Handler


# Realtime ------------------------------------------------------------------------------


@dataclass
class _Joined:
    join_ref: str | None
    token: str | None
    presence_key: str
    private: bool


class RealtimeStandIn:
    """Stands in for Supabase Realtime at ws://127.0.0.1:<port>/realtime/v1/websocket
    (protocol version 1.0.0: each text frame one JSON object with topic, event,
    payload, ref, join_ref), after the Realtime protocol guide and Phoenix:

    - the socket is refused (HTTP 403) without the project's `apikey` query parameter;
    - `phx_join` on `realtime:<topic>` with `{config: {broadcast, presence: {key, enabled},
      postgres_changes, private}, access_token}` is answered by `phx_reply`
      `{status: ok, response: {postgres_changes: []}}`; with `{status: error, response:
      {reason: "Invalid JWT ..."}}` when the token of a private channel is not an unexpired
      HS256 JWT signed with `jwt_secret` (the project's JWT secret, which Realtime checks
      tokens with), or with `{status: error, response: {reason: "Unauthorized: ..."}}` when
      `authorize(topic, token)` says no (the RLS check on realtime.messages); a channel
      with presence gets `presence_state` right after its join;
    - `heartbeat` on topic `phoenix` is answered `{status: ok, response: {}}`
      (unless `silent`, which stands in for a hung server);
    - `presence` `{type: presence, event: track|untrack, payload}` updates that
      socket's presence under its key and sends every member of the topic a
      `presence_diff` `{joins: {key: {metas: [...]}}, leaves: {...}}`, each meta
      carrying its `phx_ref`; a socket that closes leaves;
    - `access_token` replaces the channel's token, or, for a token that does not verify,
      sends a `system` error and closes the channel (`phx_close`); `phx_leave` leaves;
    - `broadcast(topic, event, payload)` sends `{event: broadcast, topic,
      payload: {type: broadcast, event, payload}}` to the topic's members, as a
      database broadcast (realtime.send) arrives;
    - `channel_error(topic)` sends `phx_error`, `token_expired(topic)` a
      `system` error then `phx_close`, and `drop()` closes every socket.
    """

    def __init__(self, apikey: str, jwt_secret: bytes) -> None:
        self.apikey = apikey
        self.jwt_secret = jwt_secret
        self.authorize: Callable[[str, str | None], bool] = lambda topic, token: bool(token)
        self.silent = False
        self.received: list[dict[str, Any]] = []
        self.connections = 0
        self._sockets: dict[Any, dict[str, _Joined]] = {}
        self._presence: dict[str, dict[str, tuple[Any, dict[str, Any]]]] = {}
        self._refs = itertools.count(1)
        self._server: Any = None

    @property
    def url(self) -> str:
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def start(self) -> RealtimeStandIn:
        from websockets.asyncio.server import serve

        self._server = await serve(
            self._handle, "127.0.0.1", 0, process_request=self._check, ping_interval=None
        )
        return self

    async def stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    def _check(self, connection: Any, request: Any) -> Any:
        parts = urlsplit(request.path)
        query = parse_qs(parts.query)
        if parts.path != "/realtime/v1/websocket" or query.get("apikey") != [self.apikey]:
            return connection.respond(403, "invalid apikey\n")
        return None

    def members(self, topic: str) -> list[Any]:
        return [ws for ws, joined in self._sockets.items() if topic in joined]

    def tokens(self, topic: str) -> list[str | None]:
        return [joined[topic].token for joined in self._sockets.values() if topic in joined]

    async def _send(
        self,
        ws: Any,
        topic: str,
        event: str,
        payload: Any,
        ref: str | None = None,
        join_ref: str | None = None,
    ) -> None:
        with contextlib.suppress(Exception):
            await ws.send(
                json.dumps(
                    {"topic": topic, "event": event, "payload": payload, "ref": ref, "join_ref": join_ref}
                )
            )

    async def _reply(self, ws: Any, msg: dict[str, Any], status: str, response: Any) -> None:
        await self._send(
            ws,
            msg["topic"],
            "phx_reply",
            {"status": status, "response": response},
            ref=msg.get("ref"),
            join_ref=msg.get("join_ref"),
        )

    async def _handle(self, ws: Any) -> None:
        self.connections += 1
        self._sockets[ws] = {}
        try:
            async for raw in ws:
                msg = json.loads(raw)
                self.received.append(msg)
                await self._message(ws, msg)
        except Exception:
            pass
        finally:
            joined = self._sockets.pop(ws, {})
            for topic in joined:
                await self._leave_presence(ws, topic)

    async def _message(self, ws: Any, msg: dict[str, Any]) -> None:
        topic, event, payload = msg.get("topic"), msg.get("event"), msg.get("payload") or {}
        if topic == "phoenix" and event == "heartbeat":
            if not self.silent:
                await self._reply(ws, msg, "ok", {})
            return
        assert isinstance(topic, str)
        name = topic.removeprefix("realtime:")
        if event == "phx_join":
            config = payload.get("config") or {}
            token = payload.get("access_token")
            private = bool(config.get("private"))
            if private and verified(self.jwt_secret, token) is None:
                await self._reply(
                    ws, msg, "error", {"reason": "Invalid JWT: the token does not verify or has expired"}
                )
                return
            if private and not self.authorize(name, token):
                await self._reply(
                    ws,
                    msg,
                    "error",
                    {
                        "reason": f"Unauthorized: You do not have permissions to read from this "
                        f"Channel topic: {name}"
                    },
                )
                return
            presence = config.get("presence") or {}
            self._sockets[ws][topic] = _Joined(
                msg.get("join_ref"), token, str(presence.get("key") or ""), private
            )
            await self._reply(ws, msg, "ok", {"postgres_changes": []})
            if presence.get("enabled"):
                await self._send(ws, topic, "presence_state", self._state(topic))
            return
        joined = self._sockets[ws].get(topic)
        if joined is None:
            await self._reply(ws, msg, "error", {"reason": "unmatched topic"})
            return
        if event == "access_token":
            if joined.private and verified(self.jwt_secret, payload.get("access_token")) is None:
                await self._send(
                    ws,
                    topic,
                    "system",
                    {
                        "channel": name,
                        "extension": "system",
                        "status": "error",
                        "message": "Invalid JWT: the token does not verify or has expired",
                    },
                )
                await self._send(ws, topic, "phx_close", {})
                self._sockets[ws].pop(topic, None)
                await self._leave_presence(ws, topic)
                return
            joined.token = payload.get("access_token")
        elif event == "presence":
            if payload.get("event") == "track":
                await self._track(ws, topic, joined, dict(payload.get("payload") or {}))
            elif payload.get("event") == "untrack":
                await self._leave_presence(ws, topic)
            await self._reply(ws, msg, "ok", {})
        elif event == "phx_leave":
            await self._leave_presence(ws, topic)
            self._sockets[ws].pop(topic, None)
            await self._reply(ws, msg, "ok", {})
        elif event == "broadcast":
            await self.broadcast(name, str(payload.get("event")), payload.get("payload"), skip=ws)

    def _state(self, topic: str) -> dict[str, Any]:
        return {key: {"metas": [meta]} for key, (_ws, meta) in self._presence.get(topic, {}).items()}

    async def _track(self, ws: Any, topic: str, joined: _Joined, meta: dict[str, Any]) -> None:
        key = joined.presence_key or str(id(ws))
        members = self._presence.setdefault(topic, {})
        old = members.get(key)
        meta["phx_ref"] = f"F{next(self._refs)}"
        if old is not None:
            meta["phx_ref_prev"] = old[1]["phx_ref"]
        members[key] = (ws, meta)
        diff = {
            "joins": {key: {"metas": [meta]}},
            "leaves": {key: {"metas": [old[1]]}} if old is not None else {},
        }
        for member in self.members(topic):
            await self._send(member, topic, "presence_diff", diff)

    async def _leave_presence(self, ws: Any, topic: str) -> None:
        members = self._presence.get(topic, {})
        gone = {key: meta for key, (owner, meta) in members.items() if owner is ws}
        for key in gone:
            del members[key]
        if gone:
            diff = {"joins": {}, "leaves": {key: {"metas": [meta]} for key, meta in gone.items()}}
            for member in self.members(topic):
                await self._send(member, topic, "presence_diff", diff)

    # ------------------------------------------------------------------ what tests do

    async def broadcast(self, topic: str, event: str, payload: Any, *, skip: Any = None) -> int:
        full = f"realtime:{topic}"
        sent = 0
        for ws in self.members(full):
            if ws is not skip:
                await self._send(
                    ws, full, "broadcast", {"type": "broadcast", "event": event, "payload": payload}
                )
                sent += 1
        return sent

    async def channel_error(self, topic: str) -> None:
        full = f"realtime:{topic}"
        for ws in self.members(full):
            await self._send(ws, full, "phx_error", {})

    async def token_expired(self, topic: str) -> None:
        full = f"realtime:{topic}"
        for ws in self.members(full):
            await self._send(
                ws,
                full,
                "system",
                {
                    "channel": topic,
                    "extension": "system",
                    "status": "error",
                    "message": "Token has expired 0 seconds ago",
                },
            )
            await self._send(ws, full, "phx_close", {})

    async def drop(self) -> None:
        for ws in list(self._sockets):
            await ws.close(1011, "server going away")

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("condition not met in time")
            await asyncio.sleep(0.01)
