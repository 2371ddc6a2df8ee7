"""End-to-end fixtures: the real `pizzeria` command, run as separate OS processes."""

from __future__ import annotations

import pytest
from processes import Pizzeria, environment


@pytest.fixture
def embedded(tmp_path):
    """pizzeria with nothing configured: the embedded broker and database in ./var."""
    pizzeria = Pizzeria(tmp_path, environment(tmp_path))
    yield pizzeria
    pizzeria.stop_consumers()


@pytest.fixture
def on_rabbitmq(tmp_path, amqp_url, postgres_url):
    """pizzeria on the test RabbitMQ and PostgreSQL servers."""
    pizzeria = Pizzeria(tmp_path, environment(tmp_path, PIZZERIA_BROKER_URL=amqp_url,
                                               PIZZERIA_DATABASE_URL=postgres_url))
    yield pizzeria
    pizzeria.stop_consumers()


@pytest.fixture(params=["embedded", "on_rabbitmq"])
def pizzeria(request):
    """pizzeria on each transport in turn: embedded, then RabbitMQ with PostgreSQL."""
    return request.getfixturevalue(request.param)
