"""Fixtures of the helpdesk's tests: a database with the helpdesk's tables and the core's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from examples.helpdesk.app import create_tables
from pizzeria.messaging import make_engine


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:
    """A SQLite file with every table of the helpdesk and of the core."""
    engine = make_engine(f"sqlite:///{tmp_path / 'helpdesk.sqlite'}")
    create_tables(engine)
    yield engine
    engine.dispose()
