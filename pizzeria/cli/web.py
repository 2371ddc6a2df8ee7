"""`pizzeria web`: the dashboard and HTTP API, served by uvicorn."""

from __future__ import annotations

import ipaddress

import click

from pizzeria.cli.app import build_app, command, main

GRACE_SECONDS = 3  # to finish the requests in hand on SIGTERM; live streams are cut after it


@command(main)
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
def web_command(host: str, port: int) -> None:
    """Serve the HTTP API (OpenAPI at /docs) until SIGINT or SIGTERM. Beyond this machine
    (a --host other than loopback) only with PIZZERIA_WEB_TOKEN set, which every request that
    changes something must then carry."""
    app = build_app()
    if not _loopback(host) and app.settings.web_token is None:
        raise click.UsageError(f"--host {host} listens beyond this machine: set PIZZERIA_WEB_TOKEN first")
    try:
        import uvicorn

        from pizzeria.web.app import create_app
    except ImportError as missing:
        raise click.ClickException(f"pizzeria web needs the web extra ({missing.name} is missing): "
                                   f"pip install 'pizzeria[web]'") from None
    click.echo(f"serving on http://{host}:{port} (the API's description: http://{host}:{port}/docs)")
    uvicorn.run(create_app(app, app.settings.web_token), host=host, port=port, log_level="warning",
                timeout_graceful_shutdown=GRACE_SECONDS)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
