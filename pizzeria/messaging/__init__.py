"""A small message-driven core: exactly-once effects on top of at-least-once delivery, on
RabbitMQ or an embedded broker. It knows nothing of any application: the application names
itself (`Names`), declares its modules (`Module`), and the core derives queues, bindings and
tables from them.

    contract = Contract("shipping")

    @contract.command
    @dataclass(frozen=True)
    class ShipOrder(Command, unique_by=("order_id",)):
        order_id: str

    def ship_order(command: ShipOrder, context: Context) -> None:
        context.send(OrderShipped(command.order_id))

`testing` beside this module has the harness for handlers and whole flows.
"""

from .broker import Broker, Publisher
from .clock import SYSTEM, Clock, SystemClock, VirtualClock
from .codec import from_payload, to_payload
from .consumer import Worker, build_worker
from .db import make_engine, on_sqlite
from .endpoint import Endpoint, Handler, Module
from .envelope import Envelope, derived_id, new_id
from .errors import (
    BadMessage,
    Conflict,
    ContractError,
    HandlerMisused,
    InvalidPayload,
    MessagingError,
    TopologyMismatch,
    UnknownType,
)
from .hooks import Hooks, Step
from .message import Command, Contract, Event, Message
from .naming import Names
from .pipeline import MAX_BODY_BYTES, Pipeline
from .retry import RetryPolicy
from .topology import Topology
from .transport import Delivery, Outgoing
from .unit import Context
from .writes import insert_rows, update_rows

__all__ = [
    "MAX_BODY_BYTES", "SYSTEM", "BadMessage", "Broker", "Clock", "Command", "Conflict", "Context", "Contract",
    "ContractError", "Delivery", "Endpoint", "Envelope", "Event", "Handler", "HandlerMisused", "Hooks",
    "InvalidPayload", "Message", "MessagingError", "Module", "Names", "Outgoing", "Pipeline", "Publisher",
    "RetryPolicy", "Step", "SystemClock", "Topology", "TopologyMismatch", "UnknownType", "VirtualClock", "Worker", "build_worker",
    "derived_id", "from_payload", "insert_rows", "make_engine", "new_id", "on_sqlite", "to_payload", "update_rows",
]
