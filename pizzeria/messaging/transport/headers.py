"""AMQP headers to JSON-safe values and back, keeping every AMQP field type py-amqp decodes."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

# A value JSON cannot hold becomes {TAG: kind, "value": text}, e.g. {"$amqp": "decimal", "value": "1.50"};
# a table with the tag as a key, or with keys that are not text (py-amqp decodes a key that is not UTF-8
# as bytes), becomes {TAG: "table", "value": [[key, value], ...]}. Back come arrays as lists (tuples too),
# bytearrays and memoryviews as bytes, aware datetimes with a fixed-offset tzinfo (py-amqp's are naive),
# and a value of a type AMQP cannot carry as the text of its repr().
TAG = "$amqp"

_RESTORERS: dict[str, Callable[[str], Any]] = {
    "datetime": datetime.fromisoformat,
    "decimal": Decimal,
    "bytes": lambda text: base64.b64decode(text, validate=True),
    "repr": str,
}


def to_json_safe(headers: Mapping[str, Any]) -> dict[str, Any]:
    """Return `headers` as values json.dumps(allow_nan=True) takes, tagging those it could not."""
    if _only_text(headers):  # the usual headers: nothing to tag
        return dict(headers)
    return _table_to_json(headers)


def from_json_safe(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the headers `to_json_safe` made `data` from; what is not a well-formed tag stays as it is."""
    if _only_text(data):
        return dict(data)
    restored = _from_json(dict(data))
    return restored if isinstance(restored, dict) else dict(data)


def _only_text(table: Mapping[Any, Any]) -> bool:
    return TAG not in table and all(type(key) is str and type(value) is str for key, value in table.items())


def _tagged(kind: str, value: Any) -> dict[str, Any]:
    return {TAG: kind, "value": value}


def _table_to_json(table: Mapping[Any, Any]) -> dict[str, Any]:
    if TAG in table or not all(isinstance(key, str) for key in table):
        return _tagged("table", [[_to_json(key), _to_json(value)] for key, value in table.items()])
    return {key: _to_json(value) for key, value in table.items()}


def _to_json(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float)):  # bool is an int; nan and inf go as they are
        return value
    if isinstance(value, dict):
        return _table_to_json(value)
    if isinstance(value, (list, tuple)):
        return [_to_json(item) for item in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _tagged("bytes", base64.b64encode(bytes(value)).decode("ascii"))
    if isinstance(value, datetime):
        return _tagged("datetime", value.isoformat())
    if isinstance(value, Decimal):
        return _tagged("decimal", str(value))
    return _tagged("repr", repr(value))


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    if not isinstance(value, dict):
        return value
    if TAG in value:
        return _untagged(value)
    return {key: _from_json(item) for key, item in value.items()}


def _untagged(tagged: dict[str, Any]) -> Any:
    if len(tagged) != 2 or "value" not in tagged:
        return tagged
    kind, value = tagged[TAG], tagged["value"]
    if kind == "table":
        return _table_from_pairs(value, tagged)
    restore = _RESTORERS.get(kind) if isinstance(kind, str) and isinstance(value, str) else None
    if restore is None:
        return tagged
    try:
        return restore(value)
    except (ValueError, ArithmeticError):  # not what we wrote: decimal.InvalidOperation is an ArithmeticError
        return tagged


def _table_from_pairs(pairs: Any, tagged: dict[str, Any]) -> Any:
    if not isinstance(pairs, list) or not all(isinstance(pair, list) and len(pair) == 2 for pair in pairs):
        return tagged
    try:
        return {_from_json(key): _from_json(value) for key, value in pairs}
    except TypeError:  # a key that restores to a list or a dict, which cannot be a key
        return tagged
