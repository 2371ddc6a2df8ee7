"""Modules as the application declares them, and endpoints: a module's queue and handlers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import MetaData

from .context import HandlerContext
from .errors import ContractError
from .message import Contract, Message

Handler = Callable[[Any, HandlerContext], None]
PREFETCH = 30  # deliveries a consumer of a module takes at once, unless the module says otherwise


@dataclass(frozen=True)
class Module:
    """One module of an application, declared once: its name (and queue), the contract it
    owns, its handlers (built from the application's settings), how many deliveries it takes
    at once, and the tables it keeps."""

    name: str
    contract: Contract
    handlers: Callable[[Any], Mapping[type, Handler]]
    prefetch: int = PREFETCH
    tables: MetaData = field(default_factory=MetaData)


@dataclass(frozen=True)
class Endpoint:
    """A module as it consumes: its name (of its queue, and of the consumer its inbox rows
    name), a handler for each message type, and how many deliveries it takes at once."""

    name: str
    handlers: Mapping[type, Handler]
    prefetch: int = PREFETCH
    types: Mapping[str, type] = field(init=False)

    def __post_init__(self) -> None:
        types: dict[str, type] = {}
        for cls in self.handlers:
            if cls.__name__ in types:
                raise ContractError(f"endpoint {self.name} handles two messages named {cls.__name__}")
            types[cls.__name__] = cls
        object.__setattr__(self, "types", types)

    @property
    def routes(self) -> list[str]:
        """The routing key patterns of what it handles: `<module>.<kind>.*` for each."""
        return sorted({cast(type[Message], cls).route.rsplit(".", 1)[0] + ".*" for cls in self.handlers})
