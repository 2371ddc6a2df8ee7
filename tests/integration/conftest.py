"""Integration fixtures: our own store on each database we support."""

import pytest

from pizzeria.bootstrap import create_tables
from pizzeria.messaging.store.engine import make_engine


@pytest.fixture(params=["sqlite_url", "postgres_url"])
def engine(request):
    """An engine with every table created, on SQLite, then on PostgreSQL."""
    engine = make_engine(request.getfixturevalue(request.param))
    create_tables(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url):
    """An engine on a SQLite file with every table created."""
    engine = make_engine(sqlite_url)
    create_tables(engine)
    yield engine
    engine.dispose()
