"""The helpdesk's composition root: its three modules, the engine, broker and endpoints built
from two URLs, its tables, a worker per module, and how an issue is reported from outside."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from pizzeria.messaging import (
    CLASSIC,
    QUORUM,
    Broker,
    Endpoint,
    Envelope,
    FailurePolicy,
    Module,
    Names,
    Publisher,
    Topology,
    Worker,
    build_worker,
    is_amqp,
    make_engine,
    send,
)
from pizzeria.messaging.admin import core_tables

from .backoffice.module import MODULE as BACKOFFICE
from .customer.messages import ReportIssue
from .customer.module import MODULE as CUSTOMER
from .mailer.module import MODULE as MAILER

NAMES = Names("helpdesk")
MODULES = (CUSTOMER, MAILER, BACKOFFICE)
# Quick retries: a message that keeps failing is in the failed store in a fraction of a second.
RETRIES = FailurePolicy(immediate=1, delayed=1, first_delay=0.2)


@dataclass(frozen=True)
class Helpdesk:
    """The built helpdesk: its database engine, its broker and an endpoint per module."""

    engine: Engine
    broker: Broker
    endpoints: dict[str, Endpoint]


def default_urls(data: Path) -> tuple[str, str]:
    """The embedded broker's URL and the database's, SQLite files in `data`."""
    return f"sqlite:///{data / 'broker.sqlite'}", f"sqlite:///{data / 'helpdesk.sqlite'}"


def build(broker_url: str, database_url: str) -> Helpdesk:
    """The helpdesk on this broker and this database; quorum queues on RabbitMQ."""
    consuming = endpoints()
    queue_type = QUORUM if is_amqp(broker_url) else CLASSIC
    topology = Topology.of(NAMES, consuming.values(), queue_type)
    return Helpdesk(make_engine(database_url), Broker(broker_url, topology), consuming)


def endpoints() -> dict[str, Endpoint]:
    """Each module as it consumes, by name."""
    return {module.name: endpoint(module) for module in MODULES}


def endpoint(module: Module) -> Endpoint:
    """The module as it consumes, its handlers built from its settings' defaults."""
    settings = {setting.name: setting.default for setting in module.all_settings}
    return Endpoint(module.name, module.handlers(settings), settings["prefetch"])


def init(helpdesk: Helpdesk) -> None:
    """Create the tables and declare the queues and their bindings; safe to run any number of times."""
    create_tables(helpdesk.engine)
    helpdesk.broker.open().release()


def create_tables(engine: Engine) -> None:
    """Create the core's tables and every module's, those missing, in one transaction (one process at a time on SQLite)."""
    with engine.begin() as conn:
        for metadata in [core_tables, *(module.tables for module in MODULES)]:
            metadata.create_all(conn)


def worker(helpdesk: Helpdesk, name: str) -> Worker:
    """A worker consuming the queue of the module named `name`."""
    return build_worker(helpdesk.broker, helpdesk.engine, [helpdesk.endpoints[name]], RETRIES)


def report(helpdesk: Helpdesk, issue: ReportIssue) -> Envelope:
    """Report the issue from outside, in its own correlation: the issue's id."""
    publisher = Publisher(helpdesk.broker)
    try:
        return send(publisher, issue, correlation_id=issue.issue_id)
    finally:
        publisher.close()
