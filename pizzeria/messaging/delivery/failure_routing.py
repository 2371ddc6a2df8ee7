"""Carrying out what the failure policy decided for a message out of tries here: back later
through the outbox, or to the failed store. Whatever goes wrong on the way (headers JSON cannot
hold, a retry that cannot be scheduled) still ends with the message kept, with the reason; only a
database outage is raised, for the deliveries to be requeued."""

from __future__ import annotations

import traceback
from typing import Any

from sqlalchemy import Engine

from ..contracts.clock import Clock
from ..contracts.errors import BadMessage, MessagingError
from ..contracts.names import Names
from ..store import failed, outbox
from ..transport.delivery import Delivery, Outgoing
from .attempt import InFlight
from .policy import Tries, is_outage


class FailureRouter:
    """Sends a message back later, or keeps it in the failed store."""

    def __init__(self, engine: Engine, names: Names, log: Any, clock: Clock):
        self.engine = engine
        self.clock = clock
        self.names = names
        self.log = log

    def retry_later(self, queue: str, item: InFlight, error: BaseException, delay: float) -> None:
        """Back through the outbox after `delay`; to the failed store if it cannot be scheduled."""
        try:
            return self._retry_later(queue, item, delay)
        except Exception as scheduling:
            if is_outage(scheduling):
                raise
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
            if is_outage(storing):
                raise
            entry_id = failed.store(self.engine, entry.without_headers(storing), self.names, self.clock.time())
        self.log.error("message stored as failed", failed_id=entry_id, queue=queue,
                       error=f"{type(error).__name__}: {error}", attempts=attempts)

    def _retry_later(self, queue: str, item: InFlight, delay: float) -> None:
        now = self.clock.time()
        headers = item.tries.next_round(item.delivery.headers, self.names, item.attempt, now, item.last_error or "")
        with self.engine.begin() as conn:
            outbox.add_raw(conn, Outgoing(queue, item.delivery.body, headers, exchange=""), item.envelope.message_id,
                           now + delay)
        self.log.warning("retry scheduled", attempts=item.attempt, round=item.tries.rounds + 1, delay_seconds=delay)
