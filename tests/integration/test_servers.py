"""The test servers work: RabbitMQ keeps durable messages across a restart; databases hold tables."""

import time

from kombu import Connection, Exchange, Queue
from sqlalchemy import create_engine, text

EXCHANGE = Exchange("pizzeria.test", type="topic", durable=True)
QUEUE = Queue("kitchen.test", EXCHANGE, routing_key="kitchen.command.*", durable=True)


def connect(url: str) -> Connection:
    """A kombu connection whose publishes wait for the broker's confirm."""
    return Connection(url, transport_options={"confirm_publish": True}, connect_timeout=10)


def publish(url: str, body: dict) -> None:
    """Publish `body` as a persistent JSON message, declaring the exchange and queue."""
    with connect(url) as connection:
        connection.Producer().publish(
            body, exchange=EXCHANGE, routing_key="kitchen.command.DoPizza",
            declare=[QUEUE], serializer="json", delivery_mode="persistent", retry=True,
        )


def receive_one(url: str, timeout: float = 10.0):
    """Wait at most `timeout` s for one message on QUEUE; ack and return it."""
    received = []
    with connect(url) as connection:

        def take(body, message):
            message.ack()
            received.append(message)

        with connection.Consumer(QUEUE, accept=["json"], callbacks=[take], prefetch_count=1):
            deadline = time.monotonic() + timeout
            while not received:  # drain_events raises TimeoutError at the deadline
                connection.drain_events(timeout=max(0.01, deadline - time.monotonic()))
    return received[0]


def test_a_persistent_message_published_on_a_fresh_vhost_is_consumed(amqp_url):
    publish(amqp_url, {"pizza": "margherita"})

    message = receive_one(amqp_url)

    assert message.payload == {"pizza": "margherita"}
    assert message.properties["delivery_mode"] == 2


def test_a_persistent_message_on_a_durable_queue_survives_a_broker_restart(rabbitmq, amqp_url):
    publish(amqp_url, {"pizza": "diavola"})

    rabbitmq.stop()
    rabbitmq.start()

    assert receive_one(amqp_url).payload == {"pizza": "diavola"}


def read_back_a_table(url: str) -> list:
    """Create a table, insert two rows, and read them back in a new connection."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE pizzas (name TEXT PRIMARY KEY, price INTEGER NOT NULL)"))
            connection.execute(
                text("INSERT INTO pizzas (name, price) VALUES (:name, :price)"),
                [{"name": "margherita", "price": 900}, {"name": "diavola", "price": 1100}],
            )
        with engine.connect() as connection:
            return connection.execute(text("SELECT name, price FROM pizzas ORDER BY name")).all()
    finally:
        engine.dispose()


def test_a_table_created_in_a_fresh_postgres_database_reads_back(postgres_url):
    assert postgres_url.startswith("postgresql+psycopg://")
    assert read_back_a_table(postgres_url) == [("diavola", 1100), ("margherita", 900)]


def test_a_table_created_in_a_fresh_sqlite_file_reads_back(sqlite_url):
    assert read_back_a_table(sqlite_url) == [("diavola", 1100), ("margherita", 900)]
