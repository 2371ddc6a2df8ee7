"""What the core tells whoever listens: where a message's way stands, and what it did once
handled. Tests wait on these instead of reading logs; a simulator crashes a process at a step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from ..contracts.envelope import Envelope


class Step(StrEnum):
    """The named points on a message's way where a process may die, in the order they come."""

    STARTS_COUNTED = "starts_counted"  # a redelivered message's start is counted; no handler ran
    BEFORE_HANDLER = "before_handler"  # a handler is about to run
    BEFORE_COMMIT = "before_commit"  # the handlers ran; nothing is committed
    AFTER_COMMIT = "after_commit"  # state, inbox and outbox committed; nothing published
    AFTER_ROUTE = "after_route"  # a retry scheduled or a failure stored; the delivery not acked
    AFTER_PUBLISH = "after_publish"  # messages sent; the broker has not confirmed them
    AFTER_CONFIRM = "after_confirm"  # what the batch sent is confirmed; its deliveries not acked
    RELAY_CLAIMED = "relay_claimed"  # a relay claimed outbox rows; nothing published
    RELAY_CONFIRMED = "relay_confirmed"  # a relay's rows are confirmed; not deleted


Handled = Callable[[str, Envelope, list[Envelope]], None]
Reached = Callable[[Step], None]


@dataclass(frozen=True)
class Hooks:
    """Callbacks of one process: `handled(consumer, envelope, sent)` once a message's unit of
    work committed and its delivery was acked; `reached(step)` as the process passes a step."""

    handled: list[Handled] = field(default_factory=list)
    reached: list[Reached] = field(default_factory=list)

    def reach(self, step: Step) -> None:
        """Tell the listeners the process is at `step`."""
        for listener in self.reached:
            listener(step)
