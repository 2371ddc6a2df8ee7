"""The visits as figures for metrics and pictures: how many are at each stage, and how long the
ended ones took, counted by the database."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

from sqlalchemy import Engine, case, func, select

from .repository import visits
from .saga import IN_PROGRESS


def by_stage(engine: Engine) -> dict[str, int]:
    """How many visits are at each stage: those in progress by the stage they wait at, the
    ended ones by how they ended (finished, rejected, cancelled)."""
    with engine.connect() as conn:
        ended = conn.execute(select(visits.c.status, func.count()).where(visits.c.status != IN_PROGRESS)
                             .group_by(visits.c.status)).all()
        states = conn.execute(select(visits.c.state).where(visits.c.status == IN_PROGRESS)).scalars().all()
    counts = Counter(json.loads(state)["stage"] for state in states)
    counts.update({status: count for status, count in ended})
    return dict(counts)


def durations(engine: Engine, bounds: Sequence[float]) -> tuple[list[int], float]:
    """Of the ended visits, how many took at most each bound in seconds (cumulative, as a
    histogram's buckets), with the count of all of them last; and their seconds summed."""
    took = visits.c.updated_at - visits.c.started_at
    columns = [func.coalesce(func.sum(case((took <= bound, 1), else_=0)), 0) for bound in bounds]
    query = select(*columns, func.count(), func.coalesce(func.sum(took), 0.0)).where(visits.c.status != IN_PROGRESS)
    with engine.connect() as conn:
        *counts, total = conn.execute(query).one()
    return [int(count) for count in counts], float(total)
