"""One handler context: the core's `Context`, over a real unit of work, and the harness's
`FakeContext` behave alike in every way a handler can see. Each test runs against both."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert, select

from pizzeria.messaging import (
    Command,
    Conflict,
    Contract,
    Envelope,
    Event,
    HandlerContext,
    HandlerMisused,
    VirtualClock,
    derived_id,
    make_engine,
)
from pizzeria.messaging.contracts.clock import iso
from pizzeria.messaging.delivery.context import Context, answer
from pizzeria.messaging.delivery.unit import Unit
from pizzeria.messaging.store.tables import metadata, outbox
from pizzeria.messaging.testing import FakeContext

contract = Contract("helpdesk_parity")


@contract.command
@dataclass(frozen=True)
class Remind(Command, unique_by=("topic",)):
    topic: str


@contract.event
@dataclass(frozen=True)
class Reminded(Event):
    topic: str


START = 1_700_000_000.0
notes = Table("context_notes", MetaData(), Column("text", String(32), primary_key=True))
counters = Table("context_counters", notes.metadata, Column("name", String(32), primary_key=True), Column("count", Integer))
AS_READ = {"name": "name", "count": "read"}  # a counter's row to update: by its name, at the count it was read at
FIRST = Envelope.wrap(Remind("first"), message_id="m-1", correlation_id="ticket-1", at=START)
SECOND = Envelope.wrap(Remind("second"), message_id="m-2", correlation_id="ticket-1", at=START)


class CoreTransaction:
    """FIRST and SECOND handled in one real unit of work, each through its own `Context`, as the
    pipeline runs a batch."""

    def __init__(self, engine: Engine, clock: VirtualClock):
        self.engine, self.clock = engine, clock
        self.unit = Unit(engine, "helpdesk", [FIRST, SECOND], clock)
        self.contexts: tuple[HandlerContext, HandlerContext] = (Context(FIRST, 1, self.unit),
                                                                Context(SECOND, 1, self.unit))

    def commit(self) -> None:
        self.unit.commit()
        self.unit.close()

    def close(self) -> None:
        self.unit.close()

    def sent(self) -> list[str]:
        """The ids of the messages the commit saved to go at once."""
        return self._outbox(outbox.c.not_before <= self.clock.time())

    def sent_later(self) -> list[str]:
        """The ids of the messages the commit saved to go later."""
        return self._outbox(outbox.c.not_before > self.clock.time())

    def _outbox(self, where) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(outbox.c.message_id).where(where).order_by(outbox.c.id))
                        .scalars())


class FakeTransaction:
    """FIRST and SECOND handled in one transaction through a `FakeContext` each."""

    def __init__(self, engine: Engine, clock: VirtualClock):
        self.fake = FakeContext(FIRST, engine=engine, batch=[FIRST, SECOND], clock=clock)
        self.contexts: tuple[HandlerContext, HandlerContext] = (self.fake, self.fake.for_message(SECOND))

    def commit(self) -> None:
        self.fake.commit()

    def close(self) -> None:
        self.fake.close()

    def sent(self) -> list[str]:
        return [envelope.message_id for envelope in self.fake.sent]

    def sent_later(self) -> list[str]:  # the tests send commands only with a delay: their ids need no cause
        return [answer(FIRST, message, START).message_id for message, _delay in self.fake.later]


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/db.sqlite")
    metadata.create_all(engine)
    notes.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(counters), [{"name": "a", "count": 1}, {"name": "b", "count": 1}])
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start=START)


@pytest.fixture(params=["core", "fake"])
def transaction(request, engine, clock) -> Iterator[CoreTransaction | FakeTransaction]:
    """The transaction of FIRST and SECOND, through the core's contexts, then the harness's."""
    made = CoreTransaction(engine, clock) if request.param == "core" else FakeTransaction(engine, clock)
    yield made
    made.close()


def notes_in(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(notes.c.text).order_by(notes.c.text)).scalars())


class TestEitherHandlerContext:
    def test_it_holds_its_envelope_the_attempt_and_every_envelope_of_the_transaction(self, transaction):
        first, second = transaction.contexts
        assert (first.envelope, first.attempt, first.batch) == (FIRST, 1, (FIRST, SECOND))
        assert second.batch == (FIRST, SECOND)

    def test_a_command_sent_twice_in_one_transaction_is_refused_the_second_time(self, transaction):
        first, second = transaction.contexts
        first.send(Remind("call back"))
        with pytest.raises(HandlerMisused, match="^Remind was sent twice with one id: a command needs a unique_by "
                                                 "that tells the two apart, an event answers its cause once$"):
            second.send(Remind("call back"))

    def test_an_event_sent_twice_for_one_cause_is_refused_the_second_time(self, transaction):
        context = transaction.contexts[0]
        context.send(Reminded("call back"))
        with pytest.raises(HandlerMisused, match="^Reminded was sent twice with one id"):
            context.send(Reminded("call back"))

    def test_a_command_gets_its_id_from_its_idempotency_key_in_the_correlation(self, transaction):
        first, second = transaction.contexts
        sent = second.send(Remind("call back"))
        assert sent.message_id == derived_id("ticket-1", "Remind/call back")
        assert (sent.correlation_id, sent.causation_id) == ("ticket-1", second.envelope.message_id)
        transaction.commit()
        assert transaction.sent() == [sent.message_id]

    def test_an_event_gets_its_id_from_the_message_it_answers(self, transaction):
        context = transaction.contexts[0]
        sent = context.send(Reminded("call back"))
        assert sent.message_id == derived_id(FIRST.message_id, "Reminded")
        assert (sent.correlation_id, sent.causation_id) == ("ticket-1", FIRST.message_id)
        transaction.commit()
        assert transaction.sent() == [sent.message_id]

    def test_a_delayed_message_withdrawn_is_not_sent_at_the_commit_and_the_others_are(self, transaction):
        context = transaction.contexts[0]
        kept = context.send(Remind("kept"), delay=60)
        context.send(Remind("dropped"), delay=60)
        context.withdraw(Remind("dropped"))
        transaction.commit()
        assert transaction.sent_later() == [kept.message_id]

    def test_a_delayed_message_sent_for_one_message_and_withdrawn_for_the_next_is_not_saved(self, transaction):
        first, second = transaction.contexts
        first.send(Remind("deadline"), delay=60)
        second.withdraw(Remind("deadline"))
        transaction.commit()
        assert transaction.sent_later() == []

    def test_a_delayed_message_withdrawn_may_be_sent_again_and_goes_once(self, transaction):
        first, second = transaction.contexts
        first.send(Remind("deadline"), delay=60)
        second.withdraw(Remind("deadline"))
        again = second.send(Remind("deadline"), delay=120)
        transaction.commit()
        assert transaction.sent_later() == [again.message_id]

    def test_a_message_sent_at_once_is_not_taken_back_and_cannot_be_sent_again(self, transaction):
        context = transaction.contexts[0]
        sent = context.send(Remind("now"))
        context.withdraw(Remind("now"))
        with pytest.raises(HandlerMisused, match="sent twice with one id"):
            context.send(Remind("now"))
        transaction.commit()
        assert transaction.sent() == [sent.message_id]

    @pytest.mark.parametrize("end", ["commit", "rollback", "close"])
    def test_the_lent_connection_refuses_to_end_the_transaction_and_what_it_wrote_is_committed(
            self, transaction, engine, end):
        context = transaction.contexts[0]
        context.db.execute(insert(notes).values(text="written"))
        with pytest.raises(HandlerMisused, match=f"^a handler cannot {end} the transaction it was lent"):
            getattr(context.db, end)()
        transaction.commit()
        assert notes_in(engine) == ["written"]

    def test_the_clock_is_the_one_given_and_dates_what_is_sent(self, transaction, clock):
        context = transaction.contexts[0]
        clock.advance(5)
        assert context.clock is clock
        assert context.send(Reminded("call back")).occurred_at == iso(START + 5)

    def test_once_makes_one_value_on_first_use_for_every_message_of_the_transaction(self, transaction):
        first, second = transaction.contexts
        made: list[HandlerContext] = []

        def make(context: HandlerContext) -> object:
            made.append(context)
            return object()

        shared = first.once(make)
        assert second.once(make) is shared and first.once(make) is shared
        assert made == [first]

    def test_work_left_for_the_commit_runs_once_just_before_it_inside_the_transaction(self, transaction, engine):
        context = transaction.contexts[0]
        runs: list[int] = []

        def work() -> None:
            runs.append(len(notes_in(engine)))
            context.db.execute(insert(notes).values(text="before commit"))

        context.before_commit(work)
        assert runs == []
        transaction.commit()
        assert runs == [0]
        assert notes_in(engine) == ["before commit"]

    def test_rows_left_for_the_commit_are_in_the_database_after_it_and_not_before(self, transaction, engine):
        first, second = transaction.contexts
        first.insert_later(notes, {"text": "first"})
        second.insert_later(notes, {"text": "second"})
        assert notes_in(engine) == []
        transaction.commit()
        assert notes_in(engine) == ["first", "second"]

    def test_rows_updated_at_the_commit_change_with_it_when_they_are_as_they_were_read(self, transaction, engine):
        first, second = transaction.contexts
        first.update_later(counters, {"name": "a", "read": 1, "count": 2}, AS_READ)
        second.update_later(counters, {"name": "b", "read": 1, "count": 3}, AS_READ)
        assert counts_in(engine) == {"a": 1, "b": 1}
        transaction.commit()
        assert counts_in(engine) == {"a": 2, "b": 3}

    def test_a_row_to_update_that_changed_since_it_was_read_makes_the_commit_a_conflict_that_writes_nothing(
            self, transaction, engine):
        first, second = transaction.contexts
        first.update_later(counters, {"name": "a", "read": 1, "count": 2}, AS_READ)
        second.update_later(counters, {"name": "b", "read": 7, "count": 8}, AS_READ)  # b is at 1, not 7
        first.insert_later(notes, {"text": "first"})
        with pytest.raises(Conflict, match="1 of 2 rows changed since they were read"):
            transaction.commit()
        transaction.close()
        assert counts_in(engine) == {"a": 1, "b": 1}
        assert notes_in(engine) == []


def counts_in(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {name: count for name, count in conn.execute(select(counters.c.name, counters.c.count))}
