"""Edit and retry on RabbitMQ and PostgreSQL: a visit's start whose order does not fit its
contract lands in the failed store; edited with `pizzeria failed edit`, replayed with `pizzeria
failed replay`, it is handled under its own message id and its visit finishes as edited, while
the entry keeps the original body and the edit records that a replay sent it."""

from __future__ import annotations

import json

from polling import wait_until
from sqlalchemy import create_engine, select

from pizzeria.messaging import Envelope
from pizzeria.messaging.store.tables import failed_edits, failed_messages, inbox
from pizzeria.modules import names
from pizzeria.process_manager.messages import StartTableService
from pizzeria.process_manager.repository import history

VISIT, MESSAGE = "visit-edited", "start-of-visit-edited"
ORDER = [{"pizza": "margherita", "quantity": "2"}]  # a quantity as text: the contract wants a number


def publish_start(pizzeria) -> None:
    """Publish, as a client with a bug would, a StartTableService whose quantity is a string."""
    envelope = Envelope(MESSAGE, "StartTableService", VISIT, None, "2026-01-01T00:00:00+00:00",
                        {"table_id": "TBL1", "order": ORDER})
    pizzeria.publish(envelope, StartTableService.route)


def failed_list(pizzeria) -> list[dict]:
    return json.loads(pizzeria.run("failed", "list", "--json").stdout)


def test_an_edited_message_replayed_is_handled_under_its_own_id_and_its_visit_finishes(on_rabbitmq):
    for queue in names():
        on_rabbitmq.consume(queue)
    publish_start(on_rabbitmq)
    (entry,) = wait_until(lambda: failed_list(on_rabbitmq), timeout=60, what="the start to fail")
    assert (entry["type"], entry["error"]) == (
        "StartTableService", "InvalidPayload: StartTableService.order[0].quantity: expected int, got str")
    refused = on_rabbitmq.run("failed", "edit", str(entry["id"]), "--set", "order.0.quantity=zero")
    assert (refused.returncode, refused.stderr.strip()) == (
        1, "error: edit refused: order.0.quantity: StartTableService.order[0].quantity: expected int, got str")
    edited = on_rabbitmq.run("failed", "edit", str(entry["id"]), "--set", "order.0.quantity=2")
    assert edited.returncode == 0, edited.stderr
    replayed = on_rabbitmq.run("failed", "replay", str(entry["id"]))
    assert replayed.returncode == 0, replayed.stderr
    report = wait_until(lambda: (r := json.loads(on_rabbitmq.run("status", "TBL1", "--json").stdout))["status"]
                        == "finished" and r, timeout=90, what="the edited visit to finish")
    assert (report["visit_id"], report["order"]) == (VISIT, [{"pizza": "margherita", "quantity": 2}])

    engine = create_engine(on_rabbitmq.env["PIZZERIA_DATABASE_URL"])
    with engine.connect() as conn:
        kept = conn.execute(select(failed_messages)).one()
        edit = conn.execute(select(failed_edits)).one()
        handled = conn.execute(select(inbox.c.message_id).where(inbox.c.consumer == "process_manager",
                                                                 inbox.c.message_id == MESSAGE)).all()
        started = conn.execute(select(history.c.message_id).where(history.c.visit_id == VISIT,
                                                                   history.c.type == "StartTableService")).all()
    engine.dispose()
    assert json.loads(kept.body)["payload"]["order"] == ORDER  # the original, as it came
    assert (kept.message_id, kept.replayed_at is not None) == (MESSAGE, True)
    assert (edit.failed_id, edit.replayed_at is not None, json.loads(edit.changes)) == (
        kept.id, True, {"order.0.quantity": 2})
    assert (handled, started) == ([(MESSAGE,)], [(MESSAGE,)])
    assert on_rabbitmq.stop_consumers() == [0] * len(names())
