"""The simulator's tests keep the logs quiet: a run handles thousands of messages."""

import logging

import pytest
import structlog


@pytest.fixture(autouse=True)
def quiet_logs():
    """Drop every log line below CRITICAL for the test, and restore the setup after it."""
    before = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL),
                        cache_logger_on_first_use=False)
    yield
    structlog.configure(**before)
