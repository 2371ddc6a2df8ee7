"""A small message-driven core: exactly-once effects on top of at-least-once delivery, on
RabbitMQ or an embedded broker. It knows nothing of any application: the application names
itself (`Names`), declares its modules (`Module`), and the core derives queues, bindings and
tables from them.

    contract = Contract("kitchen")

    @contract.command
    @dataclass(frozen=True)
    class DoPizza(Command, unique_by=("kitchen_order_id",)):
        kitchen_order_id: str

    def do_pizza(command: DoPizza, context: Context) -> None:
        context.send(PizzaDone(command.kitchen_order_id))

`pizzeria.messaging.testing` has the harness for handlers and whole flows.
"""

from .broker import Broker, Publisher
from .codec import from_payload, to_payload
from .consumer import Worker, build_worker
from .db import make_engine
from .endpoint import Endpoint, Handler, Module
from .envelope import Envelope, derived_id, new_id
from .errors import (BadMessage, Conflict, ContractError, HandlerMisused, InvalidPayload, MessagingError,
                     UnknownType)
from .message import Command, Contract, Event, Message
from .naming import Names
from .pipeline import MAX_BODY_BYTES, Hooks, Pipeline
from .retry import RetryPolicy
from .topology import Topology
from .transport import Delivery, Outgoing
from .unit import Context

__all__ = [
    "BadMessage", "Broker", "Command", "Conflict", "Context", "Contract", "ContractError", "Delivery",
    "Endpoint", "Envelope", "Event", "Handler", "HandlerMisused", "Hooks", "InvalidPayload", "MAX_BODY_BYTES",
    "Message", "MessagingError", "Module", "Names", "Outgoing", "Pipeline", "Publisher", "RetryPolicy",
    "Topology", "UnknownType", "Worker", "build_worker", "derived_id", "from_payload", "make_engine",
    "new_id", "to_payload",
]
