"""Every handler of every module, alone, through the core's `FakeContext`: what it sends, the
ids its messages get, and the rows it writes at the commit."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from pizzeria import bootstrap
from pizzeria.kitchen.domain import bakes, bakes_per_order
from pizzeria.kitchen.handlers import cancel_pizza, do_pizza
from pizzeria.kitchen.messages import CancelPizza, DoPizza, PizzaCancelled, PizzaDone, PizzaFailed
from pizzeria.menu.domain import MENU
from pizzeria.menu.handlers import get_menu
from pizzeria.menu.messages import GetMenu, MenuGot
from pizzeria.messaging import derived_id, make_engine
from pizzeria.messaging.delivery.context import Context
from pizzeria.messaging.testing import FakeContext
from pizzeria.process_manager import views
from pizzeria.process_manager.handlers import UnknownVisit, handlers
from pizzeria.process_manager.messages import StartTableService
from pizzeria.process_manager.repository import VisitRepository, history
from pizzeria.process_manager.saga import Stage
from pizzeria.waiter.handlers import place_order, serve_pizzas, show_bill, show_menu, thank_client
from pizzeria.waiter.messages import (
    BillPaid,
    ClientThanked,
    MenuItem,
    MenuShown,
    OrderLine,
    OrderPlaced,
    OrderRejected,
    PizzasServed,
    PlaceOrder,
    ServePizzas,
    ShowBill,
    ShowMenu,
    ThankClient,
)

WAITER_MENU = (MenuItem("margherita", 850), MenuItem("diavola", 1000))
PM_HANDLERS = handlers()  # the process manager's, with the steps' default deadlines


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:
    """A SQLite file with every table of the application."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    bootstrap.create_tables(engine)
    yield engine
    engine.dispose()


def handle(handler: Any, message: Any, correlation_id: str = "correlation-1", **kwargs: Any) -> FakeContext:
    """Run `handler` on the first delivery of `message`; return its context, not committed."""
    context = FakeContext.of(message, correlation_id=correlation_id, **kwargs)
    handler(message, context)
    return context


# --- menu -----------------------------------------------------------------------------------

def test_the_menu_answers_get_menu_with_todays_menu():
    assert handle(get_menu, GetMenu()).messages == [MenuGot(items=MENU)]


def test_an_event_answering_a_command_gets_an_id_derived_from_the_command_in_its_correlation():
    context = handle(get_menu, GetMenu(), correlation_id="visit-7")
    (sent,) = context.sent
    assert sent.correlation_id == "visit-7"
    assert sent.causation_id == context.envelope.message_id
    assert sent.message_id == derived_id(context.envelope.message_id, "MenuGot")


# --- waiter ---------------------------------------------------------------------------------

@pytest.mark.parametrize("handler, command, answer", [
    (show_menu, ShowMenu(WAITER_MENU), MenuShown()),
    (serve_pizzas, ServePizzas(("margherita", "diavola")), PizzasServed()),
    (show_bill, ShowBill(2550), BillPaid(amount_cents=2550)),
    (thank_client, ThankClient(), ClientThanked()),
])
def test_the_waiter_answers_each_command_with_its_event(handler, command, answer):
    assert handle(handler, command).messages == [answer]


def test_the_waiter_places_the_order_the_client_wished():
    wish = (OrderLine("diavola", 2), OrderLine("margherita", 1))
    assert handle(place_order, PlaceOrder(WAITER_MENU, wish)).messages == [OrderPlaced(lines=wish)]


def test_the_waiter_chooses_for_a_client_without_a_wish_from_the_menu_and_alike_for_one_visit():
    (placed,) = handle(place_order, PlaceOrder(WAITER_MENU), correlation_id="visit-1").messages
    (again,) = handle(place_order, PlaceOrder(WAITER_MENU), correlation_id="visit-1").messages
    assert isinstance(placed, OrderPlaced) and placed == again
    assert placed.lines and {line.pizza for line in placed.lines} <= {item.name for item in WAITER_MENU}


@pytest.mark.parametrize("items, wish, reason", [
    (WAITER_MENU, (OrderLine("hawaii", 1),), "not on the menu: hawaii"),
    (WAITER_MENU, (), "the order is empty"),
    ((), None, "the menu is empty"),
])
def test_the_waiter_rejects_an_order_that_cannot_be_made_and_says_why(items, wish, reason):
    assert handle(place_order, PlaceOrder(items, wish)).messages == [OrderRejected(reason=reason)]


# --- kitchen --------------------------------------------------------------------------------

class CountingOven:
    """An oven that bakes at once and counts how often it was fired."""

    def __init__(self) -> None:
        self.fired = 0

    def __call__(self, _context: Context) -> None:
        self.fired += 1


def test_the_kitchen_bakes_answers_pizza_done_and_records_the_bake_at_the_commit(engine):
    oven = CountingOven()
    context = handle(functools.partial(do_pizza, oven=oven, stock={}), DoPizza("visit-1-1", "diavola"), engine=engine)
    assert context.messages == [PizzaDone(kitchen_order_id="visit-1-1")]
    assert oven.fired == 1
    context.commit()
    with engine.connect() as conn:
        assert [tuple(row) for row in conn.execute(select(bakes.c.kitchen_order_id, bakes.c.pizza))] == [
            ("visit-1-1", "diavola")]


def committed(handler: Any, message: Any, engine: Engine) -> list[Any]:
    context = handle(handler, message, engine=engine)
    context.commit()
    return context.messages


def test_a_pizza_cancelled_before_it_is_baked_is_never_baked(engine):
    bake = functools.partial(do_pizza, oven=CountingOven(), stock={})
    assert committed(cancel_pizza, CancelPizza("visit-1-1"), engine) == [PizzaCancelled("visit-1-1")]
    assert committed(bake, DoPizza("visit-1-1", "diavola"), engine) == []
    assert bakes_per_order(engine) == {}


def test_a_pizza_baked_before_its_cancellation_came_is_done(engine):
    bake = functools.partial(do_pizza, oven=CountingOven(), stock={})
    assert committed(bake, DoPizza("visit-1-1", "diavola"), engine) == [PizzaDone("visit-1-1")]
    assert committed(cancel_pizza, CancelPizza("visit-1-1"), engine) == [PizzaDone("visit-1-1")]
    assert bakes_per_order(engine) == {"visit-1-1": 1}


def test_a_pizza_out_of_stock_fails_and_the_stock_is_shared_in_the_database(engine):
    bake = functools.partial(do_pizza, oven=CountingOven(), stock={"diavola": 1})
    assert committed(bake, DoPizza("visit-1-1", "diavola"), engine) == [PizzaDone("visit-1-1")]
    assert committed(bake, DoPizza("visit-1-2", "diavola"), engine) == [
        PizzaFailed("visit-1-2", "the kitchen is out of diavola")]
    assert committed(bake, DoPizza("visit-1-3", "margherita"), engine) == [PizzaDone("visit-1-3")]


def test_pizzas_handled_in_one_transaction_share_one_firing_of_the_oven(engine):
    oven = CountingOven()
    first, second = DoPizza("visit-1-1", "diavola"), DoPizza("visit-1-2", "marinara")
    batch = [FakeContext.of(message, correlation_id="visit-1").envelope for message in (first, second)]
    context = FakeContext(batch[0], engine=engine, batch=batch)
    bake = functools.partial(do_pizza, oven=oven, stock={})
    bake(first, context)
    bake(second, context.for_message(batch[1]))  # in the same transaction
    context.commit()
    assert oven.fired == 1
    assert context.messages == [PizzaDone("visit-1-1"), PizzaDone("visit-1-2")]
    assert bakes_per_order(engine) == {"visit-1-1": 1, "visit-1-2": 1}


# --- process manager ------------------------------------------------------------------------

def pm_handle(engine: Engine, message: Any, visit_id: str = "visit-1") -> FakeContext:
    """The process manager's handler of `message` run and committed, as the core would."""
    context = handle(PM_HANDLERS[type(message)], message, correlation_id=visit_id, engine=engine)
    context.commit()
    return context


def stage_of(engine: Engine, visit_id: str) -> tuple[Stage, int]:
    with engine.connect() as conn:
        loaded = VisitRepository(conn).get(visit_id)
    assert loaded is not None, f"no visit {visit_id}"
    visit, version = loaded
    return visit.stage, version


def history_of(engine: Engine, visit_id: str) -> list[tuple[str, str]]:
    return [(entry["direction"], entry["type"]) for entry in views.visit(engine, visit_id)["history"]]


def test_starting_a_table_service_opens_the_visit_and_asks_for_the_menu(engine):
    context = handle(PM_HANDLERS[StartTableService], StartTableService("t1"), correlation_id="visit-1", engine=engine)
    assert context.messages == [GetMenu()]
    assert [(row["direction"], row["type"]) for row in context.inserted[history]] == [
        ("received", "StartTableService"), ("sent", "GetMenu")]
    context.commit()
    report = views.visit(engine, "visit-1")
    assert (report["table_id"], report["status"]) == ("t1", "in_progress")
    assert history_of(engine, "visit-1") == [("received", "StartTableService"), ("sent", "GetMenu")]
    assert stage_of(engine, "visit-1") == (Stage.AWAITING_MENU, 1)


def test_a_table_with_a_visit_in_progress_refuses_a_second_one_and_sends_nothing(engine):
    pm_handle(engine, StartTableService("t1"), "visit-1")
    refused = pm_handle(engine, StartTableService("t1"), "visit-2")
    assert refused.messages == []
    report = views.visit(engine, "visit-2")
    assert report["status"] == "rejected"
    assert "visit-1" in report["reason"]
    assert views.visit(engine, "visit-1")["status"] == "in_progress"


def test_a_start_delivered_again_for_a_visit_that_exists_changes_nothing(engine):
    pm_handle(engine, StartTableService("t1"), "visit-1")
    again = pm_handle(engine, StartTableService("t1"), "visit-1")
    assert again.messages == [] and again.inserted == {}
    assert stage_of(engine, "visit-1") == (Stage.AWAITING_MENU, 1)


def test_an_event_of_a_visit_that_never_started_raises(engine):
    with pytest.raises(UnknownVisit):
        handle(PM_HANDLERS[MenuGot], MenuGot(MENU), correlation_id="never-started", engine=engine)


def test_an_event_moves_the_saga_on_and_the_commands_are_sent_with_their_history_at_the_commit(engine):
    pm_handle(engine, StartTableService("t1"), "visit-1")
    context = handle(PM_HANDLERS[MenuGot], MenuGot(MENU), correlation_id="visit-1", engine=engine)
    expected_menu = tuple(MenuItem(item.name, item.price_cents) for item in MENU)
    assert context.messages == [ShowMenu(items=expected_menu)]
    assert [(row["direction"], row["type"], row["message_id"]) for row in context.inserted[history]] == [
        ("received", "MenuGot", context.envelope.message_id), ("sent", "ShowMenu", context.sent[0].message_id)]
    context.commit()
    assert stage_of(engine, "visit-1") == (Stage.AWAITING_MENU_SHOWN, 2)
    assert history_of(engine, "visit-1")[-2:] == [("received", "MenuGot"), ("sent", "ShowMenu")]


def test_a_whole_visit_runs_through_the_process_managers_handlers(engine):
    wish = (OrderLine("margherita", 2),)
    pm_handle(engine, StartTableService("t1", order=wish))
    pm_handle(engine, MenuGot(MENU))
    assert pm_handle(engine, MenuShown()).messages == [PlaceOrder(tuple(
        MenuItem(item.name, item.price_cents) for item in MENU), wish)]
    baking = pm_handle(engine, OrderPlaced(wish))
    assert baking.messages == [DoPizza("visit-1-1", "margherita"), DoPizza("visit-1-2", "margherita")]
    assert pm_handle(engine, PizzaDone("visit-1-1")).messages == []
    assert pm_handle(engine, PizzaDone("visit-1-2")).messages == [ServePizzas(("margherita", "margherita"))]
    assert pm_handle(engine, PizzasServed()).messages == [ShowBill(1700)]
    assert pm_handle(engine, BillPaid(1700)).messages == [ThankClient()]
    assert pm_handle(engine, ClientThanked()).messages == []
    report = views.visit(engine, "visit-1")
    assert report["status"] == "finished"
    assert report["bill"] == {"amount": "17.00", "paid": True}


# --- the ids commands get -------------------------------------------------------------------

def test_one_command_sent_twice_in_one_correlation_gets_one_id_whatever_caused_it():
    first = FakeContext.of(MenuShown(), correlation_id="visit-1").send(ThankClient())
    again = FakeContext.of(BillPaid(100), correlation_id="visit-1").send(ThankClient())
    elsewhere = FakeContext.of(BillPaid(100), correlation_id="visit-2").send(ThankClient())
    assert first.message_id == again.message_id
    assert elsewhere.message_id != first.message_id


def test_two_pizzas_of_one_visit_get_two_ids_and_one_pizza_sent_again_the_same():
    context = FakeContext.of(OrderPlaced(()), correlation_id="visit-1")
    one, two = context.send(DoPizza("visit-1-1", "diavola")), context.send(DoPizza("visit-1-2", "diavola"))
    resent = FakeContext.of(PizzaDone("x"), correlation_id="visit-1").send(DoPizza("visit-1-1", "diavola"))
    assert one.message_id != two.message_id
    assert resent.message_id == one.message_id


def test_the_pizzas_the_saga_orders_are_commands_with_distinct_ids(engine):
    wish = (OrderLine("margherita", 1), OrderLine("diavola", 2))
    for message in (StartTableService("t1", order=wish), MenuGot(MENU), MenuShown()):
        pm_handle(engine, message)
    baking = pm_handle(engine, OrderPlaced(wish))
    assert [type(message) for message in baking.messages] == [DoPizza, DoPizza, DoPizza]
    assert len({envelope.message_id for envelope in baking.sent}) == 3
