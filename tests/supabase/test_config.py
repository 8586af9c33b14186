"""Configuration (SUPABASE_URL and key, or a saved profile), the pooler
check, the `backroom supabase` commands that need no server, and the
import boundary: the console starts without importing `supabase`."""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from console import supabase_cli
from console.settings import Settings
from services.identity.secrets import SERVICE, SecretStore
from services.store import migrations
from services.store.db import transaction_pooler_reason
from services.supabase.config import (
    SupabaseConfigError,
    from_env,
    key_secret,
    load_profile,
    save_profile,
)
from tests.memory_keyring import KeyringModule, MemoryKeyring, no_keyring


def legacy_key(role: str) -> str:
    body = base64.urlsafe_b64encode(json.dumps({"iss": "supabase", "role": role}).encode()).decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{body.rstrip('=')}.c2ln"


def test_the_environment_names_the_project() -> None:
    config = from_env(
        {"SUPABASE_URL": "https://abcdefgh.supabase.co/", "SUPABASE_ANON_KEY": "sb_publishable_x"}
    )
    assert config is not None
    assert config.url == "https://abcdefgh.supabase.co" and config.project_ref == "abcdefgh"
    assert config.auth_url == "https://abcdefgh.supabase.co/auth/v1"
    assert config.realtime_url == "wss://abcdefgh.supabase.co/realtime/v1/websocket"
    assert "sb_publishable_x" not in repr(config)
    assert from_env({}) is None
    assert from_env({"SUPABASE_URL": "https://a.supabase.co", "SUPABASE_KEY": legacy_key("anon")})


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"SUPABASE_URL": "https://a.supabase.co"}, "SUPABASE_ANON_KEY"),
        ({"SUPABASE_URL": "https://a.supabase.co", "SUPABASE_ANON_KEY": "sb_secret_abc"}, "service role"),
        (
            {"SUPABASE_URL": "https://a.supabase.co", "SUPABASE_ANON_KEY": legacy_key("service_role")},
            "service role",
        ),
        (
            {"SUPABASE_URL": "postgresql://postgres@db.a.supabase.co/postgres", "SUPABASE_ANON_KEY": "k"},
            "DATABASE_URL",
        ),
        ({"SUPABASE_URL": "http://a.supabase.co", "SUPABASE_ANON_KEY": "k"}, "https"),
    ],
)
def test_wrong_settings_are_explained(env: dict[str, str], said: str) -> None:
    with pytest.raises(SupabaseConfigError, match=said):
        from_env(env)


def test_a_profile_keeps_the_url_in_a_file_and_the_key_in_the_keyring(tmp_path: Path) -> None:
    keyring = KeyringModule(MemoryKeyring())
    store = SecretStore(keyring, env={})
    where = save_profile(tmp_path, store, "venue", "https://abcdefgh.supabase.co", "sb_publishable_k")
    assert "keyring" in where
    assert "sb_publishable_k" not in (tmp_path / "supabase.json").read_text()
    assert keyring.backend.items[(SERVICE, key_secret("venue"))] == "sb_publishable_k"
    config = load_profile(tmp_path, store, "venue")
    assert (config.url, config.key, config.profile) == (
        "https://abcdefgh.supabase.co",
        "sb_publishable_k",
        "venue",
    )
    with pytest.raises(SupabaseConfigError, match="no Supabase profile 'other'"):
        load_profile(tmp_path, store, "other")
    # Without a keyring the key comes from the environment, and the command says which variable.
    bare = SecretStore(KeyringModule(no_keyring()), env={"BACKROOM_SUPABASE_KEY_VENUE": "sb_publishable_e"})
    assert "BACKROOM_SUPABASE_KEY_VENUE" in save_profile(
        tmp_path, bare, "venue", "https://abcdefgh.supabase.co", "k2"
    )
    assert load_profile(tmp_path, bare, "venue").key == "sb_publishable_e"


@pytest.mark.parametrize(
    ("url", "pooler"),
    [
        ("postgresql://postgres.abcd:pw@aws-0-eu-west-2.pooler.supabase.com:6543/postgres", True),
        ("postgresql://postgres.abcd:pw@aws-0-eu-west-2.pooler.supabase.com:5432/postgres", False),
        ("postgresql://postgres:pw@db.abcd.supabase.co:5432/postgres", False),
    ],
)
def test_the_transaction_mode_pooler_is_detected(url: str, pooler: bool) -> None:
    reason = transaction_pooler_reason(url)
    assert (reason is not None) is pooler
    if reason:
        assert "session-mode" in reason and "direct" in reason


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="backroom")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_url(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--database-url")
        p.add_argument("--profile")
        return p

    supabase_cli.add_parser(sub, with_url)
    return parser.parse_args(argv)


def test_the_export_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = parse(["supabase", "export-migrations", str(tmp_path)])
    assert args.func(args, Settings.from_env()) == 0
    out = capsys.readouterr().out
    assert f"{len(migrations.load())} new migration file(s)" in out
    assert len(list((tmp_path / "supabase" / "migrations").glob("*_backroom_*.sql"))) == len(
        migrations.load()
    )
    assert args.func(args, Settings.from_env()) == 0
    assert "0 new migration file(s)" in capsys.readouterr().out


def test_the_configure_command_reads_the_key_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("sb_publishable_from_stdin\n"))
    args = parse(["supabase", "configure", "venue", "--url", "https://abcdefgh.supabase.co", "--key-stdin"])
    settings = Settings.from_env({"BACKROOM_CONFIG_DIR": str(tmp_path), "BACKROOM_DATA_DIR": str(tmp_path)})
    assert args.func(args, settings) == 0
    out = capsys.readouterr().out
    assert "Saved Supabase profile 'venue'" in out and "BACKROOM_SUPABASE_KEY_VENUE" in out
    assert "sb_publishable_from_stdin" not in out + (tmp_path / "supabase.json").read_text()


def test_commands_that_need_a_project_say_how_to_configure_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUPABASE_URL", raising=False)
    args = parse(["supabase", "sign-out"])
    with pytest.raises(SupabaseConfigError, match="SUPABASE_URL and SUPABASE_ANON_KEY"):
        args.func(args, Settings.from_env())


def _modules_after(statement: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{statement}\nimport sys\nprint('\\n'.join(sys.modules))"],
        check=True,
        capture_output=True,
        text=True,
    )
    return set(out.stdout.split())


def test_the_supabase_modules_do_not_import_supabase_until_used() -> None:
    loaded = _modules_after(
        "import console.app, console.cli, console.supabase_cli, services.supabase.auth, "
        "services.supabase.realtime, services.supabase.setup, services.supabase.config"
    )
    assert "services.supabase.auth" in loaded
    assert not {"supabase", "supabase_auth", "realtime", "websockets"} & loaded
