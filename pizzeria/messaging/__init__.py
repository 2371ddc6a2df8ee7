"""A small message-driven core: exactly-once effects on top of at-least-once delivery, on
RabbitMQ or an embedded broker. It knows nothing of any application: the application names
itself (`Names`), declares its modules (`Module`), and the core derives queues, bindings and
tables from them.

    contract = Contract("shipping")

    @contract.command
    @dataclass(frozen=True)
    class ShipOrder(Command, unique_by=("order_id",)):
        order_id: str

    def ship_order(command: ShipOrder, context: HandlerContext) -> None:
        context.send(OrderShipped(command.order_id))

`testing` beside this module has the harness for handlers and whole flows.
"""

from .contracts.clock import SYSTEM, Clock, SystemClock, VirtualClock
from .contracts.codec import from_payload, to_payload
from .contracts.context import HandlerContext
from .contracts.endpoint import ARRIVALS_PREFETCH, Endpoint, Handler, Module
from .contracts.envelope import Envelope, derived_id, new_id
from .contracts.errors import (
    BadMessage,
    Conflict,
    ContractError,
    HandlerMisused,
    InvalidPayload,
    MessagingError,
    TopologyMismatch,
    UnknownType,
)
from .contracts.message import Command, Contract, Event, Message
from .contracts.names import Names
from .contracts.settings import Setting
from .contracts.versions import Upcaster
from .delivery.attempt import InFlight
from .delivery.middleware import How, Middleware, Settled, Step
from .delivery.pipeline import MAX_BODY_BYTES
from .delivery.policy import Dead, Decision, FailurePolicy, Release, Requeue, RetryLater, RetryNow, is_outage
from .observe import tracing
from .observe.alerting import (
    Alert,
    Alerting,
    AlertRaised,
    Source,
    Webhook,
    failed_messages_source,
    gone_consumers_source,
    growing_queues_source,
)
from .observe.breaker import BreakerPolicy, CircuitBreaker
from .observe.chores import Chores
from .observe.metrics import Metrics
from .observe.probes import ProbeServer
from .observe.purging import Purging
from .store.engine import make_engine, on_sqlite
from .store.retention import Counts, Retention, failed_retention, purge, purgeable
from .store.writes import insert_rows, update_rows
from .transport.broker import Broker, Publisher, is_amqp
from .transport.build import build_crew, build_worker
from .transport.consumer import Worker
from .transport.crew import Crew
from .transport.delivery import Outgoing
from .transport.sending import send
from .transport.topology import CLASSIC, QUORUM, Topology

__all__ = [
    # contracts: what a module declares, and what its handlers see
    "Command", "Contract", "Event", "Message", "Upcaster", "Module", "Setting", "Endpoint", "Handler", "HandlerContext",
    "ARRIVALS_PREFETCH",
    "Envelope", "Names", "derived_id", "new_id", "from_payload", "to_payload",
    "Clock", "SystemClock", "SYSTEM", "VirtualClock",
    "MessagingError", "BadMessage", "InvalidPayload", "UnknownType", "Conflict", "ContractError", "HandlerMisused",
    "TopologyMismatch",
    # delivery: the failure policy and the middleware
    "FailurePolicy", "Decision", "RetryNow", "RetryLater", "Dead", "Requeue", "Release", "is_outage",
    "Middleware", "Step", "How", "Settled", "InFlight", "MAX_BODY_BYTES", "tracing",
    # transport and store: running it
    "Broker", "Publisher", "Outgoing", "Topology", "CLASSIC", "QUORUM", "is_amqp", "Worker", "build_worker", "Chores",
    "Crew", "build_crew",
    "BreakerPolicy", "CircuitBreaker",
    "Metrics", "ProbeServer", "Alert", "AlertRaised", "Alerting", "Source", "Webhook", "failed_messages_source",
    "gone_consumers_source", "growing_queues_source",
    "Retention", "Counts", "Purging", "failed_retention", "purge", "purgeable",
    "send", "make_engine", "on_sqlite", "insert_rows", "update_rows",
]
