"""The data layer is reachable without the TUI, and stays light to import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _modules_after(statement: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{statement}\nimport sys\nprint('\\n'.join(sys.modules))"],
        check=True,
        capture_output=True,
        text=True,
    )
    return set(out.stdout.split())


def test_services_do_not_import_textual() -> None:
    loaded = _modules_after(
        "import services.store.db, services.floor, services.live.feed, services.store.migrations, "
        "services.store.seed, services.embedded.server, services.models"
    )
    assert "services.floor" in loaded
    assert not any(m == "textual" or m.startswith("textual.") for m in loaded)


def test_supabase_is_not_imported_by_the_console() -> None:
    loaded = _modules_after("import console.app, console.cli")
    assert "console.app" in loaded
    assert "supabase" not in loaded


def test_no_console_module_can_check_a_password_or_open_a_secret() -> None:
    """Postgres checks passwords and codes: the console loads no password hasher and no
    cipher, and the venue key's module is gone."""
    loaded = _modules_after(
        "import console.app, console.cli, console.wiring, console.demo, console.staff_cli, "
        "services.identity.accounts, services.identity.sign_in, services.identity.secrets"
    )
    assert "services.identity.accounts" in loaded and "console.keys" not in loaded
    assert not {m for m in loaded if m.split(".")[0] in {"argon2", "cryptography", "nacl"}}
    root = Path(__file__).resolve().parents[1]
    assert not (root / "console" / "keys.py").exists()


def test_every_third_party_import_is_declared() -> None:
    import ast
    import re
    import tomllib
    from importlib.metadata import packages_distributions

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    declared = {
        re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0].lower().replace("_", "-")
        for dep in project["dependencies"]
    }
    ours = {"console", "screens", "widgets", "services"}
    imported: dict[str, Path] = {}
    for package in ours:
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in ours:
                        imported.setdefault(top, path)
    owners = packages_distributions()
    undeclared = {
        top: str(path.relative_to(root))
        for top, path in imported.items()
        if not {d.lower().replace("_", "-") for d in owners.get(top, [top])} & declared
    }
    assert not undeclared, f"imported but not in pyproject's dependencies: {undeclared}"


def test_the_console_starts_with_only_the_sign_in_screen_and_the_floor() -> None:
    """The App and its services load the sign-in screen and the floor; every other
    screen, the forms and the reports are imported when first opened."""
    loaded = _modules_after("import console.app, console.wiring")
    assert {"screens.sign_in", "screens.floor.screen"} <= loaded
    later = {
        "screens.door",
        "screens.nights",
        "screens.night_report",
        "screens.support",
        "screens.audit",
        "services.reports",
        "services.nights",
    }
    assert not later & loaded
    assert not {m for m in loaded if m.startswith("screens.forms")}


def test_the_command_line_loads_the_console_only_for_the_command_that_runs_it() -> None:
    """`backroom` parses its arguments without Textual, the App, the embedded server's
    process tools or the Supabase client: each sub-command imports what it uses."""
    loaded = _modules_after("import console.cli")
    assert "console.cli" in loaded
    tops = {m.split(".")[0] for m in loaded}
    assert not tops & {"textual", "psutil", "httpx", "supabase", "keyring", "segno"}
    assert not {"console.app", "console.wiring", "services.embedded.server"} & loaded
