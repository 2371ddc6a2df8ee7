"""`pizzeria health`: the whole house checked from the command line, a line for each check."""

from __future__ import annotations

import dataclasses
import json
import sys
import time

import click

from pizzeria.cli.app import build_app, command, main


@command(main)
@click.option("--json", "as_json", is_flag=True, help='Print one JSON document: {"healthy": bool, "checks": [...]}.')
def health_command(as_json: bool) -> None:
    """Check the house: each endpoint's live processes and queue, the outbox's lag, the stuck
    visits, the failed messages. Exit 0 if all is well, 1 if anything is a problem (a database
    or broker out of reach too), with a line saying what."""
    from pizzeria.health import checks
    found = checks(build_app(set_up=False), time.time())  # a check changes nothing: no tables made, no queues declared
    problems = sum(not check.ok for check in found)
    if as_json:
        click.echo(json.dumps({"healthy": not problems, "checks": [dataclasses.asdict(check) for check in found]},
                              indent=2))
    else:
        for check in found:
            click.echo(f"{'ok' if check.ok else 'PROBLEM':<8} {check.message}")
        click.echo(f"degraded: {problems} problem{'s' if problems > 1 else ''}" if problems else "healthy")
    sys.exit(1 if problems else 0)
