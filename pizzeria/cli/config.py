"""`pizzeria config`: the settings in effect and where each came from, with secrets hidden."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from pizzeria.cli.app import command, main


@command(main)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def config_command(as_json: bool) -> None:
    """Each setting's value and source: "default", a file PIZZERIA_CONFIG names, or a PIZZERIA_*
    environment variable; the application's own first, then each module's as MODULE.NAME; passwords
    hidden. --json adds what each setting does. Connects to nothing."""
    from pizzeria.config import effective_settings
    effective = effective_settings()
    if as_json:
        click.echo(json.dumps({item.key: {"value": shown(item.value, item.setting.secret), "source": item.source,
                                          "help": item.setting.help} for item in effective}, indent=2))
    else:
        click.echo("\n".join(table([(item.key, as_text(shown(item.value, item.setting.secret)), item.source)
                                     for item in effective])))


def shown(value: Any, secret: bool) -> Any:
    """`value` fit to show: *** for a secret that is set, *** for the passwords of URLs, paths as text."""
    if secret and value is not None:
        return "***"
    if isinstance(value, str):
        from pizzeria.messaging.admin import hide_url_passwords  # the core: not for `pizzeria --help`
        return hide_url_passwords(value)
    return str(value) if isinstance(value, Path) else value


def as_text(value: Any) -> str:
    """`value` as the environment would say it; - for none."""
    if isinstance(value, Mapping):
        return ",".join(f"{name}:{times}" for name, times in value.items()) or "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return "-" if value is None else str(value)


def table(rows: list[tuple[str, str, str]]) -> list[str]:
    """The rows as lines, their columns aligned."""
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    return [f"{key:<{widths[0]}}  {value:<{widths[1]}}  {source}" for key, value, source in rows]
