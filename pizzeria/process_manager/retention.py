"""How long the process manager keeps a visit that ended: finished, rejected or cancelled, it
goes with its history once its last change is older than the window; a visit in progress stays,
however old."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_

from pizzeria.messaging import Retention

from .repository import history, visits
from .visit import Status

ENDED = (Status.FINISHED, Status.REJECTED, Status.CANCELLED)
# Visits looked at in one transaction: one of three pizzas has 19 rows of history, so about 400
# rows are removed at most, a few milliseconds of a lock.
VISITS_PER_BATCH = 20


def visit_retention(seconds: float) -> Retention:
    """The visits that ended more than `seconds` ago, by their last change, with their history (no seconds: kept forever)."""
    return Retention(seconds, visits.c.visit_id, _ended_before, (history.c.visit_id,), VISITS_PER_BATCH)


def _ended_before(before: float) -> ColumnElement[bool]:
    return and_(visits.c.status.in_([str(status) for status in ENDED]), visits.c.updated_at < before)
