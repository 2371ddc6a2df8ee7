"""The three-node test cluster: quorum queues span it, and keep confirmed messages when their leader crashes."""

import json
import time
from urllib.parse import urlsplit

from kombu import Connection, Queue

from pizzeria.devtools.servers import wait_until

MESSAGES = 100


def quorum_queue(name: str) -> Queue:
    """A durable quorum queue `name` on the default exchange."""
    return Queue(name, routing_key=name, durable=True, queue_arguments={"x-queue-type": "quorum"})


def connect(url: str) -> Connection:
    """A kombu connection whose publishes wait for the broker's confirm."""
    return Connection(url, transport_options={"confirm_publish": True}, connect_timeout=10)


def running_nodes(cluster) -> list[str]:
    """The names of the nodes the cluster says are running, sorted."""
    return sorted(json.loads(cluster.ctl("cluster_status", "--formatter", "json"))["running_nodes"])


def queue_status(cluster, url: str, name: str) -> dict:
    """The cluster's `leader` and `members` of queue `name` in the vhost of `url`."""
    vhost = urlsplit(url.split(";")[0]).path[1:]
    rows = json.loads(cluster.ctl("list_queues", "--vhost", vhost, "name", "leader", "members", "--formatter", "json"))
    return next(row for row in rows if row["name"] == name)


def publish_persistent(url: str, queue: Queue, count: int) -> None:
    """Declare `queue` and publish `count` persistent messages to it, each confirmed."""
    with connect(url) as connection:
        producer = connection.Producer()
        for number in range(count):
            producer.publish({"number": number}, routing_key=queue.routing_key, declare=[queue],
                             serializer="json", delivery_mode="persistent")


def consume_all(url: str, queue: Queue, count: int, timeout: float = 30.0) -> list[int]:
    """Ack and return the numbers of `count` messages from `queue`; TimeoutError after `timeout` s."""
    numbers: list[int] = []
    with connect(url) as connection:

        def take(body, message):
            message.ack()
            numbers.append(body["number"])

        with connection.Consumer(queue, accept=["json"], callbacks=[take], prefetch_count=count):
            deadline = time.monotonic() + timeout
            while len(numbers) < count:  # drain_events raises TimeoutError at the deadline
                connection.drain_events(timeout=max(0.01, deadline - time.monotonic()))
    return numbers


def test_the_cluster_runs_three_nodes(rabbitmq_cluster):
    assert running_nodes(rabbitmq_cluster) == sorted(node.node for node in rabbitmq_cluster.nodes)


def test_a_quorum_queue_declared_through_one_node_has_a_member_on_every_node(rabbitmq_cluster, cluster_url):
    queue = quorum_queue("orders.quorum")
    with connect(cluster_url.split(";")[1]) as connection:
        queue(connection.default_channel).declare()

    members = queue_status(rabbitmq_cluster, cluster_url, queue.name)["members"]

    assert sorted(members) == sorted(node.node for node in rabbitmq_cluster.nodes)


def test_confirmed_messages_survive_a_crash_of_the_quorum_queue_leader(rabbitmq_cluster, cluster_url):
    queue = quorum_queue("orders.quorum")
    publish_persistent(cluster_url, queue, MESSAGES)
    leader_name = queue_status(rabbitmq_cluster, cluster_url, queue.name)["leader"]
    leader = next(node for node in rabbitmq_cluster.nodes if node.node == leader_name)
    survivor_url = next(url for node, url in zip(rabbitmq_cluster.nodes, cluster_url.split(";")) if node is not leader)

    leader.kill()

    assert sorted(consume_all(survivor_url, queue, MESSAGES)) == list(range(MESSAGES))
    leader.start()
    all_nodes = sorted(node.node for node in rabbitmq_cluster.nodes)
    wait_until(lambda: running_nodes(rabbitmq_cluster) == all_nodes, 30, "the restarted node to rejoin the cluster")
