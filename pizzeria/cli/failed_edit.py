"""`pizzeria failed edit`: change fields of a failed message before it is replayed."""

from __future__ import annotations

import json
import time

import click

from pizzeria.cli.app import build_app, command
from pizzeria.cli.failed import chosen_entries, failed


def _assignments(_ctx, _param, values: tuple[str, ...]) -> dict:
    changes = {}
    for value in values:
        field, equals, text = value.partition("=")
        if not equals or not field:
            raise click.BadParameter(f"{value!r}: write FIELD=VALUE")
        try:
            changes[field] = json.loads(text, parse_constant=_no_constant)
        except ValueError:
            changes[field] = text
    return changes


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is no JSON value")


@command(failed)
@click.argument("entry_id", metavar="ID", type=int)
@click.option("--set", "changes", multiple=True, required=True, metavar="FIELD=VALUE", callback=_assignments,
              help="Set FIELD of the message's payload to VALUE, read as JSON if it is JSON (2, true, null, "
                   '"2", [...], {...}), else as a string; a dotted FIELD reaches inside one (order.0.quantity=2). '
                   "Give it again for another field.")
def edit_command(entry_id: int, changes: dict) -> None:
    """Change fields of a failed message, checked against its message type before it is kept
    beside the original; a replay then sends the edit, with the message's own id."""
    from pizzeria.bootstrap import NAMES
    from pizzeria.messaging import admin
    app = build_app()
    (entry,) = chosen_entries(app, (entry_id,), every=False)
    try:
        edit_id = admin.edit_failed(app.engine, entry, changes, app.endpoints.values(), NAMES, time.time())
    except admin.EditRefused as error:
        raise click.ClickException(f"edit refused: {error}") from None
    click.echo(f"edit {edit_id} of failed message {entry.id} kept beside the original; "
               f"`pizzeria failed replay {entry.id}` sends it")
    if admin.took_effect(app.engine, entry, NAMES):
        click.echo("its consumer's inbox shows the message handled already: a replay would do nothing")


