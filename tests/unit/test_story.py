"""A visit's story, told from the database alone, on the core's `Bus`: every message of the
history with who handled it and how long it took, the stage before and after, and the retries,
duplicates, failures, replays and waiting deadlines it met; as JSON and as a Mermaid diagram."""

from __future__ import annotations

import json
import time

from test_bus import app_in, bus_of

from pizzeria.bootstrap import NAMES
from pizzeria.messaging.store import failed, inbox
from pizzeria.messaging.testing import FAST_RETRIES
from pizzeria.process_manager import storyboard, views
from pizzeria.process_manager.messages import StartTableService
from pizzeria.process_manager.story import CLIENT, MANAGER, story
from pizzeria.waiter.messages import BillPaid, OrderLine

ORDER = (OrderLine("margherita", 2),)


def visit_story(tmp_path, faults=None, visit_id="visit-1"):
    app = app_in(tmp_path, faults=faults or {})
    with bus_of(app) as bus:
        bus.send(StartTableService("t1", order=ORDER), correlation_id=visit_id)
        bus.run()
    return app, story(app.engine, visit_id)


def test_every_message_of_the_history_is_a_step_handled_by_its_receiver_in_this_process(tmp_path):
    app, told = visit_story(tmp_path)
    history = views.visit(app.engine, "visit-1")["history"]
    assert sorted(step.message_id for step in told.steps) == sorted(entry["message_id"] for entry in history)
    for step in told.steps:
        assert step.handled is not None and step.handled.consumer == step.receiver
        assert step.handled.process == inbox.this_process() and step.handled.attempt == 1
        assert step.handled.started_at <= step.handled.handled_at
        assert step.sent_at is None or step.sent_at <= step.handled.started_at
    assert [step.type for step in told.steps][:3] == ["StartTableService", "GetMenu", "MenuGot"]
    assert (told.steps[0].sender, told.steps[1].sender, told.steps[2].sender) == (CLIENT, MANAGER, "menu")
    assert [step.begins for step in told.steps] == sorted(step.begins for step in told.steps)


def test_the_stages_chain_from_each_message_the_visit_received_to_the_next(tmp_path):
    _app, told = visit_story(tmp_path)
    received = [step for step in told.steps if step.receiver == MANAGER]
    assert received[0].stage_before is None and received[-1].stage_after == "finished"
    assert all(later.stage_before == earlier.stage_after for earlier, later in zip(received, received[1:]))


def test_retries_show_as_the_attempt_that_committed_and_the_error_before_it(tmp_path):
    _app, told = visit_story(tmp_path, faults={"waiter.ShowBill": 3})
    (bill,) = [step for step in told.steps if step.type == "ShowBill"]
    assert bill.handled.attempt == 4  # two tries in a row, a delayed round, two tries again
    assert bill.handled.last_error.startswith("InjectedFault: ShowBill fails its first 3 attempts")
    assert "attempt 4, after InjectedFault" in storyboard.as_text(told)


def test_copies_dropped_by_the_inbox_are_counted_on_the_message_they_copy(tmp_path):
    app = app_in(tmp_path)
    with bus_of(app) as bus:
        start = StartTableService("t1", order=ORDER)
        bus.send(start, correlation_id="visit-1")
        bus.send(start, correlation_id="visit-1")  # a copy in the same batch
        bus.run()
        bus.send(start, correlation_id="visit-1")  # a copy once it was handled
        bus.run()
    (first,) = [step for step in story(app.engine, "visit-1").steps if step.type == "StartTableService"]
    assert first.handled.duplicates == 2


def test_a_message_that_fits_no_stage_is_shown_ignored_at_the_stage_it_met(tmp_path):
    app, _told = visit_story(tmp_path)
    with bus_of(app) as bus:
        bus.send(BillPaid(1), correlation_id="visit-1", message_id="late-payment")
        bus.run()
    (late,) = [step for step in story(app.engine, "visit-1").steps if step.message_id == "late-payment"]
    assert late.ignored and late.stage_before == late.stage_after == "finished"
    assert "BillPaid (ignored)" in storyboard.as_mermaid(story(app.engine, "visit-1"))


def test_a_failure_and_its_replay_are_on_the_step_of_the_message(tmp_path):
    app = app_in(tmp_path, faults={"kitchen.DoPizza": 1000})
    with bus_of(app) as bus:
        bus.send(StartTableService("t1", order=(OrderLine("margherita", 1),)), correlation_id="visit-1")
        bus.run(until=lambda: bool(failed.entries(app.engine)))
    (entry,) = failed.entries(app.engine)
    mended = app_in(tmp_path)
    with bus_of(mended) as bus:
        failed.replay(mended.engine, bus.publish, entry, NAMES, time.time())
        bus.run(until=lambda: views.visit(app.engine, "visit-1")["status"] == "finished")
    told = story(app.engine, "visit-1")
    (pizza,) = [step for step in told.steps if step.type == "DoPizza"]
    (failure,) = pizza.failures
    assert failure.attempts == (1 + FAST_RETRIES.immediate) * (1 + FAST_RETRIES.delayed)
    assert failure.error.startswith("InjectedFault") and failure.replayed_at is not None
    assert pizza.handled.attempt == 1  # the replay's tries start again
    assert f"pizzeria failed show {entry.id}), replayed at" in storyboard.as_text(told)


def test_a_message_waiting_for_its_receiver_and_the_deadline_pending_are_in_the_story(tmp_path):
    app = app_in(tmp_path)
    with bus_of(app, "process_manager") as bus:
        bus.send(StartTableService("t1", order=ORDER), correlation_id="visit-1")
        bus.step()
    told = story(app.engine, "visit-1")
    assert [(step.type, step.handled is None) for step in told.steps] == [("StartTableService", False),
                                                                          ("GetMenu", True)]
    assert [wait.type for wait in told.waiting] == ["Deadline"]
    assert "not handled" in storyboard.as_text(told) and "waiting: Deadline due" in storyboard.as_text(told)


def test_the_json_holds_every_step_with_its_times_and_survives_a_round_trip(tmp_path):
    _app, told = visit_story(tmp_path)
    data = json.loads(json.dumps(storyboard.as_data(told)))
    assert (data["visit_id"], data["status"], data["trace_id"]) == ("visit-1", "finished", told.trace_id)
    assert [step["type"] for step in data["steps"]] == [step.type for step in told.steps]
    assert all(step["handled"]["duration_ms"] >= 0 for step in data["steps"])
    assert data["steps"][0]["handled"]["process"] == inbox.this_process()


def test_the_mermaid_diagram_has_an_arrow_per_message_commands_solid_events_dashed(tmp_path):
    _app, told = visit_story(tmp_path)
    lines = storyboard.as_mermaid(told).splitlines()
    arrows = [line.strip() for line in lines if "->>" in line]
    assert lines[0] == "sequenceDiagram" and len(arrows) == len(told.steps)
    assert arrows[:3] == [f"{CLIENT}->>{MANAGER}: StartTableService", f"{MANAGER}->>menu: GetMenu",
                          f"menu-->>{MANAGER}: MenuGot"]
    assert f"Note over {MANAGER}: finished" in lines[-1]


def test_an_unknown_visit_has_no_story(tmp_path):
    assert story(app_in(tmp_path).engine, "nobody") is None


def test_a_message_published_and_waiting_only_to_be_deleted_is_not_shown_waiting(tmp_path):
    from pizzeria.messaging import Envelope
    from pizzeria.messaging.store import outbox
    from pizzeria.waiter.messages import ThankClient
    app, _told = visit_story(tmp_path)
    with app.engine.begin() as conn:  # as a relay leaves a row it published, before its next sweep
        outbox.add(conn, [(Envelope.wrap(ThankClient(), message_id="m-sent", correlation_id="visit-1"),
                           ThankClient.route)], now=time.time())
    assert story(app.engine, "visit-1").waiting == []
