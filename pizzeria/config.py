"""Settings, read from PIZZERIA_* environment variables."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pizzeria import modules
from pizzeria.messaging.inbox import RETENTION_SECONDS
from pizzeria.messaging.pipeline import MAX_BODY_BYTES
from pizzeria.messaging.retry import RetryPolicy

RETRY = RetryPolicy()  # the defaults
INBOX_RETENTION_DAYS = RETENTION_SECONDS / 86400
STOCK = re.compile(r"^(?P<pizza>[a-z][a-z0-9_]{0,31}):(?P<left>\d{1,6})$")
FAULT = re.compile(r"^(?P<queue>[a-z_][a-z0-9_]*)\.(?P<type>[A-Za-z]+):(?P<times>\d{1,4})$")


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
    retry: RetryPolicy = RetryPolicy()
    faults: Mapping[str, int] = field(default_factory=dict)
    max_body_bytes: int = MAX_BODY_BYTES
    inbox_retention_days: float = INBOX_RETENTION_DAYS
    step_deadline_seconds: float = 30.0
    step_resends: int = 3
    stock: Mapping[str, int] = field(default_factory=dict)  # pizzas the kitchen can still bake; others unlimited
    web_token: str | None = field(default=None, repr=False)  # what the web's changing requests must carry

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Read the settings; by default the broker and the database are SQLite files in ./var."""
        var_dir = Path(env.get("PIZZERIA_VAR_DIR", "var")).absolute()
        read = _Reader(env)
        return cls(
            broker_url=env.get("PIZZERIA_BROKER_URL") or f"sqlite:///{var_dir}/broker.sqlite",
            database_url=env.get("PIZZERIA_DATABASE_URL") or f"sqlite:///{var_dir}/pizzeria.sqlite",
            var_dir=var_dir,
            bake_seconds=read("BAKE_SECONDS", 0.5, 0, 3600),
            log_json=env.get("PIZZERIA_LOG_JSON", "0") not in ("", "0", "false", "no"),
            retry=RetryPolicy(immediate=int(read("RETRY_IMMEDIATE", RETRY.immediate, 0, 20)),
                              delayed=int(read("RETRY_DELAYED", RETRY.delayed, 0, 20)),
                              first_delay=read("RETRY_DELAY_SECONDS", RETRY.first_delay, 0, 3600),
                              factor=read("RETRY_BACKOFF", RETRY.factor, 1, 10),
                              max_delay=read("RETRY_MAX_DELAY_SECONDS", RETRY.max_delay, 0, 86400)),
            faults=_faults(env.get("PIZZERIA_FAULTS", "")),
            max_body_bytes=int(read("MAX_BODY_BYTES", MAX_BODY_BYTES, 1024, 128 * 1024 * 1024)),
            inbox_retention_days=read("INBOX_RETENTION_DAYS", INBOX_RETENTION_DAYS, 1, 3650),
            step_deadline_seconds=read("STEP_DEADLINE_SECONDS", 30, 0.1, 86400),
            step_resends=int(read("STEP_RESENDS", 3, 0, 100)),
            stock=_stock(env.get("PIZZERIA_STOCK", "")),
            web_token=env.get("PIZZERIA_WEB_TOKEN") or None,
        )


class _Reader:
    """Reads PIZZERIA_<NAME> as a number within bounds, or raises ConfigError saying why."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env

    def __call__(self, name: str, default: float, low: float, high: float) -> float:
        key = f"PIZZERIA_{name}"
        value = self.env.get(key)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{key}={value!r} is not a number") from None
        if not low <= number <= high:
            raise ConfigError(f"{key}={value!r} must be between {_plain(low)} and {_plain(high)}")
        return number


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _stock(spec: str) -> dict[str, int]:
    """`diavola:3,marinara:0` → {"diavola": 3, "marinara": 0}."""
    stock = {}
    for part in filter(None, (part.strip() for part in spec.split(","))):
        match = STOCK.match(part)
        if not match:
            raise ConfigError(f"PIZZERIA_STOCK: {part!r} is not PIZZA:HOW_MANY (say diavola:3)")
        stock[match["pizza"]] = int(match["left"])
    return stock


def _faults(spec: str) -> dict[str, int]:
    """`waiter.ShowBill:2,kitchen.DoPizza:1` → {"waiter.ShowBill": 2, "kitchen.DoPizza": 1}."""
    faults = {}
    for part in filter(None, (part.strip() for part in spec.split(","))):
        match = FAULT.match(part)
        if not match or match["queue"] not in modules.names():
            raise ConfigError(f"PIZZERIA_FAULTS: {part!r} is not QUEUE.MessageType:TIMES "
                              f"with QUEUE one of {', '.join(modules.names())}")
        faults[f"{match['queue']}.{match['type']}"] = int(match["times"])
    return faults
