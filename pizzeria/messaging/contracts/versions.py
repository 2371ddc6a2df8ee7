"""Versions of a message's contract. Every envelope carries the version its producer wrote (one
without is of version 1). A reader takes an older payload to its own version through the
upcasters its message class declares, one version at a time, then decodes it; a newer payload
it reads as its own version. Either way it is a tolerant reader: a field it does not know is
ignored by the decoding and stays in the envelope, whose body goes whole wherever the message
goes next (a retry, the failed store, a replay).

    def split_amount(payload: dict) -> dict:      # version 1 billed one amount
        rest = {name: value for name, value in payload.items() if name != "amount_cents"}
        return {**rest, "pizzas_cents": payload["amount_cents"], "service_cents": 0}

    @contract.command
    @dataclass(frozen=True)
    class ShowBill(Command, unique_by=(), version=2, upcasters={1: split_amount}):
        pizzas_cents: int
        service_cents: int

A version with no upcaster reads as it is: a field added with a default needs none. A field
missing or of the wrong type is still an `InvalidPayload`; for a payload newer than its
reader, the error says so: that reader must be upgraded before the message is replayed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .codec import from_payload
from .errors import ContractError, InvalidPayload

if TYPE_CHECKING:
    from .message import Message

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]  # a payload of version n -> the same of version n + 1


def declared(name: str, version: int, upcasters: Mapping[int, Upcaster]) -> tuple[int, Mapping[int, Upcaster]]:
    """The version and upcasters message `name` declares, once checked: a version counts from
    1, and upcasters[n] takes version n to n + 1, for n below the version."""
    if type(version) is not int or version < 1:
        raise ContractError(f"{name}: a contract's version is a whole number from 1, not {version!r}")
    wrong = sorted(set(upcasters) - set(range(1, version)))
    if wrong:
        raise ContractError(f"{name} is at version {version}: an upcaster takes version n to n + 1 for n "
                            f"from 1 to {version - 1}, not from {', '.join(map(repr, wrong))}")
    return version, MappingProxyType(dict(upcasters))


def read(cls: type[Message], payload: Any, version: int) -> Any:
    """The message of type `cls` in a payload its producer wrote at `version`: upcast from an
    older version to the class's, or read as the class's version if it is newer."""
    try:
        return from_payload(cls, upcast(cls, payload, version), tolerant=True)
    except InvalidPayload as error:
        if version <= cls.contract_version:
            raise
        raise InvalidPayload(f"{error} (the message is of version {version} of its contract, "
                             f"newer than this reader's {cls.contract_version})") from None


def upcast(cls: type[Message], payload: Any, version: int) -> Any:
    """The payload taken from `version` to the version of `cls` by its upcasters, in order, on a
    copy; the payload itself if it is of that version already, or newer."""
    steps = range(version, cls.contract_version)
    if not steps or not isinstance(payload, dict):
        return payload
    data = copy.deepcopy(payload)
    for step in steps:
        upcaster = cls.upcasters.get(step)
        if upcaster is not None:
            try:
                data = upcaster(data)
            except Exception as error:  # whatever the payload lacks, no retry will bring it
                raise InvalidPayload(f"{cls.__name__}: upcasting version {step} to {step + 1} failed: "
                                     f"{type(error).__name__}: {error}") from None
    return data
