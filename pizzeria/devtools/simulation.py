"""The pizza house as the simulator runs it: every module, a waiter of the next release beside
today's (two versions of the waiter's contract at once, as in a rolling deploy), visits that
start at random tables with random wishes, faults that force retries, a menu down for longer than
every retry (each process's circuit breaker holds it), and the invariants of a pizza house."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from collections.abc import Sequence

from sqlalchemy import func, select

from pizzeria import bootstrap, modules
from pizzeria.config import Settings
from pizzeria.devtools import next_waiter
from pizzeria.kitchen.domain import bakes
from pizzeria.messaging import BreakerPolicy, Envelope, Outgoing, VirtualClock, admin, derived_id
from pizzeria.messaging.simulation import System, World, answer
from pizzeria.process_manager import saga
from pizzeria.process_manager.handlers import handlers
from pizzeria.process_manager.messages import OrderLine, StartTableService
from pizzeria.process_manager.repository import history, load, visits
from pizzeria.settings_table import Down

# Some wishes are on the menu, one is empty and one is not: every way a visit can end.
WISHES: tuple[tuple[OrderLine, ...] | None, ...] = (
    None, (OrderLine("margherita", 2),), (OrderLine("diavola", 1), OrderLine("marinara", 1)),
    (OrderLine("hawaii", 1),), ())
# A bill fails its first three attempts (a delayed retry), a pizza its first (a batch split), and
# the menu is down for 20 s from its first try (longer than every retry: its breakers hold it).
DOWN = "GetMenu"
FAULTS: dict[str, int | Down] = {"waiter.ShowBill": 3, "kitchen.DoPizza": 1, f"menu.{DOWN}": Down(20.0)}
BREAKER = BreakerPolicy(window=10.0, min_attempts=5, ratio=0.5, pause=5.0)
# Chaos kills processes far more often than any message could: such crashes must not look like
# a message that kills its consumer.
CRASHES = 1000
ONCE_PER_VISIT = ("ServePizzas", "ShowBill", "ThankClient")
TYPES = {cls.__name__: cls for cls in handlers()}
POISON = Outgoing(StartTableService.route, b"{not json", {"message_id": "poison"})
BAKED_TWICE = select(bakes.c.kitchen_order_id, func.count()).group_by(bakes.c.kitchen_order_id).having(func.count() > 1)


def pizza_house(visits: int) -> System:
    """Every module of the pizza house, two process managers, two kitchens and two waiters among
    them, the second waiter of the next release (its bill at version 2, upcast from today's; its
    answer at version 2, read by today's process manager as a tolerant reader), with `visits`
    visits to make; retries and delays as configured by default."""
    settings = dataclasses.replace(Settings.from_env({}), faults=FAULTS)  # the urls go unused
    return System(
        endpoints=[bootstrap.endpoint(module, settings) for module in modules.declarations()],
        tables=[module.tables for module in modules.declarations()], names=bootstrap.NAMES,
        workload=lambda rng: starts(rng, visits), policy=dataclasses.replace(settings.retry, delivery_limit=CRASHES),
        always=[baked_once, once_per_visit], at_rest=[visits_ended, failed_once, histories_replay],
        copies={"process_manager": 2, "kitchen": 2, "waiter": 2},
        releases={"waiter-2": bootstrap.endpoint(next_waiter.MODULE, settings)}, breaker=BREAKER)


def starts(rng: random.Random, visits: int) -> list[Outgoing]:
    """The StartTableService of each visit, at fewer tables than visits so that some clash;
    and a poison message, which cannot be opened."""
    messages = [POISON]
    for number in range(1, visits + 1):
        visit_id = f"visit-{number}"
        command = StartTableService(f"T{rng.randrange(max(1, visits // 2 + 1))}", rng.choice(WISHES))
        envelope = Envelope.wrap(command, message_id=derived_id(visit_id, "StartTableService"),
                                 correlation_id=visit_id, at=VirtualClock().time())
        messages.append(Outgoing(StartTableService.route, envelope.encode(), envelope.headers()))
    return messages


def baked_once(world: World) -> list[str]:
    """No kitchen order was baked twice."""
    with world.engine.connect() as conn:
        return [f"kitchen order {order} baked {count} times" for order, count in conn.execute(BAKED_TWICE)]


def once_per_visit(world: World) -> list[str]:
    """One ServePizzas, one bill and one thanks per visit, whatever their ids."""
    seen = Counter((world.envelopes[message_id].type, world.envelopes[message_id].correlation_id)
                   for consumer, message_id in world.handled if consumer == "waiter")
    return [f"{correlation} got {count} {kind}" for (kind, correlation), count in seen.items()
            if kind in ONCE_PER_VISIT and count > 1]


def visits_ended(world: World) -> list[str]:
    """Every visit that started has ended: finished, rejected or cancelled."""
    started = {envelope.correlation_id for envelope in world.envelopes.values() if envelope.type == "StartTableService"}
    with world.engine.connect() as conn:
        ended = dict(conn.execute(select(visits.c.visit_id, visits.c.status)).all())
    return [f"{visit_id} did not end: {ended.get(visit_id, 'never started')}" for visit_id in sorted(started)
            if ended.get(visit_id) not in (saga.Status.FINISHED, saga.Status.REJECTED, saga.Status.CANCELLED)]


def failed_once(world: World) -> list[str]:
    """The poison message is in the failed store, once; no other message is: every fault is
    within the retries, but for the menu that is down. Its breakers hold it, but a crash takes a
    consumer's breaker with it, and a new one starts closed: a GetMenu may then run out of tries
    (and its visit goes on when the saga's deadline sends it again)."""
    stored = [(entry.body, entry.error, entry.type) for entry in admin.failed_entries(world.engine)]
    poisons = sum(body == POISON.body for body, _, _ in stored)
    return [f"stored as failed: {error}" for body, error, kind in stored if body != POISON.body and kind != DOWN] + (
        [f"the poison message is in the failed store {poisons} times"] if poisons != 1 else [])


def histories_replay(world: World) -> list[str]:
    """Each visit's history, replayed through the saga, gives its saved state and the
    commands it sent, in order."""
    with world.engine.connect() as conn:
        saved = {row.visit_id: load(row.state) for row in conn.execute(select(visits))}
        rows = conn.execute(select(history).order_by(history.c.id)).all()
    return [problem for visit_id, visit in saved.items()
            if (problem := _replayed(visit, [row for row in rows if row.visit_id == visit_id], world))]


def _replayed(saved: saga.Visit, rows: Sequence, world: World) -> str | None:
    received = [world.envelopes[row.message_id] for row in rows if row.direction == "received"]
    start = received[0].open(TYPES)
    if len(received) == 1 and saved.status == saga.Status.REJECTED:  # refused at once: the table was taken
        visit, commands = saga.refuse(saved.visit_id, start, saved.reason or "")
    else:
        visit, commands = saga.start(saved.visit_id, start)
    sent = _ids(received[0], commands)
    for envelope in received[1:]:
        visit, commands = saga.decide(visit, envelope.open(TYPES))
        sent.update((key, kind) for key, kind in _ids(envelope, commands).items() if key not in sent)
    recorded = {row.message_id: row.type for row in rows if row.direction == "sent"}
    if visit != saved or list(recorded.items()) != list(sent.items()):
        return f"{saved.visit_id}: its history does not replay to its state ({visit.stage} vs {saved.stage}) " \
               f"or its commands ({list(recorded.values())} vs {list(sent.values())})"
    return None


def _ids(cause: Envelope, commands: list) -> dict[str, str]:
    """The ids and types the commands sent in answer to `cause` get, sent again or not."""
    return {answer(cause, command, 0.0).message_id: type(command).__name__ for command in commands}
