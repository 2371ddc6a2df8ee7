"""Strict conversion between message dataclasses and JSON-ready payloads."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any


class BadMessage(ValueError):
    """A message that no retry can make acceptable."""


class InvalidPayload(BadMessage):
    """A payload does not fit the fields of its message type."""


def to_payload(message: Any) -> dict[str, Any]:
    """Return the JSON-ready dict of a message dataclass (tuples become lists)."""
    return {field.name: _plain(getattr(message, field.name)) for field in dataclasses.fields(message)}


def from_payload(cls: type, payload: Any) -> Any:
    """Build `cls` from a payload, checking every field's presence and type."""
    return _build(cls, payload, cls.__name__)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return to_payload(value)
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise InvalidPayload(f"{where}: expected an object, got {type(data).__name__}")
    fields = {field.name: field for field in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise InvalidPayload(f"{where}: unknown field(s) {', '.join(unknown)}")
    values = {}
    for name, field in fields.items():
        if name in data:
            values[name] = _convert(_hints(cls)[name], data[name], f"{where}.{name}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise InvalidPayload(f"{where}: missing field {name}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise InvalidPayload(f"{where}: {error}") from None


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _convert(inner, value, where)
    if origin is tuple:
        if not isinstance(value, list):
            raise InvalidPayload(f"{where}: expected a list, got {type(value).__name__}")
        return tuple(_convert(args[0], item, f"{where}[{i}]") for i, item in enumerate(value))
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if hint is float and type(value) is int:
        return float(value)
    if type(value) is not hint:
        raise InvalidPayload(f"{where}: expected {hint.__name__}, got {type(value).__name__}")
    return value
