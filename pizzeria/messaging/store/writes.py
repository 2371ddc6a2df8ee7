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
    statement = _update(table, names, tuple(where.items()), conn.dialect.name == "postgresql")
    if conn.dialect.name != "postgresql":
        return conn.execute(statement, [{f"b_{name}": value for name, value in row.items()} for row in rows]).rowcount
    return conn.execute(statement, {"rows": _json_rows(rows, _binary(table, names))}).rowcount


@lru_cache(maxsize=16)
def _update(table: Table, names: tuple[str, ...], where: tuple[tuple[str, str], ...], from_json: bool) -> Update:
    """UPDATE table SET the names not in `where` WHERE each column of `where` is its key: from
    json_to_recordset(:rows), or from b_-prefixed parameters."""
    keys = {key: column_name for column_name, key in where}
    if from_json:
        given = _recordset("rows", [column(name, table.c[keys.get(name, name)].type) for name in names])
        value: Callable[[str], Any] = lambda name: given.c[name]  # noqa: E731
    else:
        value = lambda name: bindparam(f"b_{name}")  # noqa: E731
    return (update(table).where(*(table.c[column_name] == value(key) for column_name, key in where))
            .values({name: value(name) for name in names if name not in keys}))


class Writes:
    """The writes of one commit: rows to insert, table by table, and rows to delete, done by
    `run` with a last insert whose columns it returns. On PostgreSQL they all go as one
    statement (each write a data-modifying WITH of the last insert): one round trip however
    many tables; elsewhere a statement each. A unique key clash raises Clash naming its table."""

    def __init__(self) -> None:
        self.inserts: list[tuple[Table, Rows]] = []
        self.deletes: list[tuple[Column[Any], list[Any], ColumnElement[bool]]] = []

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
                 tuple((key, where) for key, _, where in self.deletes), last)
        statement, binary = _one_statement(shape)
        params = {f"rows_{n}": _json_rows(values, binary[n]) for n, (_, values) in enumerate(self.inserts)}
        params |= {f"values_{n}": values for n, (_, values, _) in enumerate(self.deletes)}
        if rows:
            params["rows"] = _json_rows(rows, binary[-1])
        try:
            result = conn.execute(statement, params)
        except IntegrityError as error:
            raise Clash(getattr(getattr(error.orig, "diag", None), "table_name", None) or "?", error) from None
        return result.all() if rows else []  # without rows to insert, the statement is a SELECT 1


def _clashing(table: Table, write: Callable[[], T]) -> T:
    try:
        return write()
    except IntegrityError as error:
        raise Clash(table.name, error) from None


Shape = tuple[tuple[tuple[Table, tuple[str, ...]], ...], tuple[tuple[Column[Any], ColumnElement[bool]], ...],
              tuple[Table, tuple[str, ...], tuple[Column[Any], ...]] | None]


@lru_cache(maxsize=64)
def _one_statement(shape: Shape) -> tuple[Executable, list[list[str]]]:
    """The writes of `shape` as one statement, and the binary columns of each insert's rows."""
    inserts, deletes, last = shape
    made = [_from_json(table, names, (), f"rows_{n}") for n, (table, names) in enumerate(inserts)]
    writes = [statement.cte(f"write_{n}") for n, (statement, _) in enumerate(made)]
    writes += [delete(key.table).where(key.in_(select(func.json_array_elements_text(bindparam(f"values_{n}", type_=JSON)))),
                                       where).cte(f"delete_{n}") for n, (key, where) in enumerate(deletes)]
    binary = [names for _, names in made]
    if last is None:
        return select(literal_column("1")).add_cte(*writes), binary
    statement, names = _from_json(*last, "rows")
    return statement.add_cte(*writes, nest_here=True), [*binary, names]


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
