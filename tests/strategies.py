"""Hypothesis strategies: AMQP headers exactly as py-amqp decodes them for a consumer."""

from __future__ import annotations

import struct
from typing import Any

from amqp.serialization import loads
from hypothesis import strategies as st

# The tables are written on the wire by hand, with every field type py-amqp reads: its own writer uses
# only some of them (never x, b, B, U, u, i, l, s or f), and a consumer sees what any client wrote.
# Each integer type's struct format: a lower-case one is signed.
_INTEGER_FORMATS = {"b": "b", "B": "B", "U": "h", "u": "H", "I": "i", "i": "I", "L": "q", "l": "q", "s": "h"}
_LAST_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z: py-amqp cannot decode a later one
# Decimals of the usual scales, and values with trailing zeros, which py-amqp's decoder strips.
_DECIMAL_SCALES = st.integers(0, 4) | st.integers(0, 255)
_DECIMAL_VALUES = st.integers(-1000, 1000).map(lambda value: value * 100) | st.integers(-(2**31), 2**31 - 1)


def _fixed(letter: str, fmt: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    return values.map(lambda value: letter.encode() + struct.pack(">" + fmt, value))


def _sized(letter: str, data: bytes) -> bytes:
    return letter.encode() + struct.pack(">I", len(data)) + data


def _integer(letter: str) -> st.SearchStrategy[bytes]:
    fmt = _INTEGER_FORMATS[letter]
    bits = 8 * struct.calcsize(fmt)
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if fmt.islower() else (0, 2**bits - 1)
    return _fixed(letter, fmt, st.integers(low, high))


def _long_string() -> st.SearchStrategy[bytes]:
    # What is not UTF-8 (any bytes, or lone surrogates) decodes as bytes or as text with surrogates.
    surrogates_too = st.text(st.characters(exclude_categories=()), max_size=20)
    data = st.binary(max_size=20) | surrogates_too.map(lambda text: text.encode("utf-8", "surrogatepass"))
    return data.map(lambda raw: _sized("S", raw))


def _decimal(scale_and_value: tuple[int, int]) -> bytes:
    return b"D" + struct.pack(">Bi", *scale_and_value)


def _scalar() -> st.SearchStrategy[bytes]:
    return st.one_of(
        _long_string(),
        st.binary(max_size=20).map(lambda raw: _sized("x", raw)),
        st.one_of([_integer(letter) for letter in _INTEGER_FORMATS]),
        _fixed("t", "B", st.integers(0, 255)),
        _fixed("f", "f", st.floats(allow_nan=False, width=32)),
        _fixed("d", "d", st.floats(allow_nan=False)),
        st.tuples(_DECIMAL_SCALES, _DECIMAL_VALUES).map(_decimal),
        _fixed("T", "Q", st.integers(0, _LAST_TIMESTAMP)),
        st.just(b"V"),
    )


def _short_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("B", len(raw)) + raw


def _table_data(fields: dict[str, bytes]) -> bytes:
    return b"".join(_short_string(key) + field for key, field in fields.items())


def _table(fields: dict[str, bytes]) -> bytes:
    return _sized("F", _table_data(fields))


def _array(fields: list[bytes]) -> bytes:
    return _sized("A", b"".join(fields))


def _table_or_array(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    tables = st.dictionaries(st.text(max_size=20), children, max_size=4).map(_table)
    return tables | st.lists(children, max_size=4).map(_array)


def _decoded(fields: dict[str, bytes]) -> dict[Any, Any]:
    table: dict[Any, Any] = loads("F", _table(fields)[1:], 0)[0][0]  # loads wants no type letter
    return table


def amqp_headers() -> st.SearchStrategy[dict[Any, Any]]:
    """Header tables of every AMQP field type, nested a few levels, as py-amqp decodes them."""
    fields = st.recursive(_scalar(), _table_or_array, max_leaves=12)
    return st.dictionaries(st.text(max_size=20), fields, max_size=6).map(_decoded)
