"""A process consuming queues of a broker with kombu alone, for the transports' contract tests.

    python transport_client.py URL LOG MODE PREFETCH QUEUE...

MODE is `ack` (ack each message) or `hold` (never ack). Each message received is logged to LOG
as a JSON line: its queue and number (from its body), whether it was redelivered, the pid."""

import json
import os
import sys

from kombu import Connection, Consumer, Exchange, Queue

import pizzeria.messaging  # noqa: F401 (registers sqlite://, the embedded broker)

EXCHANGE = Exchange("contract", type="topic", durable=True)


def queue(name: str) -> Queue:
    """A queue of the contract tests, bound to `<name>.#`."""
    return Queue(f"contract.{name}", EXCHANGE, routing_key=f"{name}.#", durable=True)


def main(url: str, log_path: str, mode: str, prefetch: int, names: list[str]) -> None:
    with Connection(url) as connection, open(log_path, "a", buffering=1) as log:
        def received(body, message):
            log.write(json.dumps({**body, "redelivered": bool(message.delivery_info.get("redelivered")),
                                  "pid": os.getpid()}) + "\n")
            if mode == "ack":
                message.ack()

        with Consumer(connection.channel(), [queue(name) for name in names], callbacks=[received],
                      prefetch_count=prefetch, accept=["json"]):
            while True:
                try:
                    connection.drain_events(timeout=1)
                except TimeoutError:
                    pass


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:])
