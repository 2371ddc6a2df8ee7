"""Conversion between message dataclasses and JSON-ready payloads, every field's type checked:
strict (a field the dataclass does not have is refused) or tolerant (it is ignored)."""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Callable
from typing import Any

from .errors import ContractError, InvalidPayload


def to_payload(message: Any) -> dict[str, Any]:
    """Return the JSON-ready dict of a message dataclass (tuples become lists, enum members
    their values)."""
    return {name: _plain(getattr(message, name)) for name in _field_names(message.__class__)}


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(cls))


def from_payload(cls: type, payload: Any, tolerant: bool = False) -> Any:
    """Build `cls` from a payload, checking every field's presence and type; a field `cls` does
    not have is refused, or, `tolerant`, ignored, in the dataclasses inside it too (as the
    reader of a newer message must)."""
    return _reader(cls, tolerant)(payload, cls.__name__)


def readable(cls: type) -> None:
    """Raise ContractError if a field of `cls` has a type the codec cannot read."""
    _reader(cls, False)


_AS_THEY_ARE = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    if type(value) in _AS_THEY_ARE:
        return value
    if dataclasses.is_dataclass(value):
        return to_payload(value)
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


Convert = Callable[[Any, str], Any]  # (value, where it is) -> the value as its type wants it


@functools.cache
def _reader(cls: type, tolerant: bool) -> Convert:
    """A converter for `cls`, worked out once: its fields, their converters, which are required."""
    hints = typing.get_type_hints(cls)
    fields = [(field.name, _converter(hints[field.name], tolerant),
               field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING)
              for field in dataclasses.fields(cls)]
    names = frozenset(name for name, _, _ in fields)

    def build(data: Any, where: str) -> Any:
        if not isinstance(data, dict):
            raise InvalidPayload(f"{where}: expected an object, got {type(data).__name__}")
        if not tolerant and not names.issuperset(data):
            raise InvalidPayload(f"{where}: unknown field(s) {', '.join(sorted(set(data) - names))}")
        values = {}
        for name, convert, required in fields:
            if name in data:
                values[name] = convert(data[name], f"{where}.{name}")
            elif required:
                raise InvalidPayload(f"{where}: missing field {name}")
        try:
            return cls(**values)
        except (TypeError, ValueError) as error:
            raise InvalidPayload(f"{where}: {error}") from None
    return build


def _converter(hint: Any, tolerant: bool) -> Convert:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):  # X | None: a union of one type is that type
        kinds = [arg for arg in args if arg is not type(None)]
        if len(kinds) != 1:
            raise ContractError(f"a field may be of one type or None, not {hint}")
        inner = _converter(kinds[0], tolerant)
        return lambda value, where: None if value is None else inner(value, where)
    if origin is tuple:
        return functools.partial(_tuple_of, _converter(args[0], tolerant))
    if dataclasses.is_dataclass(hint):  # a hint is a class: a dataclass, never an instance of one
        return _reader(typing.cast(type, hint), tolerant)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return functools.partial(_member, hint)
    return functools.partial(_float if hint is float else _exactly, hint)


def _tuple_of(item: Convert, value: Any, where: str) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise InvalidPayload(f"{where}: expected a list, got {type(value).__name__}")
    return tuple(item(element, f"{where}[{i}]") for i, element in enumerate(value))


def _member(hint: type[enum.Enum], value: Any, where: str) -> enum.Enum:
    try:
        return hint(value)
    except ValueError:
        raise InvalidPayload(f"{where}: {value!r} is not a {hint.__name__}") from None


def _float(hint: type, value: Any, where: str) -> float:
    return float(value) if type(value) is int else _exactly(hint, value, where)


def _exactly(hint: type, value: Any, where: str) -> Any:
    if type(value) is not hint:
        raise InvalidPayload(f"{where}: expected {hint.__name__}, got {type(value).__name__}")
    return value
