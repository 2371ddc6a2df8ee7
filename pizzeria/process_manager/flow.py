"""`pizzeria flow`: the saga's stages and transitions, drawn from its own step table, with
compensation and deadlines."""

from __future__ import annotations

from .saga import GIVING_UP, STEPS, Stage

FINAL = (Stage.FINISHED, Stage.REJECTED, Stage.CANCELLED)


def transitions() -> list[tuple[Stage, str, Stage]]:
    """(from, message, to) for every move the saga can make."""
    moves = [(stage, kind.__name__, to) for (stage, kind), step in STEPS.items() for to in step.to]
    moves += [(stage, "CancelVisit or last Deadline", to) for stage, to in GIVING_UP.items()]
    moves += [(stage, "Deadline (sends the step again)", stage) for stage in GIVING_UP]
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
