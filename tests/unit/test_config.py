"""Settings read from the environment: the embedded defaults, and the inbox's retention."""

from __future__ import annotations

import pytest

from pizzeria.config import ConfigError, Settings


def test_by_default_the_broker_is_the_embedded_one_and_the_inbox_keeps_a_week(tmp_path):
    settings = Settings.from_env({"PIZZERIA_VAR_DIR": str(tmp_path)})
    assert settings.broker_url == f"sqlite:///{tmp_path}/broker.sqlite"
    assert settings.inbox_retention_days == 7


def test_the_inbox_retention_is_read_in_days_within_bounds():
    assert Settings.from_env({"PIZZERIA_INBOX_RETENTION_DAYS": "30"}).inbox_retention_days == 30
    with pytest.raises(ConfigError, match="PIZZERIA_INBOX_RETENTION_DAYS='0' must be between 1 and 3650"):
        Settings.from_env({"PIZZERIA_INBOX_RETENTION_DAYS": "0"})
