"""Fakes with the interface of what our code receives from kombu."""

from __future__ import annotations

from dataclasses import dataclass, field

from pizzeria.messaging.envelope import Envelope


@dataclass
class FakeDelivery:
    """What the dispatcher reads of a kombu message: body, content type, headers."""

    body: bytes
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    delivery_info: dict = field(default_factory=dict)

    @classmethod
    def of(cls, envelope: Envelope) -> FakeDelivery:
        """A first delivery of `envelope`, as a publisher of ours sends it."""
        return cls(envelope.encode(), headers=envelope.headers())
