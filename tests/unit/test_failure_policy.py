"""The one failure policy: every rule of what comes after a failure, decided in one place."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import OperationalError

from pizzeria.messaging import BadMessage, Dead, FailurePolicy, Requeue, RetryLater, RetryNow

POLICY = FailurePolicy(immediate=2, delayed=2, first_delay=1.0, factor=3.0, max_delay=5.0, delivery_limit=4)
OUTAGE = OperationalError("select 1", {}, Exception("the server closed the connection"))

policies = st.builds(FailurePolicy, immediate=st.integers(0, 5), delayed=st.integers(0, 5),
                     first_delay=st.floats(0, 10), factor=st.floats(1, 4), max_delay=st.floats(0, 100))


def test_a_handlers_error_is_retried_now_then_later_then_dead():
    decisions = [POLICY.after_failure(RuntimeError("oven cold"), failures, rounds)
                 for rounds in range(3) for failures in range(1, 4)]
    assert decisions == [RetryNow(), RetryNow(), RetryLater(1.0), RetryNow(), RetryNow(), RetryLater(3.0),
                         RetryNow(), RetryNow(), Dead()]


def test_a_bad_message_is_dead_at_once_and_an_outage_requeues_whatever_the_tries():
    assert POLICY.after_failure(BadMessage("no such type"), 1, 0) == Dead()
    assert POLICY.after_failure(OUTAGE, 99, 99) == Requeue()


def test_a_message_started_past_the_delivery_limit_is_dead():
    assert [POLICY.after_starts(started) for started in (1, 4, 5)] == [None, None, Dead()]


@given(policies, st.integers(1, 12), st.integers(0, 12))
def test_a_message_is_never_retried_past_its_tries_and_its_delay_never_passes_the_maximum(policy, failures, rounds):
    decision = policy.after_failure(ValueError("bad"), failures, rounds)
    if isinstance(decision, RetryNow):
        assert failures <= policy.immediate
    elif isinstance(decision, RetryLater):
        assert failures > policy.immediate and rounds < policy.delayed and 0 <= decision.delay <= policy.max_delay
    else:
        assert decision == Dead() and failures > policy.immediate and rounds >= policy.delayed


def test_conflicts_are_retried_longer_alone_than_in_a_group():
    alone = sum(1 for again in range(1, 200) if POLICY.retry_conflict(again, 1))
    grouped = sum(1 for again in range(1, 200) if POLICY.retry_conflict(again, 3))
    assert (alone, grouped) == (POLICY.conflict_attempts - 1, POLICY.group_conflict_attempts - 1)


def test_an_outage_pauses_longer_each_time_then_requeues_and_the_consumer_backs_off_up_to_a_maximum():
    assert [POLICY.outage_pause(again) for again in (1, 2, 3)] == [0.1, 0.2, None]
    assert [POLICY.backoff(outages) for outages in (1, 2, 3, 4, 5, 6)] == [1.0, 2.0, 4.0, 8.0, 16.0, 16.0]
