"""Versions of a contract: any message of an older version, drawn by hypothesis, upcasts and
decodes at every newer version, its envelope left as it came; a newer message reads at an older
version as a tolerant reader, or says it is newer when it lacks what the reader needs; and the
waiter one release on reads today's waiter messages, as today's process manager reads its."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pizzeria.devtools import next_waiter
from pizzeria.messaging import Command, Envelope, InvalidPayload, to_payload
from pizzeria.messaging.testing import FakeContext
from pizzeria.waiter import messages as todays


def renamed_guest(payload: dict) -> dict:
    """Version 2 calls the guest its name."""
    rest = {name: value for name, value in payload.items() if name != "guest"}
    return {**rest, "name": payload["guest"]}


def split_name(payload: dict) -> dict:
    """Version 3 splits the name at its first space."""
    first, _, last = payload.pop("name").partition(" ")  # a copy: the envelope keeps its own
    return {**payload, "first_name": first, "last_name": last}


@dataclass(frozen=True)
class ReserveV1(Command, unique_by=()):
    guest: str
    party: int


@dataclass(frozen=True)
class ReserveV2(Command, unique_by=(), version=2, upcasters={1: renamed_guest}):
    name: str
    party: int


@dataclass(frozen=True)
class ReserveV3(Command, unique_by=(), version=3, upcasters={1: renamed_guest, 2: split_name}):
    first_name: str
    last_name: str
    party: int
    note: str | None = None  # new at version 3, with a default: no upcaster needed


VERSIONS = [ReserveV1, ReserveV2, ReserveV3]
reservations = st.sampled_from(VERSIONS).flatmap(st.builds)


def sent(message) -> Envelope:
    """The envelope of `message` as its reader receives it, named as every version names it."""
    envelope = Envelope("m1", "Reserve", "visit-1", None, "now", to_payload(message), type(message).contract_version)
    return Envelope.decode(envelope.encode())


@given(reservations)
def test_any_older_message_upcasts_and_decodes_at_every_newer_version_and_its_envelope_stays_as_it_came(message):
    envelope = sent(message)
    for reader in VERSIONS[type(message).contract_version - 1:]:
        assert isinstance(envelope.open({"Reserve": reader}), reader)
    assert envelope.payload == to_payload(message)


@given(st.builds(ReserveV1))
def test_a_message_of_version_1_reads_at_version_3_renamed_then_split(old):
    first, _, last = old.guest.partition(" ")
    assert sent(old).open({"Reserve": ReserveV3}) == ReserveV3(first, last, old.party)


@given(st.builds(ReserveV3))
def test_a_newer_message_reads_at_an_older_version_that_has_its_fields_and_ignores_the_others(new):
    newer = Envelope("m1", "Reserve", "visit-1", None, "now", {**to_payload(new), "name": "Ada"}, 3)
    assert newer.open({"Reserve": ReserveV2}) == ReserveV2("Ada", new.party)


def test_a_newer_message_that_lacks_what_an_older_reader_needs_says_it_is_newer():
    with pytest.raises(InvalidPayload, match=r"missing field guest \(the message is of version 3 of its contract, "
                                             r"newer than this reader's 1\)"):
        sent(ReserveV3("Ada", "Lovelace", 2)).open({"Reserve": ReserveV1})


def test_an_upcaster_that_fails_on_an_old_payload_makes_it_an_invalid_payload_naming_the_step():
    old = Envelope("m1", "Reserve", "visit-1", None, "now", {"party": 2}, 1)
    with pytest.raises(InvalidPayload, match=r"ReserveV3: upcasting version 1 to 2 failed: KeyError: 'guest'"):
        old.open({"Reserve": ReserveV3})


def test_an_older_message_missing_a_field_no_upcaster_supplies_is_an_invalid_payload():
    old = Envelope("m1", "Reserve", "visit-1", None, "now", {"guest": "Ada"}, 1)
    with pytest.raises(InvalidPayload, match=r"ReserveV2: missing field party$"):
        old.open({"Reserve": ReserveV2})


# --- the waiter one release on, beside today's -----------------------------------------------

@given(st.integers(0, 10**7))
def test_the_next_waiter_reads_any_bill_of_todays_process_manager_as_pizzas_with_no_service(cents):
    envelope = Envelope.wrap(todays.ShowBill(cents), message_id="m1", correlation_id="visit-1")
    assert envelope.open(next_waiter.contract.messages) == next_waiter.ShowBill(cents, 0)


@given(st.integers(0, 10**7), st.integers(0, 10**6))
def test_todays_process_manager_reads_any_bill_paid_of_the_next_waiter_without_its_tip(cents, tip):
    envelope = Envelope.wrap(next_waiter.BillPaid(cents, tip), message_id="m1", correlation_id="visit-1")
    assert (envelope.version, envelope.open(todays.contract.messages)) == (2, todays.BillPaid(cents))


@given(st.integers(0, 10**7))
def test_a_reader_of_the_next_bill_paid_reads_any_of_today_with_no_tip(cents):
    envelope = Envelope.wrap(todays.BillPaid(cents), message_id="m1", correlation_id="visit-1")
    assert envelope.open(next_waiter.contract.messages) == next_waiter.BillPaid(cents, tip_cents=0)


def test_the_next_waiter_changes_the_bill_and_its_payment_only():
    changed = {name for name, cls in next_waiter.contract.messages.items() if cls is not todays.contract.messages[name]}
    assert (changed, set(next_waiter.contract.messages)) == ({"ShowBill", "BillPaid"}, set(todays.contract.messages))


def test_the_next_waiters_client_pays_the_bill_in_full_and_tips_a_tenth_of_the_pizzas():
    bill = next_waiter.ShowBill(1700, 300)
    context = FakeContext.of(bill)
    next_waiter.show_bill(bill, context)
    assert context.messages == [next_waiter.BillPaid(2000, tip_cents=170)]
