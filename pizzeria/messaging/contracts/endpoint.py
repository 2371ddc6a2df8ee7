"""Modules as the application declares them, and endpoints: a module's queue and handlers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import MetaData

from .context import HandlerContext
from .errors import ContractError
from .message import Command, Contract, Message, is_arrival
from .settings import Setting

Handler = Callable[[Any, HandlerContext], None]
PREFETCH = 30  # deliveries a consumer of a module takes at once, unless the module says otherwise
ARRIVALS_PREFETCH = 4  # arrivals a consumer takes at once beside them, unless the module says otherwise
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
        """Its settings: `prefetch` (its default the module's `prefetch`), `concurrency`,
        `arrivals_prefetch` if its contract has arrivals, then those it declares."""
        prefetch = Setting("prefetch", int, self.prefetch, "deliveries a consumer of this module takes at once",
                           within=(1, MOST_PREFETCH))
        concurrency = Setting("concurrency", int, 1, "consumers of this module's queue a process runs at once, each "
                              "on a thread and a connection of its own", within=(1, MOST_CONCURRENCY))
        arrivals = Setting("arrivals_prefetch", int, ARRIVALS_PREFETCH, "arrivals (new work: a visit to start) a "
                           "consumer takes at once, beside the deliveries of the work under way", within=(1, MOST_PREFETCH))
        has_arrivals = any(is_arrival(cls) for cls in self.contract.commands.values())
        return (prefetch, concurrency, *((arrivals,) if has_arrivals else ()), *self.settings)


@dataclass(frozen=True)
class Endpoint:
    """A module as it consumes: its name (of its queue, and of the consumer its inbox rows
    name), a handler for each message type, how many deliveries a consumer takes at once, how
    many consumers of it a process runs, and how many arrivals a consumer takes at once from
    the queue of its arrivals (if it handles any) beside its own queue's deliveries."""

    name: str
    handlers: Mapping[type, Handler]
    prefetch: int = PREFETCH
    concurrency: int = 1
    arrivals_prefetch: int = ARRIVALS_PREFETCH
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
        """The routing keys of what its queue takes: `<module>.command.*` for the commands of a
        module (one it does not know still reaches it, and goes to the failed store), and the
        route of each event it subscribes to, alone (another event of that module is none of its
        business). Arrivals are not among them: they have a queue of their own."""
        return sorted({_route_of(cls) for cls in self._messages if not is_arrival(cls)})

    @property
    def arrival_routes(self) -> list[str]:
        """The routing keys of the queue of its arrivals: `<module>.arrival.*`; none if it handles no arrival."""
        return sorted({_route_of(cls) for cls in self._messages if is_arrival(cls)})

    @property
    def arrivals(self) -> str:
        """The name of the queue of its arrivals (within the application's names), beside its own."""
        return f"{self.name}.arrivals"

    @property
    def queues(self) -> dict[str, list[str]]:
        """Its queues, by name, with their routing keys: its own, and that of its arrivals if it handles any."""
        arrivals = self.arrival_routes
        return {self.name: self.routes, **({self.arrivals: arrivals} if arrivals else {})}

    def prefetch_of(self, queue: str) -> int:
        """How many deliveries a consumer of its queue named `queue` (one of `queues`) takes at once."""
        return self.arrivals_prefetch if queue == self.arrivals else self.prefetch

    @property
    def _messages(self) -> list[type[Message]]:
        return [cast(type[Message], cls) for cls in self.handlers]


def _route_of(cls: type[Message]) -> str:
    return cls.route.rsplit(".", 1)[0] + ".*" if issubclass(cls, Command) else cls.route
