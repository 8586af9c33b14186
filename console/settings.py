"""Settings: one typed object, read from the environment and the standard
per-user directories (platformdirs), so tests can point them elsewhere.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from services.errors import BackroomError

APP_NAME = "backroom"


# Minutes without a key press before a console locks itself, by role.
DEFAULT_IDLE_MINUTES = {"door": 5.0, "manager": 15.0, "admin": 15.0, "support": 30.0}


class SettingsError(BackroomError):
    """A setting in the environment is not usable; `str(err)` says which and why."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    config_dir: Path
    database_url: str | None
    idle_minutes: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_IDLE_MINUTES))
    # A shared terminal (the door's): quitting asks first, and needs someone signed in.
    kiosk: bool = False

    @property
    def embedded_dir(self) -> Path:
        """Where the embedded Postgres keeps its cluster and log."""
        return self.data_dir / "postgres"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if env is None else env
        data = env.get("BACKROOM_DATA_DIR") or platformdirs.user_data_dir(APP_NAME)
        config = env.get("BACKROOM_CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME)
        idle = dict(DEFAULT_IDLE_MINUTES)
        if env.get("BACKROOM_IDLE_MINUTES"):
            text = env["BACKROOM_IDLE_MINUTES"]
            try:
                minutes = float(text)
            except ValueError:
                minutes = math.nan
            if math.isnan(minutes):
                raise SettingsError(
                    f"BACKROOM_IDLE_MINUTES is {text!r}, not a number of minutes. Set it to the "
                    "minutes before an idle console locks (for example 10; 0 never locks), or unset "
                    "it for the default of each role."
                )
            idle = dict.fromkeys(idle, minutes)
        return cls(
            data_dir=Path(data).expanduser(),
            config_dir=Path(config).expanduser(),
            database_url=env.get("DATABASE_URL") or None,
            idle_minutes=idle,
            kiosk=_switch(env, "BACKROOM_KIOSK", default=False),
        )


_ON = frozenset({"1", "yes", "on", "true"})
_OFF = frozenset({"0", "no", "off", "false"})


def _switch(env: dict[str, str], name: str, *, default: bool) -> bool:
    text = env.get(name, "").strip()
    if not text:
        return default
    if text.lower() in _ON:
        return True
    if text.lower() in _OFF:
        return False
    raise SettingsError(
        f"{name} is {text!r}: set it to 1 (on) or 0 (off), or unset it for "
        f"the default ({'on' if default else 'off'})."
    )
