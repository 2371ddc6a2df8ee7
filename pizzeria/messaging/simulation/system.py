"""What a simulation runs (`System`), what a test may break in it (`Sabotage`), and what a
run reports (`Report`)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import MetaData

from ..contracts.endpoint import Endpoint
from ..contracts.names import Names
from ..delivery.middleware import Step
from ..delivery.policy import FailurePolicy
from ..observe.breaker import BreakerPolicy
from ..transport.delivery import Outgoing
from . import state
from .world import World

Check = Callable[[World], list[str]]


@dataclass(frozen=True)
class System:
    """What a simulation runs: endpoints, their tables, the application's names and retry
    policy, the messages that start the work (drawn from the run's randomness), the invariants
    to hold after every step and at rest, how many processes consume each endpoint, and which
    of them run another release of it (its contract at other versions, its handlers), by the
    process's name: `{"waiter-2": next_waiter}`, the processes of a rolling deploy; and when
    each process's circuit breaker opens, if it has one."""

    endpoints: Sequence[Endpoint]
    tables: Sequence[MetaData]
    names: Names
    workload: Callable[[random.Random], Sequence[Outgoing]]
    policy: FailurePolicy = FailurePolicy()
    always: Sequence[Check] = ()
    at_rest: Sequence[Check] = ()
    copies: Mapping[str, int] = field(default_factory=dict)  # processes of an endpoint; 1 if not named
    releases: Mapping[str, Endpoint] = field(default_factory=dict)  # of the endpoint of the same name
    breaker: BreakerPolicy | None = None  # each process's circuit breaker, if any


@dataclass(frozen=True)
class Sabotage:
    """Breakages that prove the simulator sees what they break; for tests of the simulator."""

    forget_inbox: bool = False  # the inbox forgets every message it records
    ack_on_delivery: bool = False  # deliveries are acked as they come, before their commit


@dataclass
class Report:
    """What a run did and found: its schedule, the steps reached and crashed at, the messages
    handled (and by which process, of which type and version), the violations, and a
    fingerprint of the end state."""

    seed: int
    chaos: int
    trace: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    reached: Counter[Step] = field(default_factory=Counter)
    crashed: Counter[Step] = field(default_factory=Counter)
    handled: int = 0
    versions: Counter[tuple[str, str, int]] = field(default_factory=Counter)  # (process, type, version) handled
    state: bytes = b""

    @property
    def digest(self) -> str:
        """A fingerprint of the end state."""
        return state.digest(self.state)
