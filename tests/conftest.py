"""Fixtures for tests that need real servers, which pizzeria/devtools/servers.py starts.

The servers start once per session, and only if a test asks for them. Each
test then gets its own RabbitMQ vhost or PostgreSQL database, deleted after it.
"""

import re
import uuid

import pytest

from pizzeria.devtools.cluster import RabbitMQCluster
from pizzeria.devtools.servers import PostgreSQL, RabbitMQ, ServerNotFound


def _start(server_class):
    """Make and start a server; a missing binary fails the tests in one line."""
    try:
        server = server_class()
    except ServerNotFound as error:
        raise pytest.fail.Exception(str(error), pytrace=False) from None
    try:
        server.start()
    except BaseException:
        server.close()
        raise
    return server


def _unique_name(request) -> str:
    """A vhost or database name from the test's name, short and unique."""
    return re.sub(r"\W+", "_", request.node.name).lower()[:40] + "_" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def rabbitmq():
    """The session's private RabbitMQ node (servers.RabbitMQ), started."""
    server = _start(RabbitMQ)
    yield server
    server.close()


@pytest.fixture(scope="session")
def rabbitmq_cluster():
    """The session's private three-node RabbitMQ cluster (cluster.RabbitMQCluster), started."""
    cluster = _start(RabbitMQCluster)
    yield cluster
    cluster.close()


@pytest.fixture(scope="session")
def postgres():
    """The session's private PostgreSQL server (servers.PostgreSQL), started."""
    server = _start(PostgreSQL)
    yield server
    server.close()


@pytest.fixture
def amqp_url(rabbitmq, request):
    """An amqp://guest:guest@127.0.0.1:PORT/VHOST URL of a fresh vhost, deleted after the test."""
    name = _unique_name(request)
    yield rabbitmq.add_vhost(name)
    if rabbitmq.process:  # a test that stopped the broker leaves the vhost to close()
        rabbitmq.delete_vhost(name)


@pytest.fixture
def cluster_url(rabbitmq_cluster, request):
    """A fresh vhost's URLs on the three nodes, ";"-joined; after the test, nodes left down restart and the vhost goes."""
    name = _unique_name(request)
    yield rabbitmq_cluster.add_vhost(name)
    rabbitmq_cluster.start()
    rabbitmq_cluster.delete_vhost(name)


@pytest.fixture
def postgres_url(postgres, request):
    """A postgresql+psycopg://postgres@127.0.0.1:PORT/DB URL of a fresh database, dropped after."""
    name = _unique_name(request)
    yield postgres.create_database(name)
    postgres.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path):
    """A sqlite:/// URL of a file in the test's tmp_path."""
    return f"sqlite:///{tmp_path / 'pizzeria.db'}"


def pytest_collection_modifyitems(items):
    """Mark tests by the servers they use, so `-m "not rabbitmq"` leaves them out."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & {"rabbitmq", "amqp_url"}:
            item.add_marker(pytest.mark.rabbitmq)
        if used & {"postgres", "postgres_url"}:
            item.add_marker(pytest.mark.postgres)
        if used & {"rabbitmq_cluster", "cluster_url"}:  # RabbitMQ too: `-m "not rabbitmq"` skips them
            item.add_marker(pytest.mark.cluster)
            item.add_marker(pytest.mark.rabbitmq)
