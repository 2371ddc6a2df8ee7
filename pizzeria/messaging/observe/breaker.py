"""A circuit breaker per endpoint, as a middleware. When the share of failed tries over a sliding
window passes a ratio, the consumer stops taking the endpoint's deliveries and puts back what it
holds, no try counted; after a pause it lets one trial batch through (half-open): a try that
succeeds closes the circuit, a message that fails its tries at once (and goes round again later,
or waits if out of rounds) opens it again, for twice
the pause (up to MOST_PAUSES times the policy's): each trial gives back what it took, and a
broker may count that against its delivery limit. A dependency down for minutes then
keeps its messages waiting in their queue, not in the failed store.

Only a handler's errors count: a database outage keeps its own back-off, and a bad message
(`BadMessage`) fails on its own merits. A message that fails while others succeed goes the
ordinary way: retries, then the failed store. Each change of state is logged and recorded
(store/breakers); it is written between batches, never inside a unit of work."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from ..contracts.clock import Clock
from ..contracts.errors import BadMessage
from ..contracts.names import Names
from ..delivery.attempt import InFlight
from ..delivery.middleware import Middleware, Settled
from ..delivery.policy import Decision, Release, Requeue, RetryLater, RetryNow, is_outage
from ..store import breakers
from ..store.breakers import CLOSED, HALF_OPEN, OPEN

STATES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}  # as the state gauge gives them
MOST_PAUSES = 8  # a trial that fails doubles the pause, up to this many times the policy's


@dataclass(frozen=True)
class BreakerPolicy:
    """A breaker opens at `ratio` of failed tries or more, among `min_attempts` tries at least in
    the last `window` seconds, and holds consumption `pause` seconds before a trial; a
    `min_attempts` of 0 never opens."""

    window: float = 10.0
    min_attempts: int = 10
    ratio: float = 0.8
    pause: float = 10.0


@dataclass
class Circuit:
    """One endpoint's breaker: its state, and the tries of the window as (when, failed)."""

    state: str = CLOSED
    tries: deque[tuple[float, bool]] = field(default_factory=deque)
    failed: int = 0
    opened_at: float = 0.0
    pause: float = 0.0  # how long it stays open this time
    trips: int = 0
    last_error: str | None = None

    def note(self, now: float, failed: bool, window: float) -> None:
        """Count a try at `now`, and forget those older than the window."""
        self.tries.append((now, failed))
        self.failed += failed
        while self.tries and self.tries[0][0] < now - window:
            self.failed -= self.tries.popleft()[1]


class CircuitBreaker(Middleware):
    """The breakers of one process's endpoints; see the module's docstring."""

    def __init__(self, policy: BreakerPolicy, engine: Engine, process: str, names: Names, clock: Clock, log: Any):
        self.policy, self.engine, self.process, self.names, self.clock, self.log = (
            policy, engine, process, names, clock, log)
        self.circuits: dict[str, Circuit] = {}  # by queue
        self._changes: list[tuple[str, str, int, int, str | None, float]] = []  # to log and record

    def circuit(self, queue: str) -> Circuit:
        """The breaker of `queue`, closed until it first opens."""
        found = self.circuits.get(queue)
        if found is None:
            found = self.circuits[queue] = Circuit()
        return found

    def after_handler(self, message: InFlight, error: BaseException | None) -> None:
        if error is not None and (is_outage(error) or isinstance(error, BadMessage)) or not self.policy.min_attempts:
            return
        circuit = self.circuit(message.queue)
        circuit.note(self.clock.monotonic(), error is not None, self.policy.window)
        if error is None and circuit.state == HALF_OPEN:
            self._change(message.queue, circuit, CLOSED)
        elif error is not None:
            circuit.last_error = f"{type(error).__name__}: {error}"
            if circuit.state == CLOSED and self._tripped(circuit):
                self._open(message.queue, circuit)

    def deciding(self, message: InFlight, error: BaseException, decision: Decision) -> Decision:
        """Closed, the policy's decision; open, a release. Half-open, the trial goes the ordinary
        way (its retries at once, then a round later, its tries counted: a message that fails
        its first tries on its own is not held for ever) but for the failed store, a release:
        a message out of rounds waits for the circuit to close; and the circuit opens again."""
        circuit = self.circuit(message.queue)
        if isinstance(decision, Requeue) or isinstance(error, BadMessage) or circuit.state == CLOSED:
            return decision
        if circuit.state == HALF_OPEN and not isinstance(decision, RetryNow):
            self._open(message.queue, circuit)
            return decision if isinstance(decision, RetryLater) else Release()
        return decision if circuit.state == HALF_OPEN else Release()

    def admits(self, endpoint: str) -> bool:
        return self.circuit(self.names.queue(endpoint)).state != OPEN

    def on_idle(self, now: float) -> None:
        for queue, circuit in self.circuits.items():
            if circuit.state == OPEN and now >= circuit.opened_at + circuit.pause:
                self._change(queue, circuit, HALF_OPEN)
        self._record()

    def after_settle(self, endpoint: str, settled: Sequence[Settled]) -> None:
        self._record()

    def _tripped(self, circuit: Circuit) -> bool:
        tries = len(circuit.tries)
        return tries >= self.policy.min_attempts and circuit.failed >= self.policy.ratio * tries

    def _open(self, queue: str, circuit: Circuit) -> None:
        """Open; after a failed trial, for twice the pause before, up to MOST_PAUSES pauses."""
        again = circuit.state == HALF_OPEN
        circuit.pause = min(2 * circuit.pause, MOST_PAUSES * self.policy.pause) if again else self.policy.pause
        circuit.opened_at, circuit.trips = self.clock.monotonic(), circuit.trips + 1
        self._change(queue, circuit, OPEN)

    def _change(self, queue: str, circuit: Circuit, state: str) -> None:
        """Go to `state`; the change is logged and recorded once the batch is settled."""
        circuit.state = state
        reason = circuit.last_error if state == OPEN else None
        self._changes.append((queue, state, len(circuit.tries), circuit.failed, reason, self.clock.time()))
        if state == CLOSED:
            circuit.tries.clear()
            circuit.failed = 0

    def _record(self) -> None:
        """Log and record the changes of state not recorded yet; a database out of reach
        loses the record of a change, not the change."""
        changes, self._changes = self._changes, []
        for queue, state, tries, failed, reason, at in changes:
            if state == OPEN:
                self.log.warning("circuit open, queue held", queue=queue, tries=tries, failed=failed, error=reason,
                                 pause_seconds=self.circuit(queue).pause)
            else:
                self.log.info(f"circuit {state}", queue=queue, tries=tries, failed=failed)
            try:
                breakers.record(self.engine, self.process, queue, state, at, tries, failed, reason)
            except Exception as error:
                self.log.warning("could not record the circuit's change", error=str(error).splitlines()[0])


class BreakerCollector(Collector):
    """What a scrape reads of the `CircuitBreaker`s of a process's workers: each queue's state
    (the most held of them) and how often its breakers opened."""

    def __init__(self, breakers: Sequence[CircuitBreaker]):
        self.breakers = list(breakers)

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        app = self.breakers[0].names.app
        state = GaugeMetricFamily(f"{app}_breaker_state", "circuit breaker: 0 closed, 1 half-open, 2 open",
                                  labels=["queue"])
        trips = CounterMetricFamily(f"{app}_breaker_trips", "times the circuit breaker opened", labels=["queue"])
        circuits = [(queue, circuit) for breaker in self.breakers for queue, circuit in list(breaker.circuits.items())]
        for queue in sorted({queue for queue, _ in circuits}):
            mine = [circuit for name, circuit in circuits if name == queue]
            state.add_metric([queue], max(STATES[circuit.state] for circuit in mine))
            trips.add_metric([queue], sum(circuit.trips for circuit in mine))
        yield state
        yield trips
