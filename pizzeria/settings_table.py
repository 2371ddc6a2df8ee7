"""Every setting of the application itself, once: its name (`PIZZERIA_<NAME>` in the environment,
`<name>` in a settings file), how its value is read, its default, and what it does. Each module
declares its own in its `module.py`."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pizzeria import modules
from pizzeria.messaging import MAX_BODY_BYTES, BreakerPolicy, Chores, FailurePolicy, Setting

RETRY, CHORES, BREAKER = FailurePolicy(), Chores(), BreakerPolicy()  # the defaults
INBOX_RETENTION_DAYS = CHORES.inbox_retention / 86400
# A month of visits to look back on (a bill disputed, a story told); the failed store keeps a
# message a week after its replay, as ServiceControl does, and no longer than the inbox remembers
# (a replay of it again is then still known for what it is: see the README's *Retention*).
VISIT_RETENTION_DAYS, FAILED_RETENTION_DAYS, PURGE_SECONDS = 30.0, INBOX_RETENTION_DAYS, 600.0
FAULT = re.compile(r"^(?P<queue>[a-z_][a-z0-9_]*)\.(?P<type>[A-Za-z]+):(?P<times>\d{1,4}|kill|\d{1,5}s)$")
KILL = -1  # a fault's times that say: the handler kills its own process, every time


@dataclass(frozen=True)
class Down:
    """A fault that fails every try for `seconds` from the handler's first try: a dependency down."""

    seconds: float


def directory(value: object) -> Path:
    """An absolute path; a relative one is taken from the current directory."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"={value!r} is not a text that is not empty")
    return Path(value).absolute()


def optional_text(value: object) -> str | None:
    """A text, or None for an empty one."""
    if not isinstance(value, str):
        raise ValueError(f"={value!r} is not a text")
    return value or None


def queue_type(value: object) -> str:
    """quorum or classic."""
    if value not in ("quorum", "classic"):
        raise ValueError(f"={value!r} must be one of quorum, classic")
    return str(value)


def faults(value: object) -> dict[str, int | Down]:
    """`waiter.ShowBill:2,kitchen.DoPizza:kill,menu.GetMenu:60s`, or a table `{waiter.ShowBill = 2}`:
    failures on purpose (KILL for `kill`, Down for `60s`)."""
    times = {}
    for part in _items(value):
        match = FAULT.match(part)
        if not match or match["queue"] not in modules.names():
            raise ValueError(f": {part!r} is not QUEUE.MessageType:TIMES (or :kill, or :SECONDSs) with QUEUE one of "
                             f"{', '.join(modules.names())}")
        times[f"{match['queue']}.{match['type']}"] = _fault(match["times"])
    return times


def _fault(times: str) -> int | Down:
    return KILL if times == "kill" else Down(float(times[:-1])) if times.endswith("s") else int(times)


def _items(value: object) -> list[str]:
    """The `NAME:N` items of a comma-separated text, or of a table (whose dotted keys nest)."""
    if isinstance(value, str):
        return [part for part in (part.strip() for part in value.split(",")) if part]
    if isinstance(value, Mapping):
        return [f"{name}:{times}" for name, times in _flat(value)]
    raise ValueError(f"={value!r} is neither a text NAME:N,... nor a table")


def _flat(table: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, object]]:
    for name, value in table.items():
        if isinstance(value, Mapping):
            yield from _flat(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


SETTINGS = (  # var_dir first: the defaults of the URLs use it
    Setting("var_dir", directory, "var", "where the embedded broker and database live"),
    Setting("broker_url", str, "sqlite:///{var_dir}/broker.sqlite", "the broker; amqp://user:password@host:5672/vhost "
            "for RabbitMQ, several nodes separated by ;"),
    Setting("database_url", str, "sqlite:///{var_dir}/pizzeria.sqlite", "the database; postgresql+psycopg://... "
            "for PostgreSQL"),
    Setting("queue_type", queue_type, "quorum", "the kind of RabbitMQ queues declared"),
    Setting("broker_heartbeat", float, 60.0, "seconds between heartbeats with RabbitMQ; 0 turns them off",
            within=(0, 3600)),
    Setting("delivery_limit", int, RETRY.delivery_limit, "how many times a message may be delivered without being "
            "settled (its consumer killed by it, say) before it goes to the failed store", within=(2, 1000)),
    Setting("log_json", bool, False, "log JSON lines instead of readable ones"),
    Setting("retry_immediate", int, RETRY.immediate, "retries at once", within=(0, 20)),
    Setting("retry_delayed", int, RETRY.delayed, "later rounds of retries", within=(0, 20)),
    Setting("retry_delay_seconds", float, RETRY.first_delay, "the first later round's delay", within=(0, 3600)),
    Setting("retry_backoff", float, RETRY.factor, "how much each later round's delay grows", within=(1, 10)),
    Setting("retry_max_delay_seconds", float, RETRY.max_delay, "the longest delay of a later round", within=(0, 86400)),
    Setting("max_body_bytes", int, MAX_BODY_BYTES, "larger messages go to the failed store",
            within=(1024, 128 * 1024 * 1024)),
    Setting("inbox_retention_days", float, INBOX_RETENTION_DAYS, "how long a consumer remembers the messages it "
            "handled", within=(1, 3650)),
    Setting("outbox_sweep_seconds", float, CHORES.sweep_seconds, "how often a consumer publishes what is due in the "
            "outbox (delayed retries, rows a crash left behind)", within=(0.05, 3600)),
    Setting("inbox_prune_seconds", float, CHORES.prune_seconds, "how often a consumer forgets what is past the inbox's "
            "retention", within=(1, 86400)),
    Setting("visit_retention_days", float, VISIT_RETENTION_DAYS, "how long a visit that ended (finished, rejected, "
            "cancelled) is kept, with its history; 0: forever", within=(0, 36500)),
    Setting("failed_retention_days", float, FAILED_RETENTION_DAYS, "how long the failed store keeps a message after "
            "its replay; 0: forever (one never replayed stays, one deleted goes at once)", within=(0, 36500)),
    Setting("purge_seconds", float, PURGE_SECONDS, "how often a consumer goes through what is past the visits' and "
            "the failed store's retention", within=(1, 86400)),
    Setting("outage_backoff_seconds", float, RETRY.outage_backoff, "how long a consumer waits after a batch the "
            "database's outage stopped; doubled each time", within=(0.01, 600)),
    Setting("max_outage_backoff_seconds", float, RETRY.max_outage_backoff, "the longest wait of the outage "
            "back-off", within=(0.01, 3600)),
    Setting("breaker_window_seconds", float, BREAKER.window, "the circuit breaker's window: the tries of the last "
            "this many seconds count", within=(1, 3600)),
    Setting("breaker_min_attempts", int, BREAKER.min_attempts, "the fewest tries in the window for the breaker to "
            "open; 0: it never opens", within=(0, 100000)),
    Setting("breaker_failure_ratio", float, BREAKER.ratio, "the share of failed tries in the window that opens the "
            "breaker: the consumer holds the queue", within=(0.01, 1)),
    Setting("breaker_pause_seconds", float, BREAKER.pause, "how long an open breaker holds its queue before a trial "
            "batch", within=(0.1, 3600)),
    Setting("metrics_port", int, 0, "the port where each consumer serves /metrics, /livez and /readyz; 0: none "
            "(pizzeria consume --metrics-port overrules it)", within=(0, 65535)),
    Setting("alert_webhook", optional_text, "", "a URL each alert is POSTed to as JSON, retried until it answers 2xx",
            secret=True),
    Setting("alert_webhook_per_minute", int, 20, "the most alerts POSTed in a minute, for the whole house",
            within=(1, 10000)),
    Setting("alert_check_seconds", float, 5.0, "how often a consumer looks for something to alert of; 0: never",
            within=(0, 3600)),
    Setting("alert_queue_growth_seconds", float, 300.0, "how long an endpoint's queue may keep growing before "
            "it is an alert", within=(10, 86400)),
    Setting("faults", faults, "", "QUEUE.Type:N,...: that handler fails its first N attempts (:kill: it kills "
            "its process, each time; :60s: it fails every try for 60 s from its first)"),
    Setting("web_token", optional_text, "", "what every request of pizzeria web that changes something must carry",
            secret=True),
)

FIELDS = {  # where Settings keeps those it does not keep under their own name; retry.NAME: the FailurePolicy's
    # NAME, breaker.NAME: the BreakerPolicy's
    "broker_heartbeat": "heartbeat_seconds",
    "delivery_limit": "retry.delivery_limit",
    "retry_immediate": "retry.immediate",
    "retry_delayed": "retry.delayed",
    "retry_delay_seconds": "retry.first_delay",
    "retry_backoff": "retry.factor",
    "retry_max_delay_seconds": "retry.max_delay",
    "outage_backoff_seconds": "retry.outage_backoff",
    "max_outage_backoff_seconds": "retry.max_outage_backoff",
    "breaker_window_seconds": "breaker.window",
    "breaker_min_attempts": "breaker.min_attempts",
    "breaker_failure_ratio": "breaker.ratio",
    "breaker_pause_seconds": "breaker.pause",
}
