"""Settings: the defaults, then the TOML files PIZZERIA_CONFIG names, then PIZZERIA_* environment
variables. The application's own are in settings_table; each module declares its own, which go by
the module's name: `[kitchen] bake_seconds = 2` in a file, PIZZERIA_KITCHEN__BAKE_SECONDS in the
environment."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pizzeria import modules
from pizzeria.messaging import MAX_BODY_BYTES, BreakerPolicy, Chores, FailurePolicy, Setting
from pizzeria.settings_table import (
    CHORES,
    FAILED_RETENTION_DAYS,
    FIELDS,
    INBOX_RETENTION_DAYS,
    PURGE_SECONDS,
    SETTINGS,
    VISIT_RETENTION_DAYS,
    Down,
)

PREFIX = "PIZZERIA_"
# Between a module and its setting in a variable's name, two underscores (pydantic-settings' nested
# delimiter): names of modules and of settings hold single ones (process_manager, step_resends), so
# PIZZERIA_PROCESS_MANAGER_STEP_RESENDS could be read two ways; and a variable holding `__` can only
# be a module's setting, so a misspelt one is refused instead of ignored.
NESTED = "__"


class ConfigError(ValueError):
    """A setting with a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """Where the broker and the database are, how the pizza house behaves, and each module's settings."""

    broker_url: str
    database_url: str
    var_dir: Path
    log_json: bool = False
    retry: FailurePolicy = FailurePolicy()
    breaker: BreakerPolicy = BreakerPolicy()
    faults: Mapping[str, int | Down] = field(default_factory=dict)
    max_body_bytes: int = MAX_BODY_BYTES
    inbox_retention_days: float = INBOX_RETENTION_DAYS
    outbox_sweep_seconds: float = CHORES.sweep_seconds
    inbox_prune_seconds: float = CHORES.prune_seconds
    visit_retention_days: float = VISIT_RETENTION_DAYS  # 0: forever
    failed_retention_days: float = FAILED_RETENTION_DAYS  # 0: forever
    purge_seconds: float = PURGE_SECONDS
    metrics_port: int = 0  # where each consumer serves its metrics and probes; 0: nowhere
    alert_webhook: str | None = field(default=None, repr=False)  # where alerts are POSTed, if anywhere
    alert_webhook_per_minute: int = 20
    alert_check_seconds: float = 5.0  # 0: a consumer never looks for alerts
    alert_queue_growth_seconds: float = 300.0
    web_token: str | None = field(default=None, repr=False)  # what the web's changing requests must carry
    queue_type: str = "quorum"  # of the RabbitMQ queues: quorum or classic
    heartbeat_seconds: float = 60.0  # between the client and RabbitMQ; 0 for none
    modules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # by module, its settings by name

    def __post_init__(self) -> None:
        object.__setattr__(self, "modules", module_values(self.modules))

    @property
    def chores(self) -> Chores:
        """How often a consumer does its chores, and how long its inbox remembers."""
        return Chores(self.outbox_sweep_seconds, self.inbox_prune_seconds, self.inbox_retention_days * 86400)

    @property
    def step_deadline_seconds(self) -> float:
        """How long a step of a visit may go unanswered (the process manager's setting): what tells a stuck visit."""
        return float(self.modules["process_manager"]["step_deadline_seconds"])

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Read the settings: defaults (the broker and the database SQLite files in ./var), then the files
        PIZZERIA_CONFIG in `env` names, then the PIZZERIA_* variables of `env`."""
        return cls.of(effective_settings(env))

    @classmethod
    def of(cls, effective: Iterable[Effective]) -> Settings:
        """The settings made of these effective values, one for each setting known."""
        groups: dict[str, dict[str, Any]] = {"": {}, "retry": {}, "breaker": {}}
        values: dict[str, dict[str, Any]] = {}
        for item in effective:
            module, _, name = item.key.rpartition(".")
            if module:
                values.setdefault(module, {})[name] = item.value
            else:
                group, _, attribute = FIELDS.get(name, name).rpartition(".")
                groups[group][attribute] = item.value
        return cls(**groups[""], retry=FailurePolicy(**groups["retry"]), breaker=BreakerPolicy(**groups["breaker"]),
                   modules=values)


@dataclass(frozen=True)
class Effective:
    """A setting's value in effect under its key, and its source: "default", a settings file, or an
    environment variable."""

    key: str
    setting: Setting
    value: Any
    source: str


@dataclass(frozen=True)
class _Layer:
    """Values by key from one settings file, or from the environment when `path` is None."""

    values: Mapping[str, object]
    path: str | None = None

    def source(self, key: str) -> str:
        """Where the setting of `key` came from, if this layer has it."""
        return self.path or variable(key)

    def where(self, key: str) -> str:
        """How an error about the setting of `key` from this layer begins."""
        return f"{self.path}: {key}" if self.path else variable(key)


def declared() -> dict[str, Setting]:
    """Every setting by its key: the application's own by name, then each module's as `module.name`."""
    known = {setting.name: setting for setting in SETTINGS}
    for module in modules.declarations():
        known.update({f"{module.name}.{setting.name}": setting for setting in module.all_settings})
    return known


def variable(key: str) -> str:
    """The environment variable of a setting: PIZZERIA_QUEUE_TYPE, PIZZERIA_KITCHEN__BAKE_SECONDS."""
    return PREFIX + key.upper().replace(".", NESTED)


def module_values(given: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each module's settings by name: the values given, the declared default for the others; an
    unknown module or setting is refused."""
    known = declared()
    for key in (f"{module}.{name}" for module, values in given.items() for name in values):
        if key not in known:
            raise ConfigError(f"no setting {key}{_did_you_mean(key, known)}")
    values: dict[str, dict[str, Any]] = {}
    for module in modules.declarations():
        mine = given.get(module.name, {})
        values[module.name] = {setting.name: mine[setting.name] if setting.name in mine else setting.read(setting.default)
                               for setting in module.all_settings}
    return values


def effective_settings(env: Mapping[str, str] = os.environ) -> list[Effective]:
    """Each setting's value and source: the environment wins over the files, a later file over an
    earlier one, either over the default; every value given is checked, the overruled ones too."""
    known = declared()
    layers = [*(_file_layer(path, known) for path in config_paths(env)), _env_layer(env, known)]
    found: dict[str, Any] = {}
    effective = []
    for key, setting in known.items():
        item = _effective(key, setting, layers, found)
        found[key] = item.value
        effective.append(item)
    return effective


def config_paths(env: Mapping[str, str] = os.environ) -> list[str]:
    """The settings files PIZZERIA_CONFIG names, separated by os.pathsep as in PATH."""
    return [path for path in env.get("PIZZERIA_CONFIG", "").split(os.pathsep) if path]


def _effective(key: str, setting: Setting, layers: list[_Layer], found: Mapping[str, Any]) -> Effective:
    given = [Effective(key, setting, _read(setting, layer.values[key], layer.where(key)), layer.source(key))
             for layer in layers if key in layer.values]
    if given:
        return given[-1]
    default = setting.default
    if isinstance(default, str) and "." not in key:  # the application's own may name one before it: {var_dir}
        default = default.format_map(found)
    return Effective(key, setting, setting.read(default), "default")


def _read(setting: Setting, value: object, where: str) -> Any:
    try:
        return setting.read(value)
    except ValueError as error:
        raise ConfigError(f"{where}{error}") from None


def _env_layer(env: Mapping[str, str], known: Collection[str]) -> _Layer:
    """The PIZZERIA_* variables of settings that are set and not empty; one that holds `__`, or names
    a module's setting without its module, and is no setting's is refused."""
    keys = {variable(key): key for key in known}
    for name in (name for name, value in env.items() if value and name.startswith(PREFIX) and name not in keys):
        bare = name.removeprefix(PREFIX).lower()
        if NESTED in bare or any(key.endswith(f".{bare}") for key in known):
            raise ConfigError(f"{name}: no such setting{_did_you_mean(name, known, variable)}")
    return _Layer({key: env[name] for name, key in keys.items() if env.get(name)})


def _file_layer(path: str, known: Collection[str]) -> _Layer:
    values: dict[str, object] = {}
    for key, value in _read_toml(path).items():
        if key not in modules.names():
            values[key] = value
        elif isinstance(value, dict):  # [kitchen] bake_seconds = 2
            values.update({f"{key}.{name}": item for name, item in value.items()})
        else:
            raise ConfigError(f"{path}: {key}={value!r} is not a table of the {key} module's settings")
    for key in values:
        if key not in known:
            raise ConfigError(f"{path}: unknown key {key!r}{_did_you_mean(key, [*known, *modules.names()])}")
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


def _did_you_mean(word: str, known: Collection[str], shown: Callable[[str], str] = repr) -> str:
    """` (did you mean 'kitchen.bake_seconds'?)`: the settings `word` names in another form (as a
    variable, a field of Settings, a module's setting without its module), else the closest, if any."""
    key = word.lower().removeprefix(PREFIX.lower()).replace(NESTED, ".")
    fields = {attribute.rpartition(".")[2]: name for name, attribute in FIELDS.items()}
    named = [key] if key in known else [fields[key]] if key in fields else [
        known_key for known_key in known if known_key.endswith(f".{key}")]
    close = named or difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {' or '.join(map(shown, close))}?)" if close else ""
