"""The HTTP API against the OpenAPI document it serves, as a new user's generated client sees it:
schemathesis runs every phase (the document's examples, the edges of its constraints, fuzzing,
then sequences of calls along the links it infers) with every check on each answer: no server
error; only the statuses, content types, headers and bodies declared; a valid request accepted
and an invalid one refused; the token enforced; an undeclared method a 405 naming the others."""

from __future__ import annotations

import pytest
import schemathesis
from schemathesis import engine
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events
from test_bus import app_in, bus_of

from pizzeria.messaging.store import failed
from pizzeria.process_manager.messages import OrderLine, StartTableService
from pizzeria.web.app import create_app

TOKEN = "s3cret"
PHASES = {"examples", "coverage", "fuzzing", "stateful"}
# An event stream lasts as long as its visit, and an in-process client reads an answer to its end:
# the stream is tested against a real server (tests/e2e/test_web.py).
STREAM = "/api/visits/{visit_id}/events"
CONFIG = {
    "seed": 1,  # with `deterministic`: the same requests on every run
    "generation": {"max-examples": 50, "deterministic": True, "database": "none"},
    "headers": {"Authorization": f"Bearer {TOKEN}"},
}


@pytest.fixture
def house(tmp_path):
    """The application with a visit whose pizza failed for good: a visit going on, a failed message."""
    app = app_in(tmp_path, faults={"kitchen.DoPizza": 1000}, modules={"process_manager": {"step_deadline_seconds": 3600}})
    with bus_of(app) as bus:
        bus.send(StartTableService("T1", order=(OrderLine("margherita", 1),)), correlation_id="visit-1")
        bus.run(until=lambda: bool(failed.entries(app.engine)))
    yield app
    app.engine.dispose()


def test_every_answer_of_the_api_is_one_its_document_declares(house):
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(house, token=TOKEN),
                                            config=SchemathesisConfig.from_dict(CONFIG)).exclude(path=STREAM)
    # The engine the command line runs, every phase in turn (schemathesis.pytest.from_fixture fails on
    # pytest 9.2, which has no Node._nodeid, and a schema at import time would need the app then).
    happened = list(engine.from_schema(schema).execute())
    assert [event for event in happened if isinstance(event, events.NonFatalError | events.FatalError)] == []
    mismatches = _mismatches(happened)
    assert not mismatches, "\n\n".join(mismatches)
    ran = {event.phase.name.value: event.status for event in happened if isinstance(event, events.PhaseFinished)}
    assert {phase: ran[phase] for phase in PHASES} == dict.fromkeys(PHASES, Status.SUCCESS)


def test_without_a_token_the_document_asks_for_none(house):
    document = create_app(house).openapi()
    operations = [operation for path in document["paths"].values() for operation in path.values()]
    assert "securitySchemes" not in document["components"]
    assert not [operation for operation in operations if "security" in operation or "401" in operation["responses"]]


def _mismatches(happened: list) -> list[str]:
    """Each failed check: the phase, the operation, what the check saw, and the requests to repeat it."""
    return [f"{event.phase.value} {event.recorder.label}: {node.name}: {node.failure_info.failure.title}\n"
            f"{node.failure_info.failure.message}\n{node.failure_info.code_sample}"
            for event in happened if isinstance(event, events.ScenarioFinished)
            for nodes in event.recorder.checks.values() for node in nodes if node.failure_info is not None]
