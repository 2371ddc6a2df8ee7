"""The kitchen's own records: one row per committed bake (a pizza baked twice would show as two
rows); the outcome of each kitchen order, baked, cancelled or failed, decided once; and the
stock of the pizzas that can run out, shared by every kitchen process."""

from __future__ import annotations

from sqlalchemy import Column, Connection, Engine, Float, Integer, MetaData, String, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from pizzeria.messaging import Conflict

metadata = MetaData()

bakes = Table(
    "kitchen_bakes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kitchen_order_id", String(64), nullable=False, index=True),
    Column("pizza", String(32), nullable=False),
    Column("baked_at", Float, nullable=False),
)


outcomes = Table(
    "kitchen_outcomes", metadata,
    Column("kitchen_order_id", String(64), primary_key=True),
    Column("outcome", String(16), nullable=False),
)

stock = Table(
    "kitchen_stock", metadata,
    Column("pizza", String(32), primary_key=True),
    Column("left", Integer, nullable=False),
)

BAKED, CANCELLED, FAILED = "baked", "cancelled", "failed"
SETTLE = insert(outcomes)  # built once: a kitchen settles every pizza it is sent


def outcomes_of(conn: Connection, kitchen_order_ids: list[str]) -> dict[str, str]:
    """How each of the kitchen orders that ended did, in one query."""
    query = select(outcomes.c.kitchen_order_id, outcomes.c.outcome).where(
        outcomes.c.kitchen_order_id.in_(kitchen_order_ids))
    return {order: outcome for order, outcome in conn.execute(query)}


def decide_outcome(conn: Connection, kitchen_order_id: str, outcome: str) -> None:
    """Settle the kitchen order once; raise Conflict if another kitchen settled it meanwhile
    (the handler then runs again and sees how)."""
    try:
        conn.execute(SETTLE, {"kitchen_order_id": kitchen_order_id, "outcome": outcome})
    except IntegrityError:
        raise Conflict(f"kitchen order {kitchen_order_id} was settled meanwhile") from None


def take_one(conn: Connection, pizza: str, initial: int) -> bool:
    """Take one `pizza` from the stock (starting at `initial` the first time); False if none is left."""
    if conn.execute(select(stock.c.left).where(stock.c.pizza == pizza)).first() is None:
        try:
            conn.execute(insert(stock).values(pizza=pizza, left=initial))
        except IntegrityError:
            raise Conflict(f"the stock of {pizza} was set up meanwhile") from None
    taken = conn.execute(update(stock).where(stock.c.pizza == pizza, stock.c.left > 0).values(left=stock.c.left - 1))
    return taken.rowcount == 1


def bake_row(kitchen_order_id: str, pizza: str, at: float) -> dict[str, object]:
    """The row that writes down that this kitchen order was baked at `at`."""
    return {"kitchen_order_id": kitchen_order_id, "pizza": pizza, "baked_at": at}


def bakes_per_order(engine: Engine) -> dict[str, int]:
    """How many times each kitchen order was baked."""
    query = select(bakes.c.kitchen_order_id, func.count()).group_by(bakes.c.kitchen_order_id)
    with engine.connect() as conn:
        return dict(conn.execute(query).all())
