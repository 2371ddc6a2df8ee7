"""Retention: rows kept for a while after they end, then removed a small batch at a time, so
that nothing waits long behind a purge (on SQLite one writer at a time). A batch looks at the
next stretch of its table in key order and removes, in one transaction, those of its rows that
ended before the window (skipping any another transaction holds) with the rows of other tables
that point at them. The failed store's retention is here; an application declares its own alike."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Engine, delete, func, select

from .tables import failed_edits, failed_messages

Counts = dict[str, int]  # rows by the name of their table
BATCH_ROWS = 200  # rows of a table looked at in one transaction, at most


@dataclass(frozen=True)
class Retention:
    """Rows of the table of `key` (its one-column primary key) kept `seconds` after they end
    (`ended(before)` tells those that ended before a time; no seconds: kept forever), then
    removed with the rows of other tables whose column of `with_them` holds their key; at most
    `batch` rows of the table looked at in one transaction."""

    seconds: float
    key: Column[Any]
    ended: Callable[[float], ColumnElement[bool]]
    with_them: tuple[Column[Any], ...] = ()
    batch: int = BATCH_ROWS

    @property
    def tables(self) -> list[str]:
        """The names of the tables it removes rows of, its own first."""
        return [self.key.table.name, *(column.table.name for column in self.with_them)]

    def count(self, conn: Connection, before: float) -> Counts:
        """How many rows of each table a purge of the rows that ended before `before` would remove."""
        ended = select(self.key).where(self.ended(before))
        counts = {self.key.table.name: int(conn.scalar(select(func.count()).select_from(ended.subquery())) or 0)}
        for column in self.with_them:
            counts[column.table.name] = int(conn.scalar(select(func.count()).where(column.in_(ended))) or 0)
        return counts

    def remove_batch(self, conn: Connection, before: float, after: Any) -> tuple[Counts, Any]:
        """Remove the rows ended before `before` among the next `batch` rows after the key
        `after` (from the first one if None), but those another transaction holds, with the rows
        that point at them; return how many of each table, and the key to go on after (None:
        the table's end)."""
        stretch = select(self.key).order_by(self.key).limit(self.batch)
        lower = [self.key > after] if after is not None else []
        looked = stretch.where(*lower).subquery()
        seen, last = conn.execute(select(func.count(), func.max(looked.c[self.key.name]))).one()
        if not seen:
            return dict.fromkeys(self.tables, 0), None
        chosen = list(conn.execute(select(self.key).where(*lower, self.key <= last, self.ended(before))
                                   .with_for_update(skip_locked=True)).scalars())
        return self._remove(conn, chosen), last if seen == self.batch else None

    def _remove(self, conn: Connection, keys: list[Any]) -> Counts:
        """Delete the rows with these keys and those that point at them; how many of each table."""
        removed = dict.fromkeys(self.tables, 0)
        if keys:
            for column in self.with_them:
                removed[column.table.name] = conn.execute(delete(column.table).where(column.in_(keys))).rowcount
            removed[self.key.table.name] = conn.execute(delete(self.key.table).where(self.key.in_(keys))).rowcount
        return removed


def batches(engine: Engine, retentions: Iterable[Retention], now: float) -> Iterator[Counts]:
    """The purge at `now` of what each retention keeps no longer, one batch a step: each step
    removes a batch in a transaction of its own and yields how many rows of each table."""
    for retention in retentions:
        if retention.seconds <= 0:
            continue
        before, after = now - retention.seconds, None
        while True:
            with engine.begin() as conn:
                removed, after = retention.remove_batch(conn, before, after)
            yield removed
            if after is None:
                break


def purge(engine: Engine, retentions: Iterable[Retention], now: float) -> Counts:
    """Remove, a batch at a time, every row past its retention at `now`; return how many of each table."""
    total: Counter[str] = Counter()
    for removed in batches(engine, retentions, now):
        total.update(removed)
    return dict(total)


def purgeable(engine: Engine, retentions: Iterable[Retention], now: float) -> Counts:
    """How many rows of each table `purge` would remove at `now`."""
    with engine.connect() as conn:
        return {table: count for retention in retentions if retention.seconds > 0
                for table, count in retention.count(conn, now - retention.seconds).items()}


def failed_retention(seconds: float) -> Retention:
    """The failed store's entries replayed more than `seconds` ago and not failed again since
    (a failure again unmarks an entry), with their edits; an entry never replayed stays however
    old, and one deleted is gone at once."""
    return Retention(seconds, failed_messages.c.id, _replayed_before, (failed_edits.c.failed_id,))


def _replayed_before(before: float) -> ColumnElement[bool]:
    return failed_messages.c.replayed_at < before
