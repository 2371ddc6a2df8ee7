"""Commands about the saga as a whole: act on a visit (cancel, retry), and show the flow and
the endpoints drawn from the code itself."""

from __future__ import annotations

import json
import sys

import click

from pizzeria.cli.app import build_app, command, main
from pizzeria.cli.visits import _table_id


@main.group(name="visit")
def visit_group() -> None:
    """Act on a table's visit in progress."""


@command(visit_group)
@click.argument("table_id", callback=_table_id)
@click.option("--reason", default="cancelled by the house", show_default=True, help="Told to the client.")
def cancel_command(table_id: str, reason: str) -> None:
    """Cancel the visit: unbaked pizzas cancelled, what was served billed, an apology."""
    from pizzeria.process_manager.messages import CancelVisit
    click.echo(f"{table_id}: cancelling visit {_tell(table_id, CancelVisit(reason))}")


@command(visit_group)
@click.argument("table_id", callback=_table_id)
def retry_command(table_id: str) -> None:
    """Send the visit's current step again, now."""
    from pizzeria.process_manager.messages import RetryStep
    click.echo(f"{table_id}: retrying the current step of visit {_tell(table_id, RetryStep())}")


def _tell(table_id: str, message) -> str:
    from pizzeria.process_manager.service import tell_visit
    app = build_app()
    publisher = app.publisher()
    try:
        return tell_visit(app.engine, publisher, table_id, message)
    finally:
        publisher.close()


@command(main)
@click.option("--mermaid", is_flag=True, help="A Mermaid stateDiagram-v2.")
def flow_command(mermaid: bool) -> None:
    """The saga's stages and transitions, compensation included, from its own step table."""
    from pizzeria.process_manager.flow import as_mermaid, as_text
    click.echo(as_mermaid() if mermaid else as_text())


@command(main)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def endpoints_command(as_json: bool) -> None:
    """Each endpoint (queue): the messages it takes and sends, their routing keys, its handlers."""
    from pizzeria.devtools.endpoints import describe, lines
    app = build_app()
    endpoints = describe(app)
    click.echo(json.dumps(endpoints, indent=2) if as_json else "\n".join(lines(endpoints)))


@command(main)
@click.argument("table_id", callback=_table_id)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--mermaid", is_flag=True, help="A Mermaid sequenceDiagram of the messages.")
def story_command(table_id: str, as_json: bool, mermaid: bool) -> None:
    """TABLE_ID's latest visit, message by message: who handled each, when, how long, the stage
    before and after, the retries, failures, replays and duplicates it met."""
    from pizzeria.process_manager import storyboard
    from pizzeria.process_manager.story import story
    from pizzeria.process_manager.views import latest_visit
    if as_json and mermaid:
        raise click.UsageError("choose one of --json and --mermaid")
    app = build_app()
    report = latest_visit(app.engine, table_id)
    told = report and story(app.engine, report["visit_id"])
    if not told:
        click.echo(f"error: table {table_id} has had no visit", err=True)
        sys.exit(1)
    click.echo(json.dumps(storyboard.as_data(told), indent=2) if as_json else
               storyboard.as_mermaid(told) if mermaid else storyboard.as_text(told))
