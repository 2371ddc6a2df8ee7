"""The one path of every delivery, whatever the size of its batch.

decode → bind the log context → skip what the inbox knows → count the starts of redelivered
messages → handle with the rest of the batch in one unit of work → commit → publish what was
sent → ack. A redelivered message is handled alone, and goes to the failed store once delivered
as often as the policy's delivery limit allows. A failed try counts as an attempt
for every message whose handler ran, and for all of the group once work done for the whole group
ran; the message that failed is tried alone, the others together again.
A message out of tries comes back later or goes to the failed store. Only a database outage
requeues deliveries; nothing else ever does.
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
from ..store import inbox, outbox, replies
from ..store import poison_counts as starts
from ..store.outbox import Relay
from ..store.writes import Clash
from ..transport.delivery import Delivery
from .attempt import Failure, Item, Outage, is_outage, run_unit
from .failure_routing import Router
from .middleware import Hooks, Step
from .policy import RetryPolicy, Tries

MAX_BODY_BYTES = 1024 * 1024


class Pipeline:
    """Takes the deliveries of one endpoint, a batch, to their end; see the module's docstring."""

    def __init__(self, engine: Engine, relay: Relay, names: Names, policy: RetryPolicy = RetryPolicy(),
                 max_body_bytes: int = MAX_BODY_BYTES, hooks: Hooks | None = None, clock: Clock = SYSTEM,
                 process: str | None = None):
        self.engine = engine
        self.relay = relay
        self.names = names
        self.policy = policy
        self.max_body_bytes = max_body_bytes
        self.hooks = hooks or Hooks()
        self.clock = clock
        self.process = process or inbox.this_process()  # the name the inbox gives it
        self.log = names.logger("consumer")
        self.router = Router(engine, names, policy, self.log, clock)

    def handle(self, endpoint: Endpoint, deliveries: Sequence[Delivery]) -> bool:
        """Settle every delivery: ack it once handled, found a duplicate, retried later or stored
        as failed; requeue it if the database is out. False if anything was requeued."""
        batch = _Batch(endpoint)
        try:
            self._settle(batch, deliveries)
        except Exception as error:
            if not _is_outage(error):
                raise
            self.log.warning("database unavailable, messages requeued", queue=self.names.queue(endpoint.name),
                             error=str(error).splitlines()[0])
        self._publish(batch.rows)
        self.hooks.reach(Step.AFTER_CONFIRM)
        unsettled = [delivery for delivery in deliveries if delivery not in batch.settled]
        for delivery in batch.settled:
            delivery.ack()
        for delivery in unsettled:
            delivery.requeue()
        for envelope, sent in batch.handled:
            for hook in self.hooks.handled:
                hook(endpoint.name, envelope, sent)
        return not unsettled

    def store_undecodable(self, endpoint: Endpoint, delivery: Delivery, error: BaseException) -> bool:
        """Keep a delivery the transport itself could not decode, and ack it; False if it was
        requeued, the database being out."""
        reason = BadMessage(f"the transport could not decode it: {error}")
        return self._store_alone(self.names.queue(endpoint.name), delivery, reason)

    def store_dead_letter(self, delivery: Delivery) -> bool:
        """Keep a message the broker gave up delivering (its delivery limit reached: the
        pipeline's own limit was not, the database being out, say) under the queue it came
        from, and ack it; False if it was requeued, the database being out."""
        why = delivery.headers.get("x-first-death-reason", "no reason given")
        reason = Unsettled(f"the broker dead-lettered it ({why}): delivered as often as its queue allows")
        return self._store_alone(str(delivery.headers.get("x-first-death-queue", self.names.dead_letters)),
                                 delivery, reason)

    def _store_alone(self, queue: str, delivery: Delivery, reason: BadMessage) -> bool:
        tries = Tries.of(delivery.headers, self.names)
        try:
            with structlog.contextvars.bound_contextvars(**_ids_in_headers(delivery)):
                self.router.store_failed(queue, delivery, reason, tries, attempts=tries.attempts + 1)
        except Exception as error:
            if not _is_outage(error):
                raise
            self.log.warning("database unavailable, message requeued", queue=queue, error=str(error).splitlines()[0])
            delivery.requeue()
            return False
        self.hooks.reach(Step.AFTER_ROUTE)
        delivery.ack()
        return True

    def _settle(self, batch: _Batch, deliveries: Sequence[Delivery]) -> None:
        items = [item for delivery in deliveries if (item := self._item(batch, delivery)) is not None]
        groups = deque(self._groups(batch, self._fresh(batch, items)))
        while groups:
            group = self._count_starts(batch, groups.popleft())
            if group:
                groups.extend(self._attempt(batch, group))

    def _item(self, batch: _Batch, delivery: Delivery) -> Item | None:
        """The delivery decoded, or None once a bad one is stored as failed."""
        tries = Tries.of(delivery.headers, self.names)
        try:
            envelope = self._envelope_of(delivery)
            message = envelope.open(batch.endpoint.types)
        except BadMessage as error:
            with structlog.contextvars.bound_contextvars(**_ids_in_headers(delivery)):
                self.router.store_failed(self.names.queue(batch.endpoint.name), delivery, error, tries,
                                         attempts=tries.attempts + 1)
            self.hooks.reach(Step.AFTER_ROUTE)
            batch.settled.append(delivery)
            return None
        return Item(delivery, envelope, message, batch.endpoint.handlers[type(message)], tries,
                    self.names.app, self.names.queue(batch.endpoint.name))

    def _fresh(self, batch: _Batch, items: list[Item], suspect_all: bool = False) -> list[Item]:
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
            item.note("duplicate ignored")
            batch.settled.append(item.delivery)
            if message_id in handled:
                known.append(item)
            else:
                unique[message_id].duplicates += 1
        inbox.count_duplicates(self.engine, batch.endpoint.name, [item.envelope.message_id for item in known])
        self._answer_again(batch, [item.envelope.message_id for item in known if isinstance(item.message, Command)])
        return fresh

    def _groups(self, batch: _Batch, items: list[Item]) -> list[list[Item]]:
        """The items together, but for those delivered before and never settled: each alone,
        the least started first, so that a message that kills its consumer takes no other
        message down with it."""
        redelivered = [item.envelope.message_id for item in items if item.delivery.redelivered]
        started = starts.started(self.engine, batch.endpoint.name, redelivered)
        alone = sorted((item for item in items if item.delivery.redelivered),
                       key=lambda item: started.get(item.envelope.message_id, 0))
        return [[item for item in items if not item.delivery.redelivered], *([item] for item in alone)]

    def _count_starts(self, batch: _Batch, group: list[Item]) -> list[Item]:
        """Count the start of each redelivered message of the group (once per delivery); store
        as failed those delivered more often than the delivery limit; return the others."""
        new = [item for item in group if item.delivery.redelivered and item.envelope.message_id not in batch.counted]
        if not new:
            return group
        started = starts.count(self.engine, batch.endpoint.name, [item.envelope.message_id for item in new],
                               self.clock.time())
        batch.counted.update(started)
        self.hooks.reach(Step.STARTS_COUNTED)
        over = [item for item in new if started[item.envelope.message_id] + 1 > self.policy.delivery_limit]
        for item in over:
            self._store_unsettled(batch, item, started[item.envelope.message_id] + 1)
        return [item for item in group if item not in over]

    def _store_unsettled(self, batch: _Batch, item: Item, times: int) -> None:
        error = Unsettled(f"delivered {times} times and never settled: it may kill its consumer")
        with item.bound():
            self.router.store_failed(self.names.queue(batch.endpoint.name), item.delivery, error, item.tries,
                                     item.attempt)
        item.note("out of deliveries", error=str(error))
        self.hooks.reach(Step.AFTER_ROUTE)
        batch.settled.append(item.delivery)

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

    def _attempt(self, batch: _Batch, group: list[Item]) -> list[list[Item]]:
        """Handle the group once; return the groups to try again."""
        try:
            rows, unit = run_unit(self.engine, batch.endpoint.name, group, self.clock, self.hooks,
                                  self.process)
        except Clash as clash:  # with a message handled before, most likely: the inbox tells
            fresh = self._fresh(batch, group, suspect_all=True)
            return [fresh] if len(fresh) < len(group) else self._failed(batch, group, Failure(None, clash.error))
        except Outage:
            raise
        except Failure as failure:
            return self._failed(batch, group, failure)
        except Exception as error:  # the commit failed: nobody to blame
            return self._failed(batch, group, Failure(None, error))
        self.hooks.reach(Step.AFTER_COMMIT)
        for item in group:
            sent = [envelope for envelope, _ in unit.sent if envelope.causation_id == item.envelope.message_id]
            with item.bound():
                self.log.info("handled", attempt=item.attempt, sent=[envelope.type for envelope in sent])
            batch.handled.append((item.envelope, sent))
            batch.settled.append(item.delivery)
        batch.rows += rows
        return []

    def _failed(self, batch: _Batch, group: list[Item], failure: Failure) -> list[list[Item]]:
        """Count the failed try; return the groups to try again: the one to blame alone, the
        others together, or each alone when nobody is to blame."""
        culprit = failure.item or (group[0] if len(group) == 1 else None)
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
        if culprit.failures <= self.policy.immediate and not isinstance(failure.error, BadMessage):
            return [rest, [culprit]]
        with culprit.bound():
            self.router.route(self.names.queue(batch.endpoint.name), culprit, failure.error)
        culprit.note("out of tries here", error=error, attempts=culprit.attempt)
        self.hooks.reach(Step.AFTER_ROUTE)
        batch.settled.append(culprit.delivery)
        return [rest]

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
    """What the pipeline learns of one batch as it goes: what is settled, what was handled
    (with what it sent), the outbox rows to publish, and whose start is counted."""

    endpoint: Endpoint
    settled: list[Delivery] = field(default_factory=list)
    handled: list[tuple[Envelope, list[Envelope]]] = field(default_factory=list)
    rows: list[Row[Any]] = field(default_factory=list)
    counted: set[str] = field(default_factory=set)  # the redelivered messages whose start is counted


def _is_outage(error: Exception) -> bool:
    """True if `error` says the database is out (already told so by the unit of work, or not)."""
    return isinstance(error, Outage) or is_outage(error)


def _ours(delivery: Delivery, names: Names) -> bool:
    """True if the core's own headers are on the delivery: a retry, a replay."""
    return any(isinstance(key, str) and key.startswith(names.header_prefix) for key in delivery.headers)


def _ids_in_headers(delivery: Delivery) -> dict[str, str]:
    """The ids a delivery's headers claim, for the log of a message that cannot be opened."""
    return {key: str(delivery.headers[key])[:64] for key in ("correlation_id", "message_id", "type")
            if key in delivery.headers}
