"""Message base types and contracts: which module owns a message, how it is routed, and which
version of its contract it is at."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from .codec import readable
from .errors import ContractError
from .versions import Upcaster, declared

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

M = TypeVar("M", bound="type[Message]")


class Message:
    """A message of some module's contract: a frozen dataclass; its contract sets its route,
    `<module>.<command|arrival|event>.<Type>`. It is at version 1 of its contract unless its class
    says otherwise, with the upcasters that read the older versions (`version=2,
    upcasters={1: ...}`: see `versions`)."""

    route: ClassVar[str]
    contract_version: ClassVar[int] = 1
    upcasters: ClassVar[Mapping[int, Upcaster]] = MappingProxyType({})

    def __init_subclass__(cls, version: int | None = None, upcasters: Mapping[int, Upcaster] | None = None,
                          **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if version is not None or upcasters is not None:
            cls.contract_version, cls.upcasters = declared(cls.__name__, 1 if version is None else version,
                                                           upcasters or {})


class Command(Message):
    """An order for one module. It names the fields that make it unique within its correlation
    (`unique_by`): sent again with the same values, it is the same command, and its id is the
    same, so the receiver's inbox drops the copy."""

    unique_by: ClassVar[tuple[str, ...]]

    def __init_subclass__(cls, unique_by: tuple[str, ...] | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if unique_by is None:
            raise ContractError(f"command {cls.__name__} must declare its idempotency key: "
                                f"class {cls.__name__}(Command, unique_by=(...)), () for once per correlation")
        cls.unique_by = unique_by

    def idempotency_key(self) -> str:
        """What tells this command apart from the others of its correlation."""
        return "/".join([type(self).__name__, *(str(getattr(self, name)) for name in self.unique_by)])


class Event(Message):
    """A fact a module reports; its id derives from the message it answers."""


ARRIVAL = "arrival"


def is_arrival(cls: type[Message]) -> bool:
    """Whether `cls` is an arrival: a command that starts new work (see `Contract.arrival`)."""
    return cls.route.rsplit(".", 2)[-2] == ARRIVAL


class Contract:
    """The messages one module owns; each gets the routing key `<module>.<kind>.<Type>`."""

    def __init__(self, module: str):
        self.module = module
        self.commands: dict[str, type[Command]] = {}
        self.events: dict[str, type[Event]] = {}

    def command(self, cls: M) -> M:
        """Register a command (imperative name) of this module."""
        if not issubclass(cls, Command):
            raise ContractError(f"{cls.__name__} is registered as a command but is no Command")
        fields = {field.name for field in dataclasses.fields(cast("type[DataclassInstance]", cls))}
        unknown = set(cls.unique_by) - fields
        if unknown:
            raise ContractError(f"{cls.__name__} is unique by unknown field(s) {', '.join(sorted(unknown))}")
        return self._register(cls, "command", self.commands)

    def arrival(self, cls: M) -> M:
        """Register a command that starts new work (seats a client, opens a ticket). Arrivals
        wait in a queue of their own, which the module's consumers take a few of at a time
        beside the deliveries of the work under way, so that a burst is served in order."""
        self.command(cls)
        cls.route = f"{self.module}.{ARRIVAL}.{cls.__name__}"
        return cls

    def event(self, cls: M) -> M:
        """Register an event (past-tense name) of this module."""
        if not issubclass(cls, Event):
            raise ContractError(f"{cls.__name__} is registered as an event but is no Event")
        return self._register(cls, "event", self.events)

    @property
    def messages(self) -> dict[str, type[Message]]:
        """Every message of the contract, by its name."""
        return {**self.commands, **self.events}

    def _register(self, cls: M, kind: str, registry: dict[str, Any]) -> M:
        if cls.__name__ in self.messages:
            raise ContractError(f"the {self.module} contract has a message named {cls.__name__} already")
        readable(cls)  # a field the codec cannot read is refused now, not at the first delivery
        cls.route = f"{self.module}.{kind}.{cls.__name__}"
        registry[cls.__name__] = cls
        return cls
