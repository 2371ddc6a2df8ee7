"""The `pizzeria` command line: each command parses its arguments, bootstraps, and runs."""

from pizzeria.cli import alerts, bench, config, failed, failed_edit, health, operations, retention, visits, web
from pizzeria.cli.app import main

# Importing them registers their commands on `main`.
COMMAND_MODULES = (visits, failed, failed_edit, bench, operations, retention, health, alerts, web, config)
__all__ = ["main"]
