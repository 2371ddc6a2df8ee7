"""The composition root: the one place that builds engines, brokers, handlers and workers."""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from pizzeria.config import QUEUES, Settings
from pizzeria.faults import with_faults
from pizzeria.kitchen import domain as kitchen_domain
from pizzeria.kitchen.handlers import handlers as kitchen_handlers
from pizzeria.menu.handlers import HANDLERS as MENU_HANDLERS
from pizzeria.messaging import db
from pizzeria.messaging.broker import Broker, Publisher
from pizzeria.messaging.consumer import Endpoint, Worker
from pizzeria.messaging.handling import is_outage
from pizzeria.messaging.topology import Topology
from pizzeria.process_manager import repository
from pizzeria.process_manager.handlers import HANDLERS as PM_HANDLERS
from pizzeria.waiter.handlers import HANDLERS as WAITER_HANDLERS

TOPOLOGY = Topology("pizzeria", orchestrator="process_manager", workers=QUEUES[1:])
WAIT_SECONDS = 2.0
log = structlog.get_logger("pizzeria.bootstrap")
# A kitchen's oven holds four pizzas, baked at once: more would wait for a later bake while
# another kitchen might be free.
PREFETCH = {"process_manager": 20, "menu": 20, "waiter": 20, "kitchen": 4}


@dataclass(frozen=True)
class App:
    """The built application: its settings, database engine and broker."""

    settings: Settings
    engine: Engine
    broker: Broker

    def publisher(self) -> Publisher:
        """A new publisher on a connection of its own."""
        return Publisher(self.broker)


def bootstrap(settings: Settings | None = None) -> App:
    """Build the application from `settings` (default: the environment)."""
    settings = settings or Settings.from_env()
    if "sqlite" in settings.broker_url or "sqlite" in settings.database_url:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    return App(settings, db.make_engine(settings.database_url), Broker(settings.broker_url, TOPOLOGY))


def init(app: App, wait: bool = False) -> None:
    """Create the tables and declare the broker topology; safe to run any number of times.
    With `wait`, servers that are down or restarting are waited for instead of failing."""
    while True:
        try:
            create_tables(app.engine)
            app.broker.open().release()
            return
        except (DBAPIError, BrokerError, OSError) as error:
            if not wait or (isinstance(error, DBAPIError) and not is_outage(error)):
                raise
            log.warning("waiting for the database and the broker", error=str(error).splitlines()[0])
            time.sleep(WAIT_SECONDS)


def create_tables(engine: Engine) -> None:
    """Create every table that is missing, one process at a time."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # SQLite's BEGIN IMMEDIATE serialises already
            conn.execute(text("SELECT pg_advisory_xact_lock(7414)"))
        for metadata in (db.metadata, repository.metadata, kitchen_domain.metadata):
            metadata.create_all(conn)


def worker(app: App, queues: list[str]) -> Worker:
    """A worker consuming the named queues."""
    endpoints = [endpoint(app, name) for name in queues]
    return Worker(app.broker, app.engine, endpoints, app.settings.retry, app.settings.max_body_bytes)


def endpoint(app: App, name: str) -> Endpoint:
    """The named queue with its handlers (and any faults asked for), ready to consume."""
    handlers = {"process_manager": PM_HANDLERS, "menu": MENU_HANDLERS, "waiter": WAITER_HANDLERS,
                "kitchen": kitchen_handlers(app.settings.bake_seconds)}[name]
    return Endpoint(name, TOPOLOGY.queues[name], with_faults(name, handlers, app.settings.faults),
                    PREFETCH[name])
