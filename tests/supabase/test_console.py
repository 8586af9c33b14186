"""The console on a Supabase project, by keys: staff sign in on the sign-in
screen through Supabase Auth (the GoTrue stand-in: password, then the TOTP
factor's challenge and verification), Postgres checks the access token and
opens a session for the staff member linked to that Supabase user, the floor
opens as them, and the live feed and presence go over Supabase Realtime (the
Phoenix stand-in) with the session's access token.

The database is the Supabase-like one of tests/supabase/conftest.py: its
`realtime.send` also NOTIFYs `standin_realtime`, and a test relays those to
the Realtime stand-in as Supabase Realtime relays the database's broadcasts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pyotp
import pytest
from textual.app import App
from textual.pilot import Pilot

from console.app import BackroomApp
from console.wiring import Services, open_services, use_supabase
from screens.dialogs.ask import ChoiceDialog, CodeDialog, ConfirmDialog, ReasonDialog
from screens.floor.screen import FloorScreen
from screens.lock import LockScreen
from screens.sign_in import SignInScreen
from services.identity.secrets import SecretStore
from services.identity.sign_in import describe
from services.models import TileStatus
from services.store.db import Actor
from services.supabase.auth import DatabaseSessions, SupabaseAuth
from services.supabase.config import SupabaseConfig
from tests.conftest import FIXED_NOW, SAMPLE_NIGHT, fixed_clock
from tests.memory_keyring import KeyringModule, MemoryKeyring
from tests.supabase.auth_helpers import claims
from tests.supabase.conftest import API_KEY, SupabaseDb
from tests.supabase.standins import GoTrueStandIn, RealtimeStandIn
from tests.tui.helpers import SMALL, floor_loaded, screen_text, shown_text, until
from widgets.table_tile import TableTile

PASSWORD = "correct horse battery"
DOOR_SECRET = pyotp.random_base32()
MANAGER_SECRET = pyotp.random_base32()
GENERIC = "The email, password or code is not right."
DOOR_EMAIL = "door@backroom.demo"
MANAGER_EMAIL = "duty.manager@backroom.demo"
STRANGER_EMAIL = "guest@example.com"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _quick_idle_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(BackroomApp, "IDLE_CHECK_SECONDS", 0.02)


@pytest.fixture
def project(gotrue: GoTrueStandIn, supabase_db: SupabaseDb) -> GoTrueStandIn:
    """Supabase Auth with the users the database links to staff (same user ids),
    each with a verified TOTP factor; the stranger is nobody on the staff."""
    for email, user_id, secret in (
        (DOOR_EMAIL, supabase_db.door_user, DOOR_SECRET),
        (MANAGER_EMAIL, supabase_db.manager_user, MANAGER_SECRET),
        (STRANGER_EMAIL, supabase_db.stranger_user, DOOR_SECRET),
    ):
        gotrue.add_user(email, PASSWORD, totp_secret=secret).id = user_id
    return gotrue


@pytest.fixture
def memory() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def keyring(memory: MemoryKeyring) -> KeyringModule[MemoryKeyring]:
    return KeyringModule(memory)


@pytest.fixture
async def console(
    supabase_db: SupabaseDb,
    project: GoTrueStandIn,
    realtime: RealtimeStandIn,
    keyring: KeyringModule[MemoryKeyring],
) -> AsyncIterator[Services]:
    """The console's services as `backroom console` builds them with a Supabase project,
    nobody signed in. Auth and Realtime are two stand-ins at two addresses, so the Auth
    client is given its own (the stand-in's) project address."""
    services = await open_services(supabase_db.dsn, clock=fixed_clock)
    auth = SupabaseAuth(
        SupabaseConfig(project.url, API_KEY), DatabaseSessions(services.db), SecretStore(keyring, env={})
    )
    use_supabase(services, SupabaseConfig(realtime.url, API_KEY), auth=auth)
    yield services
    await services.close()


async def staff_name(supabase_db: SupabaseDb, staff_id: int) -> str:
    conn = await asyncpg.connect(supabase_db.dsn)
    try:
        return str(await conn.fetchval("select display_name from backroom.staff where id = $1", staff_id))
    finally:
        await conn.close()


async def session_row(supabase_db: SupabaseDb, actor: Actor) -> asyncpg.Record:
    """The database's record of `actor`'s session (read as the owner)."""
    conn = await asyncpg.connect(supabase_db.dsn)
    try:
        row = await conn.fetchrow(
            "select staff_id, locked, ended_why,"
            "       stepped_up_at > clock_timestamp() - interval '1 minute' as stepped_up"
            " from backroom_private.session where token_hash = sha256(convert_to($1, 'UTF8'))",
            actor.session,
        )
    finally:
        await conn.close()
    assert row is not None, "no such session"
    return row


def header(app: App[Any]) -> str:
    return screen_text(app).splitlines()[0]


async def at_sign_in(pilot: Pilot[Any]) -> SignInScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, SignInScreen), what="sign-in shown")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, SignInScreen)
    return screen


async def type_in(
    pilot: Pilot[Any], email: str, password: str, code: str, *, quick: bool = True
) -> SignInScreen:
    screen = await at_sign_in(pilot)
    if quick:
        for name, value in zip(("email", "password", "code"), (email, password, code), strict=True):
            screen.field(name).value = value
        screen.field("code").focus()
        await pilot.press("enter")
        return screen
    screen.field("email").clear()
    screen.field("email").focus()
    await pilot.press(*email, "enter", *password, "enter", *code, "enter")
    return screen


async def refused(pilot: Pilot[Any], email: str, password: str, code: str) -> str:
    screen = await type_in(pilot, email, password, code)
    await until(
        pilot,
        lambda: not screen.working and screen.status_text not in ("", "Checking…"),
        what="refusal shown",
    )
    assert pilot.app.screen is screen, "a refusal stays on the sign-in screen"
    return screen.status_text


def not_this(code: str) -> str:
    return str((int(code) + 1) % 1_000_000).zfill(6)


def joins(realtime: RealtimeStandIn, topic: str) -> list[dict[str, Any]]:
    return [m for m in realtime.received if m["event"] == "phx_join" and m["topic"] == f"realtime:{topic}"]


async def test_signing_in_through_supabase_opens_the_floor_as_the_linked_staff_member(
    console: Services,
    supabase_db: SupabaseDb,
    project: GoTrueStandIn,
    realtime: RealtimeStandIn,
    memory: MemoryKeyring,
) -> None:
    door_name = await staff_name(supabase_db, supabase_db.door_id)
    async with BackroomApp(console).run_test(size=SMALL) as pilot:
        await at_sign_in(pilot)
        shown = screen_text(pilot.app)
        assert "Signing in through Supabase Auth (127.0.0.1)." in shown, shown
        assert "six digits from your authenticator" in shown and "recovery" not in shown
        assert "The Backroom" not in shown, "nothing of the floor before signing in"
        # Nobody signed in: nothing joins Realtime's private channels.
        assert not joins(realtime, "backroom:changes")

        await type_in(pilot, "Door@Backroom.demo", PASSWORD, pyotp.TOTP(DOOR_SECRET).now(), quick=False)
        await floor_loaded(pilot)
        assert f"{door_name} (door)" in header(pilot.app)
        assert "The Backroom · Fri 20 Nov 2026" in header(pilot.app)
        signed_in = console.actor
        assert (signed_in.staff_id, signed_in.name, signed_in.role) == (
            supabase_db.door_id,
            door_name,
            "door",
        )
        # Postgres opened the session, from the token it checked itself.
        row = await session_row(supabase_db, signed_in)
        assert row["staff_id"] == supabase_db.door_id and row["ended_why"] is None

    paths = [path for _method, path in project.requests]
    assert paths.index("/auth/v1/token") < max(i for i, p in enumerate(paths) if p.endswith("/challenge"))
    assert any(p.endswith("/verify") for p in paths)
    # The Supabase session lives in memory only: nothing of it is kept with keyring.
    assert not memory.items
    # The live feed joined with that staff member's token.
    token = joins(realtime, "backroom:changes")[-1]["payload"]["access_token"]
    assert claims(token)["sub"] == supabase_db.door_user and claims(token)["aal"] == "aal2"


async def test_wrong_parts_are_refused_alike_then_supabase_throttles(
    console: Services, project: GoTrueStandIn
) -> None:
    right = pyotp.TOTP(DOOR_SECRET).now()
    async with BackroomApp(console).run_test(size=SMALL) as pilot:
        said = [
            await refused(pilot, "nobody@backroom.demo", PASSWORD, right),
            await refused(pilot, DOOR_EMAIL, "not the password", right),
            await refused(pilot, DOOR_EMAIL, PASSWORD, not_this(right)),
            await refused(pilot, DOOR_EMAIL, PASSWORD, "12 ab"),
        ]
        assert said == [GENERIC] * 4
        screen = pilot.app.screen
        assert isinstance(screen, SignInScreen)
        assert GENERIC in screen_text(pilot.app)
        assert screen.field("email").value == DOOR_EMAIL
        assert screen.field("password").value == "" and screen.field("code").value == ""
        assert console.actor.staff_id is None

        # Supabase's rate limit (HTTP 429): wait, in the same words as the console's own.
        project.rate_limited = True
        message = await refused(pilot, DOOR_EMAIL, PASSWORD, right)
        assert message == "Too many failed attempts: wait 60 s before trying again."
        assert "Too many failed attempts" in screen_text(pilot.app)
        project.rate_limited = False
        assert console.actor.staff_id is None


async def test_a_supabase_user_not_on_the_staff_is_told_what_an_admin_does(console: Services) -> None:
    async with BackroomApp(console).run_test(size=SMALL) as pilot:
        message = await refused(pilot, STRANGER_EMAIL, PASSWORD, pyotp.TOTP(DOOR_SECRET).now())
        assert "no active staff account is linked" in message
        assert f"backroom supabase link-staff {STRANGER_EMAIL}" in message
        assert console.actor.staff_id is None


async def test_without_the_projects_jwt_secret_the_sign_in_names_the_owners_command(
    console: Services, supabase_db: SupabaseDb
) -> None:
    owner = await asyncpg.connect(supabase_db.dsn)
    stored = await owner.fetchval("select secret from backroom_private.supabase_jwt")
    await owner.execute("delete from backroom_private.supabase_jwt")
    try:
        async with BackroomApp(console).run_test(size=SMALL) as pilot:
            message = await refused(pilot, DOOR_EMAIL, PASSWORD, pyotp.TOTP(DOOR_SECRET).now())
            assert "does not have this project's JWT secret" in message
            assert "backroom supabase enable" in message
            assert console.actor.staff_id is None
    finally:
        await owner.execute("select backroom_meta.set_supabase_jwt_secret($1)", stored)
        await owner.close()


async def test_a_broadcast_through_realtime_reaches_the_floor(
    console: Services, supabase_db: SupabaseDb, realtime: RealtimeStandIn
) -> None:
    """A hold committed by another client: its broadcast (realtime.send in the trigger),
    relayed by the Realtime stand-in, is how the floor learns of it."""
    relay = await asyncpg.connect(supabase_db.dsn)
    writer = await asyncpg.connect(supabase_db.dsn)
    sent: list[dict[str, Any]] = []
    await relay.add_listener("standin_realtime", lambda *args: sent.append(json.loads(str(args[3]))))
    manager_name = await staff_name(supabase_db, supabase_db.manager_id)
    try:
        async with BackroomApp(console).run_test(size=SMALL) as pilot:
            await type_in(pilot, MANAGER_EMAIL, PASSWORD, pyotp.TOTP(MANAGER_SECRET).now())
            floor = await floor_loaded(pilot)
            # Presence went over Realtime too, announcing who is signed in.
            await realtime.wait_for(
                lambda: any(
                    m["event"] == "presence" and m["payload"]["payload"].get("staff_name") == manager_name
                    for m in realtime.received
                )
            )

            night, free = await free_table(writer)
            tile = floor.query_one(f"#table-{free}", TableTile)
            assert tile.state is not None and tile.state.status is TileStatus.FREE
            await writer.execute(
                "insert into backroom.hold (table_id, night_id, during, holder, expires_at)"
                " select $1, n.id, tstzrange(n.starts_at, n.ends_at), 'Relay Test (manager)', $3"
                " from backroom.night n where n.id = $2",
                free,
                night,
                FIXED_NOW + timedelta(seconds=45),
            )
            await until(
                pilot,
                lambda: any(m["payload"].get("kind") == "hold" for m in sent),
                what="the database broadcast the hold",
            )
            # Committed, but not yet relayed by Realtime: the floor has not heard of it.
            await pilot.pause(0.2)
            assert tile.state is not None and tile.state.status is TileStatus.FREE
            for message in sent:
                await realtime.broadcast(message["topic"], message["event"], message["payload"])
            await until(
                pilot,
                lambda: tile.state is not None and tile.state.status is TileStatus.HELD,
                what="the floor shows the hold",
            )
            await pilot.pause()
            assert "HELD" in shown_text(tile)
    finally:
        await writer.execute("delete from backroom.hold where holder = 'Relay Test (manager)'")
        await writer.close()
        await relay.close()


async def free_table(conn: asyncpg.Connection) -> tuple[int, int]:
    night = await conn.fetchval("select id from backroom.night where date = $1", SAMPLE_NIGHT)
    free = await conn.fetchval(
        "select t.id from backroom.venue_table t where not exists ("
        " select from backroom.booking_table bt join backroom.booking b on b.id = bt.booking_id"
        " where bt.table_id = t.id and b.night_id = $1 and bt.active)"
        " and not exists (select from backroom.hold h where h.table_id = t.id)"
        " order by t.number limit 1",
        night,
    )
    assert free is not None
    return int(night), int(free)


async def test_the_idle_lock_opens_with_a_fresh_mfa_verification(
    console: Services, supabase_db: SupabaseDb, project: GoTrueStandIn
) -> None:
    monotonic = Clock(1_000.0)
    app = BackroomApp(console, monotonic=monotonic)
    async with app.run_test(size=SMALL) as pilot:
        await type_in(pilot, DOOR_EMAIL, PASSWORD, pyotp.TOTP(DOOR_SECRET).now())
        floor = await floor_loaded(pilot)
        challenges = sum(p.endswith("/challenge") for _m, p in project.requests)
        monotonic.now += 5 * 60
        await until(pilot, lambda: isinstance(app.screen, LockScreen), what="locked")
        lock = app.screen
        assert isinstance(lock, LockScreen)

        await pilot.press(*not_this(pyotp.TOTP(DOOR_SECRET).now()), "enter")
        await until(
            pilot, lambda: "not right" in lock.status_text and not lock.working, what="wrong code refused"
        )
        assert app.screen is lock

        await pilot.press(*pyotp.TOTP(DOOR_SECRET).now(), "enter")
        await until(pilot, lambda: app.screen is floor, what="unlocked")
        assert sum(p.endswith("/challenge") for _m, p in project.requests) == challenges + 2
        row = await session_row(supabase_db, console.actor)
        assert not row["locked"], "Postgres unlocked the session"
        assert row["stepped_up"], "the fresh code counts as a step-up"


async def select(pilot: Pilot[Any], screen: FloorScreen, number: int) -> TableTile:
    tile = next(
        t
        for plan in screen.plans
        for t in plan.tiles.values()
        if t.state is not None and t.state.table.number == number
    )
    tile.focus()
    await until(pilot, lambda: screen.selected == tile.table_id, what=f"table {number} selected")
    await pilot.pause()
    return tile


async def test_a_step_up_code_is_verified_by_supabase(
    console: Services, supabase_db: SupabaseDb, project: GoTrueStandIn
) -> None:
    """Cancelling a booking with a deposit asks for a fresh code; Supabase verifies it
    (a new challenge), and the database accepts the cancellation as stepped up."""
    async with BackroomApp(console).run_test(size=SMALL) as pilot:
        await type_in(pilot, MANAGER_EMAIL, PASSWORD, pyotp.TOTP(MANAGER_SECRET).now())
        floor = await floor_loaded(pilot)
        tile = await select(pilot, floor, 1)
        assert tile.state is not None and tile.state.booking is not None
        booking = tile.state.booking
        assert booking.deposit > 0
        await pilot.press("x")
        await until(pilot, lambda: isinstance(pilot.app.screen, ReasonDialog), what="reason")
        await pilot.press(*"Guest ill", "enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ChoiceDialog), what="the deposit")
        await pilot.press("1")  # kept
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), what="confirm")
        await pilot.press("y")
        await until(pilot, lambda: isinstance(pilot.app.screen, CodeDialog), what="code asked")
        dialog = pilot.app.screen
        assert isinstance(dialog, CodeDialog)
        challenges = sum(p.endswith("/challenge") for _m, p in project.requests)
        await pilot.press(*not_this(pyotp.TOTP(MANAGER_SECRET).now()), "enter")
        await until(pilot, lambda: "not right" in dialog.status_text, what="wrong code refused")
        await pilot.press(*pyotp.TOTP(MANAGER_SECRET).now(), "enter")
        await until(pilot, lambda: pilot.app.screen is floor, what="back on the floor")
        await until(pilot, lambda: "FREE" in shown_text(tile), what="cancelled")
        assert sum(p.endswith("/challenge") for _m, p in project.requests) == challenges + 2
    conn = await asyncpg.connect(supabase_db.dsn)
    try:
        row = await conn.fetchrow(
            "select status, cancel_reason from backroom.booking where id = $1", booking.id
        )
        last = await conn.fetchval(
            "select staff_id from backroom.audit_log where entity = 'booking' and entity_id = $1"
            " order by id desc limit 1",
            booking.id,
        )
    finally:
        await conn.close()
    assert row is not None and (row["status"], row["cancel_reason"]) == ("cancelled", "Guest ill")
    assert last == supabase_db.manager_id, "audited as the staff member linked to the Supabase user"


async def test_signing_out_ends_the_supabase_session_and_the_next_one_takes_over(
    console: Services,
    supabase_db: SupabaseDb,
    project: GoTrueStandIn,
    realtime: RealtimeStandIn,
    memory: MemoryKeyring,
) -> None:
    manager_name = await staff_name(supabase_db, supabase_db.manager_id)
    async with BackroomApp(console).run_test(size=SMALL) as pilot:
        await type_in(pilot, DOOR_EMAIL, PASSWORD, pyotp.TOTP(DOOR_SECRET).now())
        floor = await floor_loaded(pilot)
        door = console.actor
        logouts = project.requests.count(("POST", "/auth/v1/logout"))
        await pilot.press("ctrl+o")
        await at_sign_in(pilot)
        await until(
            pilot,
            lambda: project.requests.count(("POST", "/auth/v1/logout")) > logouts,
            what="the door's session ended on the server",
        )
        assert not memory.items, "nothing of the door's session is kept"
        assert (await session_row(supabase_db, door))["ended_why"] == "signed_out"

        await type_in(pilot, MANAGER_EMAIL, PASSWORD, pyotp.TOTP(MANAGER_SECRET).now())
        assert await floor_loaded(pilot) is floor
        assert f"{manager_name} (manager)" in header(pilot.app)
        # The channel now carries the manager's token.
        await realtime.wait_for(
            lambda: any(
                claims(t)["sub"] == supabase_db.manager_user
                for t in realtime.tokens("realtime:backroom:changes")
                if t
            ),
            timeout=10,
        )


async def test_services_from_a_supabase_config_sign_in_there_and_wait_for_a_session(
    supabase_db: SupabaseDb, realtime: RealtimeStandIn
) -> None:
    from services.live.feed import ChangeFeed, FeedState, FeedStatus

    config = SupabaseConfig(realtime.url, API_KEY)
    services = await open_services(
        supabase_db.dsn,
        clock=fixed_clock,
        supabase=config,
        store=SecretStore(KeyringModule(MemoryKeyring()), env={}),
    )
    statuses: list[FeedStatus] = []
    try:
        assert describe(services.identity).sentence() == "Signing in through Supabase Auth (127.0.0.1)."
        assert services.live_after_sign_in and services.supabase is services.identity

        async def resync() -> None:
            pass

        feed = ChangeFeed(
            services.transport(),
            on_change=lambda change: None,
            on_status=statuses.append,
            resync=resync,
            backoff_base=0.05,
            backoff_cap=0.1,
        )
        task = asyncio.create_task(feed.run())
        try:
            await realtime.wait_for(lambda: any(s.state is FeedState.RECONNECTING for s in statuses))
        finally:
            await feed.stop()
            await asyncio.wait_for(task, 5)
        error = next(s.error for s in statuses if s.state is FeedState.RECONNECTING)
        assert error is not None and "nobody is signed in to Supabase" in error
        assert realtime.connections == 0, "no socket before a sign-in"
    finally:
        await services.close()


async def test_a_database_without_supabase_users_is_refused_at_start(dsn: str) -> None:
    from services.supabase.config import SupabaseConfigError

    with pytest.raises(SupabaseConfigError, match="backroom supabase enable") as refused:
        await open_services(dsn, supabase=SupabaseConfig("https://abc.supabase.co", API_KEY))
    assert "--no-supabase" in str(refused.value)


@pytest.mark.parametrize(
    "env,argv,expected",
    [
        ({}, ["console"], None),
        (
            {"SUPABASE_URL": "https://abcd.supabase.co", "SUPABASE_ANON_KEY": API_KEY},
            ["console"],
            "https://abcd.supabase.co",
        ),
        (
            {"SUPABASE_URL": "https://abcd.supabase.co", "SUPABASE_ANON_KEY": API_KEY},
            ["console", "--no-supabase"],
            None,
        ),
    ],
)
def test_the_console_command_uses_supabase_when_it_is_configured(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], argv: list[str], expected: str | None
) -> None:
    from console.cli import build_parser, console_supabase
    from console.settings import Settings

    monkeypatch.delenv("SUPABASE_URL", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    found = console_supabase(build_parser().parse_args(argv), Settings.from_env())
    assert (found.url if found else None) == expected


def test_a_console_without_supabase_never_imports_it() -> None:
    import subprocess
    import sys

    script = (
        "import asyncio, sys\n"
        "from console.cli import build_parser, console_supabase\n"
        "from console.settings import Settings\n"
        "import console.wiring\n"
        "args = build_parser().parse_args(['console'])\n"
        "assert console_supabase(args, Settings.from_env()) is None\n"
        "print('supabase' in sys.modules, 'supabase_auth' in sys.modules)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("SUPABASE_")}
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True, env=env)
    assert out.stdout.split() == ["False", "False"]


def test_the_sign_in_command_checks_with_the_database_and_keeps_nothing(
    project: GoTrueStandIn,
    supabase_db: SupabaseDb,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
) -> None:
    import signal

    from console import cli

    for name, value in (
        ("SUPABASE_URL", project.url),
        ("SUPABASE_ANON_KEY", API_KEY),
        ("BACKROOM_PASSWORD", PASSWORD),
        ("BACKROOM_CONFIG_DIR", str(tmp_path)),
        ("BACKROOM_DATA_DIR", str(tmp_path)),
    ):
        monkeypatch.setenv(name, value)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        code = cli.main(
            [
                "supabase",
                "sign-in",
                DOOR_EMAIL,
                "--database-url",
                supabase_db.dsn,
                "--code",
                pyotp.TOTP(DOOR_SECRET).now(),
            ]
        )
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "Signed in as" in out.out and "(door) at AAL2" in out.out and "nothing is kept" in out.out
    assert ("POST", "/auth/v1/logout") in project.requests

    async def last_session() -> asyncpg.Record | None:
        conn = await asyncpg.connect(supabase_db.dsn)
        try:
            return await conn.fetchrow(
                "select ended_why from backroom_private.session where staff_id = $1"
                " order by started_at desc limit 1",
                supabase_db.door_id,
            )
        finally:
            await conn.close()

    row = asyncio.run(last_session())
    assert row is not None and row["ended_why"] == "signed_out", "the session it opened is ended"
