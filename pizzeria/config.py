"""Settings, read from PIZZERIA_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

QUEUES = ("process_manager", "menu", "waiter", "kitchen")


class ConfigError(ValueError):
    """A setting with a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """Where the broker and the database are, and how the pizza house behaves."""

    broker_url: str
    database_url: str
    var_dir: Path
    bake_seconds: float = 0.5
    log_json: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Read the settings; by default the broker and the database are SQLite files in ./var."""
        var_dir = Path(env.get("PIZZERIA_VAR_DIR", "var")).absolute()
        return cls(
            broker_url=env.get("PIZZERIA_BROKER_URL") or f"sqla+sqlite:///{var_dir}/broker.sqlite",
            database_url=env.get("PIZZERIA_DATABASE_URL") or f"sqlite:///{var_dir}/pizzeria.sqlite",
            var_dir=var_dir,
            bake_seconds=_seconds(env.get("PIZZERIA_BAKE_SECONDS", "0.5"), "PIZZERIA_BAKE_SECONDS"),
            log_json=env.get("PIZZERIA_LOG_JSON", "0") not in ("", "0", "false", "no"),
        )


def _seconds(value: str, name: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a number of seconds") from None
    if not 0 <= seconds <= 3600:
        raise ConfigError(f"{name}={value!r} must be between 0 and 3600 seconds")
    return seconds
