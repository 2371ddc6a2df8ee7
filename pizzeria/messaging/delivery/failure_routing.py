"""Where a message goes once it is out of tries in this delivery: back later through the
outbox while rounds are left, else to the failed store. Whatever goes wrong on the way (headers
JSON cannot hold, a retry that cannot be scheduled) still ends with the message kept, with the
reason; only a database outage is raised, for the deliveries to be requeued."""

from __future__ import annotations

import traceback
from typing import Any

from sqlalchemy import Engine

from ..contracts.clock import Clock
from ..contracts.errors import BadMessage, MessagingError
from ..contracts.names import Names
from ..store import failed, outbox
from ..transport.delivery import Delivery, Outgoing
from .attempt import Item, raise_if_outage
from .policy import RetryPolicy, Tries


class Router:
    """Sends messages out of tries back later, or to the failed store."""

    def __init__(self, engine: Engine, names: Names, policy: RetryPolicy, log: Any, clock: Clock):
        self.engine = engine
        self.clock = clock
        self.names = names
        self.policy = policy
        self.log = log

    def route(self, queue: str, item: Item, error: BaseException) -> None:
        """Back later if rounds are left and the error is worth a retry, else failed."""
        if not isinstance(error, BadMessage) and item.tries.rounds < self.policy.delayed:
            try:
                return self._retry_later(queue, item)
            except Exception as scheduling:
                raise_if_outage(scheduling)
                error = MessagingError(f"{type(error).__name__}: {error}; "
                                       f"and no retry could be scheduled: {type(scheduling).__name__}: {scheduling}")
        self.store_failed(queue, item.delivery, error, item.tries, item.attempt)

    def store_failed(self, queue: str, delivery: Delivery, error: BaseException, tries: Tries, attempts: int) -> None:
        """Keep the delivery in the failed store; should its headers not fit, keep it without."""
        trace = None if isinstance(error, BadMessage) else "".join(traceback.format_exception(error))
        entry = failed.Entry(queue, delivery.body, dict(delivery.headers), delivery.content_type, error, trace,
                             attempts, tries.first_failed_at)
        try:
            entry_id = failed.store(self.engine, entry, self.names, self.clock.time())
        except Exception as storing:
            raise_if_outage(storing)
            entry_id = failed.store(self.engine, entry.without_headers(storing), self.names, self.clock.time())
        self.log.error("message stored as failed", failed_id=entry_id, queue=queue,
                       error=f"{type(error).__name__}: {error}", attempts=attempts)

    def _retry_later(self, queue: str, item: Item) -> None:
        delay = self.policy.delay(item.tries.rounds)
        now = self.clock.time()
        headers = item.tries.next_round(item.delivery.headers, self.names, item.attempt, now, item.last_error or "")
        with self.engine.begin() as conn:
            outbox.add_raw(conn, Outgoing(queue, item.delivery.body, headers, exchange=""), item.envelope.message_id,
                           now + delay)
        self.log.warning("retry scheduled", attempts=item.attempt, round=item.tries.rounds + 1, delay_seconds=delay)
