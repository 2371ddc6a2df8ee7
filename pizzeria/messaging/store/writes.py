"""Rows written many at a time: on PostgreSQL each table's rows as one JSON array, and the
writes of a whole commit in one statement, one round trip."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache, partial
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    CursorResult,
    Executable,
    Insert,
    Integer,
    LargeBinary,
    Row,
    Table,
    Update,
    bindparam,
    column,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.expression import ColumnClause, TableValuedAlias

from ..contracts.errors import Conflict

Rows = Sequence[Mapping[str, Any]]  # each with the same keys; values of str, int, float, bytes or None
T = TypeVar("T")
ORDER = "_position"  # a key of the rows' JSON that no column takes: their order


class Clash(Exception):
    """Rows written clashed, on a unique key of `table`, with rows another transaction wrote."""

    def __init__(self, table: str, error: IntegrityError):
        super().__init__(f"{table}: {str(error.orig).splitlines()[0]}")
        self.table = table
        self.error = error


def insert_rows(conn: Connection, table: Table, rows: Rows,
                returning: tuple[Column[Any], ...] = ()) -> CursorResult[Any]:
    """Insert `rows` (one at least) in one statement, returning `returning` of each in their order. On
    PostgreSQL the rows go as one JSON array: the statement is the same whatever their
    number, so it is parsed and planned once, and the rows are encoded by the json module's
    C encoder."""
    if conn.dialect.name != "postgresql":
        statement = insert(table).returning(*returning, sort_by_parameter_order=True) if returning else insert(table)
        return conn.execute(statement, list(rows))
    statement, binary = _from_json(table, tuple(rows[0]), returning, "rows")
    return conn.execute(statement, {"rows": _json_rows(rows, binary)})


def update_rows(conn: Connection, table: Table, rows: Rows, where: Mapping[str, str]) -> int:
    """Update in one statement the row of `table` that each of `rows` (one at least) names by
    `where` (a column: the key of the row that holds its value), setting the row's other keys'
    columns; return how many rows were updated. On PostgreSQL the rows go as one JSON array."""
    names = tuple(rows[0])
    statement = _update(table, names, tuple(where.items()), "rows" if conn.dialect.name == "postgresql" else None)
    if conn.dialect.name != "postgresql":
        return conn.execute(statement, [{f"b_{name}": value for name, value in row.items()} for row in rows]).rowcount
    return conn.execute(statement, {"rows": _json_rows(rows, _binary(table, names))}).rowcount


def update_all(conn: Connection, table: Table, rows: Rows, where: Mapping[str, str]) -> None:
    """`update_rows`, raising Conflict unless every row it names was there."""
    _check_updated(table, len(rows), update_rows(conn, table, rows, where))


@lru_cache(maxsize=16)
def _update(table: Table, names: tuple[str, ...], where: tuple[tuple[str, str], ...], param: str | None) -> Update:
    """UPDATE table SET the names not in `where` WHERE each column of `where` is its key: from
    json_to_recordset(:param), or (param None) from b_-prefixed parameters."""
    keys = {key: column_name for column_name, key in where}
    if param is not None:
        given = _recordset(param, [column(name, table.c[keys.get(name, name)].type) for name in names])
        value: Callable[[str], Any] = lambda name: given.c[name]  # noqa: E731
    else:
        value = lambda name: bindparam(f"b_{name}")  # noqa: E731
    return (update(table).where(*(table.c[column_name] == value(key) for column_name, key in where))
            .values({name: value(name) for name in names if name not in keys}))


class Writes:
    """The writes of one commit: rows to update, compare-and-set, rows to insert, table by
    table, and rows to delete, done by `run` with a last insert whose columns it returns. On
    PostgreSQL they all go as one statement (each write a data-modifying WITH of the last
    insert): one round trip however many tables; elsewhere a statement each. A unique key
    clash raises Clash naming its table; a row to update that is not there, Conflict."""

    def __init__(self) -> None:
        self.updates: list[tuple[Table, Rows, tuple[tuple[str, str], ...]]] = []
        self.inserts: list[tuple[Table, Rows]] = []
        self.deletes: list[tuple[Column[Any], list[Any], ColumnElement[bool]]] = []

    def update(self, table: Table, rows: Rows, where: Mapping[str, str]) -> None:
        """Update the row of `table` that each of `rows` names by `where`, as `update_rows` does
        (nothing if there are none); if one is not there (changed since it was read), `run`
        raises Conflict."""
        if rows:
            self.updates.append((table, rows, tuple(where.items())))

    def insert(self, table: Table, rows: Rows) -> None:
        """Insert `rows` into `table` (nothing if there are none)."""
        if rows:
            self.inserts.append((table, rows))

    def delete(self, key: Column[Any], values: list[Any], where: ColumnElement[bool]) -> None:
        """Delete the rows whose `key` is one of `values` (nothing if there are none) and that
        match `where` (a clause built once: statements are cached by it)."""
        if values:
            self.deletes.append((key, values, where))

    def run(self, conn: Connection, table: Table, rows: Rows, returning: tuple[Column[Any], ...]) -> Sequence[Row[Any]]:
        """Do the writes, and insert `rows` into `table`; return `returning` of each, in their order."""
        if conn.dialect.name == "postgresql":
            return self._together(conn, table, rows, returning)
        for each, values, names in self.updates:
            update_all(conn, each, values, dict(names))
        for key, keys, where in self.deletes:  # first: a message withdrawn may be sent again
            conn.execute(delete(key.table).where(key.in_(keys), where))
        for each, values in self.inserts:
            _clashing(each, partial(insert_rows, conn, each, values))
        if not rows:
            return []
        return _clashing(table, lambda: insert_rows(conn, table, rows, returning).all())

    def _together(self, conn: Connection, table: Table, rows: Rows, returning: tuple[Column[Any], ...]) -> Sequence[Row[Any]]:
        last = (table, tuple(rows[0]), returning) if rows else None
        shape = (tuple((each, tuple(values[0])) for each, values in self.inserts),
                 tuple((key, where) for key, _, where in self.deletes), last,
                 tuple((each, tuple(values[0]), keys) for each, values, keys in self.updates))
        statement, binary = _one_statement(shape)
        params = {f"rows_{n}": _json_rows(values, binary[n]) for n, (_, values) in enumerate(self.inserts)}
        params |= {f"values_{n}": values for n, (_, values, _) in enumerate(self.deletes)}
        params |= {f"updates_{n}": _json_rows(values, _binary(each, tuple(values[0])))
                   for n, (each, values, _) in enumerate(self.updates)}
        if rows:
            params["rows"] = _json_rows(rows, binary[-1])
        try:
            result = conn.execute(statement, params).all()
        except IntegrityError as error:
            raise Clash(getattr(getattr(error.orig, "diag", None), "table_name", None) or "?", error) from None
        for n, (each, values, _) in enumerate(self.updates):  # every row returned bears the counts
            _check_updated(each, len(values), result[0]._mapping[f"{UPDATED}{n}"])
        return result if rows else []  # without rows to insert, the statement returns one row of counts


def _check_updated(table: Table, wanted: int, updated: int) -> None:
    if updated != wanted:
        raise Conflict(f"{table.name}: {wanted - updated} of {wanted} rows changed since they were read")


def _clashing(table: Table, write: Callable[[], T]) -> T:
    try:
        return write()
    except IntegrityError as error:
        raise Clash(table.name, error) from None


Shape = tuple[tuple[tuple[Table, tuple[str, ...]], ...], tuple[tuple[Column[Any], ColumnElement[bool]], ...],
              tuple[Table, tuple[str, ...], tuple[Column[Any], ...]] | None,
              tuple[tuple[Table, tuple[str, ...], tuple[tuple[str, str], ...]], ...]]
UPDATED = "_updated_"  # a column of the one statement's rows: how many rows its nth update updated


@lru_cache(maxsize=64)
def _one_statement(shape: Shape) -> tuple[Executable, list[list[str]]]:
    """The writes of `shape` as one statement, and the binary columns of each insert's rows."""
    inserts, deletes, last, updates = shape
    made = [_from_json(table, names, (), f"rows_{n}") for n, (table, names) in enumerate(inserts)]
    writes = [statement.cte(f"write_{n}") for n, (statement, _) in enumerate(made)]
    writes += [delete(key.table).where(key.in_(select(func.json_array_elements_text(bindparam(f"values_{n}", type_=JSON)))),
                                       where).cte(f"delete_{n}") for n, (key, where) in enumerate(deletes)]
    updated = [_update(table, names, where, f"updates_{n}").returning(literal_column("1")).cte(f"update_{n}")
               for n, (table, names, where) in enumerate(updates)]
    counts: list[ColumnElement[Any]] = [select(func.count()).select_from(cte).scalar_subquery().label(f"{UPDATED}{n}")
              for n, cte in enumerate(updated)]
    binary = [names for _, names in made]
    if last is None:
        return select(*counts or [literal_column("1")]).add_cte(*writes, *updated), binary
    statement, names = _from_json(*last, "rows")
    if not counts:
        return statement.add_cte(*writes, nest_here=True), [*binary, names]
    inserted = statement.cte("inserted")
    return select(inserted, *counts).add_cte(*writes, *updated, inserted), [*binary, names]


@lru_cache(maxsize=64)
def _from_json(table: Table, names: tuple[str, ...], returning: tuple[Column[Any], ...],
               param: str) -> tuple[Insert, list[str]]:
    """INSERT INTO table (names) SELECT names FROM json_to_recordset(:param) in the rows' order
    (the ids a serial column gives follow it), and which of the names are binary columns."""
    given = _recordset(param, [column(name, table.c[name].type) for name in names])
    statement = insert(table).from_select(names, select(*(given.c[name] for name in names)).order_by(given.c[ORDER]))
    return (statement.returning(*returning) if returning else statement), _binary(table, names)


def _recordset(param: str, columns: list[ColumnClause[Any]]) -> TableValuedAlias:
    """json_to_recordset(:param) as a table of `columns` and the rows' position."""
    return func.json_to_recordset(bindparam(param, type_=JSON)).table_valued(
        *columns, column(ORDER, Integer)).render_derived(with_types=True)


def _binary(table: Table, names: tuple[str, ...]) -> list[str]:
    """Which of the names are binary columns of the table."""
    return [name for name in names if name in table.c and isinstance(table.c[name].type, LargeBinary)]


def _json_rows(rows: Rows, binary: list[str]) -> list[dict[str, Any]]:
    """The rows as json_to_recordset reads them: bytes as PostgreSQL reads a bytea from text,
    and each row's position."""
    return [{**row, **{name: _hex(row[name]) for name in binary}, ORDER: position}
            for position, row in enumerate(rows)]


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "\\x" + value.hex()
