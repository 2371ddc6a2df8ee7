"""`pizzeria failed`: list, group, show, replay and delete the messages in the failed store, by
id or many at once, chosen by filters (`failed edit` is in failed_edit)."""

from __future__ import annotations

import json
import sys
import time

import click

from pizzeria.cli.app import build_app, command, main
from pizzeria.cli.choosing import DURATION_HELP, older_than, one_way

FILTERS = "filters (--queue, --type, --error, --group, --older-than)"


@main.group()
def failed() -> None:
    """The failed-message store: what could not be handled, with its error."""


def _group(_ctx, _param, key: str | None):
    from pizzeria.messaging.admin import FailedGroup
    try:
        return None if key is None else FailedGroup.of_key(key)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def choosing(fn):
    """The options that choose failed messages by what they hold, and --dry-run."""
    options = [
        click.option("--queue", metavar="QUEUE", help="Of this queue (pizzeria.kitchen)."),
        click.option("--type", "type_name", metavar="TYPE", help="Of this message type (DoPizza)."),
        click.option("--error", metavar="TEXT", help="Whose error (its class and message) contains TEXT, in any case."),
        click.option("--group", callback=_group, metavar="QUEUE/TYPE/ERROR",
                     help="Of this group, not replayed yet, as `pizzeria failed groups` names it."),
        click.option("--older-than", callback=older_than, metavar="DURATION",
                     help=f"Whose last failure is older than DURATION, {DURATION_HELP}."),
        click.option("--dry-run", is_flag=True, help="List what it would touch, and change nothing."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _filters(queue, type_name, error, group, older_than):
    """The filters given; an empty text is none (it would choose everything)."""
    from pizzeria.messaging.admin import FailedFilters
    return FailedFilters(queue or None, type_name or None, error or None, group, older_than)


def chosen_entries(app, ids: tuple[int, ...], every: bool, status: str | None = None) -> list:
    """The entries asked for (of this status, if given); exit 1 naming any id the store does not hold."""
    from pizzeria.messaging import admin
    entries = admin.failed_entries(app.engine, None if every else ids)
    missing = sorted(set(ids) - {entry.id for entry in entries})
    if missing:
        click.echo(f"error: no failed message with id {', '.join(map(str, missing))}", err=True)
        sys.exit(1)
    return [entry for entry in entries if status is None or admin.failed_status(entry) == status]


def _picked(app, ids: tuple[int, ...], every: bool, filters, status: str | None) -> list:
    """The entries by id, every one (of this status), or those the filters choose (of this status)."""
    from pizzeria.messaging import admin
    one_way({"the ids of failed messages": bool(ids), "--all": every, FILTERS: filters.given()})
    if filters.given():
        return admin.failed_chosen(app.engine, filters, time.time(), status)
    return chosen_entries(app, ids, every, status=None if ids else status)


def _would(done: str, entries: list) -> None:
    """What --dry-run shows: how many entries, their ids, and a line for each."""
    click.echo(f"would {done} {len(entries)} failed message(s): {', '.join(str(entry.id) for entry in entries) or '-'}")
    for entry in entries:
        click.echo(f"{entry.id:>6}  {entry.queue:<25} {entry.type or '-':<18} {entry.correlation_id or '-':<36}  "
                   f"{entry.error_type}: {entry.error}")


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
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def groups_command(as_json: bool) -> None:
    """The messages not replayed, counted by queue, type and error class (each group's name is
    what --group takes), the largest group first."""
    from pizzeria.messaging import admin
    groups = [{**group, "group": admin.FailedGroup(group["queue"], group["type"], group["error_type"]).key}
              for group in admin.failed_groups(build_app().engine)]
    if as_json:
        click.echo(json.dumps(groups, indent=2))
        return
    click.echo("\n".join(f"{group['count']:>6}  {group['group']}" for group in groups) or "no failed messages")


@command(failed)
@click.argument("entry_id", metavar="ID", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_command(entry_id: int, as_json: bool) -> None:
    """Show one failed message whole: headers, body, error and traceback, and its latest edit."""
    app = build_app()
    (entry,) = chosen_entries(app, (entry_id,), every=False)
    from pizzeria.messaging import admin
    from pizzeria.process_manager.views import with_visit_id
    details = {**with_visit_id(admin.failed_details(entry)), "edit": admin.failed_edit(app.engine, entry.id)}
    if as_json:
        click.echo(json.dumps(details, indent=2))
        return
    edit = details.pop("edit")
    for key, value in details.items():
        text = json.dumps(value) if isinstance(value, dict) else value
        click.echo(f"{key}:\n{text}" if key in ("body", "traceback") else f"{key}: {text}")
    if edit:
        click.echo(f"edit: {edit['id']} at {edit['edited_at']}, set {json.dumps(edit['changes'])}, "
                   f"replayed {edit['replayed_at'] or 'not yet'}\nedited body:\n{edit['body']}")


@command(failed)
@click.argument("ids", nargs=-1, type=int, metavar="[ID]...")
@click.option("--all", "every", is_flag=True, help="Every message not replayed yet.")
@choosing
def replay_command(ids: tuple[int, ...], every: bool, dry_run: bool, **chosen) -> None:
    """Send failed messages to their queue again, as they were or as last edited: by id, every
    one, or those the filters choose (not replayed yet; the filters go together)."""
    from pizzeria.bootstrap import NAMES
    from pizzeria.messaging import admin
    app = build_app()
    entries = _picked(app, ids, every, _filters(**chosen), status=admin.FAILED)
    if dry_run:
        _would("replay", entries)
        return
    from pizzeria.telemetry import exporting
    publisher = app.publisher()
    try:
        with exporting("pizzeria-cli"):
            for entry in entries:
                admin.replay_failed(app.engine, publisher.publish, entry, NAMES, time.time())
                click.echo(f"replayed {entry.id} ({entry.type or 'unknown type'}) to {entry.queue}")
    finally:
        publisher.close()


@command(failed)
@click.argument("ids", nargs=-1, type=int, metavar="[ID]...")
@click.option("--all", "every", is_flag=True, help="Every message in the store.")
@choosing
def delete_command(ids: tuple[int, ...], every: bool, dry_run: bool, **chosen) -> None:
    """Delete failed messages from the store, with their edits: by id, every one, or those the
    filters choose (the filters go together)."""
    from pizzeria.messaging import admin
    app, filters = build_app(), _filters(**chosen)
    entries = _picked(app, ids, every, filters, status=None)
    if dry_run:
        _would("delete", entries)
        return
    if filters.given():  # the choice made again, in the transaction that deletes it
        deleted = admin.delete_failed_chosen(app.engine, filters, time.time())
    else:
        deleted = [entry.id for entry in entries]
        admin.delete_failed(app.engine, deleted)
    click.echo(f"deleted {len(deleted)} failed message(s)")
