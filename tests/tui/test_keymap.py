"""keymap.toml: staff change keys by binding id; a bad file is said plainly and the
defaults stay where it was wrong."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from console import keymap
from console.app import BackroomApp
from console.cli import main
from console.wiring import Services
from tests.tui.helpers import (
    SMALL,
    footer_words,
    open_floor,
    screen_text,
    shown_text,
    state_of,
    toasts,
    until,
)


def test_every_binding_of_the_console_is_in_the_catalogue() -> None:
    ids = {b.id for b in keymap.catalogue()}
    for expected in (
        "app.lock",
        "app.door",
        "floor.hold",
        "floor.release",
        "door.check_in",
        "door.walk_in",
        "nights.open_floor",
        "audit.filter",
        "support.refresh",
    ):
        assert expected in ids


def test_a_good_file_maps_ids_to_keys() -> None:
    parsed = keymap.parse(
        '"floor.hold" = "space"\n[keys]\n"door.walk_in" = "ctrl+k, f9"\n', keymap.catalogue()
    )
    assert parsed.problems == []
    assert parsed.keys == {"floor.hold": "space", "door.walk_in": "ctrl+k,f9"}


def test_what_is_wrong_is_said_and_only_that_is_left_out() -> None:
    known = keymap.catalogue()
    parsed = keymap.parse(
        '"floor.hodl" = "space"\n"floor.new" = 3\n"floor.move" = "ctrl k"\n'
        '"floor.confirm" = "x"\n"floor.complete" = "f9"\n',
        known,
    )
    assert parsed.keys == {"floor.complete": "f9"}
    said = "\n".join(parsed.problems)
    assert "“floor.hodl” is not a key of the console" in said
    assert "“floor.new” needs a key as text" in said
    assert '“floor.move” = "ctrl k" is not a key name' in said
    assert "“floor.confirm” and “floor.cancel” would both be x" in said

    broken = keymap.parse('"floor.hold" = \n', known)
    assert broken.keys == {} and "is not valid TOML" in broken.problems[0]


def test_hold_and_release_may_move_to_one_new_key_together() -> None:
    parsed = keymap.parse('"floor.hold" = "space"\n"floor.release" = "space"\n', keymap.catalogue())
    assert parsed.problems == [] and parsed.keys == {"floor.hold": "space", "floor.release": "space"}


async def test_the_console_uses_the_keys_of_the_file(
    services: Services, admin: asyncpg.Connection, tmp_path: Path
) -> None:
    (tmp_path / keymap.KEYMAP_FILE).write_text(
        '"floor.hold" = "space"\n"floor.release" = "space"\n"app.lock" = "ctrl+k"\n"floor.nope" = "z"\n',
        encoding="utf-8",
    )
    keys = keymap.load(tmp_path)
    async with BackroomApp(services, keymap=keys).run_test(size=SMALL) as pilot:
        screen, tile = await open_floor(pilot, 12)
        assert any("“floor.nope” is not a key of the console" in t for t in toasts(pilot.app))
        await pilot.press("h")
        await pilot.pause(0.3)
        assert state_of(tile).hold is None, "h is no longer the hold key"
        await pilot.press("space")
        await until(pilot, lambda: "HELD" in shown_text(tile), what="held with space")
        assert "space Release" in footer_words(screen)
        await pilot.press("space")
        await until(pilot, lambda: "FREE" in shown_text(tile), what="released with space")
        # The palette says the key staff press now.
        assert any("(Space)" in c.help for c in screen.table_commands() if "Hold" in c.title)
    assert await admin.fetchval("select count(*) from backroom.hold") == 0


async def test_help_lists_the_changed_key(services: Services, tmp_path: Path) -> None:
    (tmp_path / keymap.KEYMAP_FILE).write_text('"floor.new" = "f9"\n', encoding="utf-8")
    async with BackroomApp(services, keymap=keymap.load(tmp_path)).run_test(size=(100, 40)) as pilot:
        await open_floor(pilot, 12)
        await pilot.press("f1")
        await until(pilot, lambda: " New" in screen_text(pilot.app), what="help shown")
        shown = screen_text(pilot.app)
        # The help box's rows, whatever the floor beside it shows.
        rows = [part for line in shown.splitlines() for part in line.split("█")]
        assert any(row.split()[:2] == ["f9", "New"] for row in rows), shown


def test_backroom_keys_lists_ids_and_the_changes(tmp_path: Path, monkeypatch: object, capsys: object) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("BACKROOM_CONFIG_DIR", str(tmp_path))
    (tmp_path / keymap.KEYMAP_FILE).write_text('"door.walk_in" = "f9"\n', encoding="utf-8")
    assert main(["keys"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "door.walk_in" in out and "f9  (default ctrl+w)" in out and "floor.hold" in out

    (tmp_path / keymap.KEYMAP_FILE).write_text('"door.walkin" = "f9"\n', encoding="utf-8")
    assert main(["keys"]) == 2
    assert "“door.walkin” is not a key of the console" in capsys.readouterr().err  # type: ignore[attr-defined]
