"""Settings: the defaults, then the TOML files PIZZERIA_CONFIG names, then the environment; and
`pizzeria config`, which shows them with their sources and their secrets hidden."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakes import chore
from hypothesis import given
from hypothesis import strategies as st

from pizzeria import bootstrap, modules
from pizzeria.cli import main
from pizzeria.config import ConfigError, Settings, declared, effective_settings, variable
from pizzeria.messaging import BreakerPolicy, FailurePolicy
from pizzeria.messaging.observe.chores import OutboxSweep, Pruning
from pizzeria.messaging.observe.redact import hide_url_passwords
from pizzeria.settings_table import FIELDS, KILL, SETTINGS, Down

BY_KEY = declared()
# Three values of each setting, one for each layer: the first file, the second file, the environment.
SAMPLES = {
    "kitchen.bake_seconds": (1.5, 2, "3.25"),
    "retry_immediate": (0, 7, "11"),
    "process_manager.step_resends": ("4", 5, "6"),
    "queue_type": ("classic", "quorum", "classic"),
    "log_json": (True, "no", "yes"),
    "broker_heartbeat": (0, 15.5, "30"),
    "delivery_limit": (2, 20, "1000"),
    "kitchen.stock": ({"diavola": 1}, "marinara:2", "capricciosa:3"),
    "menu.prefetch": (1, "2", "3"),
    "web_token": ("first", "second", "third"),
}


def write(directory: Path, name: str, text: str) -> str:
    """Write a settings file; return its path."""
    path = directory / name
    path.write_text(text)
    return str(path)


def toml(values: dict[str, object]) -> str:
    """The application's keys at the top, then a table for each module: enough for SAMPLES
    (numbers, booleans, texts, inline tables of numbers)."""
    def literal(value: object) -> str:
        if isinstance(value, dict):
            return "{" + ", ".join(f"{key} = {literal(item)}" for key, item in value.items()) + "}"
        return json.dumps(value)
    tables: dict[str, dict[str, object]] = {}
    for key, value in values.items():
        module, _, name = key.rpartition(".")
        tables.setdefault(module, {})[name] = value
    return "".join((f"[{module}]\n" if module else "") + "".join(f"{name} = {literal(value)}\n"
                                                                  for name, value in table.items())
                   for module, table in sorted(tables.items()))


def effective(env: dict[str, str]) -> dict[str, tuple[object, str]]:
    """Each setting's value and source, by key."""
    return {item.key: (item.value, item.source) for item in effective_settings(env)}


def test_by_default_the_broker_is_the_embedded_one_and_the_inbox_keeps_a_week(tmp_path):
    settings = Settings.from_env({"PIZZERIA_VAR_DIR": str(tmp_path)})
    assert settings.broker_url == f"sqlite:///{tmp_path}/broker.sqlite"
    assert settings.inbox_retention_days == 7


def test_the_inbox_retention_is_read_in_days_within_bounds():
    assert Settings.from_env({"PIZZERIA_INBOX_RETENTION_DAYS": "30"}).inbox_retention_days == 30
    with pytest.raises(ConfigError, match="PIZZERIA_INBOX_RETENTION_DAYS='0' must be between 1 and 3650"):
        Settings.from_env({"PIZZERIA_INBOX_RETENTION_DAYS": "0"})


def test_the_table_s_defaults_are_the_settings_own(tmp_path):
    assert Settings.from_env({"PIZZERIA_VAR_DIR": str(tmp_path)}) == Settings(
        f"sqlite:///{tmp_path}/broker.sqlite", f"sqlite:///{tmp_path}/pizzeria.sqlite", tmp_path)


def test_every_field_of_the_settings_and_of_their_retry_and_breaker_policies_is_in_the_table_once():
    attributes = sorted(FIELDS.get(setting.name, setting.name) for setting in SETTINGS)
    fields = [field.name for field in dataclasses.fields(Settings) if field.name not in ("retry", "breaker", "modules")]
    retry_fields = [f"retry.{field.name}" for field in dataclasses.fields(FailurePolicy)
                    if f"retry.{field.name}" in attributes]
    breaker_fields = [f"breaker.{field.name}" for field in dataclasses.fields(BreakerPolicy)]
    assert attributes == sorted(fields + retry_fields + breaker_fields)
    assert len(retry_fields) >= 5


def test_the_breaker_settings_reach_the_breaker_policy():
    read = Settings.from_env({"PIZZERIA_BREAKER_WINDOW_SECONDS": "30", "PIZZERIA_BREAKER_MIN_ATTEMPTS": "0",
                              "PIZZERIA_BREAKER_FAILURE_RATIO": "0.25", "PIZZERIA_BREAKER_PAUSE_SECONDS": "2"})
    assert read.breaker == BreakerPolicy(window=30, min_attempts=0, ratio=0.25, pause=2)
    assert Settings.from_env({}).breaker == BreakerPolicy()


def test_the_broker_settings_have_their_defaults_and_bounds():
    settings = Settings.from_env({})
    assert (settings.queue_type, settings.heartbeat_seconds, settings.retry.delivery_limit) == ("quorum", 60, 5)
    read = Settings.from_env({"PIZZERIA_QUEUE_TYPE": "classic", "PIZZERIA_BROKER_HEARTBEAT": "0",
                              "PIZZERIA_DELIVERY_LIMIT": "1000"})
    assert (read.queue_type, read.heartbeat_seconds, read.retry.delivery_limit) == ("classic", 0, 1000)


@pytest.mark.parametrize("env, complaint", [
    ({"PIZZERIA_QUEUE_TYPE": "lazy"}, "PIZZERIA_QUEUE_TYPE='lazy' must be one of quorum, classic"),
    ({"PIZZERIA_BROKER_HEARTBEAT": "3601"}, "PIZZERIA_BROKER_HEARTBEAT='3601' must be between 0 and 3600"),
    ({"PIZZERIA_DELIVERY_LIMIT": "0"}, "PIZZERIA_DELIVERY_LIMIT='0' must be between 2 and 1000"),
    ({"PIZZERIA_DELIVERY_LIMIT": "2.5"}, "PIZZERIA_DELIVERY_LIMIT='2.5' is not a whole number"),
    ({"PIZZERIA_KITCHEN__BAKE_SECONDS": "soon"}, "PIZZERIA_KITCHEN__BAKE_SECONDS='soon' is not a number"),
    ({"PIZZERIA_LOG_JSON": "maybe"}, "PIZZERIA_LOG_JSON='maybe' is not a boolean"),
    ({"PIZZERIA_KITCHEN__STOCK": "diavola"},
     "PIZZERIA_KITCHEN__STOCK: 'diavola' is not PIZZA:HOW_MANY (say diavola:3)"),
    ({"PIZZERIA_KITCHEN__PREFETCH": "0"}, "PIZZERIA_KITCHEN__PREFETCH='0' must be between 1 and 1000"),
    ({"PIZZERIA_MENU__PREFETCH": "2.5"}, "PIZZERIA_MENU__PREFETCH='2.5' is not a whole number"),
    ({"PIZZERIA_PROCESS_MANAGER__STEP_DEADLINE_SECONDS": "inf"},
     "PIZZERIA_PROCESS_MANAGER__STEP_DEADLINE_SECONDS='inf' is not a finite number"),
    ({"PIZZERIA_KITCHEN__BAKE_SECS": "1"},
     "PIZZERIA_KITCHEN__BAKE_SECS: no such setting (did you mean PIZZERIA_KITCHEN__BAKE_SECONDS?)"),
    ({"PIZZERIA_KICHEN__BAKE_SECONDS": "1"},
     "PIZZERIA_KICHEN__BAKE_SECONDS: no such setting (did you mean PIZZERIA_KITCHEN__BAKE_SECONDS?)"),
    ({"PIZZERIA_BAKE_SECONDS": "1"},
     "PIZZERIA_BAKE_SECONDS: no such setting (did you mean PIZZERIA_KITCHEN__BAKE_SECONDS?)"),
    ({"PIZZERIA_STEP_RESENDS": "1"},
     "PIZZERIA_STEP_RESENDS: no such setting (did you mean PIZZERIA_PROCESS_MANAGER__STEP_RESENDS?)"),
    ({"PIZZERIA_PREFETCH": "1"}, "PIZZERIA_PREFETCH: no such setting (did you mean PIZZERIA_PROCESS_MANAGER__PREFETCH "
                                 "or PIZZERIA_MENU__PREFETCH or PIZZERIA_WAITER__PREFETCH or PIZZERIA_KITCHEN__PREFETCH?)"),
    ({"PIZZERIA_FAULTS": "oven.Bake:1"},
     "PIZZERIA_FAULTS: 'oven.Bake:1' is not QUEUE.MessageType:TIMES (or :kill, or :SECONDSs) with QUEUE one of"),
])
def test_a_bad_environment_variable_is_one_line_naming_it_and_its_value(env, complaint):
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)
    assert str(raised.value).startswith(complaint) and "\n" not in str(raised.value)


def test_an_empty_environment_variable_counts_as_unset_even_one_that_is_no_setting():
    found = effective({"PIZZERIA_KITCHEN__BAKE_SECONDS": "", "PIZZERIA_WEB_TOKEN": "", "PIZZERIA_BAKE_SECONDS": ""})
    assert (found["kitchen.bake_seconds"], found["web_token"]) == ((0.5, "default"), (None, "default"))


def test_other_pizzeria_variables_are_not_settings_and_are_left_alone():
    assert effective({"PIZZERIA_E2E_STEP_DEADLINE": "1", "PIZZERIA_COLOR": "red"}) == effective({})


def test_a_file_s_native_values_and_tables_are_read_like_the_environment_s_texts(tmp_path):
    path = write(tmp_path, "pizzeria.toml", 'log_json = true\nretry_backoff = 3\nvar_dir = "here"\n'
                                             '[kitchen.stock]\ndiavola = 3\n[faults]\nwaiter.ShowBill = 2\n'
                                             '"kitchen.DoPizza" = 1\n')
    settings = Settings.from_env({"PIZZERIA_CONFIG": path})
    assert settings.log_json and settings.retry.factor == 3 and settings.var_dir == Path("here").absolute()
    assert settings.modules["kitchen"]["stock"] == {"diavola": 3}
    assert settings.faults == {"waiter.ShowBill": 2, "kitchen.DoPizza": 1}
    texts = write(tmp_path, "texts.toml", '[kitchen]\nstock = "diavola:3"\n')
    assert Settings.from_env({"PIZZERIA_CONFIG": texts}).modules["kitchen"]["stock"] == {"diavola": 3}


@pytest.mark.parametrize("text, complaint", [
    ("[kitchen]\nbake_secs = 1\n", "unknown key 'kitchen.bake_secs' (did you mean 'kitchen.bake_seconds'?)"),
    ("[kichen]\nbake_seconds = 1\n", "unknown key 'kichen' (did you mean 'kitchen'?)"),
    ("[stock]\ndiavola = 1\n", "unknown key 'stock' (did you mean 'kitchen.stock'?)"),
    ("bake_seconds = 1\n", "unknown key 'bake_seconds' (did you mean 'kitchen.bake_seconds'?)"),
    ("prefetch = 1\n", "unknown key 'prefetch' (did you mean 'process_manager.prefetch' or 'menu.prefetch' or "),
    ("kitchen = 3\n", "kitchen=3 is not a table of the kitchen module's settings"),
    ("PIZZERIA_LOG_JSON = true\n", "unknown key 'PIZZERIA_LOG_JSON' (did you mean 'log_json'?)"),
    ("PIZZERIA_KITCHEN__STOCK = 'diavola:1'\n", "unknown key 'PIZZERIA_KITCHEN__STOCK' (did you mean 'kitchen.stock'?)"),
    ("heartbeat_seconds = 5\n", "unknown key 'heartbeat_seconds' (did you mean 'broker_heartbeat'?)"),
    ("color = 'red'\n", "unknown key 'color'"),
    ("[kitchen]\nbake_seconds = -1\n", "kitchen.bake_seconds=-1 must be between 0 and 3600"),
    ("[kitchen]\nbake_seconds = 'soon'\n", "kitchen.bake_seconds='soon' is not a number"),
    ("[kitchen]\nbake_seconds = true\n", "kitchen.bake_seconds=True is not a number"),
    ("kitchen.prefetch = true\n", "kitchen.prefetch=True is not a number"),
    ("[process_manager]\nstep_resends = 1.5\n", "process_manager.step_resends=1.5 is not a whole number"),
    ("log_json = 2\n", "log_json=2 is not a boolean"),
    ("queue_type = 'lazy'\n", "queue_type='lazy' must be one of quorum, classic"),
    ("broker_url = ''\n", "broker_url='' is not a text that is not empty"),
    ("web_token = 42\n", "web_token=42 is not a text"),
    ("[kitchen]\nstock = 3\n", "kitchen.stock=3 is neither a text PIZZA:HOW_MANY,... nor a table"),
    ("[kitchen.stock]\ndiavola = -1\n", "kitchen.stock: 'diavola:-1' is not PIZZA:HOW_MANY"),
    ("[faults]\noven.Bake = 1\n", "faults: 'oven.Bake:1' is not QUEUE.MessageType:TIMES"),
    ("log_json = \n", "not valid TOML: Invalid value (at line 1, column 12)"),
])
def test_a_bad_file_is_one_line_naming_the_file_and_the_key(tmp_path, text, complaint):
    path = write(tmp_path, "settings.toml", text)
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"PIZZERIA_CONFIG": path})
    assert str(raised.value).startswith(f"{path}: {complaint}")
    assert "\n" not in str(raised.value)


def test_a_missing_file_and_one_that_is_not_text_are_errors_naming_them(tmp_path):
    missing = str(tmp_path / "nowhere.toml")
    with pytest.raises(ConfigError, match="nowhere.toml: cannot read it: No such file or directory"):
        Settings.from_env({"PIZZERIA_CONFIG": missing})
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="binary.toml: not valid TOML: not UTF-8 text"):
        Settings.from_env({"PIZZERIA_CONFIG": str(binary)})


def test_a_bad_value_is_refused_even_when_a_later_layer_overrules_it(tmp_path):
    path = write(tmp_path, "settings.toml", "[kitchen]\nbake_seconds = -1\n")
    with pytest.raises(ConfigError, match="kitchen.bake_seconds=-1"):
        Settings.from_env({"PIZZERIA_CONFIG": path, "PIZZERIA_KITCHEN__BAKE_SECONDS": "1"})


def test_empty_names_in_the_list_of_files_are_skipped(tmp_path):
    path = write(tmp_path, "settings.toml", "retry_delayed = 9\n")
    env = {"PIZZERIA_CONFIG": f"{os.pathsep}{path}{os.pathsep}"}
    assert effective(env)["retry_delayed"] == (9, path)


@given(st.sets(st.sampled_from(sorted(SAMPLES))), st.sets(st.sampled_from(sorted(SAMPLES))),
       st.sets(st.sampled_from(sorted(SAMPLES))))
def test_the_environment_wins_over_a_later_file_over_an_earlier_one_over_the_default(first, second, in_env):
    with tempfile.TemporaryDirectory() as directory:
        files = [write(Path(directory), f"{n}.toml", toml({key: SAMPLES[key][n] for key in keys}))
                 for n, keys in enumerate((first, second))]
        env = {"PIZZERIA_CONFIG": os.pathsep.join(files), **{variable(key): SAMPLES[key][2] for key in in_env}}
        found = effective(env)
    defaults = effective({})
    for key in SAMPLES:
        layers = [(first, files[0]), (second, files[1]), (in_env, variable(key))]
        holding = [(n, source) for n, (keys, source) in enumerate(layers) if key in keys]
        if holding:
            n, source = holding[-1]
            assert found[key] == (BY_KEY[key].read(SAMPLES[key][n]), source)
        else:
            assert found[key] == defaults[key]


def test_each_module_setting_has_the_one_default_its_module_declares_and_it_is_in_effect_unless_set(tmp_path):
    defaults = effective({})
    for module in modules.declarations():
        for setting in module.all_settings:
            assert defaults[f"{module.name}.{setting.name}"] == (setting.read(setting.default), "default")
    made = Settings("memory://", "sqlite://", tmp_path)
    assert made.modules == Settings.from_env({}).modules
    assert made.modules["kitchen"]["prefetch"] == 4 and made.modules["menu"]["prefetch"] == 30


def test_a_module_s_prefetch_is_its_endpoint_s(tmp_path):
    kitchen = modules.declarations()[modules.names().index("kitchen")]
    assert bootstrap.endpoint(kitchen, Settings.from_env({})).prefetch == kitchen.prefetch
    assert bootstrap.endpoint(kitchen, Settings.from_env({"PIZZERIA_KITCHEN__PREFETCH": "2"})).prefetch == 2


def test_the_chores_intervals_and_the_outage_back_off_are_settings_that_reach_a_worker(tmp_path):
    settings = Settings.from_env({"PIZZERIA_VAR_DIR": str(tmp_path), "PIZZERIA_OUTBOX_SWEEP_SECONDS": "0.25",
                                  "PIZZERIA_INBOX_PRUNE_SECONDS": "30", "PIZZERIA_INBOX_RETENTION_DAYS": "2",
                                  "PIZZERIA_OUTAGE_BACKOFF_SECONDS": "0.5", "PIZZERIA_MAX_OUTAGE_BACKOFF_SECONDS": "4"})
    app = bootstrap.bootstrap(settings)
    worker = bootstrap.worker(app, ["menu"])
    sweep, pruning = chore(worker, OutboxSweep), chore(worker, Pruning)
    assert (sweep.every, pruning.every, pruning.retention) == (0.25, 30, 2 * 86400)
    assert [worker.pipeline.policy.backoff(outages) for outages in (1, 2, 5)] == [0.5, 1, 4]
    worker.close()
    app.engine.dispose()


def test_settings_made_in_code_refuse_a_module_setting_that_is_not_declared_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"^no setting kitchen.bake_secs \(did you mean 'kitchen.bake_seconds'\?\)$"):
        Settings("memory://", "sqlite://", tmp_path, modules={"kitchen": {"bake_secs": 0}})
    with pytest.raises(ConfigError, match=r"^no setting kichen.stock \(did you mean 'kitchen.stock'\?\)$"):
        Settings("memory://", "sqlite://", tmp_path, modules={"kichen": {"stock": {}}})


TYPED = sorted(key for key, setting in BY_KEY.items() if "." in key and setting.type in (bool, int, float))


@st.composite
def valid_values(draw) -> tuple[str, object]:
    """A module's setting of a plain type, and a value it takes."""
    key = draw(st.sampled_from(TYPED))
    setting = BY_KEY[key]
    low, high = setting.within or (-1e9, 1e9)
    if setting.type is bool:
        return key, draw(st.booleans())
    if setting.type is int:
        return key, draw(st.integers(int(low), int(high)))
    return key, draw(st.floats(low, high, allow_nan=False))


@given(valid_values())
def test_any_valid_value_of_a_module_s_setting_reads_the_same_from_its_variable_and_from_its_module_s_table(item):
    key, value = item
    text = str(value).lower() if isinstance(value, bool) else repr(value)
    assert effective({variable(key): text})[key] == (value, variable(key))
    with tempfile.TemporaryDirectory() as directory:
        path = write(Path(directory), "settings.toml", toml({key: value}))
        assert effective({"PIZZERIA_CONFIG": path})[key] == (value, path)


@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True), st.integers(0, 999_999), max_size=4))
def test_any_stock_reads_the_same_from_a_variable_s_text_and_from_a_file_s_table(stock):
    text = ",".join(f"{pizza}:{left}" for pizza, left in stock.items())
    assert Settings.from_env({"PIZZERIA_KITCHEN__STOCK": text}).modules["kitchen"]["stock"] == stock
    with tempfile.TemporaryDirectory() as directory:
        path = write(Path(directory), "settings.toml", toml({"kitchen.stock": stock}))
        assert Settings.from_env({"PIZZERIA_CONFIG": path}).modules["kitchen"]["stock"] == stock


@given(st.lists(st.tuples(st.text("abcxyz_-.", min_size=1), st.text(st.characters(exclude_characters=";\n"),
                                                                          min_size=1)), min_size=1, max_size=3))
def test_each_node_s_password_is_hidden_and_nothing_else_changed(nodes):
    urls = ";".join(f"amqp://{user}:{password}@host{n}:5672/vhost" for n, (user, password) in enumerate(nodes))
    assert hide_url_passwords(urls) == ";".join(f"amqp://{user}:***@host{n}:5672/vhost" for n, (user, _) in enumerate(nodes))


def test_a_url_without_a_password_is_shown_as_it_is():
    for url in ("sqlite:////var/broker.sqlite", "amqp://guest@host//", "memory://", "amqp://host:5672//"):
        assert hide_url_passwords(url) == url


def config(env: dict[str, str], *args: str):
    """Run `pizzeria config ARGS` with `env` as its only PIZZERIA_ settings."""
    clean = {key: None for key in os.environ if key.startswith("PIZZERIA_")}
    return CliRunner().invoke(main, ["config", *args], env={**clean, **env})


def test_pizzeria_config_prints_each_setting_its_value_and_source_aligned_with_secrets_hidden(tmp_path):
    path = write(tmp_path, "settings.toml", 'broker_url = "amqp://u:s3cret@h1//;amqp://u:s3cret@h2//"\n'
                                            '[kitchen]\nbake_seconds = 2\n')
    result = config({"PIZZERIA_CONFIG": path, "PIZZERIA_WEB_TOKEN": "t0ken",
                     "PIZZERIA_DATABASE_URL": "postgresql+psycopg://db:pa55@127.0.0.1:1/pizzeria"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(BY_KEY) == len({line.split()[0] for line in lines}), "each setting once"
    assert len({tuple(word.start() for word in re.finditer(r"\S+", line)) for line in lines}) == 1, "aligned"
    rows = {line.split()[0]: line.split()[1:] for line in lines}
    assert rows["kitchen.bake_seconds"] == ["2", path]
    assert rows["kitchen.prefetch"] == ["4", "default"]
    assert rows["broker_url"] == ["amqp://u:***@h1//;amqp://u:***@h2//", path]
    assert rows["database_url"] == ["postgresql+psycopg://db:***@127.0.0.1:1/pizzeria", "PIZZERIA_DATABASE_URL"]
    assert rows["web_token"] == ["***", "PIZZERIA_WEB_TOKEN"]
    assert rows["queue_type"] == ["quorum", "default"]
    assert all(secret not in result.output for secret in ("s3cret", "pa55", "t0ken"))


def test_pizzeria_config_json_gives_the_same_values_and_sources_and_what_each_setting_does():
    result = config({"PIZZERIA_KITCHEN__STOCK": "diavola:3", "PIZZERIA_WEB_TOKEN": "t0ken"}, "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    found = {key: (entry["value"], entry["source"]) for key, entry in shown.items()}
    assert list(shown) == list(BY_KEY)
    assert all(entry["help"] for entry in shown.values())
    assert found["kitchen.stock"] == ({"diavola": 3}, "PIZZERIA_KITCHEN__STOCK")
    assert found["web_token"] == ("***", "PIZZERIA_WEB_TOKEN")
    assert found["kitchen.bake_seconds"] == (0.5, "default")
    assert "t0ken" not in result.output


def test_pizzeria_config_of_a_bad_setting_exits_2_with_one_line(tmp_path):
    path = write(tmp_path, "settings.toml", "[kitchen]\nbake_secs = 1\n")
    result = config({"PIZZERIA_CONFIG": path})
    assert result.exit_code == 2
    assert result.stderr == f"error: {path}: unknown key 'kitchen.bake_secs' (did you mean 'kitchen.bake_seconds'?)\n"
    assert result.stdout == ""


def test_a_fault_in_seconds_is_a_dependency_down_for_that_long():
    settings = Settings.from_env({"PIZZERIA_FAULTS": "kitchen.DoPizza:60s,waiter.ShowBill:kill"})
    assert settings.faults == {"kitchen.DoPizza": Down(60.0), "waiter.ShowBill": KILL}
