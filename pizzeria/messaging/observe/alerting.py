"""Alerts: what an operator wants to be told of, found by any consumer between batches and
raised once for the whole house (the alerts table's key decides which process raises it). Each
is published as an `AlertRaised` event on the routing key `alert.<kind>` through the outbox and,
with a webhook, POSTed as JSON, retried and rate-limited. A burst of one kind of failure is one
alert per window with a count, not one per message."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Engine, func, select

from ..contracts.clock import Clock
from ..contracts.envelope import Envelope, derived_id
from ..contracts.message import Contract, Event
from ..delivery.middleware import Middleware
from ..store import alerts as store
from ..store import heartbeats
from ..store.tables import failed_messages
from ..transport.delivery import Outgoing

CONTRACT = Contract("alert")
CHECK_SECONDS = 5.0  # how often a consumer looks for something to tell
WINDOW_SECONDS = 300.0  # failures of one group within a window are one alert
T = TypeVar("T")


@CONTRACT.event
@dataclass(frozen=True)
class AlertRaised(Event):
    """Something an operator should know: its kind, what it is about, a line, how many times."""

    kind: str
    key: str
    subject: str
    summary: str
    count: int
    raised_at: float
    details: dict = field(default_factory=dict)  # type: ignore[type-arg]


@dataclass(frozen=True)
class Alert:
    """An alert as a source finds it; `key` makes it one, however often and wherever it is found."""

    kind: str
    key: str
    subject: str
    summary: str
    count: int = 1
    details: dict[str, Any] = field(default_factory=dict)


Source = Callable[[float], Iterable[Alert]]  # the alerts to raise at a time (seconds since the epoch)


def failed_messages_source(engine: Engine, window: float = WINDOW_SECONDS) -> Source:
    """An alert for each group of failed messages (queue, type, error) of the current window."""
    def find(now: float) -> Iterable[Alert]:
        start = now - now % window
        columns = (failed_messages.c.queue, failed_messages.c.type, failed_messages.c.error_type)
        with engine.connect() as conn:
            groups = conn.execute(select(*columns, func.count()).where(failed_messages.c.last_failed_at >= start)
                                  .group_by(*columns)).all()
        for queue, kind, error_type, count in groups:
            yield Alert("message_failed", f"message_failed:{queue}:{kind}:{error_type}:{start:.0f}", queue,
                        f"{count} {kind or 'undecodable'} message{'s' if count > 1 else ''} in {queue} stored as "
                        f"failed ({error_type})", count, {"queue": queue, "type": kind, "error_type": error_type,
                                                          "window_start": start})
    return find


def gone_consumers_source(engine: Engine) -> Source:
    """An alert for each consumer process whose heartbeat stopped without a stop recorded."""
    def find(now: float) -> Iterable[Alert]:
        for process in heartbeats.processes(engine, now):
            if process["status"] == heartbeats.GONE:
                yield Alert("consumer_gone", f"consumer_gone:{process['process']}", process["process"],
                            f"consumer {process['process']} of {', '.join(process['queues'])} stopped beating "
                            f"{now - process['seen_at']:.0f}s ago", details={"queues": process["queues"]})
    return find


def growing_queues_source(depths: Callable[[], dict[str, int]], grow_seconds: float) -> Source:
    """An alert for each queue whose messages (as `depths` counts them, by endpoint) have stayed
    above what they were `grow_seconds` ago and more: its consumers are not keeping up."""
    since: dict[str, tuple[float, int]] = {}  # by endpoint: when it last was at its low, and that low

    def find(now: float) -> Iterable[Alert]:
        for name, messages in depths().items():
            start, low = since.get(name, (now, messages))
            if messages <= low:
                start, low = now, messages
            since[name] = (start, low)
            if now - start >= grow_seconds:
                yield Alert("queue_growing", f"queue_growing:{name}:{start:.0f}", name,
                            f"the queue of {name} has grown for {now - start:.0f}s, from {low} to {messages} "
                            "messages", messages, {"endpoint": name, "since": start, "from": low})
    return find


class Webhook:
    """POSTs alerts as JSON to `url`: at most `per_minute` for the house, each retried with a
    growing pause until it answers 2xx or MAX_POST_ATTEMPTS are spent."""

    def __init__(self, url: str, per_minute: int = 20, timeout: float = 5.0):
        self.url, self.per_minute, self.timeout = url, per_minute, timeout

    def deliver(self, engine: Engine, now: float) -> None:
        """Post what is due, as far as the rate allows."""
        room = self.per_minute - store.posts_since(engine, now - 60)
        for row in store.claim_posts(engine, now, max(0, room)):
            try:
                self.post(store.details(row))
            except Exception as error:
                store.post_failed(engine, row.key, str(error), now + min(300.0, 2.0 ** (row.post_attempts + 1)))
            else:
                store.posted(engine, row.key, now)

    def post(self, alert: dict[str, Any]) -> None:
        """One POST; raises unless it is answered 2xx."""
        body = json.dumps({key: alert[key] for key in ("kind", "key", "subject", "summary", "count", "details",
                                                        "raised_at", "updated_at")}).encode()
        request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout):  # a non-2xx answer raises HTTPError
            pass


class Alerting(Middleware):
    """Looks for alerts every `every` seconds between batches, raises the new ones, and posts
    what is due to the webhook; a failure is logged and tried again at the next turn."""

    def __init__(self, engine: Engine, sources: Sequence[Source], log: Any, clock: Clock,
                 webhook: Webhook | None = None, every: float = CHECK_SECONDS):
        self.engine, self.sources, self.log, self.clock = engine, list(sources), log, clock
        self.webhook, self.every = webhook, every
        self._due = 0.0

    def on_idle(self, now: float) -> None:
        if now >= self._due:
            self._due = now + self.every
            self.check()

    def check(self) -> list[Alert]:
        """Raise what the sources find now, then post what is due; return the alerts this process
        raised. A source that fails (the broker out of reach, say) is logged and the others go on."""
        now, raised = self.clock.time(), []
        for source in self.sources:
            raised += self._attempt(partial(self._raise_found, source, now)) or []
        if self.webhook is not None:
            self._attempt(partial(self.webhook.deliver, self.engine, now))
        return raised

    def _raise_found(self, source: Source, now: float) -> list[Alert]:
        """Raise what `source` finds at `now`; the alerts this process raised."""
        return [alert for alert in source(now) if self.raise_once(alert, now)]

    def raise_once(self, alert: Alert, now: float) -> bool:
        """Raise `alert` unless a process did already; True if this one did."""
        def event() -> tuple[Outgoing, str]:
            message = AlertRaised(alert.kind, alert.key, alert.subject, alert.summary, alert.count, now, alert.details)
            message_id = derived_id(alert.key, "alert")
            envelope = Envelope.wrap(message, message_id=message_id, correlation_id=message_id, at=now)
            return Outgoing(f"alert.{alert.kind}", envelope.encode(), envelope.headers()), message_id
        raised = store.raise_once(self.engine, {**asdict(alert), "raised_at": now}, event)
        if raised:
            self.log.warning("alert raised", kind=alert.kind, subject=alert.subject, summary=alert.summary)
        return raised

    def _attempt(self, work: Callable[[], T]) -> T | None:
        """`work()`, or None once its failure is logged: it is tried again at the next turn."""
        try:
            return work()
        except Exception as error:
            self.log.warning("alerting failed, will retry", error=str(error).splitlines()[0])
            return None
