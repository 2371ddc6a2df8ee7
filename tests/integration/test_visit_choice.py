"""Choosing visits to act on by filters, on each database: for any visits and any filters, the
choice is exactly the visits in progress every filter given holds for, and telling them a
command (what a dry run lists first) sends it to just those; no filter chooses nothing."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from pizzeria.messaging import Envelope, VirtualClock
from pizzeria.process_manager import choice, views
from pizzeria.process_manager.messages import CancelVisit
from pizzeria.process_manager.repository import VisitRepository, visits
from pizzeria.process_manager.saga import Stage, Status, Visit

NOW = 1_800_000_000.0
DEADLINE = 30.0
STAGES = [Stage.AWAITING_MENU, Stage.BAKING, Stage.AWAITING_PAYMENT, Stage.FINISHED]

rows = st.lists(st.fixed_dictionaries({
    "stage": st.sampled_from(STAGES), "started_minutes_ago": st.integers(0, 4),
    "moved_seconds_ago": st.sampled_from([0.0, 0.5, 5.0, 60.0])}), max_size=8)
filters = st.builds(choice.VisitFilters, stage=st.none() | st.sampled_from([stage.value for stage in STAGES]),
                    stuck=st.booleans(), older_than=st.none() | st.integers(0, 4).map(lambda minutes: minutes * 60.0))


class Sent(list):
    """A publisher that keeps what it is given."""

    def publish(self, message) -> None:
        self.append(message)


def kept(engine, given_rows: list[dict]) -> dict[str, dict]:
    """The visits saved as the process manager saves them, each started and last moved when its row says; by id."""
    with engine.begin() as conn:
        conn.execute(delete(visits))
    for n, row in enumerate(given_rows):
        done = row["stage"] == Stage.FINISHED
        visit = Visit(f"visit-{n}", f"T{n}", stage=row["stage"], status=Status.FINISHED if done else Status.IN_PROGRESS)
        with engine.begin() as conn:
            repository = VisitRepository(conn, clock=VirtualClock(NOW - 60 * row["started_minutes_ago"]))
            repository.add(visit)
            repository.flush()
            repository.clock = VirtualClock(NOW - row["moved_seconds_ago"])
            repository.save(visit, 1)
            repository.flush()
    return {f"visit-{n}": row for n, row in enumerate(given_rows)}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(given_rows=rows, chosen=filters)
def test_the_filters_choose_exactly_the_visits_in_progress_they_say_and_a_command_goes_to_just_those(
        engine, given_rows, chosen):
    by_id = kept(engine, given_rows)
    stuck = {report["visit_id"] for report in views.stuck(engine, NOW, DEADLINE)}
    expected = sorted(visit_id for visit_id, row in by_id.items() if chosen.given() and row["stage"] != Stage.FINISHED
                      and chosen.stage in (None, row["stage"]) and (not chosen.stuck or visit_id in stuck)
                      and (chosen.older_than is None or 60 * row["started_minutes_ago"] > chosen.older_than))
    dry_run = [visit["visit_id"] for visit in choice.chosen(engine, chosen, NOW, DEADLINE)]
    assert sorted(dry_run) == expected
    sent = Sent()
    assert choice.tell_each(engine, sent, dry_run, CancelVisit("closing")) == dry_run
    assert [Envelope.decode(message.body).correlation_id for message in sent] == dry_run
    assert {message.routing_key for message in sent} <= {CancelVisit.route}


def test_a_visit_stuck_longer_than_a_deadline_or_with_none_pending_is_chosen_by_stuck_alone(engine):
    kept(engine, [{"stage": Stage.BAKING, "started_minutes_ago": 1, "moved_seconds_ago": seconds}
                  for seconds in (0.0, 60.0)])
    chosen = choice.chosen(engine, choice.VisitFilters(stuck=True), NOW, DEADLINE)
    assert [(visit["visit_id"], visit["table_id"], visit["stage"], visit["waited_seconds"]) for visit in chosen] == [
        ("visit-1", "T1", "baking", 60.0)]
    assert choice.chosen(engine, choice.VisitFilters(), NOW, DEADLINE) == []
