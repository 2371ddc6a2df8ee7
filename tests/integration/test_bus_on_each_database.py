"""The core's `Bus` on each database we support: a whole visit, and one whose menu never answers,
where the bus's clock has to jump to each deadline the outbox keeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pizzeria import bootstrap
from pizzeria.bootstrap import NAMES, App
from pizzeria.config import Settings
from pizzeria.messaging.testing import Bus
from pizzeria.process_manager import saga, views
from pizzeria.process_manager.messages import OrderLine, StartTableService

ORDER = (OrderLine("margherita", 1),)


@pytest.fixture(params=["sqlite_url", "postgres_url"])
def app(request, tmp_path) -> Iterator[App]:
    """The application on memory:// and a fresh database, SQLite then PostgreSQL."""
    app = bootstrap.bootstrap(Settings("memory://", request.getfixturevalue(request.param), tmp_path,
                                       modules={"kitchen": {"bake_seconds": 0}}))
    bootstrap.create_tables(app.engine)
    yield app
    app.engine.dispose()


def test_a_visit_runs_on_the_bus_until_the_client_is_thanked(app):
    with Bus(list(app.endpoints.values()), app.engine, NAMES) as bus:
        bus.send(StartTableService("t1", order=ORDER), correlation_id="visit-1")
        bus.run()
    assert views.visit(app.engine, "visit-1")["status"] == "finished"


def test_the_bus_jumps_to_each_deadline_until_a_visit_without_a_menu_is_cancelled(app):
    with Bus([app.endpoints["process_manager"]], app.engine, NAMES) as bus:
        bus.send(StartTableService("t1", order=ORDER), correlation_id="visit-1")
        bus.run()
        sent = [envelope.type for envelope in bus.seen if envelope.type == "GetMenu"]
    report = views.visit(app.engine, "visit-1")
    assert (report["status"], report["reason"]) == ("cancelled", "no answer to awaiting_menu after 3 re-sends")
    assert len(sent) == 1 + saga.TIMING.resends
