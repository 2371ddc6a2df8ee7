"""The simulator: every endpoint of a system in one process, on an in-memory broker, a real
SQLite database and a virtual clock, driven step by step by a seeded scheduler.

A run has a chaotic part and a calm one. For `chaos` steps the scheduler delivers any waiting
messages of any queue, in any order and any number up to a consumer's prefetch; delivers a
message twice; lets a relay sweep; moves the clock on. Wherever a process reaches a step of a
message's way (`Step`) it may crash there (and restart), lose its broker connection (its unacked
deliveries come back redelivered), or stand still while others act. A process whose breaker holds
its queue releases what it is handed, and tries again once the clock passes its pause. Then the calm part runs
the system without faults until it rests: nothing waits in a queue or in the outbox.
Invariants are checked after every step and at rest; one seed always gives the same run.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from sqlalchemy import text

from ..contracts.clock import VirtualClock
from ..contracts.endpoint import Endpoint
from ..contracts.envelope import Envelope
from ..delivery.middleware import Step
from ..store.engine import make_engine
from ..store.tables import metadata as core_tables
from ..transport.topology import Topology
from . import state
from .broker import ConnectionLost, SimBroker
from .process import Crash, Process
from .system import Check, Report, Sabotage, System
from .world import World, handled_as_sent, handled_once

CALM_LIMIT = 5000  # calm steps before a run that will not rest is called a loop
ADVANCES = (0.5, 2.0, 11.0)  # seconds the chaos moves the clock on: 11 s outlasts a relay's lease
CRASH, DISCONNECT, PAUSE = 0.06, 0.03, 0.06  # what may happen at a step, out of 1
ACTIONS = {"deliver": 12, "sweep": 2, "advance": 1, "duplicate": 1}  # weights of the chaos's choices


def simulate(system: System, seed: int, chaos: int = 100, sabotage: Sabotage = Sabotage()) -> Report:
    """Run `system` under the schedule of `seed`, `chaos` steps of it chaotic; return the report."""
    with tempfile.TemporaryDirectory(prefix="simulation-") as directory:
        return Simulator(system, seed, chaos, sabotage, Path(directory)).run()


class Simulator:
    """One run; see the module's docstring."""

    def __init__(self, system: System, seed: int, chaos: int, sabotage: Sabotage, directory: Path):
        self.system = system
        self.rng = random.Random(seed)
        self.report = Report(seed, chaos)
        self.clock = VirtualClock()
        self.url = f"sqlite:///{directory / 'simulation.db'}"
        self.world = World(make_engine(self.url), self.clock, {})
        self._create_tables(sabotage)
        topology = Topology.of(system.names, system.endpoints)
        self.broker = SimBroker(topology, self.world.saw, sabotage.ack_on_delivery)
        self.processes = {name: self._process(name, system.releases.get(name, endpoint)) for endpoint in system.endpoints
                          for name in _names(endpoint.name, system.copies.get(endpoint.name, 1))}
        self.calm = False
        self.paused: Process | None = None

    def run(self) -> Report:
        """Start the work, run the chaos, then calm until rest; check the invariants."""
        try:
            for message in self.system.workload(self.rng):
                self.broker.route(message)
            for _ in range(self.report.chaos):
                self._act(self._choose_action())
                if self._check([handled_once, handled_as_sent, *self.system.always]):
                    return self.report
            self.calm = True
            if self._settle():
                self._check(self.system.at_rest)
            self.report.state = state.dump(self.world.engine, [core_tables, *self.system.tables])
            return self.report
        finally:
            self.world.engine.dispose()

    def _choose_action(self, still: Process | None = None) -> Callable[[], None]:
        """One chaotic action, never of the process `still`, which stands at a step."""
        others = [process for process in self.processes.values() if process is not still]
        queues = [name for name, parcels in self.broker.ready.items() if parcels]
        busy = [process for process in others if self._waiting(process)]  # a held one releases them
        choices: dict[str, Callable[[], None]] = {"advance": self._advance}
        if busy:
            choices["deliver"] = lambda: self._deliver(self.rng.choice(busy), chaotic=True)
            choices["duplicate"] = lambda: self._duplicate(self.rng.choice(queues))
        if others:
            choices["sweep"] = lambda: self._sweep(self.rng.choice(others))
        names = sorted(choices)
        return choices[self.rng.choices(names, weights=[ACTIONS[name] for name in names])[0]]

    def _act(self, action: Callable[[], None]) -> None:
        action()
        self._check_settled()

    def _check_settled(self) -> None:
        if self.broker.unacked and self.paused is None:
            self.report.violations.append(f"deliveries left unacked after a step: {len(self.broker.unacked)}")

    def _deliver(self, process: Process, chaotic: bool) -> None:
        """Hand the process a batch of waiting messages: in chaos any of them, in any order."""
        deliveries = []
        for queue, prefetch in process.queues.items():
            ready = self.broker.ready[queue]
            most = min(len(ready), prefetch)
            picks = [self.rng.randrange(len(ready) - taken) for taken in range(self.rng.randint(1, most))] \
                if chaotic and most else [0] * most
            deliveries += [self.broker.deliver(process.name, queue, pick) for pick in picks]
        if chaotic:
            self.rng.shuffle(deliveries)
        self._trace(f"deliver to {process.name}: " + ", ".join(
            delivery.parcel.label + (" (redelivered)" if delivery.redelivered else "") for delivery in deliveries))
        self._run(process, lambda: process.handle(deliveries))
        self._run(process, lambda: process.idle(self.clock.monotonic()))

    def _waiting(self, process: Process) -> bool:
        """Whether a message waits in one of the process's queues."""
        return any(self.broker.ready[queue] for queue in process.queues)

    def _duplicate(self, queue: str) -> None:
        parcel = self.broker.duplicate(queue, self.rng.randrange(len(self.broker.ready[queue])))
        self._trace(f"deliver twice: {parcel.label}")

    def _sweep(self, process: Process) -> None:
        self._trace(f"sweep by {process.name}")
        self._run(process, process.sweep)

    def _advance(self, seconds: float | None = None) -> None:
        seconds = self.rng.choice(ADVANCES) if seconds is None else seconds
        self._trace(f"clock +{seconds:g}s")
        self.clock.advance(seconds)
        for process in list(self.processes.values()):  # a turn of each loop: a breaker may try again
            self._run(process, partial(process.idle, self.clock.monotonic()))

    def _run(self, process: Process, work: Callable[[], object]) -> None:
        """Do the process's work; a crash restarts it, a lost connection drops its batch."""
        try:
            work()
        except Crash:
            self._restart(process)
        except ConnectionLost as lost:
            self._trace(f"{process.name}: {lost}")

    def _restart(self, process: Process) -> None:
        process.crash()
        requeued = self.broker.disconnect(process.name)
        self.processes[process.name] = self._process(process.name, process.endpoint)
        self._trace(f"{process.name} restarted; back in the queue: {', '.join(p.label for p in requeued) or 'none'}")

    def _reached(self, process: Process, step: Step) -> None:
        """A process stands at `step`: in chaos, it may die, lose its connection, or wait."""
        self.report.reached[step] += 1
        if self.calm:
            return
        roll = self.rng.random()
        if roll < CRASH:
            self.report.crashed[step] += 1
            self._trace(f"{process.name} crashes at {step}")
            raise Crash(step)
        if roll < CRASH + DISCONNECT:
            lost = self.broker.disconnect(process.name)
            self._trace(f"{process.name} loses its connection at {step}; back: {', '.join(p.label for p in lost)}")
        elif roll < CRASH + DISCONNECT + PAUSE and self.paused is None and not self._holds_connection():
            self._pause(process, step)

    def _pause(self, process: Process, step: Step) -> None:
        """Let others act while `process` stands at `step`, holding no transaction."""
        self._trace(f"{process.name} stands at {step}")
        self.paused = process
        try:
            for _ in range(self.rng.randint(1, 4)):
                self._act(self._choose_action(still=process))
        finally:
            self.paused = None
        self._trace(f"{process.name} goes on from {step}")

    def _settle(self) -> bool:
        """Run without faults until nothing waits; False (a violation) if it never rests."""
        for _ in range(CALM_LIMIT):
            busy = next((p for p in self.processes.values() if self._waiting(p) and p.admitted), None)
            held = any(self._waiting(p) for p in self.processes.values())
            unswept = next((p for p in self.processes.values() if p.pipeline.relay.published), None)
            due = state.next_due(self.world.engine)
            if busy is not None:
                self._deliver(busy, chaotic=False)
            elif unswept is not None or (due is not None and due <= self.clock.time()):
                self._sweep(unswept or next(iter(self.processes.values())))
            elif due is not None or held:  # a queue held by its breakers waits for their pause
                self._advance(ADVANCES[0] if due is None else due - self.clock.time())
            else:
                return True
            self._check_settled()
            if self._check([handled_once, handled_as_sent, *self.system.always]):
                return False
        self.report.violations.append(f"no rest after {CALM_LIMIT} calm steps: messages go round for ever")
        return False

    def _check(self, checks: Sequence[Check]) -> bool:
        """Run the checks; True if something is violated."""
        for check in checks:
            self.report.violations += check(self.world)
        return bool(self.report.violations)

    def _handled(self, process: Process, consumer: str, envelope: Envelope, _sent: list[Envelope]) -> None:
        self.report.handled += 1
        self.report.versions[process.name, envelope.type, envelope.version] += 1
        self.world.record(consumer, envelope)

    def _process(self, name: str, endpoint: Endpoint) -> Process:
        return Process(name, endpoint, self.world.engine, self.broker, self.clock, self.system.names, self.system.policy,
                       self._reached, self._handled, self.system.breaker)

    def _holds_connection(self) -> bool:
        """True while the running process holds a connection, maybe a transaction and its lock
        (the processes share a pool, and only one runs at a time)."""
        return bool(self.world.engine.pool.checkedout())  # type: ignore[attr-defined]

    def _trace(self, line: str) -> None:
        self.report.trace.append(f"{self.clock.time() - self.world.start:9.3f} {line}")

    def _create_tables(self, sabotage: Sabotage) -> None:
        with self.world.engine.begin() as conn:
            for metadata in [core_tables, *self.system.tables]:
                metadata.create_all(conn)
            if sabotage.forget_inbox:
                conn.execute(text("CREATE TRIGGER forget AFTER INSERT ON inbox "
                                  "BEGIN DELETE FROM inbox WHERE rowid = NEW.rowid; END"))


def _names(endpoint: str, copies: int) -> list[str]:
    """The names of an endpoint's processes: its own, or numbered when it has several."""
    return [endpoint] if copies == 1 else [f"{endpoint}-{number}" for number in range(1, copies + 1)]
