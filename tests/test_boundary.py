"""The data layer is reachable without the TUI, and stays light to import."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(statement: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{statement}\nimport sys\nprint('\\n'.join(sys.modules))"],
        check=True, capture_output=True, text=True,
    )
    return set(out.stdout.split())


def test_services_do_not_import_textual() -> None:
    loaded = _modules_after(
        "import services.db, services.floor, services.realtime, services.migrations, "
        "services.seed, services.embedded, services.models"
    )
    assert "services.floor" in loaded
    assert not any(m == "textual" or m.startswith("textual.") for m in loaded)


def test_supabase_is_not_imported_by_the_console() -> None:
    loaded = _modules_after("import console.app, console.cli")
    assert "console.app" in loaded
    assert "supabase" not in loaded
