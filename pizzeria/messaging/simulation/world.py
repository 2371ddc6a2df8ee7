"""What the invariants of a simulation see: its database, its clock, every message that went
through the broker, and which were handled, by whom, and whether as they were sent."""

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
    the broker (its first copy), `altered` each message handled otherwise than it was sent."""

    engine: Engine
    clock: VirtualClock
    envelopes: dict[str, Envelope]
    handled: Counter[tuple[str, str]] = field(default_factory=Counter)
    altered: list[str] = field(default_factory=list)
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
        """Note that `consumer` handled `envelope`, and if it was not the message first sent with its id."""
        self.handled[consumer, envelope.message_id] += 1
        sent = self.envelopes[envelope.message_id]
        if (envelope.type, envelope.version, envelope.payload) != (sent.type, sent.version, sent.payload):
            self.altered.append(f"{consumer} handled {envelope.type} {envelope.message_id} of version "
                                f"{envelope.version} as {envelope.payload}, sent of version {sent.version} as {sent.payload}")


def handled_once(world: World) -> list[str]:
    """No consumer committed the handling of one message twice."""
    return [f"{consumer} handled {world.envelopes[message_id].type} {message_id} {count} times"
            for (consumer, message_id), count in world.handled.items() if count > 1]


def handled_as_sent(world: World) -> list[str]:
    """Every message was handled as it was first sent: of its version, its payload whole (the
    fields its reader does not know included), whether it came again, late or answered again."""
    return world.altered
