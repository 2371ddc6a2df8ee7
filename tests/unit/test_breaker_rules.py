"""The circuit breaker's rules, for any run of tries (hypothesis): it opens only on a window that
holds enough tries and enough of them failed; open, it admits nothing and releases every failure;
it tries a batch only once its pause is over, whose trial goes the ordinary way but for the
failed store; closed, it never changes what the policy decided;
a database outage and a bad message never count."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import OperationalError

from pizzeria.messaging import BadMessage, BreakerPolicy, CircuitBreaker, Names, VirtualClock, make_engine
from pizzeria.messaging.admin import core_tables
from pizzeria.messaging.delivery.policy import Dead, Release, Requeue, RetryLater, RetryNow
from pizzeria.messaging.store import breakers

NAMES = Names("pizzeria")
QUEUE = NAMES.queue("kitchen")
POLICY = BreakerPolicy(window=10.0, min_attempts=4, ratio=0.5, pause=5.0)
ENGINE = make_engine("sqlite://")
core_tables.create_all(ENGINE)


@dataclass
class Message:
    """What the breaker reads of a message in flight: its queue."""

    queue: str = QUEUE


ERRORS = {"ok": None, "failed": ConnectionError("no oven"), "outage": OperationalError("SELECT", {}, Exception("gone")),
          "bad": BadMessage("no such pizza")}
DECIDED = {"now": RetryNow(), "later": RetryLater(1.0), "dead": Dead()}
TRIES = st.lists(st.tuples(st.floats(0, 4), st.sampled_from(sorted(ERRORS)), st.sampled_from(sorted(DECIDED))),
                 max_size=60)


def breaker(clock: VirtualClock, process: str = "host:1") -> CircuitBreaker:
    return CircuitBreaker(POLICY, ENGINE, process, NAMES, clock, structlog.get_logger())


@settings(max_examples=200, deadline=None)
@given(TRIES)
def test_the_breaker_keeps_its_rules_for_any_run_of_tries(tries):
    clock = VirtualClock()
    subject, counted = breaker(clock), []  # counted: (when, failed) of the tries that count, since it last closed
    for wait, outcome, decided_as in tries:
        clock.advance(wait)
        was = subject.circuit(QUEUE)
        state_before, opened_at = was.state, was.opened_at
        subject.on_idle(clock.monotonic())
        if state_before == "open" and subject.circuit(QUEUE).state == "half-open":
            assert clock.monotonic() >= opened_at + POLICY.pause
        state = subject.circuit(QUEUE).state
        assert subject.admits("kitchen") == (state != "open")
        error = ERRORS[outcome]
        subject.after_handler(Message(), error)
        if outcome in ("ok", "failed"):
            counted.append((clock.monotonic(), outcome == "failed"))
        after = subject.circuit(QUEUE).state
        if after == "closed" and state != "closed":  # closing, it forgets the tries before
            counted.clear()
        if outcome in ("outage", "bad"):
            assert after == state
        if state == "closed" and after == "open":
            window = [failed for when, failed in counted if when >= clock.monotonic() - POLICY.window]
            assert len(window) >= POLICY.min_attempts and sum(window) >= POLICY.ratio * len(window)
        if error is not None:
            decided = DECIDED[decided_as]
            steered = subject.deciding(Message(), error, decided)
            if outcome == "outage":
                assert subject.deciding(Message(), error, Requeue()) == Requeue()
            elif outcome == "bad" or after == "closed":
                assert steered == decided
            elif after == "open":
                assert steered == Release()
            else:  # half-open: the trial goes the ordinary way but for the failed store, and ends it
                assert steered == (Release() if decided_as == "dead" else decided)
                assert subject.circuit(QUEUE).state == ("half-open" if decided_as == "now" else "open")
        if subject.circuit(QUEUE).state == "closed" and after != "closed":
            counted.clear()


def test_a_breaker_opens_waits_its_pause_tries_a_batch_and_closes_and_each_change_is_recorded():
    clock = VirtualClock()
    subject = breaker(clock, "host:3")
    for _ in range(4):
        subject.after_handler(Message(), ERRORS["failed"])
    assert subject.deciding(Message(), ERRORS["failed"], Dead()) == Release()
    assert not subject.admits("kitchen")
    clock.advance(POLICY.pause - 0.1)
    subject.on_idle(clock.monotonic())
    assert not subject.admits("kitchen")
    clock.advance(0.1)
    subject.on_idle(clock.monotonic())
    assert subject.admits("kitchen") and subject.circuit(QUEUE).state == "half-open"
    subject.after_handler(Message(), None)
    subject.after_settle("kitchen", [])
    mine = [change for change in breakers.history(ENGINE) if change["process"] == "host:3"]
    assert [change["state"] for change in reversed(mine)] == ["open", "half-open", "closed"]
    assert (mine[-1]["tries"], mine[-1]["failed"], mine[-1]["reason"]) == (4, 4, "ConnectionError: no oven")


def test_a_breaker_with_no_least_number_of_tries_never_opens():
    subject = CircuitBreaker(BreakerPolicy(min_attempts=0), ENGINE, "host:2", NAMES, VirtualClock(),
                             structlog.get_logger())
    for _ in range(50):
        subject.after_handler(Message(), ERRORS["failed"])
    assert subject.admits("kitchen") and subject.deciding(Message(), ERRORS["failed"], Dead()) == Dead()
