"""Settings a module declares: a name, a type, one default and what it does. The application
reads their values (from its environment and settings files, say) and hands each module its own."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ContractError

NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")  # never `__`: it may join a module's name to a setting's
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Setting:
    """A setting: `type` is bool, int, float or str, read strictly (a TOML `true` is no number,
    1.5 is no int, "" is no str), or a callable that reads the environment's text or a settings
    file's value and raises ValueError for one it cannot take, its text going on from the
    setting's name (`='soon' is not a number`, `: 'x' is not NAME:N`). `within` bounds an int or
    a float; the value of a `secret` one is never shown."""

    name: str
    type: Callable[[Any], Any]
    default: Any
    help: str
    within: tuple[float, float] | None = None
    secret: bool = False

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise ContractError(f"setting {self.name!r}: a setting's name is lower_case words")
        if self.within is not None and self.type not in (int, float):
            raise ContractError(f"setting {self.name}: only an int or a float is read within bounds")
        try:
            self.read(self.default)
        except ValueError as error:
            raise ContractError(f"setting {self.name}: its default{error}") from None

    def read(self, value: object) -> Any:
        """Its value from the environment's text or a settings file's value; ValueError if it cannot be one."""
        reader: Callable[[Any], Any] = READERS.get(self.type, self.type)
        found = reader(value)
        if self.within is not None and not self.within[0] <= found <= self.within[1]:
            raise ValueError(f"={value!r} must be between {plain(self.within[0])} and {plain(self.within[1])}")
        return found


def plain(number: float) -> str:
    """`number` without a needless `.0`."""
    return str(int(number)) if float(number).is_integer() else str(number)


def _number(value: object) -> float:
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError
        found = float(value)
    except ValueError:
        raise ValueError(f"={value!r} is not a number") from None
    if not math.isfinite(found):
        raise ValueError(f"={value!r} is not a finite number")
    return found


def _whole(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    found = _number(value)
    if not found.is_integer():
        raise ValueError(f"={value!r} is not a whole number")
    return int(found)


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower() if isinstance(value, (int, str)) else None
    if word in TRUE or word in FALSE:
        return word in TRUE
    raise ValueError(f"={value!r} is not a boolean (1/0, true/false, yes/no, on/off)")


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"={value!r} is not a text that is not empty")
    return value


READERS: dict[object, Callable[[object], Any]] = {bool: _boolean, int: _whole, float: _number, str: _text}
