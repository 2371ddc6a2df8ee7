"""`pizzeria alerts`: the alerts raised lately, the latest first."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from pizzeria.cli.app import build_app, command, main

KINDS = ("message_failed", "consumer_gone", "queue_growing", "visit_stuck")


@command(main)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Only alerts of this kind.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
def alerts_command(limit: int, kind: str | None, as_json: bool) -> None:
    """List the alerts raised, the latest first: when, what, how many times, and whether the webhook took it."""
    from pizzeria.messaging import admin
    found = admin.recent_alerts(build_app().engine, limit, kind)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for alert in found:
        at = datetime.fromtimestamp(alert["raised_at"], UTC).strftime("%Y-%m-%d %H:%M:%S")
        posted = "" if alert["posted_at"] is None else ", posted"
        failing = f", webhook: {alert['post_error']}" if alert["post_error"] and alert["posted_at"] is None else ""
        click.echo(f"{at}  {alert['kind']:<15} {alert['summary']} (x{alert['count']}{posted}{failing})")
    if not found:
        click.echo("no alerts")
