"""Settings: the defaults, then the TOML files PIZZERIA_CONFIG names, then PIZZERIA_* environment variables."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pizzeria.messaging.delivery.pipeline import MAX_BODY_BYTES
from pizzeria.messaging.delivery.policy import RetryPolicy
from pizzeria.settings_table import INBOX_RETENTION_DAYS, SETTINGS, Invalid, Setting

KEYS = frozenset(setting.key for setting in SETTINGS)


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
    queue_type: str = "quorum"  # of the RabbitMQ queues: quorum or classic
    heartbeat_seconds: float = 60.0  # between the client and RabbitMQ; 0 for none

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Read the settings: defaults (the broker and the database SQLite files in ./var), then the files
        PIZZERIA_CONFIG in `env` names, then the PIZZERIA_* variables of `env`."""
        return cls.of(effective_settings(env))

    @classmethod
    def of(cls, effective: Iterable[Effective]) -> Settings:
        """The settings made of these effective values, one for each setting of the table."""
        fields: dict[str, Any] = {}
        retry: dict[str, Any] = {}
        for item in effective:
            group, _, name = item.setting.attribute.rpartition(".")
            (retry if group == "retry" else fields)[name] = item.value
        return cls(**fields, retry=RetryPolicy(**retry))


@dataclass(frozen=True)
class Effective:
    """A setting's value in effect, and its source: "default", a settings file, or an environment variable."""

    setting: Setting
    value: Any
    source: str


@dataclass(frozen=True)
class _Layer:
    """Values by key from one settings file, or from the environment when `path` is None."""

    values: Mapping[str, object]
    path: str | None = None

    def source(self, setting: Setting) -> str:
        """Where `setting` came from, if this layer has it."""
        return self.path or setting.env

    def where(self, setting: Setting) -> str:
        """How an error about `setting` from this layer begins."""
        return f"{self.path}: {setting.key}" if self.path else setting.env


def effective_settings(env: Mapping[str, str] = os.environ) -> list[Effective]:
    """Each setting's value and source: the environment wins over the files, a later file over an
    earlier one, either over the default; every value given is checked, the overruled ones too."""
    layers = [*(_file_layer(path) for path in config_paths(env)), _env_layer(env)]
    found: dict[str, Any] = {}
    effective = []
    for setting in SETTINGS:
        item = _effective(setting, layers, found)
        found[setting.key] = item.value
        effective.append(item)
    return effective


def config_paths(env: Mapping[str, str] = os.environ) -> list[str]:
    """The settings files PIZZERIA_CONFIG names, separated by os.pathsep as in PATH."""
    return [path for path in env.get("PIZZERIA_CONFIG", "").split(os.pathsep) if path]


def _effective(setting: Setting, layers: list[_Layer], found: Mapping[str, Any]) -> Effective:
    given = [Effective(setting, _parse(setting, layer.values[setting.key], layer.where(setting)), layer.source(setting))
             for layer in layers if setting.key in layer.values]
    if given:
        return given[-1]
    default = setting.default.format_map(found) if isinstance(setting.default, str) else setting.default
    return Effective(setting, setting.parse(default), "default")


def _parse(setting: Setting, value: object, where: str) -> Any:
    try:
        return setting.parse(value)
    except Invalid as error:
        raise ConfigError(f"{where}{error}") from None


def _env_layer(env: Mapping[str, str]) -> _Layer:
    """The PIZZERIA_* variables that are set and not empty."""
    return _Layer({setting.key: env[setting.env] for setting in SETTINGS if env.get(setting.env)})


def _file_layer(path: str) -> _Layer:
    values = _read_toml(path)
    for key in values:
        if key not in KEYS:
            raise ConfigError(f"{path}: unknown key {key!r}{_did_you_mean(key)}")
    return _Layer(values, path)


def _read_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text") from None


def _did_you_mean(key: str) -> str:
    """` (did you mean 'bake_seconds'?)` for the closest key, its variable's or its field's name, if any."""
    names = {name: setting.key for setting in SETTINGS for name in (setting.key, setting.env.lower(), setting.attribute)}
    close = difflib.get_close_matches(key.lower(), names, n=1)
    return f" (did you mean {names[close[0]]!r}?)" if close else ""
