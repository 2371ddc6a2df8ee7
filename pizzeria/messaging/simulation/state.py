"""What a simulation reads of the database: when the outbox has work next, and the whole end
state as bytes, to compare two runs of one seed."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import Engine, MetaData, case, func, select

from ..store.tables import outbox

CLAIM_MARGIN = 0.001  # a lease that ends at t is free just after t


def next_due(engine: Engine) -> float | None:
    """The first time an outbox row can be claimed by a relay: due and its lease over."""
    lease_over = func.coalesce(outbox.c.claimed_until + CLAIM_MARGIN, 0)
    claimable = case((lease_over > outbox.c.not_before, lease_over), else_=outbox.c.not_before)  # the later
    with engine.connect() as conn:
        return conn.execute(select(func.min(claimable))).scalar()


def dump(engine: Engine, tables: Sequence[MetaData]) -> bytes:
    """Every row of every table, in a fixed order, as bytes."""
    lines = []
    with engine.connect() as conn:
        for metadata in tables:
            for table in sorted(metadata.tables.values(), key=lambda table: table.name):
                lines.append(f"== {table.name}")
                lines += [repr(tuple(row)) for row in conn.execute(select(table).order_by(*table.columns))]
    return "\n".join(lines).encode()


def digest(data: bytes) -> str:
    """A short fingerprint of `data`."""
    return hashlib.sha256(data).hexdigest()[:16]
