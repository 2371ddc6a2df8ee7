"""A private three-node RabbitMQ cluster for the tests, made of servers.RabbitMQ nodes.

    with RabbitMQCluster() as cluster:     # starts and joins the nodes; close() on exit
        url = cluster.add_vhost("t1")      # amqp://...:P1/t1;amqp://...:P2/t1;amqp://...:P3/t1
        cluster.nodes[0].kill()            # a crash; the other two carry on
        cluster.nodes[0].start()           # back on the same data, and in the cluster again

The nodes share one Erlang cookie (the same .erlang.cookie in each node's HOME)
and one private epmd. A quorum queue gets a member on each of the three nodes:
that is RabbitMQ's default initial size (the `quorum_cluster_size` setting, 3;
rabbitmq.conf has no key for it in 3.10). On a partition, pause_minority pauses
the side with fewer than half of the nodes (https://www.rabbitmq.com/partitions.html).
"""

import secrets
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Self

from pizzeria.devtools.servers import RabbitMQ, free_ports

NODE_COUNT = 3
JOIN_ATTEMPTS = 3
CLUSTER_CONF = "cluster_partition_handling = pause_minority\n"


def on_each(action: Callable[["ClusterNode"], None], nodes: Iterable["ClusterNode"]) -> None:
    """Run `action` on every node at once, in threads; re-raise the first failure."""
    nodes = list(nodes)
    if nodes:
        with ThreadPoolExecutor(len(nodes)) as pool:
            list(pool.map(action, nodes))


class ClusterNode(RabbitMQ):
    """One node of a RabbitMQCluster: a RabbitMQ with the cluster's settings and cookie."""

    def __init__(self, name: str, ports: tuple[int, int, int], cookie: str) -> None:
        super().__init__(name, ports)
        with open(self.dir / "rabbitmq.conf", "a") as conf:
            conf.write(CLUSTER_CONF)
        cookie_file = self.dir / ".erlang.cookie"
        cookie_file.write_text(cookie)
        cookie_file.chmod(0o400)  # Erlang refuses a cookie others can read

    @property
    def running(self) -> bool:
        """True while the node's process runs (between start() and stop() or kill())."""
        return self.process is not None

    def join(self, first: "ClusterNode") -> None:
        """Make this fresh, started node a member of the cluster that `first` is in. Mnesia
        sometimes fails to start right after a join; the join is tried again, up to 3 times."""
        for attempt in range(1, JOIN_ATTEMPTS + 1):
            try:
                self.ctl("stop_app")
                self.ctl("join_cluster", first.node)  # nothing to do when it joined already
                self.ctl("start_app")
                return
            except RuntimeError:
                if attempt == JOIN_ATTEMPTS:
                    raise


class RabbitMQCluster:
    """Three private RabbitMQ nodes clustered on 127.0.0.1, sharing one cookie and one epmd."""

    def __init__(self) -> None:
        epmd_port, *ports = free_ports(1 + 2 * NODE_COUNT)
        amqp_ports, dist_ports = ports[:NODE_COUNT], ports[NODE_COUNT:]
        cookie = secrets.token_hex(20).upper()
        self.nodes = [
            ClusterNode(f"pizzeria-c{epmd_port}-{number}", (amqp_port, dist_port, epmd_port), cookie)
            for number, amqp_port, dist_port in zip(range(1, NODE_COUNT + 1), amqp_ports, dist_ports)
        ]
        self._formed = False

    @property
    def url(self) -> str:
        """Every node's AMQP URL of the default vhost, joined by ";" (kombu's failover form)."""
        return ";".join(node.url for node in self.nodes)

    def start(self) -> None:
        """Start the nodes that are down, all at once; the first time, join nodes 2 and 3 to node 1,
        one after the other: two nodes joining at once can fail to start Mnesia."""
        on_each(ClusterNode.start, (node for node in self.nodes if not node.running))
        if not self._formed:
            first, *others = self.nodes
            for node in others:
                node.join(first)
            self._formed = True

    def close(self) -> None:
        """Kill every node (their data goes anyway), stop the epmd and delete the directories."""
        on_each(ClusterNode.kill, self.nodes)
        for node in self.nodes:
            node.close()

    def ctl(self, *args: str) -> str:
        """Run `rabbitmqctl ARGS` against the first running node; return its output."""
        return self._running().ctl(*args)

    def add_vhost(self, name: str) -> str:
        """Create vhost `name`, let guest use it, and return its URL on every node, joined by ";"."""
        self._running().add_vhost(name)
        return ";".join(node.url + name for node in self.nodes)

    def delete_vhost(self, name: str) -> None:
        """Delete vhost `name` with its queues and exchanges, on the whole cluster."""
        self._running().delete_vhost(name)

    def _running(self) -> ClusterNode:
        """The first node that runs: any of them speaks for the cluster."""
        for node in self.nodes:
            if node.running:
                return node
        raise RuntimeError("no node of the cluster is running")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
