"""What the invariants of a simulation see: its database, its clock, and every message that
was handled, with what its handler sent."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Engine

from ..contracts.clock import VirtualClock
from ..contracts.envelope import Envelope
from ..contracts.errors import BadMessage
from ..transport.delivery import Outgoing


@dataclass
class World:
    """The run as the invariants see it; `envelopes` holds every message that went through
    the broker."""

    engine: Engine
    clock: VirtualClock
    envelopes: dict[str, Envelope]
    handled: Counter[tuple[str, str]] = field(default_factory=Counter)
    start: float = field(init=False)

    def __post_init__(self) -> None:
        self.start = self.clock.time()

    def saw(self, message: Outgoing) -> None:
        """Keep the envelope of a message the broker routed, if it is one."""
        try:
            envelope = Envelope.decode(message.body)
        except BadMessage:
            return
        self.envelopes.setdefault(envelope.message_id, envelope)

    def record(self, consumer: str, envelope: Envelope) -> None:
        """Note that `consumer` handled `envelope`."""
        self.handled[consumer, envelope.message_id] += 1


def handled_once(world: World) -> list[str]:
    """No consumer committed the handling of one message twice."""
    return [f"{consumer} handled {world.envelopes[message_id].type} {message_id} {count} times"
            for (consumer, message_id), count in world.handled.items() if count > 1]
