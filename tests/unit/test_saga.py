"""The visit saga on its own: pure decisions, driven by hypothesis."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pizzeria.kitchen.messages import DoPizza, PizzaDone
from pizzeria.menu.messages import MenuGot, MenuItem
from pizzeria.process_manager import saga
from pizzeria.process_manager.messages import OrderLine, StartTableService
from pizzeria.waiter import messages as waiter

MENU = (MenuItem("margherita", 850), MenuItem("diavola", 1000), MenuItem("marinara", 700))
NAMES = [item.name for item in MENU]


def ordered(lines: tuple[OrderLine, ...] | None = None) -> tuple[saga.Visit, list]:
    """A visit taken up to the OrderPlaced event of `lines`; return it and all commands sent."""
    visit, sent = saga.start("v1", StartTableService("T1", lines))
    for event in (MenuGot(MENU), waiter.MenuShown()):
        visit, commands = saga.decide(visit, event)
        sent += commands
    visit, commands = saga.decide(visit, waiter.OrderPlaced(lines or ()))
    return visit, sent + commands


orders = st.lists(st.tuples(st.sampled_from(NAMES), st.integers(1, 4)), min_size=1, max_size=3).map(
    lambda pairs: tuple(OrderLine(name, quantity) for name, quantity in pairs)
).filter(lambda lines: 1 <= sum(line.quantity for line in lines) <= 10)


@given(orders, st.data())
def test_exactly_one_serve_pizzas_is_sent_and_only_after_every_pizza_is_done(lines, data):
    visit, sent = ordered(lines)
    kitchen_ids = [command.kitchen_order_id for command in sent if isinstance(command, DoPizza)]
    assert len(kitchen_ids) == sum(line.quantity for line in lines)
    dones = data.draw(st.lists(st.sampled_from(kitchen_ids), min_size=len(kitchen_ids), max_size=30)
                      .filter(lambda ids: set(ids) == set(kitchen_ids)), label="PizzaDone order")
    seen, serves = set(), 0
    for kitchen_order_id in dones:
        visit, commands = saga.decide(visit, PizzaDone(kitchen_order_id))
        seen.add(kitchen_order_id)
        for command in commands:
            assert isinstance(command, waiter.ServePizzas)
            assert seen == set(kitchen_ids)
            serves += 1
    assert serves == 1
    assert all(pizza.done for pizza in visit.pizzas)


@given(orders)
def test_a_whole_visit_finishes_with_the_bill_of_its_order(lines):
    visit, _ = ordered(lines)
    for pizza in visit.pizzas:
        visit, _ = saga.decide(visit, PizzaDone(pizza.kitchen_order_id))
    visit, (bill,) = saga.decide(visit, waiter.PizzasServed())
    prices = {item.name: item.price_cents for item in MENU}
    assert bill == waiter.ShowBill(sum(prices[line.pizza] * line.quantity for line in lines))
    visit, (thanks,) = saga.decide(visit, waiter.BillPaid(bill.amount_cents))
    visit, nothing = saga.decide(visit, waiter.ClientThanked())
    assert (visit.status, visit.paid, thanks, nothing) == (saga.Status.FINISHED, True, waiter.ThankClient(), [])


def test_an_empty_order_ends_the_visit_rejected():
    visit, sent = ordered(())
    assert (visit.status, visit.reason) == (saga.Status.REJECTED, "the order is empty")
    assert not any(isinstance(command, DoPizza) for command in sent)


@given(st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True).filter(lambda name: name not in NAMES))
def test_an_order_naming_a_pizza_not_on_the_menu_ends_the_visit_rejected(name):
    visit, sent = ordered((OrderLine("margherita", 1), OrderLine(name, 2)))
    assert (visit.status, visit.reason) == (saga.Status.REJECTED, f"not on the menu: {name}")
    assert not any(isinstance(command, DoPizza) for command in sent)


def test_the_waiter_rejecting_the_order_ends_the_visit_with_its_reason():
    visit = saga.start("v2", StartTableService("T1"))[0]
    visit, _ = saga.decide(visit, MenuGot(MENU))
    visit, _ = saga.decide(visit, waiter.MenuShown())
    visit, commands = saga.decide(visit, waiter.OrderRejected("no appetite"))
    assert (visit.status, visit.reason, commands) == (saga.Status.REJECTED, "no appetite", [])


@given(st.sampled_from([MenuGot(MENU), waiter.MenuShown(), waiter.PizzasServed(), waiter.BillPaid(1),
                        waiter.ClientThanked(), PizzaDone("v1-1"), waiter.OrderPlaced(())]))
def test_an_event_that_does_not_fit_the_stage_changes_nothing(event):
    visit, _ = ordered((OrderLine("margherita", 1),))
    if isinstance(event, PizzaDone):
        visit, _ = saga.decide(visit, event)
    assert saga.decide(visit, event) == (visit, [])


def test_a_refused_visit_is_rejected_at_once_and_sends_nothing():
    visit, commands = saga.refuse("v3", StartTableService("T1"), "table T1 is taken")
    assert (visit.status, visit.reason, commands) == (saga.Status.REJECTED, "table T1 is taken", [])


@given(orders)
def test_every_command_of_a_visit_has_its_own_key(lines):
    visit, sent = ordered(lines)
    for pizza in visit.pizzas:
        visit, commands = saga.decide(visit, PizzaDone(pizza.kitchen_order_id))
        sent += commands
    keys = [command.idempotency_key() for command in sent]
    assert len(keys) == len(set(keys))
