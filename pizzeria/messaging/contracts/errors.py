"""The errors of the messaging core, under one root.

A `BadMessage` can never be handled, however often it is tried: it goes to the failed store at
once. A `Conflict` means someone else changed the state first: the message is handled again on
the fresh state. Any other error of a handler is retried by the retry policy.
"""

from __future__ import annotations


class MessagingError(Exception):
    """The root of every error the messaging core raises on purpose."""


class BadMessage(MessagingError, ValueError):
    """A message that no retry can make acceptable."""


class InvalidPayload(BadMessage):
    """A payload does not fit the fields of its message type."""


class UnknownType(BadMessage):
    """A message type that the receiving endpoint does not know."""


class Unsettled(BadMessage):
    """A message delivered again and again that no consumer settled: it may kill its consumer."""


class ContractError(MessagingError):
    """A contract or an endpoint declared wrongly: two messages with one name, say."""


class Conflict(MessagingError):
    """Someone else changed the state first: reload and handle the message again."""


class HandlerMisused(MessagingError):
    """A handler ended the transaction it was lent (committed, rolled back or closed it)."""


class TopologyMismatch(MessagingError):
    """The broker has a queue or exchange of the same name declared otherwise (another queue
    type, say): it must be migrated, the broker will not change it."""

    def __init__(self, broker_says: str):
        super().__init__(broker_says.split("PRECONDITION_FAILED - ", 1)[-1])
