"""Choosing failed messages by filters on each database: for any entries and any filters, the
choice is exactly the entries every filter given holds for, and a delete by the same filters
(what a dry run lists first) deletes exactly those and nothing else; no filter chooses nothing;
durations are one way of writing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from pizzeria.messaging import Names, admin
from pizzeria.messaging.admin import FailedFilters, FailedGroup
from pizzeria.messaging.store import failed
from pizzeria.messaging.store.tables import failed_edits

NAMES = Names("shop")
NOW = 1_000_000.0
QUEUES, TYPES, ERRORS = ["shop.kitchen", "shop.waiter"], [None, "DoPizza", "ShowBill"], [KeyError, ValueError]
TEXT = "aB%_/ "  # LIKE's wildcards and the escape character, to be taken as they are

rows = st.lists(st.fixed_dictionaries({
    "queue": st.sampled_from(QUEUES), "type": st.sampled_from(TYPES), "error": st.sampled_from(ERRORS),
    "message": st.text(TEXT, max_size=4), "minutes_ago": st.integers(0, 5), "replayed": st.booleans()}), max_size=8)
filters = st.builds(
    FailedFilters, queue=st.none() | st.sampled_from(QUEUES), type=st.none() | st.sampled_from(TYPES[1:]),
    error=st.none() | st.text(TEXT + "Ey:", max_size=3),
    group=st.none() | st.builds(FailedGroup, st.sampled_from(QUEUES), st.sampled_from(TYPES),
                                st.sampled_from([error.__name__ for error in ERRORS])),
    older_than=st.none() | st.integers(0, 5).map(lambda minutes: minutes * 60.0))


def kept(engine, given_rows: list[dict]) -> dict[int, dict]:
    """The rows stored as failed entries, as the core stores them; by id."""
    with engine.begin() as conn:
        conn.execute(delete(failed_edits))
        conn.execute(delete(failed.failed_messages))
    by_id = {}
    for n, row in enumerate(given_rows):
        entry = failed.Entry(row["queue"], b"{}", {"message_id": f"m-{n}", **({"type": row["type"]} if row["type"] else {})},
                             "application/json", row["error"](row["message"]), None, attempts=1)
        entry_id = failed.store(engine, entry, NAMES, NOW - 60 * row["minutes_ago"])
        if row["replayed"]:
            (stored,) = failed.entries(engine, [entry_id])
            failed.replay(engine, lambda _message: None, stored, NAMES, NOW)
        by_id[entry_id] = row
    return by_id


def holds(chosen: FailedFilters, row: dict) -> bool:
    """Whether every filter given holds for the row: the model the database must agree with."""
    error = f"{row['error'].__name__}: {row['error'](row['message'])}"
    group = chosen.group
    return all([
        chosen.queue in (None, row["queue"]), chosen.type in (None, row["type"]),
        chosen.error is None or chosen.error.lower() in error.lower(),
        group is None or (group.queue, group.type, group.error_type, row["replayed"]) == (
            row["queue"], row["type"], row["error"].__name__, False),
        chosen.older_than is None or NOW - 60 * row["minutes_ago"] < NOW - chosen.older_than])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(given_rows=rows, chosen=filters)
def test_the_filters_choose_exactly_what_they_say_and_a_delete_by_them_deletes_just_that(engine, given_rows, chosen):
    by_id = kept(engine, given_rows)
    expected = sorted(entry_id for entry_id, row in by_id.items() if holds(chosen, row)) if chosen.given() else []
    dry_run = [entry.id for entry in admin.failed_chosen(engine, chosen, NOW)]
    assert dry_run == expected
    assert admin.delete_failed_chosen(engine, chosen, NOW) == dry_run
    assert [entry.id for entry in failed.entries(engine)] == sorted(set(by_id) - set(dry_run))


def test_a_status_narrows_the_choice_and_no_filter_chooses_nothing(engine):
    kept(engine, [{"queue": "shop.kitchen", "type": "DoPizza", "error": KeyError, "message": "", "minutes_ago": 0,
                   "replayed": replayed} for replayed in (False, True)])
    first, second = (entry.id for entry in failed.entries(engine))
    kitchen = FailedFilters(queue="shop.kitchen")
    assert [entry.id for entry in admin.failed_chosen(engine, kitchen, NOW, admin.FAILED)] == [first]
    assert [entry.id for entry in admin.failed_chosen(engine, kitchen, NOW, admin.REPLAYED)] == [second]
    assert (admin.failed_chosen(engine, FailedFilters(), NOW), admin.delete_failed_chosen(engine, FailedFilters(), NOW)) == (
        [], [])
    assert len(failed.entries(engine)) == 2


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("30m", 1800), ("2h", 7200), ("7d", 604800), ("1w", 604800),
                                           ("1.5h", 5400), (" 2h ", 7200)])
def test_a_duration_is_a_number_and_a_unit(text, seconds):
    assert admin.duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2", "h", "2 h", "-1h", "2y", "1e3s", "2H"])
def test_anything_else_is_no_duration_and_says_how_to_write_one(text):
    with pytest.raises(ValueError, match="write a number and one of the units s, m, h, d, w"):
        admin.duration(text)


def test_a_group_is_named_queue_type_error_and_a_group_of_no_type_by_a_dash():
    for group in (FailedGroup("shop.kitchen", "DoPizza", "KeyError"), FailedGroup("shop.dead_letters", None, "Unsettled")):
        assert FailedGroup.of_key(group.key) == group
    assert FailedGroup.of_key("shop.kitchen/-/BadMessage") == FailedGroup("shop.kitchen", None, "BadMessage")
    with pytest.raises(ValueError, match="write QUEUE/TYPE/ERROR"):
        FailedGroup.of_key("shop.kitchen/DoPizza")
