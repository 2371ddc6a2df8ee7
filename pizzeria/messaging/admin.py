"""Operations on the core's tables, for an application's command line and web: the failed store
(list, show, group, edit, replay, delete, by id or chosen by filters), the consumer processes by
their heartbeats and their breakers, what the inbox and the outbox hold, what was handled and
failed since a moment (for pictures), the queues' depths on the broker, and the tables to
create. Each function takes the engine of the database the consumers share (or the broker); what
a conversation is (a visit, an order) is the application's to say."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, Integer, Row, cast, func, or_, select

from .contracts.endpoint import Endpoint
from .contracts.names import Names
from .observe.redact import hide_password, hide_url_passwords
from .observe.tracing import conversation_trace_id
from .store import alerts, breakers, failed, failed_edits, heartbeats
from .store import inbox as handled
from .store.breakers import CLOSED, HALF_OPEN, OPEN
from .store.failed_edits import EditRefused
from .store.failed_entries import FAILED, REPLAYED
from .store.failed_entries import details as failed_details
from .store.failed_entries import status as failed_status
from .store.failed_entries import summary as failed_summary
from .store.failed_filters import FailedFilters, duration
from .store.failed_filters import Group as FailedGroup
from .store.heartbeats import ALIVE, GONE, STOPPED
from .store.tables import failed_messages, inbox, outbox
from .store.tables import metadata as core_tables
from .transport.broker import Broker
from .transport.delivery import Outgoing

__all__ = [
    "ALIVE", "CLOSED", "FAILED", "GONE", "HALF_OPEN", "OPEN", "REPLAYED", "STOPPED", "EditRefused", "FailedFilters",
    "FailedGroup", "breaker_changes", "breaker_states", "consumer_processes", "conversation_trace_id",
    "conversations_waiting", "core_tables", "delete_failed", "delete_failed_chosen", "duration", "edit_failed",
    "failed_by_queue", "failed_chosen", "failed_details", "failed_edit", "failed_entries", "failed_groups",
    "failed_since", "failed_status", "failed_summary", "handled_counts", "handled_per_step", "handling_times",
    "hide_password", "hide_url_passwords", "inbox_rows", "outbox_lag", "queue_depths", "recent_alerts",
    "replay_failed", "took_effect", "waiting_in_outbox",
]


def failed_entries(engine: Engine, ids: Sequence[int] | None = None, *, queue: str | None = None,
                   type: str | None = None, error_type: str | None = None, correlation_id: str | None = None,
                   status: str | None = None) -> list[Row[Any]]:
    """The failed store's entries, oldest first: those with these ids (any if None) and each of
    the queue, type, error class, conversation and status (FAILED or REPLAYED) given."""
    if status not in (None, FAILED, REPLAYED):
        return []
    return failed.entries(engine, ids, None if status is None else status == REPLAYED, queue=queue, type=type,
                          error_type=error_type, correlation_id=correlation_id)


def failed_chosen(engine: Engine, filters: FailedFilters, now: float, status: str | None = None) -> list[Row[Any]]:
    """The entries the filters choose at `now`, oldest first, of this status if given: what an
    operation on many touches (nothing if no filter is given)."""
    if not filters.given() or status not in (None, FAILED, REPLAYED):
        return []
    return failed.entries(engine, None, None if status is None else status == REPLAYED, filters.where(now))


def delete_failed_chosen(engine: Engine, filters: FailedFilters, now: float) -> list[int]:
    """Delete the entries the filters choose at `now` (those `failed_chosen` lists), and their
    edits; return their ids (none if no filter is given)."""
    return failed.remove_chosen(engine, None, filters.where(now)) if filters.given() else []


def edit_failed(engine: Engine, entry: Row[Any], changes: dict[str, Any], endpoints: Iterable[Endpoint],
                names: Names, now: float) -> int:
    """Keep beside the entry an edit of its message, each field of `changes` (`order.0.pizza`
    reaching inside one) set to its value, once the type its queue's endpoint takes decodes it;
    return the edit's id, or raise EditRefused naming the field. A replay then sends the edit."""
    types = {names.queue(endpoint.name): endpoint.types for endpoint in endpoints}.get(entry.queue, {})
    return failed_edits.edit(engine, entry, changes, types, now)


def failed_edit(engine: Engine, entry_id: int) -> dict[str, Any] | None:
    """The entry's latest edit as plain data (id, changes, when, when replayed, body), or None."""
    with engine.connect() as conn:
        edit = failed_edits.latest(conn, entry_id)
    return None if edit is None else failed_edits.details(edit)


def failed_groups(engine: Engine) -> list[dict[str, Any]]:
    """The entries not replayed, counted by queue, type and error class, the largest group first."""
    return failed.groups(engine)


def failed_by_queue(engine: Engine) -> dict[str, int]:
    """How many entries not replayed each queue has, for the queues that have any."""
    counts: Counter[str] = Counter()
    for group in failed.groups(engine):
        counts[group["queue"]] += group["count"]
    return dict(counts)


def took_effect(engine: Engine, entry: Row[Any], names: Names) -> bool:
    """Whether the inbox of the entry's consumer shows its message handled: a replay would do nothing."""
    consumer = entry.queue.removeprefix(names.queue(""))
    return bool(entry.message_id) and bool(handled.handled(engine, consumer, [entry.message_id]))


def replay_failed(engine: Engine, publish: Callable[[Outgoing], None], entry: Row[Any], names: Names,
                  now: float) -> None:
    """Send the entry's message to its queue again with `publish`, as it came, marked replayed at `now`."""
    failed.replay(engine, publish, entry, names, now)


def delete_failed(engine: Engine, ids: Sequence[int]) -> None:
    """Delete the entries with these ids from the failed store, and their edits."""
    failed.remove(engine, ids)


def consumer_processes(engine: Engine, now: float) -> list[dict[str, Any]]:
    """Every consumer process the heartbeats know, the latest seen first, ALIVE, GONE or STOPPED at `now`."""
    return heartbeats.processes(engine, now)


def breaker_states(engine: Engine, now: float) -> list[dict[str, Any]]:
    """The state each live consumer process's circuit breaker of each queue changed to last."""
    alive = {process["process"] for process in consumer_processes(engine, now) if process["status"] == ALIVE}
    return [row for row in breakers.current(engine) if row["process"] in alive]


def breaker_changes(engine: Engine, limit: int = 20) -> list[dict[str, Any]]:
    """The circuit breakers' latest changes of state, the newest first."""
    return breakers.history(engine, limit)


def handled_counts(engine: Engine) -> dict[str, int]:
    """How many messages each consumer handled, as far back as its inbox remembers."""
    with engine.connect() as conn:
        return {consumer: count for consumer, count in conn.execute(
            select(inbox.c.consumer, func.count()).group_by(inbox.c.consumer))}


def handled_per_step(engine: Engine, since: float, step: float) -> dict[tuple[str, int], int]:
    """How many messages each consumer handled in each `step` seconds from `since` on, by
    consumer and the step's index (0 the first), counted by the database."""
    steps = (inbox.c.handled_at - since) / step  # CAST truncates on SQLite, rounds on PostgreSQL
    index = cast(func.floor(steps) if engine.dialect.name == "postgresql" else steps, Integer)
    query = (select(inbox.c.consumer, index, func.count()).where(inbox.c.handled_at >= since)
             .group_by(inbox.c.consumer, index))
    with engine.connect() as conn:
        return {(consumer, int(at)): count for consumer, at, count in conn.execute(query)}


def handling_times(engine: Engine, since: float, limit: int = 5000) -> list[tuple[str, float]]:
    """Of the latest `limit` messages handled since `since` (at most: a busy house is sampled),
    each one's consumer and how long the handler of the try that committed took."""
    took = inbox.c.handled_at - inbox.c.started_at
    query = (select(inbox.c.consumer, took).where(inbox.c.handled_at >= since, inbox.c.started_at.is_not(None))
             .order_by(inbox.c.handled_at.desc()).limit(limit))
    with engine.connect() as conn:
        return [(consumer, took) for consumer, took in conn.execute(query)]


def failed_since(engine: Engine, since: float) -> list[tuple[str, float]]:
    """Each failed store entry that last failed at or after `since`: its queue and when."""
    query = select(failed_messages.c.queue, failed_messages.c.last_failed_at).where(
        failed_messages.c.last_failed_at >= since)
    with engine.connect() as conn:
        return [(queue, failed_at) for queue, failed_at in conn.execute(query)]


def inbox_rows(engine: Engine, consumers: Iterable[str], message_ids: Iterable[str]) -> list[Row[Any]]:
    """The inbox rows of these messages handled by these consumers: which process handled each,
    when its handler started, when it committed, at which attempt, after which error."""
    query = select(inbox).where(inbox.c.consumer.in_(list(consumers)), inbox.c.message_id.in_(list(message_ids)))
    with engine.connect() as conn:
        return list(conn.execute(query).all())


def outbox_lag(engine: Engine, now: float) -> dict[str, Any]:
    """How many outbox rows are due and not in a relay's hands (those a relay published wait
    only to be deleted) and how long the oldest has waited; how many wait for later."""
    due = outbox.c.not_before <= now
    free = or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now)
    with engine.connect() as conn:
        pending, oldest = conn.execute(select(func.count(), func.min(outbox.c.not_before)).where(due, free)).one()
        later = conn.execute(select(func.count()).where(~due)).scalar_one()
    return {"pending": pending, "oldest_seconds": None if oldest is None else round(now - oldest, 3), "delayed": later}


def waiting_in_outbox(engine: Engine, correlation_id: str) -> list[tuple[str, float]]:
    """The type and due time of each message of the conversation that waits in the outbox, no
    relay holding it (a deadline, a retry; not one published, waiting only to be deleted), soonest first."""
    query = (select(outbox.c.headers, outbox.c.not_before)
             .where(outbox.c.headers.contains(correlation_id), outbox.c.claimed_until.is_(None))
             .order_by(outbox.c.not_before))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [(str(fields.get("type")), due_at) for headers, due_at in rows
            if (fields := json.loads(headers)).get("correlation_id") == correlation_id]


def conversations_waiting(engine: Engine, routing_key: str) -> set[str]:
    """The conversations (their correlation ids) with a message of this routing key in the outbox."""
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.headers).where(outbox.c.routing_key == routing_key)).scalars().all()
    return {correlation_id for headers in rows if (correlation_id := json.loads(headers).get("correlation_id"))}


def recent_alerts(engine: Engine, limit: int = 50, kind: str | None = None) -> list[dict[str, Any]]:
    """The alerts raised, the latest first (of one kind, if given), with whether the webhook took each."""
    return [alerts.details(row) for row in alerts.recent(engine, limit, kind)]


def queue_depths(broker: Broker) -> dict[str, dict[str, int | None]]:
    """Each module's queue as the broker counts it, by module: the messages waiting and the
    consumers (None where the broker does not count them: the embedded broker, kombu's other
    virtual transports). A queue the broker does not have is left out; a broker out of reach
    raises one of `broker.connection_errors`."""
    depths: dict[str, dict[str, int | None]] = {}
    with broker.connection() as connection:
        connection.ensure_connection(max_retries=2 * broker.nodes, interval_start=0.2, interval_step=0.5)
        for name, queue in broker.topology.queues.items():
            try:
                with connection.channel() as channel:  # a queue not found closes its channel
                    declared = queue(channel).queue_declare(passive=True)
            except connection.channel_errors:
                continue
            depths[name] = {"messages": declared.message_count,
                            "consumers": declared.consumer_count if broker.is_amqp else None}
    return depths
