"""The waiter's handlers: each command answered by its event."""

from __future__ import annotations

from pizzeria.messaging import Context, Handler

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


def show_menu(_command: ShowMenu, context: Context) -> None:
    """Hand the menu over."""
    context.send(MenuShown())


def place_order(command: PlaceOrder, context: Context) -> None:
    """Order what the client wished, or choose for it; refuse an order that cannot be made."""
    try:
        lines = choose_order(command.items, command.wish, seed=context.envelope.correlation_id)
    except CannotOrder as reason:
        context.send(OrderRejected(reason=str(reason)))
    else:
        context.send(OrderPlaced(lines=lines))


def serve_pizzas(_command: ServePizzas, context: Context) -> None:
    """Bring the pizzas."""
    context.send(PizzasServed())


def show_bill(command: ShowBill, context: Context) -> None:
    """The client pays the bill in full."""
    context.send(BillPaid(amount_cents=command.amount_cents))


def thank_client(_command: ThankClient, context: Context) -> None:
    """Say goodbye."""
    context.send(ClientThanked())


def apologise(_command: Apologise, context: Context) -> None:
    """Tell the client the visit ends here; the client leaves."""
    context.send(ClientApologisedTo())


HANDLERS: dict[type, Handler] = {ShowMenu: show_menu, PlaceOrder: place_order, ServePizzas: serve_pizzas,
                                  ShowBill: show_bill, ThankClient: thank_client, Apologise: apologise}
