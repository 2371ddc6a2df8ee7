"""The admin facade on each database: the failed store listed by what its entries hold, grouped,
replayed and deleted; the consumer processes by their heartbeats; what the inbox and the outbox
hold of a conversation; every table of the core to create. The rows are written as the core
writes them."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, inspect

from pizzeria.kitchen.messages import DoPizza
from pizzeria.messaging import Envelope, Names, Outgoing, admin, make_engine
from pizzeria.messaging.store import failed, heartbeats, inbox, outbox
from pizzeria.messaging.store.tables import inbox as inbox_table

NAMES = Names("shop")
NOW = 1_000_000.0
BAKE, BILL = "kitchen.command.DoPizza", "waiter.command.ShowBill"


def fail(engine, queue: str, type: str, error: Exception, correlation_id: str, message_id: str | None = None) -> int:
    headers = {"type": type, "correlation_id": correlation_id} | ({"message_id": message_id} if message_id else {})
    entry = failed.Entry(queue, f"body of {message_id}".encode(), headers, "application/json", error, None, attempts=3)
    return failed.store(engine, entry, NAMES, NOW)


def pizza(message_id: str, correlation_id: str) -> Envelope:
    return Envelope.wrap(DoPizza(message_id, "margherita"), message_id=message_id, correlation_id=correlation_id)


@pytest.fixture
def store(engine):
    """Three failed entries, the first of them replayed since: two pizzas of one group, a bill of another."""
    ids = [fail(engine, "shop.kitchen", "DoPizza", RuntimeError("cold oven"), "visit-1", "m-1"),
           fail(engine, "shop.kitchen", "DoPizza", RuntimeError("cold oven"), "visit-2", "m-2"),
           fail(engine, "shop.waiter", "ShowBill", ValueError("no bill"), "visit-1", "m-3")]
    (first,) = admin.failed_entries(engine, ids[:1])
    admin.replay_failed(engine, lambda _message: None, first, NAMES, NOW + 1)
    return ids


def test_the_failed_entries_are_listed_oldest_first_by_id_queue_type_error_conversation_and_status(engine, store):
    first, second, third = store

    def listed(ids=None, **wanted) -> list[int]:
        return [entry.id for entry in admin.failed_entries(engine, ids, **wanted)]

    assert listed() == [first, second, third]
    assert listed([third, first]) == [first, third]
    assert (listed(queue="shop.kitchen"), listed(type="ShowBill"), listed(error_type="RuntimeError")) == (
        [first, second], [third], [first, second])
    assert listed(correlation_id="visit-1") == [first, third]
    assert (listed(status=admin.FAILED), listed(status=admin.REPLAYED), listed(status="lost")) == (
        [second, third], [first], [])
    assert listed([first, second], status=admin.FAILED, queue="shop.kitchen", type=None) == [second]


def test_the_groups_count_what_was_not_replayed_the_largest_first_and_add_up_by_queue(engine, store):
    fail(engine, "shop.waiter", "ShowBill", ValueError("no bill"), "visit-3", "m-4")
    assert admin.failed_groups(engine) == [
        {"queue": "shop.waiter", "type": "ShowBill", "error_type": "ValueError", "count": 2},
        {"queue": "shop.kitchen", "type": "DoPizza", "error_type": "RuntimeError", "count": 1}]
    assert admin.failed_by_queue(engine) == {"shop.waiter": 2, "shop.kitchen": 1}


def test_a_replay_sends_the_message_to_its_queue_as_it_came_and_marks_the_entry_replayed(engine, store):
    (entry,) = admin.failed_entries(engine, store[1:2])
    sent: list[Outgoing] = []
    admin.replay_failed(engine, sent.append, entry, NAMES, NOW + 2)
    (message,) = sent
    assert (message.routing_key, message.exchange, message.body) == ("shop.kitchen", "", entry.body)
    assert message.headers[NAMES.header("replayed")] == entry.id
    (replayed,) = admin.failed_entries(engine, [entry.id])
    assert (admin.failed_status(entry), admin.failed_status(replayed)) == (admin.FAILED, admin.REPLAYED)


def test_an_entry_took_effect_once_its_consumer_s_inbox_shows_its_message_handled(engine):
    handled = fail(engine, "shop.kitchen", "DoPizza", RuntimeError("cold oven"), "visit-1", "m-1")
    elsewhere = fail(engine, "shop.kitchen", "DoPizza", RuntimeError("cold oven"), "visit-1", "m-2")
    nameless = fail(engine, "shop.kitchen", "DoPizza", RuntimeError("cold oven"), "visit-1")
    with engine.begin() as conn:
        conn.execute(insert(inbox.inbox), inbox.rows("kitchen", "host:1", [inbox.Handling("m-1", NOW, 1)], NOW))
        conn.execute(insert(inbox.inbox), inbox.rows("waiter", "host:1", [inbox.Handling("m-2", NOW, 1)], NOW))
    entries = admin.failed_entries(engine, [handled, elsewhere, nameless])
    assert [admin.took_effect(engine, entry, NAMES) for entry in entries] == [True, False, False]


def test_deleting_forgets_the_entries_named_and_only_them(engine, store):
    admin.delete_failed(engine, [store[0], store[2]])
    assert [entry.id for entry in admin.failed_entries(engine)] == [store[1]]
    admin.delete_failed(engine, [])
    assert len(admin.failed_entries(engine)) == 1


def test_an_entry_is_summed_up_and_shown_whole_in_the_core_s_words_its_conversation_a_correlation_id(engine, store):
    entry, *_ = admin.failed_entries(engine, store[1:2])
    summary, details = admin.failed_summary(entry), admin.failed_details(entry)
    assert {key: summary[key] for key in ("status", "queue", "type", "correlation_id", "error", "attempts")} == {
        "status": "failed", "queue": "shop.kitchen", "type": "DoPizza", "correlation_id": "visit-2",
        "error": "RuntimeError: cold oven", "attempts": 3}
    assert "visit_id" not in details and details.items() >= summary.items()
    assert (details["message_id"], details["body"], details["headers"]["correlation_id"]) == ("m-2", "body of m-2", "visit-2")


def test_the_consumer_processes_are_shown_alive_gone_or_stopped_the_latest_seen_first(engine):
    heartbeats.beat(engine, "oven:1", ["shop.kitchen"], NOW - 60, 5, NOW)
    heartbeats.beat(engine, "till:2", ["shop.waiter", "shop.menu"], NOW - 60, 7, NOW - 100)
    heartbeats.beat(engine, "door:3", ["shop.process_manager"], NOW - 60, 0, NOW - 10)
    heartbeats.stop(engine, "door:3", 9, NOW - 5)
    processes = admin.consumer_processes(engine, NOW)
    assert [(p["host"], p["pid"], p["queues"], p["handled"], p["status"]) for p in processes] == [
        ("oven", 1, ["shop.kitchen"], 5, admin.ALIVE), ("door", 3, ["shop.process_manager"], 9, admin.STOPPED),
        ("till", 2, ["shop.waiter", "shop.menu"], 7, admin.GONE)]


def test_the_inbox_tells_how_much_each_consumer_handled_and_who_handled_which_message(engine):
    with engine.begin() as conn:
        conn.execute(insert(inbox.inbox), inbox.rows(
            "kitchen", "oven:1", [inbox.Handling(message_id, NOW - 1, 2, "cold oven") for message_id in ("m-1", "m-2")], NOW))
        conn.execute(insert(inbox.inbox), inbox.rows("waiter", "till:2", [inbox.Handling("m-1", NOW - 1, 1)], NOW))
    assert admin.handled_counts(engine) == {"kitchen": 2, "waiter": 1}
    (row,) = admin.inbox_rows(engine, ["kitchen", "menu"], ["m-1", "m-3"])
    assert (row.consumer, row.message_id, row.process, row.attempt, row.last_error, row.handled_at) == (
        "kitchen", "m-1", "oven:1", 2, "cold oven", NOW)
    assert admin.inbox_rows(engine, [], ["m-1"]) == []


def test_the_outbox_shows_its_lag_and_what_waits_in_it_of_a_conversation(engine):
    with engine.begin() as conn:
        conn.execute(insert(outbox.outbox), outbox.to_send_later([(pizza("due", "visit-1"), BAKE, 0.0)], NOW - 5))
        conn.execute(insert(outbox.outbox), outbox.to_send([(pizza("claimed", "visit-1"), BAKE)], NOW - 1))
        conn.execute(insert(outbox.outbox), outbox.to_send_later(
            [(pizza("later", "visit-1"), BILL, 60.0), (pizza("another", "visit-10"), BILL, 30.0)], NOW))
    assert admin.outbox_lag(engine, NOW) == {"pending": 1, "oldest_seconds": 5.0, "delayed": 2}
    assert admin.waiting_in_outbox(engine, "visit-1") == [("DoPizza", NOW - 5), ("DoPizza", NOW + 60)]
    assert admin.waiting_in_outbox(engine, "visit-2") == []
    assert (admin.conversations_waiting(engine, BILL), admin.conversations_waiting(engine, BAKE)) == (
        {"visit-1", "visit-10"}, {"visit-1"})


def test_the_core_tables_are_every_table_of_the_core_and_all_it_creates(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/fresh.sqlite")
    admin.core_tables.create_all(engine)
    assert set(inspect(engine).get_table_names()) == set(admin.core_tables.tables) == {
        "inbox", "replies", "redelivered_starts", "outbox", "failed_messages", "heartbeats", "alerts",
        "breaker_changes", "failed_edits"}
    engine.dispose()


def test_each_conversation_has_a_trace_of_its_own_and_passwords_are_hidden():
    trace = admin.conversation_trace_id("visit-1")
    assert len(trace) == 32 and int(trace, 16) and trace != admin.conversation_trace_id("visit-2")
    assert admin.hide_password("postgresql://pizza:secret@db/house") == "postgresql://pizza:***@db/house"
    assert admin.hide_url_passwords("amqp://a:b@one;amqp://c:d@two") == "amqp://a:***@one;amqp://c:***@two"


def test_the_handled_messages_are_counted_per_step_and_timed_by_the_database(engine):
    rows = [{"consumer": consumer, "message_id": f"m-{n}", "handled_at": NOW + at, "started_at": NOW + at - took}
            for n, (consumer, at, took) in enumerate([("menu", 0.0, 0.001), ("menu", 9.9, 0.002),
                                                       ("menu", 10.0, 0.003), ("kitchen", 29.6, 0.5)])]
    rows.append({"consumer": "menu", "message_id": "m-old", "handled_at": NOW - 1, "started_at": None})
    with engine.begin() as conn:
        conn.execute(insert(inbox_table), rows)
    assert admin.handled_per_step(engine, NOW, 10) == {("menu", 0): 2, ("menu", 1): 1, ("kitchen", 2): 1}
    latest = admin.handling_times(engine, NOW - 5, limit=3)  # the latest three: m-0 left out, m-old too old
    assert sorted((consumer, round(took, 6)) for consumer, took in latest) == [
        ("kitchen", 0.5), ("menu", 0.002), ("menu", 0.003)]
