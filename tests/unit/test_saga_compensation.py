"""The saga's deadlines and compensation, driven by hypothesis against a model of the workers:
whatever the order of the answers, their duplicates, the deadlines that fire, a pizza that
runs out or a cancellation, a visit ends finished or cancelled, never both; no pizza is baked
after its cancellation was acknowledged; the bill is the price of what was served; a key
always names one command."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import event as statistic
from hypothesis import given, settings
from hypothesis import strategies as st

from pizzeria.kitchen.messages import CancelPizza, DoPizza, PizzaCancelled, PizzaDone, PizzaFailed
from pizzeria.menu.messages import GetMenu, MenuGot, MenuItem
from pizzeria.process_manager import saga
from pizzeria.process_manager.messages import CancelVisit, OrderLine, StartTableService
from pizzeria.waiter import messages as waiter

MENU = (MenuItem("margherita", 850), MenuItem("diavola", 1000))
PRICES = {item.name: item.price_cents for item in MENU}
TIMING = saga.Timing(deadline_seconds=30, resends=2)


@dataclass
class Workers:
    """The menu, the waiter and a kitchen with `stock` diavolas, answering commands as ours do:
    the kitchen settles each order once, and never bakes one it cancelled."""

    stock: int
    outcomes: dict[str, str] = field(default_factory=dict)

    def answer(self, command: Any) -> list[Any]:
        if isinstance(command, DoPizza):
            return self._bake(command)
        if isinstance(command, CancelPizza):
            outcome = self.outcomes.setdefault(command.kitchen_order_id, "cancelled")
            return [PizzaDone(command.kitchen_order_id) if outcome == "baked" else PizzaCancelled(command.kitchen_order_id)]
        return [{GetMenu: lambda: MenuGot(MENU), waiter.ShowMenu: waiter.MenuShown,
                 waiter.PlaceOrder: lambda: waiter.OrderPlaced(command.wish),
                 waiter.ServePizzas: waiter.PizzasServed, waiter.ShowBill: lambda: waiter.BillPaid(command.amount_cents),
                 waiter.ThankClient: waiter.ClientThanked, waiter.Apologise: waiter.ClientApologisedTo}[type(command)]()]

    def _bake(self, command: DoPizza) -> list[Any]:
        order = command.kitchen_order_id
        if order in self.outcomes:
            return [PizzaDone(order)] if self.outcomes[order] == "baked" else []
        if command.pizza == "diavola":
            if self.stock == 0:
                self.outcomes[order] = "failed"
                return [PizzaFailed(order, "out of diavola")]
            self.stock -= 1
        self.outcomes[order] = "baked"
        return [PizzaDone(order)]


lines = st.lists(st.tuples(st.sampled_from(sorted(PRICES)), st.integers(1, 3)), min_size=1, max_size=2,
                 unique_by=lambda pair: pair[0]).map(lambda pairs: tuple(OrderLine(*pair) for pair in pairs))


@settings(max_examples=200, deadline=None)
@given(lines, st.integers(0, 3), st.integers(0, 40), st.data())
def test_a_visit_ends_finished_or_cancelled_and_bills_exactly_what_was_served(order, stock, chaos, data):
    workers = Workers(stock)
    visit, commands = saga.start("v1", StartTableService("T1", order))
    deadlines = [saga.deadline(visit)]
    inbox: list[Any] = [answer for command in commands for answer in workers.answer(command)]
    sent = list(commands)
    for step in range(500):  # chaos first, then every answer in turn and, when none is left, the deadline
        if visit.status != saga.Status.IN_PROGRESS:
            break
        calm = step >= chaos
        message = _calm_next(inbox, deadlines) if calm else _next(data, inbox, deadlines)
        before = visit
        visit, commands = saga.decide(visit, message, TIMING)
        sent += commands
        for command in commands:
            if calm or data.draw(st.booleans(), label="answered"):
                inbox += workers.answer(command)
        deadlines.append(saga.deadline(visit, before))
    assert visit.status in (saga.Status.FINISHED, saga.Status.CANCELLED)
    statistic(f"ended {visit.status}, {sum(p.done for p in visit.pizzas)} of {len(visit.pizzas)} pizzas served")
    baked = {order_id for order_id, outcome in workers.outcomes.items() if outcome == "baked"}
    assert {pizza.kitchen_order_id for pizza in visit.pizzas if pizza.done} <= baked
    assert not any(pizza.done and pizza.cancelled for pizza in visit.pizzas)
    if visit.bill_cents is not None:
        assert visit.bill_cents == sum(PRICES[pizza.pizza] for pizza in visit.pizzas if pizza.done)
    if visit.status == saga.Status.FINISHED:
        assert all(pizza.done for pizza in visit.pizzas) and not visit.cancelling
    by_key: dict[tuple[str, str], Any] = {}
    for command in sent:
        assert by_key.setdefault((type(command).__name__, command.idempotency_key()), command) == command


def _calm_next(inbox: list[Any], deadlines: list) -> Any:
    """The oldest answer waiting, else the latest deadline: time passes."""
    return inbox.pop(0) if inbox else [deadline for deadline in deadlines if deadline is not None][-1]


def _next(data, inbox: list[Any], deadlines: list) -> Any:
    """Any answer waiting (maybe again), any deadline asked for so far, or a cancellation."""
    pending = [deadline for deadline in deadlines if deadline is not None]
    kinds = (["answer"] if inbox else []) + (["deadline"] if pending else []) + ["cancel"]
    kind = data.draw(st.sampled_from(kinds), label="next")
    if kind == "answer":
        index = data.draw(st.integers(0, len(inbox) - 1), label="which answer")
        return inbox[index] if data.draw(st.booleans(), label="duplicate") else inbox.pop(index)
    if kind == "deadline":
        return pending[data.draw(st.integers(0, len(pending) - 1), label="which deadline")]
    return CancelVisit("the house closes")


def run(visit: saga.Visit, events: list[Any]) -> tuple[saga.Visit, list[Any]]:
    sent: list[Any] = []
    for event in events:
        visit, commands = saga.decide(visit, event, TIMING)
        sent += commands
    return visit, sent


def baking(order: tuple[OrderLine, ...]) -> saga.Visit:
    visit, _ = saga.start("v1", StartTableService("T1", order))
    return run(visit, [MenuGot(MENU), waiter.MenuShown(), waiter.OrderPlaced(order)])[0]


def test_a_pizza_that_runs_out_cancels_the_rest_bills_what_was_served_and_apologises():
    visit = baking((OrderLine("margherita", 2), OrderLine("diavola", 1)))
    visit, sent = run(visit, [PizzaDone("v1-1"), PizzaFailed("v1-3", "the kitchen is out of diavola")])
    assert sent == [CancelPizza("v1-2")]
    visit, sent = run(visit, [PizzaCancelled("v1-2"), waiter.PizzasServed()])
    assert sent == [waiter.ServePizzas(("margherita",)), waiter.ShowBill(850)]
    visit, sent = run(visit, [waiter.BillPaid(850), waiter.ClientApologisedTo()])
    assert sent == [waiter.Apologise("the kitchen is out of diavola")]
    assert (visit.status, visit.reason, visit.bill_cents) == (saga.Status.CANCELLED, "the kitchen is out of diavola", 850)


def test_a_step_that_never_answers_goes_again_then_the_visit_is_cancelled_naming_it():
    visit, _ = saga.start("v1", StartTableService("T1"))
    deadlines = [saga.deadline(visit)]
    sent: list[Any] = []
    for _ in range(TIMING.resends + 1):
        before = visit
        visit, commands = saga.decide(visit, deadlines[-1], TIMING)
        sent += commands
        deadlines.append(saga.deadline(visit, before))
    assert sent == [GetMenu()] * TIMING.resends + [waiter.Apologise("no answer to awaiting_menu after 2 re-sends")]
    assert run(visit, [waiter.ClientApologisedTo()])[0].status == saga.Status.CANCELLED


def test_a_deadline_of_a_step_answered_since_does_not_fit():
    visit, _ = saga.start("v1", StartTableService("T1"))
    stale = saga.deadline(visit)
    visit = run(visit, [MenuGot(MENU)])[0]
    assert not saga.fits(visit, stale, TIMING) and saga.decide(visit, stale, TIMING) == (visit, [])


def test_a_cancellation_once_the_client_is_being_thanked_does_not_fit():
    visit = baking((OrderLine("margherita", 1),))
    visit = run(visit, [PizzaDone("v1-1"), waiter.PizzasServed(), waiter.BillPaid(850)])[0]
    assert visit.stage == saga.Stage.AWAITING_THANKS
    assert not saga.fits(visit, CancelVisit("too late"), TIMING)


def test_the_last_pizza_failing_serves_at_once_what_was_baked():
    visit = baking((OrderLine("margherita", 1), OrderLine("diavola", 1)))
    visit, sent = run(visit, [PizzaDone("v1-1"), PizzaFailed("v1-2", "the kitchen is out of diavola")])
    assert sent == [waiter.ServePizzas(("margherita",))]
    assert (visit.stage, visit.cancelling) == (saga.Stage.AWAITING_SERVED, True)
