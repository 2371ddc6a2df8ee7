"""The embedded broker: a kombu transport with leases on one SQLite file, registered as
`sqlite://` with kombu."""

from kombu.transport import TRANSPORT_ALIASES

from .transport import Channel, Transport

TRANSPORT_ALIASES["sqlite"] = "pizzeria.messaging.embedded.transport:Transport"

__all__ = ["Channel", "Transport"]
