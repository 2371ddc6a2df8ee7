"""Modules as the application declares them, and endpoints: a module's queue and handlers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import MetaData

from .context import HandlerContext
from .errors import ContractError
from .message import Command, Contract, Message
from .settings import Setting

Handler = Callable[[Any, HandlerContext], None]
PREFETCH = 30  # deliveries a consumer of a module takes at once, unless the module says otherwise
MOST_PREFETCH = 1000  # the most an operator may set a module's prefetch to
MOST_CONCURRENCY = 64  # the most consumers of one queue in a process


@dataclass(frozen=True)
class Module:
    """One module of an application, declared once: its name (and queue), the contract it
    owns, its handlers (built from the values of its settings, by name), how many deliveries it
    takes at once by default, the tables it keeps, and the settings it declares."""

    name: str
    contract: Contract
    handlers: Callable[[Mapping[str, Any]], Mapping[type, Handler]]
    prefetch: int = PREFETCH
    tables: MetaData = field(default_factory=MetaData)
    settings: tuple[Setting, ...] = ()

    def __post_init__(self) -> None:
        names = [setting.name for setting in self.all_settings]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ContractError(f"module {self.name} has two settings named {', '.join(twice)}")

    @property
    def all_settings(self) -> tuple[Setting, ...]:
        """Its settings: `prefetch` (its default the module's `prefetch`), `concurrency`, then those it declares."""
        prefetch = Setting("prefetch", int, self.prefetch, "deliveries a consumer of this module takes at once",
                           within=(1, MOST_PREFETCH))
        concurrency = Setting("concurrency", int, 1, "consumers of this module's queue a process runs at once, each "
                              "on a thread and a connection of its own", within=(1, MOST_CONCURRENCY))
        return (prefetch, concurrency, *self.settings)


@dataclass(frozen=True)
class Endpoint:
    """A module as it consumes: its name (of its queue, and of the consumer its inbox rows
    name), a handler for each message type, how many deliveries a consumer takes at once, and
    how many consumers of it a process runs."""

    name: str
    handlers: Mapping[type, Handler]
    prefetch: int = PREFETCH
    concurrency: int = 1
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
        """The routing keys of what it handles: `<module>.command.*` for the commands of a module
        (one it does not know still reaches it, and goes to the failed store), and the route of
        each event it subscribes to, alone (another event of that module is none of its business)."""
        return sorted({_route_of(cast(type[Message], cls)) for cls in self.handlers})


def _route_of(cls: type[Message]) -> str:
    return cls.route.rsplit(".", 1)[0] + ".*" if issubclass(cls, Command) else cls.route
