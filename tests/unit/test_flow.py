"""`pizzeria flow` draws the saga from its own step table, and asks the saga where giving up
on each stage leads: no waiting stage is without a way out."""

from __future__ import annotations

from pizzeria.process_manager import flow, saga


def test_the_diagram_has_every_step_of_the_table():
    diagram = flow.as_mermaid()
    assert diagram.splitlines()[0] == "stateDiagram-v2"
    for (stage, kind), step in saga.STEPS.items():
        for to in step.to:
            assert f"    {stage} --> {to}: {kind.__name__}" in diagram


def test_every_waiting_stage_has_a_way_out_when_its_last_deadline_passes():
    exits = {stage: to for stage, message, to in flow.transitions() if message == "last Deadline"}
    waiting = [stage for stage in saga.Stage if stage not in flow.FINAL]
    assert set(exits) == set(waiting)
    assert exits[saga.Stage.AWAITING_MENU] == saga.Stage.APOLOGISING
    assert exits[saga.Stage.APOLOGISING] == saga.Stage.CANCELLED


def test_a_cancellation_once_the_client_is_being_thanked_leads_nowhere():
    cancels = {stage for stage, message, _ in flow.transitions() if message == "CancelVisit"}
    assert saga.Stage.AWAITING_THANKS not in cancels and saga.Stage.BAKING in cancels
