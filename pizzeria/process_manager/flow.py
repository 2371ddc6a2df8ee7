"""`pizzeria flow`: the saga's stages and transitions, drawn from its own step table; where a
cancellation and a deadline lead is found by asking the saga itself, at every stage."""

from __future__ import annotations

from .messages import CancelVisit, Deadline
from .saga import STEPS, TIMING, Pizza, Stage, Status, decide
from .visit import Visit

FINAL = (Stage.FINISHED, Stage.REJECTED, Stage.CANCELLED)


def transitions() -> list[tuple[Stage, str, Stage]]:
    """(from, message, to) for every move the saga can make."""
    moves = [(stage, kind.__name__, to) for (stage, kind), step in STEPS.items() for to in step.to]
    for stage in Stage:
        if stage in FINAL:
            continue
        moves.append((stage, "Deadline (the step goes again)", stage))
        for label, message, resends in (("last Deadline", Deadline(stage, TIMING.resends), TIMING.resends),
                                         ("CancelVisit", CancelVisit("why"), 0)):
            after, _ = decide(_at(stage, resends), message)
            if after.stage != stage or after.cancelling:
                moves.append((stage, label, after.stage))
    return moves


def as_text() -> str:
    """One line per transition."""
    return "\n".join(f"{stage:<20} --{message}--> {to}" for stage, message, to in transitions())


def as_mermaid() -> str:
    """A Mermaid stateDiagram-v2."""
    lines = ["stateDiagram-v2", f"    [*] --> {Stage.AWAITING_MENU}: StartTableService",
             f"    [*] --> {Stage.REJECTED}: StartTableService (table taken)"]
    lines += [f"    {stage} --> {to}: {message}" for stage, message, to in transitions()]
    lines += [f"    {stage} --> [*]" for stage in FINAL]
    return "\n".join(lines)


def _at(stage: Stage, resends: int) -> Visit:
    """A visit in progress at `stage`, with a pizza to bake, after `resends` re-sends."""
    return Visit("v", "T", stage=stage, status=Status.IN_PROGRESS, pizzas=(Pizza("v-1", "margherita"),),
                 resends=resends)
