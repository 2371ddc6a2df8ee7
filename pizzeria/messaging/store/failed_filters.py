"""Which entries of the failed store an operation on many touches: filters by queue, type, error,
group and age, every one given holding (they are ANDed); and the durations the age is written in."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement

from .tables import failed_messages

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
DURATION = re.compile(r"^(\d{1,9}(?:\.\d{1,6})?)([smhdw])$")


def duration(text: str) -> float:
    """The seconds of a duration written as a number and a unit: 90s, 30m, 2h, 7d, 1w; ValueError
    saying how to write one."""
    match = DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration: write a number and one of the units s, m, h, d, w "
                         "(30m, 2h, 7d)")
    return float(match[1]) * UNITS[match[2]]


@dataclass(frozen=True)
class Group:
    """The entries not replayed of one queue, type (None: of no known type) and error class."""

    queue: str
    type: str | None
    error_type: str

    @property
    def key(self) -> str:
        """How a command line names the group: `QUEUE/TYPE/ERROR`, `-` for no type."""
        return f"{self.queue}/{self.type or '-'}/{self.error_type}"

    @classmethod
    def of_key(cls, key: str) -> Group:
        """The group a key names; ValueError saying how to write one."""
        queue, _, rest = key.partition("/")
        type_name, _, error_type = rest.rpartition("/")
        if not (queue and type_name and error_type):
            raise ValueError(f"{key!r} is not a group: write QUEUE/TYPE/ERROR as `pizzeria failed groups` lists them")
        return cls(queue, None if type_name == "-" else type_name, error_type)


@dataclass(frozen=True)
class FailedFilters:
    """The entries of this queue, of this type, whose error (`Class: message`) contains `error` in
    any case, of this group, whose last failure is more than `older_than` seconds old: each
    filter given narrows the choice; none given chooses nothing."""

    queue: str | None = None
    type: str | None = None
    error: str | None = None
    group: Group | None = None
    older_than: float | None = None

    def given(self) -> bool:
        """Whether any filter is given."""
        return any(getattr(self, field.name) is not None for field in fields(self))

    def where(self, now: float) -> list[ColumnElement[bool]]:
        """The conditions an entry meets to be chosen at `now` (none if no filter is given)."""
        column = failed_messages.c
        conditions: list[ColumnElement[bool]] = []
        if self.queue is not None:
            conditions.append(column.queue == self.queue)
        if self.type is not None:
            conditions.append(column.type == self.type)
        if self.error is not None:
            shown = column.error_type.concat(": ").concat(column.error)
            conditions.append(shown.icontains(self.error, autoescape=True))
        if self.group is not None:
            conditions += [column.queue == self.group.queue, column.error_type == self.group.error_type,
                           column.replayed_at.is_(None), _equal(column.type, self.group.type)]
        if self.older_than is not None:
            conditions.append(column.last_failed_at < now - self.older_than)
        return conditions


def _equal(column: Any, value: str | None) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value  # type: ignore[no-any-return]
