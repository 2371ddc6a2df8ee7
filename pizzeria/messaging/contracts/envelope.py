"""Envelopes around messages: ids, type, time, payload, the version of its contract, and their
JSON wire form."""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from .clock import SYSTEM, iso
from .codec import from_payload, to_payload
from .errors import BadMessage, UnknownType
from .message import Message
from .versions import read

NAMESPACE = uuid.UUID("6f1d2c1e-2b1a-4e0b-9a55-7c3f0c0f7a11")
MAX_ID_LENGTH = 64


def derived_id(*parts: str) -> str:
    """A message id that is the same every time it is derived from the same parts."""
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def new_id() -> str:
    """A fresh random id."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Envelope:
    """One message on the wire: what it is, which conversation (correlation) it belongs to, what
    caused it, and the version of its contract its producer wrote (1 for an envelope without)."""

    message_id: str
    type: str
    correlation_id: str
    causation_id: str | None
    occurred_at: str
    payload: dict  # type: ignore[type-arg]  # the codec checks it against this hint: a bare dict
    version: int = 1

    def __post_init__(self) -> None:
        for name in ("message_id", "type", "correlation_id"):
            value = getattr(self, name)
            if not 0 < len(value) <= MAX_ID_LENGTH:
                raise ValueError(f"{name} must have 1 to {MAX_ID_LENGTH} characters")
            if "\x00" in value:
                raise ValueError(f"{name} must not hold a NUL character")
        if self.version < 1:
            raise ValueError(f"version {self.version}: a contract's versions count from 1")

    @classmethod
    def wrap(cls, message: Any, *, message_id: str, correlation_id: str,
             causation_id: str | None = None, at: float | None = None) -> Envelope:
        """Put a message in a new envelope stamped with the time `at` (seconds since the epoch),
        by default the system's time now."""
        return cls(message_id, type(message).__name__, correlation_id, causation_id,
                   iso(SYSTEM.time() if at is None else at), to_payload(message), type(message).contract_version)

    def headers(self) -> dict[str, str]:
        """The ids as AMQP headers, so they show in the broker's UI."""
        return {"message_id": self.message_id, "type": self.type,
                "correlation_id": self.correlation_id, "causation_id": self.causation_id or ""}

    def encode(self) -> bytes:
        """The compact JSON body of this envelope."""
        return json.dumps(self.__dict__, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, body: bytes | str) -> Envelope:
        """Parse a JSON body into an envelope; raise BadMessage if it is not one. A field of a
        newer envelope is ignored; the body, which goes on whole, keeps it."""
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as error:
            raise BadMessage(f"body is not JSON: {str(error)[:200]}") from None
        envelope: Envelope = from_payload(cls, data, tolerant=True)
        return envelope

    def open(self, types: Mapping[str, builtins.type]) -> Any:
        """The message inside, built only from a type in `types` (message classes), never from
        the wire's say-so; its payload upcast from an older version, or read tolerantly (see
        `versions`). The envelope keeps the payload as it came."""
        cls = types.get(self.type)
        if cls is None:
            raise UnknownType(f"unknown message type {self.type!r}")
        return read(cast(type[Message], cls), self.payload, self.version)
