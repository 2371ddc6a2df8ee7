"""The tries a message went through, carried in its headers from one delivery to the next:
garbled headers count as none, never as an error."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pizzeria.messaging import Names
from pizzeria.messaging.delivery.policy import FailurePolicy, Tries

NAMES = Names("shop")
ATTEMPTS, ROUND, FIRST = "x-shop-attempts", "x-shop-retry-round", "x-shop-first-failed-at"
LAST_ERROR = "x-shop-last-error"


def test_the_tries_are_read_from_the_applications_own_headers():
    headers = {ATTEMPTS: 3, ROUND: 1, FIRST: 1000.5, "x-other-attempts": 9}
    assert Tries.of(headers, NAMES) == Tries(3, 1, 1000.5)


def test_numbers_written_as_text_or_decimals_by_another_client_are_read():
    assert Tries.of({ATTEMPTS: "4", ROUND: Decimal("2"), FIRST: "1000.25"}, NAMES) == Tries(4, 2, 1000.25)


@pytest.mark.parametrize("garbled", ["three", "", "1.5", None, [3], {"n": 3}, b"\xff", float("nan"), float("inf")])
def test_a_garbled_count_counts_as_none(garbled):
    assert Tries.of({ATTEMPTS: garbled, ROUND: garbled}, NAMES) == Tries(0, 0, None)


@pytest.mark.parametrize("garbled", ["yesterday", [1.0], {"at": 1.0}, b"\xff"])
def test_a_garbled_first_failure_time_counts_as_unknown(garbled):
    assert Tries.of({FIRST: garbled}, NAMES).first_failed_at is None


def test_the_next_round_keeps_the_other_headers_counts_the_round_and_keeps_the_first_failure_time():
    tries = Tries(3, 1, 1000.0, "ValueError: before")
    headers = tries.next_round({"message_id": "m1", ATTEMPTS: 3}, NAMES, attempts=6, failed_at=2000.0,
                               error="KeyError: now")
    assert headers == {"message_id": "m1", ATTEMPTS: 6, ROUND: 2, FIRST: 1000.0, LAST_ERROR: "KeyError: now"}
    assert Tries.of(headers, NAMES) == Tries(6, 2, 1000.0, "KeyError: now")


def test_the_first_round_records_when_the_message_first_failed():
    headers = Tries().next_round({}, NAMES, attempts=3, failed_at=2000.0, error="E")
    assert headers[FIRST] == 2000.0 and headers[ROUND] == 1


def test_the_error_carried_is_cut_to_what_the_inbox_keeps():
    headers = Tries().next_round({}, NAMES, attempts=3, failed_at=2000.0, error="E" * 1000)
    assert Tries.of(headers, NAMES).last_error == "E" * 255


def test_forgetting_the_tries_removes_only_the_headers_that_carry_them():
    headers = {"message_id": "m1", ATTEMPTS: 6, ROUND: 2, FIRST: 1000.0, LAST_ERROR: "E", "x-shop-replayed": 4}
    assert Tries.forgotten(headers, NAMES) == {"message_id": "m1", "x-shop-replayed": 4}
    assert Tries.of(Tries.forgotten(headers, NAMES), NAMES) == Tries()


def test_delays_start_at_the_first_and_never_pass_the_maximum():
    policy = FailurePolicy(first_delay=0.5, factor=2, max_delay=3)
    assert [policy.delay(n) for n in range(5)] == [0.5, 1, 2, 3, 3]
