"""The visits an operation on many (cancel, retry) acts on: those in progress at a stage, stuck,
or started longer ago than a while, every filter given holding (they are ANDed)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from pizzeria.messaging import Publisher

from . import service, views
from .repository import visits
from .saga import IN_PROGRESS, Stage

WAITING = tuple(stage.value for stage in Stage if stage not in (Stage.FINISHED, Stage.REJECTED, Stage.CANCELLED))


@dataclass(frozen=True)
class VisitFilters:
    """The visits in progress at `stage`, stuck (see views.stuck), started more than
    `older_than` seconds ago: each filter given narrows the choice; none given chooses nothing."""

    stage: str | None = None
    stuck: bool = False
    older_than: float | None = None

    def given(self) -> bool:
        """Whether any filter is given."""
        return self.stage is not None or self.stuck or self.older_than is not None


def chosen(engine: Engine, filters: VisitFilters, now: float, deadline_seconds: float) -> list[dict[str, Any]]:
    """The visits in progress (those held up by a failed message too) the filters choose at
    `now`, by table: each one's visit and table ids, stage, start, and seconds since it moved."""
    if not filters.given():
        return []
    stuck = {report["visit_id"] for report in views.stuck(engine, now, deadline_seconds)} if filters.stuck else None
    query = (select(visits.c.visit_id, visits.c.table_id, visits.c.state, visits.c.started_at, visits.c.updated_at)
             .where(visits.c.status == IN_PROGRESS).order_by(visits.c.table_id))
    if filters.older_than is not None:
        query = query.where(visits.c.started_at < now - filters.older_than)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    found = []
    for row in rows:
        stage = json.loads(row.state)["stage"]
        if filters.stage in (None, stage) and (stuck is None or row.visit_id in stuck):
            found.append({"visit_id": row.visit_id, "table_id": row.table_id, "stage": stage,
                          "started_at": datetime.fromtimestamp(row.started_at, UTC).isoformat(timespec="seconds"),
                          "waited_seconds": round(now - row.updated_at, 1)})
    return found


def tell_each(engine: Engine, publisher: Publisher, visit_ids: Iterable[str], command: Any) -> list[str]:
    """Send `command` (CancelVisit, RetryStep) to each of these visits still in progress; return
    the ids of those it went to (one that ended meanwhile is left out)."""
    told = []
    for visit_id in visit_ids:
        try:
            service.tell(engine, publisher, visit_id, command)
        except LookupError:  # NotInProgress too: it ended since it was chosen
            continue
        told.append(visit_id)
    return told
