"""Every setting, once: its key (`PIZZERIA_<KEY>` in the environment, `<key>` in a settings file),
how its value is read, its default, whether it is secret, and what it does."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pizzeria import modules
from pizzeria.messaging.delivery.pipeline import MAX_BODY_BYTES
from pizzeria.messaging.delivery.policy import RetryPolicy
from pizzeria.messaging.store.inbox import RETENTION_SECONDS

RETRY = RetryPolicy()  # the defaults
INBOX_RETENTION_DAYS = RETENTION_SECONDS / 86400
STOCK = re.compile(r"^(?P<pizza>[a-z][a-z0-9_]{0,31}):(?P<left>\d{1,6})$")
FAULT = re.compile(r"^(?P<queue>[a-z_][a-z0-9_]*)\.(?P<type>[A-Za-z]+):(?P<times>\d{1,4}|kill)$")
KILL = -1  # a fault's times that say: the handler kills its own process, every time
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")


class Invalid(ValueError):
    """A value a setting cannot take; its text goes on from the setting's name (`='x' is not a number`)."""


@dataclass(frozen=True)
class Setting:
    """One setting: `parse` reads the environment's text or a settings file's value, and the default
    (written the same way; `{var_dir}` in a text default is that setting's value)."""

    key: str
    parse: Callable[[object], Any]
    default: object
    help: str
    secret: bool = False
    field: str = ""  # the Settings field, when it is not `key`; `retry.NAME` is the RetryPolicy's NAME

    @property
    def env(self) -> str:
        """The environment variable that sets it."""
        return f"PIZZERIA_{self.key.upper()}"

    @property
    def attribute(self) -> str:
        """Where Settings keeps it."""
        return self.field or self.key


def number(low: float, high: float) -> Callable[[object], float]:
    """A reader of a number from `low` to `high`."""
    return lambda value: _within(value, low, high)


def count(low: int, high: int) -> Callable[[object], int]:
    """A reader of a whole number from `low` to `high`."""
    def parse(value: object) -> int:
        found = _within(value, low, high)
        if not found.is_integer():
            raise Invalid(f"={value!r} is not a whole number")
        return int(found)
    return parse


def _within(value: object, low: float, high: float) -> float:
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError
        found = float(value)
    except ValueError:
        raise Invalid(f"={value!r} is not a number") from None
    if not low <= found <= high:
        raise Invalid(f"={value!r} must be between {plain(low)} and {plain(high)}")
    return found


def plain(number: float) -> str:
    """`number` without a needless `.0`."""
    return str(int(number)) if float(number).is_integer() else str(number)


def boolean(value: object) -> bool:
    """True or false, from a TOML boolean or one of 1/0, true/false, yes/no, on/off."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower() if isinstance(value, (int, str)) else None
    if word in TRUE or word in FALSE:
        return word in TRUE
    raise Invalid(f"={value!r} is not a boolean (1/0, true/false, yes/no, on/off)")


def text(value: object) -> str:
    """A text that is not empty."""
    if not isinstance(value, str) or not value:
        raise Invalid(f"={value!r} is not a text that is not empty")
    return value


def optional_text(value: object) -> str | None:
    """A text, or None for an empty one."""
    return text(value) if value != "" else None


def directory(value: object) -> Path:
    """An absolute path; a relative one is taken from the current directory."""
    return Path(text(value)).absolute()


def one_of(*choices: str) -> Callable[[object], str]:
    """A reader of one of `choices`."""
    def parse(value: object) -> str:
        if not isinstance(value, str) or value not in choices:
            raise Invalid(f"={value!r} must be one of {', '.join(choices)}")
        return value
    return parse


def stock(value: object) -> dict[str, int]:
    """`diavola:3,marinara:0`, or a table `{diavola = 3, marinara = 0}`: pizzas the kitchen can still bake."""
    left = {}
    for part in _items(value):
        match = STOCK.match(part)
        if not match:
            raise Invalid(f": {part!r} is not PIZZA:HOW_MANY (say diavola:3)")
        left[match["pizza"]] = int(match["left"])
    return left


def faults(value: object) -> dict[str, int]:
    """`waiter.ShowBill:2,kitchen.DoPizza:kill`, or a table `{waiter.ShowBill = 2}`: failures on
    purpose (KILL for `kill`)."""
    times = {}
    for part in _items(value):
        match = FAULT.match(part)
        if not match or match["queue"] not in modules.names():
            raise Invalid(f": {part!r} is not QUEUE.MessageType:TIMES (or :kill) with QUEUE one of "
                          f"{', '.join(modules.names())}")
        times[f"{match['queue']}.{match['type']}"] = KILL if match["times"] == "kill" else int(match["times"])
    return times


def _items(value: object) -> list[str]:
    """The `NAME:N` items of a comma-separated text, or of a table (whose dotted keys nest)."""
    if isinstance(value, str):
        return [part for part in (part.strip() for part in value.split(",")) if part]
    if isinstance(value, Mapping):
        return [f"{name}:{times}" for name, times in _flat(value)]
    raise Invalid(f"={value!r} is neither a text NAME:N,... nor a table")


def _flat(table: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, object]]:
    for name, value in table.items():
        if isinstance(value, Mapping):
            yield from _flat(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


SETTINGS = (  # var_dir first: the defaults of the URLs use it
    Setting("var_dir", directory, "var", "where the embedded broker and database live"),
    Setting("broker_url", text, "sqlite:///{var_dir}/broker.sqlite", "the broker; amqp://user:password@host:5672/vhost "
            "for RabbitMQ, several nodes separated by ;"),
    Setting("database_url", text, "sqlite:///{var_dir}/pizzeria.sqlite", "the database; postgresql+psycopg://... "
            "for PostgreSQL"),
    Setting("queue_type", one_of("quorum", "classic"), "quorum", "the kind of RabbitMQ queues declared"),
    Setting("broker_heartbeat", number(0, 3600), 60.0, "seconds between heartbeats with RabbitMQ; 0 turns them off",
            field="heartbeat_seconds"),
    Setting("delivery_limit", count(2, 1000), RETRY.delivery_limit, "how many times a message may be delivered "
            "without being settled (its consumer killed by it, say) before it goes to the failed store",
            field="retry.delivery_limit"),
    Setting("bake_seconds", number(0, 3600), 0.5, "how long the kitchen takes to bake one pizza"),
    Setting("log_json", boolean, False, "log JSON lines instead of readable ones"),
    Setting("retry_immediate", count(0, 20), RETRY.immediate, "retries at once", field="retry.immediate"),
    Setting("retry_delayed", count(0, 20), RETRY.delayed, "later rounds of retries", field="retry.delayed"),
    Setting("retry_delay_seconds", number(0, 3600), RETRY.first_delay, "the first later round's delay",
            field="retry.first_delay"),
    Setting("retry_backoff", number(1, 10), RETRY.factor, "how much each later round's delay grows", field="retry.factor"),
    Setting("retry_max_delay_seconds", number(0, 86400), RETRY.max_delay, "the longest delay of a later round",
            field="retry.max_delay"),
    Setting("max_body_bytes", count(1024, 128 * 1024 * 1024), MAX_BODY_BYTES, "larger messages go to the failed store"),
    Setting("inbox_retention_days", number(1, 3650), INBOX_RETENTION_DAYS, "how long a consumer remembers "
            "the messages it handled"),
    Setting("step_deadline_seconds", number(0.1, 86400), 30.0, "how long a step may go unanswered before its "
            "commands go again"),
    Setting("step_resends", count(0, 100), 3, "how many times a step's commands go again before the visit is compensated"),
    Setting("stock", stock, "", "what the kitchen can still bake (PIZZA:HOW_MANY,...); others are unlimited"),
    Setting("faults", faults, "", "QUEUE.Type:N,...: that handler fails its first N attempts (:kill: it kills "
            "its process, each time)"),
    Setting("web_token", optional_text, "", "what every request of pizzeria web that changes something must carry",
            secret=True),
)
