"""Commands about the saga as a whole: act on a visit or on many (cancel, retry), and show the
flow and the endpoints drawn from the code itself."""

from __future__ import annotations

import json
import sys

import click

from pizzeria.cli.app import build_app, command, main
from pizzeria.cli.choosing import DURATION_HELP, older_than, one_way
from pizzeria.cli.visits import _table_id


@main.group(name="visit")
def visit_group() -> None:
    """Act on a table's visit in progress, or on many chosen by filters."""


def choosing(fn):
    """TABLE_ID, or the options that choose visits in progress, and --dry-run."""
    options = [
        click.argument("table_id", required=False, callback=_table_id),
        click.option("--stage", callback=_stage, metavar="STAGE",
                     help="At this stage, as `pizzeria status --json` shows it (`pizzeria flow` draws them)."),
        click.option("--stuck", is_flag=True, help="Stuck, as `pizzeria status --stuck` shows them."),
        click.option("--older-than", callback=older_than, metavar="DURATION",
                     help=f"Started longer ago than DURATION, {DURATION_HELP}."),
        click.option("--dry-run", is_flag=True, help="With filters: list the visits it would act on, and change "
                                                     "nothing."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _stage(_ctx, _param, value: str | None) -> str | None:
    from pizzeria.process_manager.choice import WAITING
    if value is not None and value not in WAITING:
        raise click.BadParameter(f"{value!r} is not one of {', '.join(WAITING)}")
    return value


@command(visit_group)
@choosing
@click.option("--reason", default="cancelled by the house", show_default=True, help="Told to the client.")
def cancel_command(table_id: str | None, reason: str, **chosen) -> None:
    """Cancel TABLE_ID's visit, or each one the filters choose (they go together): unbaked pizzas
    cancelled, what was served billed, an apology."""
    from pizzeria.process_manager.messages import CancelVisit
    _act(table_id, CancelVisit(reason), "cancel", **chosen)


@command(visit_group)
@choosing
def retry_command(table_id: str | None, **chosen) -> None:
    """Send the current step of TABLE_ID's visit again now, or of each visit the filters choose
    (they go together)."""
    from pizzeria.process_manager.messages import RetryStep
    _act(table_id, RetryStep(), "retry", **chosen)


def _act(table_id: str | None, command, verb: str, stage: str | None, stuck: bool, older_than: float | None,
         dry_run: bool) -> None:
    """Tell the table's visit, or the chosen ones, `command`; with --dry-run, list those it would tell."""
    from pizzeria.process_manager.choice import VisitFilters
    filters = VisitFilters(stage, stuck, older_than)
    one_way({"TABLE_ID": table_id is not None, "filters (--stage, --stuck, --older-than)": filters.given()})
    if table_id is not None:
        if dry_run:
            raise click.UsageError("--dry-run goes with filters")
        click.echo(f"{table_id}: {ACTING[verb]} visit {_tell(table_id, command)}")
        return
    _act_on_many(filters, command, verb, dry_run)


ACTING = {"cancel": "cancelling", "retry": "retrying the current step of"}


def _act_on_many(filters, command, verb: str, dry_run: bool) -> None:
    import time

    from pizzeria.process_manager import choice
    app = build_app()
    visits = choice.chosen(app.engine, filters, time.time(), app.settings.step_deadline_seconds)
    if dry_run:
        click.echo(f"would {verb} {len(visits)} visit(s): {', '.join(visit['visit_id'] for visit in visits) or '-'}")
        for visit in visits:
            click.echo(f"{visit['table_id']:<8} {visit['visit_id']}  {visit['stage']:<20} started {visit['started_at']}, "
                       f"moved {visit['waited_seconds']:g}s ago")
        return
    publisher = app.publisher()
    try:
        told = choice.tell_each(app.engine, publisher, [visit["visit_id"] for visit in visits], command)
    finally:
        publisher.close()
    tables = {visit["visit_id"]: visit["table_id"] for visit in visits}
    for visit_id in told:
        click.echo(f"{tables[visit_id]}: {ACTING[verb]} visit {visit_id}")
    click.echo(f"{verb}: {len(told)} visit(s)")


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
