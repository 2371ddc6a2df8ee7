"""The simulator's broker: topic routing as RabbitMQ does it, and unacked deliveries that come
back flagged redelivered when their connection is lost."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pizzeria.messaging import Names, Outgoing, Topology
from pizzeria.messaging.simulation import ConnectionLost, SimBroker, topic_matches

words = st.lists(st.text("abc", min_size=1, max_size=3), min_size=1, max_size=4)


@given(words)
def test_a_key_matches_itself_and_hash_matches_any_key(key):
    assert topic_matches(".".join(key), ".".join(key))
    assert topic_matches("#", ".".join(key))


@given(words, words)
def test_a_star_stands_for_exactly_one_word(key, other):
    assert topic_matches(".".join("*" for _ in key), ".".join(key))
    assert topic_matches(".".join("*" for _ in key), ".".join(other)) == (len(key) == len(other))


@pytest.mark.parametrize(("pattern", "key", "matches"), [
    ("kitchen.command.*", "kitchen.command.DoPizza", True),
    ("*.event.*", "kitchen.event.PizzaDone", True),
    ("*.event.*", "kitchen.command.DoPizza", False),
    ("kitchen.#", "kitchen", True),
    ("#.Done", "a.b.Done", True),
])
def test_topic_patterns(pattern, key, matches):
    assert topic_matches(pattern, key) is matches


def broker() -> SimBroker:
    topology = Topology(Names("shop"), {"kitchen": ["kitchen.command.*"], "books": ["*.event.*"]})
    return SimBroker(topology, routed=lambda _message: None)


def test_a_message_goes_to_every_bound_queue_or_straight_to_one():
    shop = broker()
    shop.route(Outgoing("kitchen.event.Done", b"{}", {}))
    shop.route(Outgoing("shop.kitchen", b"{}", {}, exchange=""))
    shop.route(Outgoing("nobody.listens", b"{}", {}))
    assert [len(shop.ready[queue]) for queue in ("shop.kitchen", "shop.books")] == [1, 1]
    assert [message.routing_key for message in shop.unroutable] == ["nobody.listens"]


def test_a_lost_connection_brings_back_its_unacked_deliveries_redelivered_and_refuses_their_ack():
    shop = broker()
    shop.route(Outgoing("kitchen.command.Bake", b"{}", {}))
    delivery = shop.deliver("kitchen", "shop.kitchen", 0)
    assert not delivery.redelivered and shop.waiting() == 1
    shop.disconnect("kitchen")
    with pytest.raises(ConnectionLost):
        delivery.ack()
    again = shop.deliver("kitchen", "shop.kitchen", 0)
    assert again.redelivered
    again.ack()
    assert shop.waiting() == 0
