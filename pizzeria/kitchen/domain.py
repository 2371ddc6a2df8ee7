"""The kitchen's own record of what it baked: one row per committed bake, so that a pizza
baked twice would show as two rows."""

from __future__ import annotations

from sqlalchemy import Column, Connection, Engine, Float, Integer, MetaData, String, Table, func, insert, select

metadata = MetaData()

bakes = Table(
    "kitchen_bakes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kitchen_order_id", String(64), nullable=False, index=True),
    Column("pizza", String(32), nullable=False),
    Column("baked_at", Float, nullable=False),
)


def record_bake(conn: Connection, kitchen_order_id: str, pizza: str, at: float) -> None:
    """Write down that this kitchen order was baked at `at`."""
    conn.execute(insert(bakes).values(kitchen_order_id=kitchen_order_id, pizza=pizza, baked_at=at))


def bakes_per_order(engine: Engine) -> dict[str, int]:
    """How many times each kitchen order was baked."""
    query = select(bakes.c.kitchen_order_id, func.count()).group_by(bakes.c.kitchen_order_id)
    with engine.connect() as conn:
        return dict(conn.execute(query).all())
