"""`pizzeria purge`: remove now what is past its retention, or count it with --dry-run."""

from __future__ import annotations

import json

import click

from pizzeria.cli.app import build_app, command, main


@command(main)
@click.option("--dry-run", is_flag=True, help="Count what it would remove, and remove nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def purge_command(dry_run: bool, as_json: bool) -> None:
    """Remove, in small batches, the visits that ended (finished, rejected or cancelled) longer
    ago than PIZZERIA_VISIT_RETENTION_DAYS, with their history, and the failed messages replayed
    longer ago than PIZZERIA_FAILED_RETENTION_DAYS, with their edits; a window of 0 keeps them
    forever. Consumers do the same every PIZZERIA_PURGE_SECONDS."""
    import time

    from pizzeria.bootstrap import create_tables, retentions
    from pizzeria.messaging import purge, purgeable
    from pizzeria.modules import names
    app = build_app(set_up=False)
    create_tables(app.engine)
    kept = retentions(app.settings, names())
    counts = (purgeable if dry_run else purge)(app.engine, kept.values(), time.time())
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "would_remove" if dry_run else "removed": counts}))
        return
    click.echo("\n".join(_lines(app.settings, kept, counts, dry_run)))
    if dry_run:
        click.echo("dry run: nothing removed")


def _lines(settings, kept: dict, counts: dict[str, int], dry_run: bool) -> list[str]:
    """A line for each retention: its window, then what it removed (or would), or that it keeps all."""
    from pizzeria.config import variable
    lines = []
    for setting, retention in kept.items():
        window = f"{variable(setting)}={getattr(settings, setting):g}"
        if retention.seconds:
            done = ", ".join(f"{table} {counts[table]}" for table in retention.tables)
            lines.append(f"{window}: {'would remove' if dry_run else 'removed'} {done}")
        else:
            lines.append(f"{window}: {', '.join(retention.tables)} kept forever")
    return lines
