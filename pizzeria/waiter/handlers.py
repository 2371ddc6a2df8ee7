"""The waiter's handlers: each command answered by its event."""

from __future__ import annotations

from pizzeria.messaging import Handler, HandlerContext

from .domain import CannotOrder, choose_order
from .messages import (
    Apologise,
    BillPaid,
    ClientApologisedTo,
    ClientThanked,
    MenuShown,
    OrderPlaced,
    OrderRejected,
    PizzasServed,
    PlaceOrder,
    ServePizzas,
    ShowBill,
    ShowMenu,
    ThankClient,
)


def show_menu(_command: ShowMenu, context: HandlerContext) -> None:
    """Hand the menu over."""
    context.send(MenuShown())


def place_order(command: PlaceOrder, context: HandlerContext) -> None:
    """Order what the client wished, or choose for it; refuse an order that cannot be made."""
    try:
        lines = choose_order(command.items, command.wish, seed=context.envelope.correlation_id)
    except CannotOrder as reason:
        context.send(OrderRejected(reason=str(reason)))
    else:
        context.send(OrderPlaced(lines=lines))


def serve_pizzas(_command: ServePizzas, context: HandlerContext) -> None:
    """Bring the pizzas."""
    context.send(PizzasServed())


def show_bill(command: ShowBill, context: HandlerContext) -> None:
    """The client pays the bill in full."""
    context.send(BillPaid(amount_cents=command.amount_cents))


def thank_client(_command: ThankClient, context: HandlerContext) -> None:
    """Say goodbye."""
    context.send(ClientThanked())


def apologise(_command: Apologise, context: HandlerContext) -> None:
    """Tell the client the visit ends here; the client leaves."""
    context.send(ClientApologisedTo())


HANDLERS: dict[type, Handler] = {ShowMenu: show_menu, PlaceOrder: place_order, ServePizzas: serve_pizzas,
                                  ShowBill: show_bill, ThankClient: thank_client, Apologise: apologise}
