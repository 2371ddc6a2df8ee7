"""`pizzeria failed`: list, show, replay and delete the messages in the failed store."""

from __future__ import annotations

import json
import sys
import time

import click

from pizzeria.cli.app import build_app, command, main


@main.group()
def failed() -> None:
    """The failed-message store: what could not be handled, with its error."""


def _ids(ids: tuple[int, ...], every: bool) -> None:
    if bool(ids) == every:
        raise click.UsageError("give the ids of failed messages, or --all")


def _chosen(app, ids: tuple[int, ...], every: bool, status: str | None = None) -> list:
    """The entries asked for (of this status, if given); exit 1 naming any id the store does not hold."""
    from pizzeria.messaging import admin
    entries = admin.failed_entries(app.engine, None if every else ids)
    missing = sorted(set(ids) - {entry.id for entry in entries})
    if missing:
        click.echo(f"error: no failed message with id {', '.join(map(str, missing))}", err=True)
        sys.exit(1)
    return [entry for entry in entries if status is None or admin.failed_status(entry) == status]


@command(failed)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_command(as_json: bool) -> None:
    """List the failed messages, oldest first."""
    from pizzeria.messaging import admin
    from pizzeria.process_manager.views import with_visit_id
    summaries = [with_visit_id(admin.failed_summary(entry)) for entry in admin.failed_entries(build_app().engine)]
    if as_json:
        click.echo(json.dumps(summaries, indent=2))
        return
    for s in summaries:
        click.echo(f"{s['id']:>4}  {s['status']:<8} {s['queue']:<25} {s['type'] or '-':<18} "
                   f"{s['visit_id'] or '-':<36}  x{s['attempts']}  {s['last_failed_at']}  {s['error']}")
    if not summaries:
        click.echo("no failed messages")


@command(failed)
@click.argument("entry_id", metavar="ID", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_command(entry_id: int, as_json: bool) -> None:
    """Show one failed message whole: headers, body, error and traceback."""
    (entry,) = _chosen(build_app(), (entry_id,), every=False)
    from pizzeria.messaging import admin
    from pizzeria.process_manager.views import with_visit_id
    details = with_visit_id(admin.failed_details(entry))
    if as_json:
        click.echo(json.dumps(details, indent=2))
        return
    for key, value in details.items():
        text = json.dumps(value) if isinstance(value, dict) else value
        click.echo(f"{key}:\n{text}" if key in ("body", "traceback") else f"{key}: {text}")


@command(failed)
@click.argument("ids", nargs=-1, type=int, metavar="[ID]...")
@click.option("--all", "every", is_flag=True, help="Every message not replayed yet.")
def replay_command(ids: tuple[int, ...], every: bool) -> None:
    """Send failed messages to their queue again, as they were."""
    from pizzeria.bootstrap import NAMES
    from pizzeria.messaging import admin
    _ids(ids, every)
    from pizzeria.telemetry import exporting
    app = build_app()
    publisher = app.publisher()
    try:
        with exporting("pizzeria-cli"):
            for entry in _chosen(app, ids, every, status=None if ids else "failed"):
                admin.replay_failed(app.engine, publisher.publish, entry, NAMES, time.time())
                click.echo(f"replayed {entry.id} ({entry.type or 'unknown type'}) to {entry.queue}")
    finally:
        publisher.close()


@command(failed)
@click.argument("ids", nargs=-1, type=int, metavar="[ID]...")
@click.option("--all", "every", is_flag=True, help="Every message in the store.")
def delete_command(ids: tuple[int, ...], every: bool) -> None:
    """Delete failed messages from the store."""
    from pizzeria.messaging import admin
    _ids(ids, every)
    app = build_app()
    entries = _chosen(app, ids, every)
    admin.delete_failed(app.engine, [entry.id for entry in entries])
    click.echo(f"deleted {len(entries)} failed message(s)")
