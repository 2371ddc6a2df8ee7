"""`pizzeria config` as a user runs it: settings files and the environment, secrets hidden."""

from __future__ import annotations

import json


def test_config_shows_the_file_s_and_the_environment_s_settings_without_connecting_or_showing_passwords(embedded):
    (embedded.cwd / "pizzeria.toml").write_text('broker_url = "amqp://pizza:s3cret@127.0.0.1:1//"\n'
                                                'queue_type = "classic"\n[kitchen]\nprefetch = 2\n'
                                                '[kitchen.stock]\ndiavola = 3\n')
    embedded.env.update(PIZZERIA_CONFIG="pizzeria.toml", PIZZERIA_WEB_TOKEN="t0ken", PIZZERIA_QUEUE_TYPE="quorum")
    result = embedded.run("config", "--json", timeout=30)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    found = {key: (entry["value"], entry["source"]) for key, entry in shown.items()}
    assert found["broker_url"] == ("amqp://pizza:***@127.0.0.1:1//", "pizzeria.toml")
    assert found["queue_type"] == ("quorum", "PIZZERIA_QUEUE_TYPE")
    assert found["kitchen.stock"] == ({"diavola": 3}, "pizzeria.toml")
    assert found["kitchen.prefetch"] == (2, "pizzeria.toml")
    assert found["kitchen.bake_seconds"] == (0.05, "PIZZERIA_KITCHEN__BAKE_SECONDS")
    assert found["process_manager.step_resends"] == (3, "default")
    assert "s3cret" not in result.stdout + result.stderr and "t0ken" not in result.stdout + result.stderr


def test_a_bad_value_in_a_settings_file_exits_2_naming_the_file_and_the_key(embedded):
    (embedded.cwd / "pizzeria.toml").write_text("delivery_limit = 0\n")
    embedded.env["PIZZERIA_CONFIG"] = "pizzeria.toml"
    for command in (["config"], ["init"]):
        result = embedded.run(*command, timeout=30)
        assert result.returncode == 2
        assert result.stderr == "error: pizzeria.toml: delivery_limit=0 must be between 2 and 1000\n"
