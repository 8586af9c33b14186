"""Settings: one typed object, read from the environment and the standard
per-user directories (platformdirs), so tests can point them elsewhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "backroom"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    config_dir: Path
    database_url: str | None

    @property
    def embedded_dir(self) -> Path:
        """Where the embedded Postgres keeps its cluster and log."""
        return self.data_dir / "postgres"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if env is None else env
        data = env.get("BACKROOM_DATA_DIR") or platformdirs.user_data_dir(APP_NAME)
        config = env.get("BACKROOM_CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME)
        return cls(
            data_dir=Path(data).expanduser(),
            config_dir=Path(config).expanduser(),
            database_url=env.get("DATABASE_URL") or None,
        )
