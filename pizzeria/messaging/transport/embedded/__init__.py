"""The embedded broker: a kombu transport with leases on one SQLite file, which the broker
module registers as `sqlite://` with kombu (imported only when a URL names it)."""

from .transport import Channel, Transport

__all__ = ["Channel", "Transport"]
