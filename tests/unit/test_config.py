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
from hypothesis import given
from hypothesis import strategies as st

from pizzeria.cli import main
from pizzeria.config import ConfigError, Settings, effective_settings
from pizzeria.messaging.delivery.policy import RetryPolicy
from pizzeria.messaging.observe.redact import hide_url_passwords
from pizzeria.settings_table import SETTINGS

BY_KEY = {setting.key: setting for setting in SETTINGS}
# Three values of each setting, one for each layer: the first file, the second file, the environment.
SAMPLES = {
    "bake_seconds": (1.5, 2, "3.25"),
    "retry_immediate": (0, 7, "11"),
    "step_resends": ("4", 5, "6"),
    "queue_type": ("classic", "quorum", "classic"),
    "log_json": (True, "no", "yes"),
    "broker_heartbeat": (0, 15.5, "30"),
    "delivery_limit": (2, 20, "1000"),
    "stock": ({"diavola": 1}, "marinara:2", "capricciosa:3"),
    "web_token": ("first", "second", "third"),
}


def write(directory: Path, name: str, text: str) -> str:
    """Write a settings file; return its path."""
    path = directory / name
    path.write_text(text)
    return str(path)


def toml(values: dict[str, object]) -> str:
    """Top-level keys, enough for SAMPLES: numbers, booleans, texts, inline tables of numbers."""
    def literal(value: object) -> str:
        if isinstance(value, dict):
            return "{" + ", ".join(f"{key} = {literal(item)}" for key, item in value.items()) + "}"
        return json.dumps(value)
    return "".join(f"{key} = {literal(value)}\n" for key, value in values.items())


def effective(env: dict[str, str]) -> dict[str, tuple[object, str]]:
    """Each setting's value and source, by key."""
    return {item.setting.key: (item.value, item.source) for item in effective_settings(env)}


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


def test_every_field_of_the_settings_and_of_their_retry_policy_is_in_the_table_once():
    attributes = sorted(setting.attribute for setting in SETTINGS)
    fields = [field.name for field in dataclasses.fields(Settings) if field.name != "retry"]
    retry_fields = [f"retry.{field.name}" for field in dataclasses.fields(RetryPolicy)
                    if f"retry.{field.name}" in attributes]
    assert attributes == sorted(fields + retry_fields)
    assert len(retry_fields) >= 5


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
    ({"PIZZERIA_BAKE_SECONDS": "soon"}, "PIZZERIA_BAKE_SECONDS='soon' is not a number"),
    ({"PIZZERIA_LOG_JSON": "maybe"}, "PIZZERIA_LOG_JSON='maybe' is not a boolean"),
    ({"PIZZERIA_STOCK": "diavola"}, "PIZZERIA_STOCK: 'diavola' is not PIZZA:HOW_MANY (say diavola:3)"),
    ({"PIZZERIA_FAULTS": "oven.Bake:1"},
     "PIZZERIA_FAULTS: 'oven.Bake:1' is not QUEUE.MessageType:TIMES (or :kill) with QUEUE one of"),
])
def test_a_bad_environment_variable_is_one_line_naming_it_and_its_value(env, complaint):
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)
    assert str(raised.value).startswith(complaint) and "\n" not in str(raised.value)


def test_an_empty_environment_variable_counts_as_unset():
    assert effective({"PIZZERIA_BAKE_SECONDS": "", "PIZZERIA_WEB_TOKEN": ""})["bake_seconds"] == (0.5, "default")


def test_a_file_s_native_values_and_tables_are_read_like_the_environment_s_texts(tmp_path):
    path = write(tmp_path, "pizzeria.toml", 'log_json = true\nretry_backoff = 3\nvar_dir = "here"\n'
                                             '[stock]\ndiavola = 3\n[faults]\nwaiter.ShowBill = 2\n"kitchen.DoPizza" = 1\n')
    settings = Settings.from_env({"PIZZERIA_CONFIG": path})
    assert settings.log_json and settings.retry.factor == 3 and settings.var_dir == Path("here").absolute()
    assert settings.stock == {"diavola": 3}
    assert settings.faults == {"waiter.ShowBill": 2, "kitchen.DoPizza": 1}
    assert Settings.from_env({"PIZZERIA_CONFIG": write(tmp_path, "texts.toml", 'stock = "diavola:3"\n')}).stock == {
        "diavola": 3}


@pytest.mark.parametrize("text, complaint", [
    ("bake_secs = 1\n", "unknown key 'bake_secs' (did you mean 'bake_seconds'?)"),
    ("PIZZERIA_STOCK = 'diavola:1'\n", "unknown key 'PIZZERIA_STOCK' (did you mean 'stock'?)"),
    ("heartbeat_seconds = 5\n", "unknown key 'heartbeat_seconds' (did you mean 'broker_heartbeat'?)"),
    ("color = 'red'\n", "unknown key 'color'"),
    ("bake_seconds = -1\n", "bake_seconds=-1 must be between 0 and 3600"),
    ("bake_seconds = 'soon'\n", "bake_seconds='soon' is not a number"),
    ("bake_seconds = true\n", "bake_seconds=True is not a number"),
    ("step_resends = 1.5\n", "step_resends=1.5 is not a whole number"),
    ("log_json = 2\n", "log_json=2 is not a boolean"),
    ("queue_type = 'lazy'\n", "queue_type='lazy' must be one of quorum, classic"),
    ("broker_url = ''\n", "broker_url='' is not a text that is not empty"),
    ("web_token = 42\n", "web_token=42 is not a text"),
    ("stock = 3\n", "stock=3 is neither a text NAME:N,... nor a table"),
    ("[stock]\ndiavola = -1\n", "stock: 'diavola:-1' is not PIZZA:HOW_MANY"),
    ("[faults]\noven.Bake = 1\n", "faults: 'oven.Bake:1' is not QUEUE.MessageType:TIMES"),
    ("bake_seconds = \n", "not valid TOML: Invalid value (at line 1, column 16)"),
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
    path = write(tmp_path, "settings.toml", "bake_seconds = -1\n")
    with pytest.raises(ConfigError, match="bake_seconds=-1"):
        Settings.from_env({"PIZZERIA_CONFIG": path, "PIZZERIA_BAKE_SECONDS": "1"})


def test_empty_names_in_the_list_of_files_are_skipped(tmp_path):
    path = write(tmp_path, "settings.toml", "step_resends = 9\n")
    env = {"PIZZERIA_CONFIG": f"{os.pathsep}{path}{os.pathsep}"}
    assert effective(env)["step_resends"] == (9, path)


@given(st.sets(st.sampled_from(sorted(SAMPLES))), st.sets(st.sampled_from(sorted(SAMPLES))),
       st.sets(st.sampled_from(sorted(SAMPLES))))
def test_the_environment_wins_over_a_later_file_over_an_earlier_one_over_the_default(first, second, in_env):
    with tempfile.TemporaryDirectory() as directory:
        files = [write(Path(directory), f"{n}.toml", toml({key: SAMPLES[key][n] for key in keys}))
                 for n, keys in enumerate((first, second))]
        env = {"PIZZERIA_CONFIG": os.pathsep.join(files), **{BY_KEY[key].env: SAMPLES[key][2] for key in in_env}}
        found = effective(env)
    defaults = effective({})
    for key in SAMPLES:
        layers = [(first, files[0]), (second, files[1]), (in_env, BY_KEY[key].env)]
        holding = [(n, source) for n, (keys, source) in enumerate(layers) if key in keys]
        if holding:
            n, source = holding[-1]
            assert found[key] == (BY_KEY[key].parse(SAMPLES[key][n]), source)
        else:
            assert found[key] == defaults[key]


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
    path = write(tmp_path, "settings.toml", 'bake_seconds = 2\nbroker_url = "amqp://u:s3cret@h1//;amqp://u:s3cret@h2//"\n')
    result = config({"PIZZERIA_CONFIG": path, "PIZZERIA_WEB_TOKEN": "t0ken",
                     "PIZZERIA_DATABASE_URL": "postgresql+psycopg://db:pa55@127.0.0.1:1/pizzeria"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(SETTINGS)
    assert len({tuple(word.start() for word in re.finditer(r"\S+", line)) for line in lines}) == 1, "aligned"
    rows = {line.split()[0]: line.split()[1:] for line in lines}
    assert rows["bake_seconds"] == ["2", path]
    assert rows["broker_url"] == ["amqp://u:***@h1//;amqp://u:***@h2//", path]
    assert rows["database_url"] == ["postgresql+psycopg://db:***@127.0.0.1:1/pizzeria", "PIZZERIA_DATABASE_URL"]
    assert rows["web_token"] == ["***", "PIZZERIA_WEB_TOKEN"]
    assert rows["queue_type"] == ["quorum", "default"]
    assert all(secret not in result.output for secret in ("s3cret", "pa55", "t0ken"))


def test_pizzeria_config_json_gives_the_same_values_and_sources_and_what_each_setting_does():
    result = config({"PIZZERIA_STOCK": "diavola:3", "PIZZERIA_WEB_TOKEN": "t0ken"}, "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    found = {key: (entry["value"], entry["source"]) for key, entry in shown.items()}
    assert list(shown) == [setting.key for setting in SETTINGS]
    assert all(entry["help"] for entry in shown.values())
    assert found["stock"] == ({"diavola": 3}, "PIZZERIA_STOCK")
    assert found["web_token"] == ("***", "PIZZERIA_WEB_TOKEN")
    assert found["bake_seconds"] == (0.5, "default")
    assert "t0ken" not in result.output


def test_pizzeria_config_of_a_bad_setting_exits_2_with_one_line(tmp_path):
    path = write(tmp_path, "settings.toml", "bake_secs = 1\n")
    result = config({"PIZZERIA_CONFIG": path})
    assert result.exit_code == 2
    assert result.stderr == f"error: {path}: unknown key 'bake_secs' (did you mean 'bake_seconds'?)\n"
    assert result.stdout == ""
