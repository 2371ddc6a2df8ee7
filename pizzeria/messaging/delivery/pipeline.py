"""The one path of every delivery, whatever the size of its batch.

decode → skip what the inbox knows → count the starts of redelivered messages → attempt the
rest together in one unit of work → settle. A try's outcome goes to the failure policy, which
decides what comes next: retry now (the message that failed alone, the others together again),
later through the outbox, dead in the failed store, or requeue for an outage. A redelivered
message is attempted alone. What was sent is published once the batch is settled, then the
deliveries are acked, or requeued if the database was out. A middleware that holds consumption
(an open circuit breaker) may steer a failure to `Release`: what the batch has not settled then
goes back to the broker, no try nor start counted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import Engine, Row

from ..contracts.clock import SYSTEM, Clock
from ..contracts.endpoint import Endpoint
from ..contracts.envelope import Envelope
from ..contracts.errors import BadMessage, Unsettled
from ..contracts.message import Command
from ..contracts.names import Names
from ..observe.middlewares import standard
from ..store import inbox, outbox, replies
from ..store import poison_counts as starts
from ..store.outbox import Relay
from ..transport.delivery import Delivery
from .attempt import Clashed, Committed, Failed, InFlight, Outage, Outcome, run_unit
from .failure_routing import FailureRouter
from .middleware import How, Middleware, Middlewares, Settled, Step
from .policy import Dead, Decision, FailurePolicy, Release, Requeue, RetryLater, RetryNow, Tries, is_outage

MAX_BODY_BYTES = 1024 * 1024


class Pipeline:
    """Takes the deliveries of one endpoint, a batch, to their end; see the module's docstring."""

    def __init__(self, engine: Engine, relay: Relay, names: Names, policy: FailurePolicy | None = None,
                 max_body_bytes: int = MAX_BODY_BYTES, middleware: Middleware | None = None, clock: Clock = SYSTEM,
                 process: str | None = None):
        self.engine = engine
        self.relay = relay
        self.names = names
        self.policy = policy or FailurePolicy()
        self.max_body_bytes = max_body_bytes
        self.middleware = _chain(middleware)
        self.clock = clock
        self.process = process or inbox.this_process()  # the name the inbox gives it
        self.log = names.logger("consumer")
        self.router = FailureRouter(engine, names, self.log, clock)

    def handle(self, endpoint: Endpoint, deliveries: Sequence[Delivery]) -> bool:
        """Settle every delivery: ack it once handled, found a duplicate, retried later or stored
        as failed; release it if a middleware says so; requeue it if the database is out. False
        if the database was out."""
        batch = _Batch(endpoint, self.names.queue(endpoint.name))
        try:
            self._attempt_all(batch, deliveries)
        except Exception as error:
            if not is_outage(error):
                raise
            batch.outage = error
        if batch.outage is not None:
            self.log.warning("database unavailable, messages requeued", queue=batch.queue,
                             error=str(batch.outage).splitlines()[0])
        self._publish(batch.rows)
        self.middleware.reached(Step.AFTER_CONFIRM)
        done = {id(each.delivery) for each in batch.settled}
        left = [delivery for delivery in deliveries if id(delivery) not in done]
        for each in batch.settled:
            each.delivery.ack()
        if batch.released and batch.outage is None:
            self.release(endpoint, left, batch.settled)
        else:
            for delivery in left:
                delivery.requeue()
            self.middleware.after_settle(endpoint.name, batch.settled + [Settled(each, How.REQUEUED) for each in left])
        return batch.outage is None

    def release(self, endpoint: Endpoint, deliveries: Sequence[Delivery], settled: Sequence[Settled] = ()) -> None:
        """Give the deliveries back to the broker, their starts forgiven: put back before they
        ran, or while consumption is held, they are not tries (a database out of reach forgives
        nothing; the delivery limit then counts one start more)."""
        try:
            starts.forgive(self.engine, endpoint.name, [_message_id(delivery) for delivery in deliveries],
                           self.clock.time())
        except Exception as error:
            if not is_outage(error):
                raise
        self.middleware.reached(Step.STARTS_FORGIVEN)
        for delivery in deliveries:
            delivery.requeue()
        self.middleware.after_settle(endpoint.name, [*settled, *(Settled(each, How.RELEASED) for each in deliveries)])

    def store_undecodable(self, endpoint: Endpoint, delivery: Delivery, error: BaseException) -> bool:
        """Keep a delivery the transport itself could not decode, and ack it; False if it was
        requeued, the database being out."""
        reason = BadMessage(f"the transport could not decode it: {error}")
        return self._store_alone(endpoint.name, self.names.queue(endpoint.name), delivery, reason)

    def store_dead_letter(self, delivery: Delivery) -> bool:
        """Keep a message the broker gave up delivering (its delivery limit reached: the
        pipeline's own limit was not, the database being out, say) under the queue it came
        from, and ack it; False if it was requeued, the database being out."""
        why = delivery.headers.get("x-first-death-reason", "no reason given")
        reason = Unsettled(f"the broker dead-lettered it ({why}): delivered as often as its queue allows")
        queue = str(delivery.headers.get("x-first-death-queue", self.names.dead_letters))
        return self._store_alone(queue, queue, delivery, reason)

    def _store_alone(self, endpoint: str, queue: str, delivery: Delivery, reason: BadMessage) -> bool:
        tries = Tries.of(delivery.headers, self.names)
        try:
            with structlog.contextvars.bound_contextvars(**_ids_in_headers(delivery)):
                self.router.store_failed(queue, delivery, reason, tries, attempts=tries.attempts + 1)
        except Exception as error:
            if not is_outage(error):
                raise
            self.log.warning("database unavailable, message requeued", queue=queue, error=str(error).splitlines()[0])
            delivery.requeue()
            self.middleware.after_settle(endpoint, [Settled(delivery, How.REQUEUED)])
            return False
        self.middleware.on_failure(None, reason, Dead())
        self.middleware.reached(Step.AFTER_ROUTE)
        delivery.ack()
        self.middleware.after_settle(endpoint, [Settled(delivery, How.DEAD)])
        return True

    def _attempt_all(self, batch: _Batch, deliveries: Sequence[Delivery]) -> None:
        items = [item for delivery in deliveries if (item := self._opened(batch, delivery)) is not None]
        groups = deque(self._groups(batch, self._fresh(batch, items)))
        while groups and batch.outage is None and not batch.released:
            group = self._count_starts(batch, groups.popleft())
            if group:
                outcome = run_unit(self.engine, batch.endpoint.name, group, self.clock, self.middleware, self.policy,
                                   self.process)
                groups.extend(self._settle(batch, group, outcome))

    def _opened(self, batch: _Batch, delivery: Delivery) -> InFlight | None:
        """The delivery decoded, or None once a bad one is stored as failed."""
        tries = Tries.of(delivery.headers, self.names)
        try:
            envelope = self._envelope_of(delivery)
            message = envelope.open(batch.endpoint.types)
        except BadMessage as error:
            with structlog.contextvars.bound_contextvars(**_ids_in_headers(delivery)):
                self.router.store_failed(batch.queue, delivery, error, tries, attempts=tries.attempts + 1)
            self.middleware.on_failure(None, error, Dead())
            self.middleware.reached(Step.AFTER_ROUTE)
            batch.settle(delivery, How.DEAD)
            return None
        return InFlight(delivery, envelope, message, batch.endpoint.handlers[type(message)], tries,
                        self.names.app, batch.queue)

    def _fresh(self, batch: _Batch, items: list[InFlight], suspect_all: bool = False) -> list[InFlight]:
        """The items less the copies of one message and those the inbox shows handled: unless
        told to suspect all, only a redelivery or a message that came back (retried,
        replayed) is worth looking up."""
        unique = {item.envelope.message_id: item for item in reversed(items)}
        suspects = [item.envelope.message_id for item in unique.values()
                    if suspect_all or item.delivery.redelivered or _ours(item.delivery, self.names)]
        handled = inbox.handled(self.engine, batch.endpoint.name, suspects)
        fresh, known = [], []
        for item in items:
            message_id = item.envelope.message_id
            if unique[message_id] is item and message_id not in handled:
                fresh.append(item)
                continue
            with item.bound():
                self.log.info("duplicate ignored")
            batch.settle(item.delivery, How.DUPLICATE, item)
            if message_id in handled:
                known.append(item)
            else:
                unique[message_id].duplicates += 1
        inbox.count_duplicates(self.engine, batch.endpoint.name, [item.envelope.message_id for item in known])
        self._answer_again(batch, [item.envelope.message_id for item in known if isinstance(item.message, Command)])
        return fresh

    def _groups(self, batch: _Batch, items: list[InFlight]) -> list[list[InFlight]]:
        """The items together, but for those delivered before and never settled: each alone,
        the least started first, so that a message that kills its consumer takes no other
        message down with it."""
        redelivered = [item.envelope.message_id for item in items if item.delivery.redelivered]
        started = starts.started(self.engine, batch.endpoint.name, redelivered)
        alone = sorted((item for item in items if item.delivery.redelivered),
                       key=lambda item: started.get(item.envelope.message_id, 0))
        return [[item for item in items if not item.delivery.redelivered], *([item] for item in alone)]

    def _count_starts(self, batch: _Batch, group: list[InFlight]) -> list[InFlight]:
        """Count the start of each redelivered message of the group (once per delivery); those
        the policy says are dead go to the failed store; return the others."""
        new = [item for item in group if item.delivery.redelivered and item.envelope.message_id not in batch.counted]
        if not new:
            return group
        started = starts.count(self.engine, batch.endpoint.name, [item.envelope.message_id for item in new],
                               self.clock.time())
        batch.counted.update(started)
        self.middleware.reached(Step.STARTS_COUNTED)
        dead = []
        for item in new:
            times = started[item.envelope.message_id] + 1
            if (decision := self.policy.after_starts(times)) is not None:
                self._route(batch, item, self.policy.unsettled(times), decision)
                dead.append(item)
        return [item for item in group if item not in dead]

    def _answer_again(self, batch: _Batch, command_ids: list[str]) -> None:
        """Send again what was answered to commands that came again: the saga that re-sent one
        may have lost the answer."""
        if not command_ids:
            return
        with self.engine.begin() as conn:
            answers = replies.recorded(conn, batch.endpoint.name, dict.fromkeys(command_ids))
            batch.rows += outbox.add(conn, answers, self.clock.time())
        if answers:
            self.log.info("answers sent again", commands=len(set(command_ids)), answers=len(answers))

    def _settle(self, batch: _Batch, group: list[InFlight], outcome: Outcome) -> list[list[InFlight]]:
        """Settle the group after a try's `outcome`; return the groups to try again."""
        if isinstance(outcome, Outage):
            batch.outage = outcome.error
            return []
        if isinstance(outcome, Clashed):  # with a message handled before, most likely: the inbox tells
            fresh = self._fresh(batch, group, suspect_all=True)
            return [fresh] if len(fresh) < len(group) else self._failed(batch, group, Failed(None, outcome.error))
        if isinstance(outcome, Failed):
            return self._failed(batch, group, outcome)
        self._committed(batch, group, outcome)
        return []

    def _committed(self, batch: _Batch, group: list[InFlight], outcome: Committed) -> None:
        self.middleware.reached(Step.AFTER_COMMIT)
        self.middleware.after_commit(batch.endpoint.name, group)
        for item in group:
            sent = tuple(envelope for envelope, _ in outcome.sent if envelope.causation_id == item.envelope.message_id)
            with item.bound():
                self.log.info("handled", attempt=item.attempt, sent=[envelope.type for envelope in sent])
            batch.settle(item.delivery, How.HANDLED, item, sent)
        batch.rows += outcome.rows

    def _failed(self, batch: _Batch, group: list[InFlight], failure: Failed) -> list[list[InFlight]]:
        """Count the failed try; return the groups to try again: the one to blame alone, the
        others together, or each alone when nobody is to blame."""
        culprit = failure.message or (group[0] if len(group) == 1 else None)
        error = f"{type(failure.error).__name__}: {failure.error}"
        for item in group:
            with item.bound():
                if item is culprit:
                    self.log.warning("attempt failed", attempt=item.attempt, error=error)
                else:
                    self.log.info("attempt rolled back", attempt=item.attempt, error=error)
        if culprit is None:
            return [[item] for item in group]
        culprit.failures += 1
        culprit.last_error = error
        rest = [item for item in group if item is not culprit]
        decision = self.middleware.deciding(
            culprit, failure.error, self.policy.after_failure(failure.error, culprit.failures, culprit.tries.rounds))
        if isinstance(decision, RetryNow | Requeue | Release):
            self.middleware.on_failure(culprit, failure.error, decision)
            if isinstance(decision, Requeue):
                batch.outage = failure.error
            elif isinstance(decision, Release):
                batch.released = True
            return [rest, [culprit]] if isinstance(decision, RetryNow) else []
        self._route(batch, culprit, failure.error, decision)
        return [rest]

    def _route(self, batch: _Batch, item: InFlight, error: BaseException, decision: Decision) -> None:
        """Carry out a decision that ends this delivery: back later, or dead."""
        with item.bound():
            if isinstance(decision, RetryLater):
                self.router.retry_later(batch.queue, item, error, decision.delay)
            else:
                self.router.store_failed(batch.queue, item.delivery, error, item.tries, item.attempt)
        self.middleware.on_failure(item, error, decision)
        self.middleware.reached(Step.AFTER_ROUTE)
        batch.settle(item.delivery, How.RETRY_LATER if isinstance(decision, RetryLater) else How.DEAD, item)

    def _envelope_of(self, delivery: Delivery) -> Envelope:
        if delivery.content_type != "application/json":
            raise BadMessage(f"content type {delivery.content_type!r} is not application/json")
        if len(delivery.body) > self.max_body_bytes:
            raise BadMessage(f"body of {len(delivery.body)} bytes is over the limit of {self.max_body_bytes}")
        return Envelope.decode(delivery.body)

    def _publish(self, rows: list[Row[Any]]) -> None:
        try:
            self.relay.send(rows)
        except Exception as error:  # claimed rows go to the next relay when their lease ends
            self.log.warning("publishing failed, the outbox keeps the messages", error=str(error))


@dataclass
class _Batch:
    """What the pipeline learns of one batch as it goes: what is settled and how, the outbox
    rows to publish, whose start is counted, and the outage that stopped it, if one did."""

    endpoint: Endpoint
    queue: str
    settled: list[Settled] = field(default_factory=list)
    rows: list[Row[Any]] = field(default_factory=list)
    counted: set[str] = field(default_factory=set)  # the redelivered messages whose start is counted
    outage: BaseException | None = None
    released: bool = False  # a middleware holds consumption: what is not settled goes back

    def settle(self, delivery: Delivery, how: How, message: InFlight | None = None,
               sent: tuple[Envelope, ...] = ()) -> None:
        """Note that `delivery` is settled, and how."""
        self.settled.append(Settled(delivery, how, message, sent))


def _ours(delivery: Delivery, names: Names) -> bool:
    """True if the core's own headers are on the delivery: a retry, a replay."""
    return any(isinstance(key, str) and key.startswith(names.header_prefix) for key in delivery.headers)


def _message_id(delivery: Delivery) -> str:
    """The id of the message a delivery holds: from its headers, or its body if they lack it."""
    found = delivery.headers.get("message_id")
    if found is not None:
        return str(found)
    try:
        return Envelope.decode(delivery.body).message_id
    except BadMessage:
        return ""


def _ids_in_headers(delivery: Delivery) -> dict[str, str]:
    """The ids a delivery's headers claim, for the log of a message that cannot be opened."""
    return {key: str(delivery.headers[key])[:64] for key in ("correlation_id", "message_id", "type")
            if key in delivery.headers}


def _chain(middleware: Middleware | None) -> Middlewares:
    """The chain the pipeline calls: the one given, the standard one, or one of the middleware given."""
    if isinstance(middleware, Middlewares):
        return middleware
    return Middlewares(standard() if middleware is None else [middleware])
