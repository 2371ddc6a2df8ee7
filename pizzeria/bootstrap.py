"""The composition root: the one place that builds engines, brokers, endpoints and workers."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import structlog
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import Connection, Engine, Table, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateColumn

from pizzeria import modules
from pizzeria.config import Settings
from pizzeria.faults import with_faults
from pizzeria.messaging import (
    ARRIVALS_PREFETCH,
    CLASSIC,
    SYSTEM,
    Broker,
    Crew,
    Endpoint,
    Middleware,
    Module,
    Names,
    Publisher,
    Purging,
    Retention,
    Topology,
    Worker,
    build_crew,
    build_worker,
    failed_retention,
    is_amqp,
    is_outage,
    make_engine,
)
from pizzeria.messaging.admin import core_tables
from pizzeria.process_manager.retention import visit_retention

NAMES = Names("pizzeria")
WAIT_SECONDS = 2.0
DAY = 86400.0
log = structlog.get_logger("pizzeria.bootstrap")


@dataclass(frozen=True)
class App:
    """The built application: its settings, database engine, broker and endpoints."""

    settings: Settings
    engine: Engine
    broker: Broker
    endpoints: dict[str, Endpoint]

    def publisher(self) -> Publisher:
        """A new publisher on a connection of its own."""
        return Publisher(self.broker)


def bootstrap(settings: Settings | None = None) -> App:
    """Build the application from `settings` (default: the environment)."""
    settings = settings or Settings.from_env()
    if "sqlite" in settings.broker_url or "sqlite" in settings.database_url:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    endpoints = {module.name: endpoint(module, settings) for module in modules.declarations()}
    queue_type = settings.queue_type if is_amqp(settings.broker_url) else CLASSIC
    topology = Topology.of(NAMES, endpoints.values(), queue_type)
    broker = Broker(settings.broker_url, topology, heartbeat=settings.heartbeat_seconds)
    return App(settings, make_engine(settings.database_url), broker, endpoints)


def endpoint(module: Module, settings: Settings) -> Endpoint:
    """The module's queue with its handlers, built from its settings (and any faults asked for), ready to consume."""
    values = settings.modules[module.name]
    handlers = with_faults(module.name, module.handlers(values), settings.faults)
    return Endpoint(module.name, handlers, values["prefetch"], values["concurrency"],
                    values.get("arrivals_prefetch", ARRIVALS_PREFETCH))


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
    """Create every table that is missing, the core's and each module's, one process at a time.
    Its statements (the catalog's reflection, the DDL) are not cached: they are not needed again."""
    with engine.begin() as conn:
        conn.execution_options(compiled_cache=None)
        if conn.dialect.name == "postgresql":  # SQLite's BEGIN IMMEDIATE serialises already
            conn.execute(text("SELECT pg_advisory_xact_lock(7414)"))
        for metadata in [core_tables, *(module.tables for module in modules.declarations())]:
            metadata.create_all(conn)
            for table in metadata.tables.values():
                _add_what_is_new(conn, table)


def _add_what_is_new(conn: Connection, table: Table) -> None:
    """Add the columns (nullable ones) and indexes a table gained since it was made."""
    known = {column["name"] for column in inspect(conn).get_columns(table.name)}
    for column in table.columns:
        if column.name not in known and column.nullable:
            conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {CreateColumn(column).compile(dialect=conn.dialect)}"))
    for index in table.indexes:
        index.create(conn, checkfirst=True)


def worker(app: App, queues: list[str], middlewares: Sequence[Middleware] = ()) -> Worker:
    """A worker consuming the named queues, with the purge of what they keep past its retention
    and then `middlewares` after the standard ones."""
    return _worker(app, [app.endpoints[name] for name in queues], [purging(app, queues), *middlewares])


def crew(app: App, queues: list[str], first_only: Sequence[Middleware] = ()) -> Crew:
    """The workers of a process consuming the named queues, as many for each as its concurrency
    setting says; the purge and `first_only` middlewares (alerting, say) on the first alone."""
    return build_crew([app.endpoints[name] for name in queues],
                      lambda endpoints, process: _worker(app, endpoints, process=process),
                      [purging(app, queues), *first_only])


def _worker(app: App, endpoints: list[Endpoint], middlewares: Sequence[Middleware] = (),
            process: str | None = None) -> Worker:
    return build_worker(app.broker, app.engine, endpoints, app.settings.retry, app.settings.max_body_bytes,
                        middlewares, chores=app.settings.chores, breaker=app.settings.breaker, process=process)


def purging(app: App, queues: Iterable[str]) -> Purging:
    """The chore that removes what consumers of `queues` keep past its retention."""
    return Purging(app.engine, retentions(app.settings, queues).values(), NAMES.logger("purge"), SYSTEM,
                   app.settings.purge_seconds)


def retentions(settings: Settings, queues: Iterable[str]) -> dict[str, Retention]:
    """What consumers of `queues` remove once past its retention, by the setting of its window:
    the failed store's messages replayed, and the visits that ended if the process manager's
    queue is among them (it owns them)."""
    kept = {"failed_retention_days": failed_retention(settings.failed_retention_days * DAY)}
    if "process_manager" in queues:
        kept["visit_retention_days"] = visit_retention(settings.visit_retention_days * DAY)
    return kept
