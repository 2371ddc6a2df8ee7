"""One delivery to its outcome: handled, a duplicate, retried now or later, or a failed entry."""

from __future__ import annotations

import time
import traceback
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import Engine, Row

from . import failed, inbox, outbox
from .codec import BadMessage
from .envelope import Envelope
from .handling import handle, handle_together, is_outage
from .retry import RetryPolicy, Tries

if TYPE_CHECKING:
    from .consumer import Endpoint

log = structlog.get_logger("pizzeria.consumer")
MAX_BODY_BYTES = 1024 * 1024


class Dispatcher:
    """Decodes a delivery, hands it to its handler exactly once, and routes its failures: a bad
    message to the failed store at once, a failing handler through the retry policy first.
    A database outage is raised, for the caller to requeue the delivery."""

    def __init__(self, engine: Engine, policy: RetryPolicy, max_body_bytes: int = MAX_BODY_BYTES):
        self.engine = engine
        self.policy = policy
        self.max_body_bytes = max_body_bytes

    def dispatch_many(self, endpoint: Endpoint, messages: list) -> list[Row]:
        """Deal with deliveries of one queue: first deliveries go through in one transaction
        when there are several; the rest, and all of them if that fails, one by one."""
        first = [m for m in messages if not (m.delivery_info or {}).get("redelivered")
                 and not any(key.startswith("x-pizzeria") for key in (m.headers or {}))]
        rows = []
        if len(first) > 1:
            try:
                rows = self._together(endpoint, first)
            except Exception as error:  # each is handled alone below, with retries and all
                log.info("handling together failed, one by one", error=f"{type(error).__name__}: {error}")
            else:
                messages = [message for message in messages if message not in first]
        for message in messages:
            rows += self.dispatch(endpoint, message)
        return rows

    def _together(self, endpoint: Endpoint, messages: list) -> list[Row]:
        work = []
        for message in messages:
            envelope = self._envelope_of(message)
            payload = envelope.open(endpoint.types)
            work.append((endpoint.handlers[type(payload)], payload, envelope))
        sent = handle_together(work, endpoint.name, self.engine)
        for (_, _, envelope), rows in zip(work, sent):
            log.info("handled", correlation_id=envelope.correlation_id, message_id=envelope.message_id,
                     type=envelope.type, attempt=1, sent=[row.routing_key.rsplit(".", 1)[-1] for row in rows])
        return [row for rows in sent for row in rows]

    def dispatch(self, endpoint: Endpoint, message) -> list[Row]:
        """Deal with one delivery, so that it can be acked; return the outbox rows its handler
        wrote, claimed, for the caller to publish."""
        headers = dict(message.headers or {})
        try:
            envelope = self._envelope_of(message)
            payload = envelope.open(endpoint.types)
        except BadMessage as error:
            self._fail(endpoint, message, headers, error, Tries.of(headers), attempts=1)
            return []
        # Every line logged while this message is in hand, the handler's own too, carries its ids.
        with structlog.contextvars.bound_contextvars(correlation_id=envelope.correlation_id,
                                                     message_id=envelope.message_id, type=envelope.type):
            redelivered = (message.delivery_info or {}).get("redelivered", False)
            if redelivered and inbox.has_handled(self.engine, endpoint.name, envelope.message_id):
                log.info("duplicate ignored")
                return []
            return self._try(endpoint, message, headers, envelope, payload)

    def store_undecodable(self, endpoint: Endpoint, message, error: BaseException) -> None:
        """Keep a delivery the transport itself could not decode."""
        reason = BadMessage(f"the transport could not decode it: {error}")
        self._fail(endpoint, message, dict(message.headers or {}), reason, Tries(), attempts=1)

    def _try(self, endpoint, message, headers, envelope, payload) -> list[Row]:
        tries = Tries.of(headers)
        handler = endpoint.handlers[type(payload)]
        for attempt in range(tries.attempts + 1, tries.attempts + self.policy.immediate + 2):
            try:
                sent = handle(handler, payload, envelope, endpoint.name, self.engine, attempt)
            except Exception as error:
                if is_outage(error):
                    raise
                log.warning("attempt failed", attempt=attempt, error=f"{type(error).__name__}: {error}")
                last_error = error
                continue
            log.info("duplicate ignored" if sent is None else "handled", attempt=attempt,
                       sent=[row.routing_key.rsplit(".", 1)[-1] for row in sent or ()])
            return sent or []
        if tries.rounds < self.policy.delayed:
            self._retry_later(endpoint, message, envelope, headers, tries, attempt)
        else:
            self._fail(endpoint, message, headers, last_error, tries, attempt)
        return []

    def _retry_later(self, endpoint, message, envelope, headers, tries: Tries, attempts: int) -> None:
        delay = self.policy.delay(tries.rounds)
        with self.engine.begin() as conn:
            outbox.add_raw(conn, envelope.message_id, endpoint.queue.name, _raw_body(message),
                           tries.next_round(headers, attempts, time.time()), exchange="", delay=delay)
        log.warning("retry scheduled", attempts=attempts, round=tries.rounds + 1, delay_seconds=delay)

    def _fail(self, endpoint, message, headers, error, tries: Tries, attempts: int) -> None:
        trace = None if isinstance(error, BadMessage) else "".join(traceback.format_exception(error))
        entry = failed.store(self.engine, queue=endpoint.queue.name, body=_raw_body(message),
                             headers=headers, content_type=message.content_type, error=error,
                             traceback=trace, attempts=attempts,
                             first_failed_at=tries.first_failed_at)
        log.error("message stored as failed", failed_id=entry, queue=endpoint.queue.name,
                    error=f"{type(error).__name__}: {error}", attempts=attempts)

    def _envelope_of(self, message) -> Envelope:
        if message.content_type != "application/json":
            raise BadMessage(f"content type {message.content_type!r} is not application/json")
        body = _raw_body(message)
        if len(body) > self.max_body_bytes:
            raise BadMessage(f"body of {len(body)} bytes is over the limit of {self.max_body_bytes}")
        return Envelope.decode(body)


def _raw_body(message: Any) -> bytes:
    body = message.body
    return body if isinstance(body, bytes) else str(body).encode()
