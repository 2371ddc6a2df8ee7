"""The `pizzeria` command line: each command parses its arguments, bootstraps, and runs."""

from pizzeria.cli import bench, config, failed, health, operations, visits, web
from pizzeria.cli.app import main

COMMAND_MODULES = (visits, failed, bench, operations, health, web, config)  # importing them registers their commands on `main`
__all__ = ["main"]
