"""Commands about visits: init, consume, serve, status, demo."""

from __future__ import annotations

import json
import re
import sys

import click

from pizzeria.cli.app import build_app, command, main
from pizzeria.modules import names as module_names

TABLE_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
EXIT_FINISHED, EXIT_NOT_FINISHED, EXIT_TIMEOUT = 0, 1, 3
STOP_SIGNALS = ("SIGTERM", "SIGINT")


def _table_id(_ctx, _param, value: str | None) -> str | None:
    if value is not None and not TABLE_ID.match(value):
        raise click.BadParameter(f"{value!r}: use 1 to 32 of A-Z a-z 0-9 _ -")
    return value


def _order(_ctx, _param, spec: str | None):
    from pizzeria.process_manager.messages import parse_order
    if spec is None:
        return None
    try:
        return parse_order(spec)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@command(main)
def init_command() -> None:
    """Create the database tables and declare the broker topology (idempotent)."""
    app = build_app()
    click.echo(f"ready: database {_hide(app.settings.database_url)}, broker {_hide(app.broker.url)}")


@command(main)
@click.argument("queues", nargs=-1, required=True, type=click.Choice(module_names()), metavar="QUEUE...")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve /metrics, /livez and /readyz on this port (default: PIZZERIA_METRICS_PORT; 0: none).")
def consume_command(queues: tuple[str, ...], metrics_port: int | None) -> None:
    """Consume QUEUES until SIGINT or SIGTERM, then finish the message in hand and exit 0."""
    import signal

    import structlog

    from pizzeria.alerts import alerting
    from pizzeria.bootstrap import crew
    for name in STOP_SIGNALS:  # nothing in hand while starting: stop at once, cleanly
        signal.signal(getattr(signal, name), lambda _signum, _frame: sys.exit(0))
    from pizzeria.telemetry import exporting
    app = build_app(wait=True)
    with exporting(f"pizzeria-{'+'.join(queues)}"):
        consumer = crew(app, list(dict.fromkeys(queues)), alerting(app))
        structlog.contextvars.bind_contextvars(consumer="+".join(queues))
        probes = _serve_probes(consumer, app.settings.metrics_port if metrics_port is None else metrics_port)
        _stop_on_signals(consumer)
        consumer.run()
        consumer.close()
        if probes:
            probes.close()
    structlog.get_logger().info("stopped")


def _serve_probes(consumer, port: int):
    """The consumer's metrics and probes served on `port`, or None for port 0; a port that is
    taken is a one-line error."""
    if not port:
        return None
    import structlog

    from pizzeria.messaging import ProbeServer
    try:
        probes = ProbeServer(consumer, port)
    except OSError as error:
        raise click.ClickException(f"cannot serve metrics on port {port}: {error.strerror}") from None
    structlog.get_logger().info("serving metrics and probes", port=probes.port)
    return probes


def _stop_on_signals(consumer) -> None:
    """On SIGTERM or SIGINT, let the consumer finish the message in hand and stop. The handler
    only sets a flag and writes the signal to a pipe, where a thread of its own reads it and
    logs "stopping": a handler that logged would wait forever for the log's lock when the
    signal came in the middle of a line (on a full pipe, say), the lock held by the very
    thread that runs the handler."""
    import contextvars
    import os
    import signal
    import threading

    import structlog
    reader, writer = os.pipe()

    def stop(signum, _frame):
        consumer.should_stop = True
        os.write(writer, bytes([signum]))

    def say_stopping() -> None:
        signum = os.read(reader, 1)[0]
        structlog.get_logger().info("stopping", signal=signal.Signals(signum).name)
    threading.Thread(target=contextvars.copy_context().run, args=(say_stopping,), name="stopping",
                     daemon=True).start()
    for name in STOP_SIGNALS:
        signal.signal(getattr(signal, name), stop)


@command(main)
@click.argument("table_id", callback=_table_id)
@click.option("--order", "order", callback=_order, metavar="SPEC",
              help="What the client orders, e.g. margherita:2,diavola:1 (default: the waiter chooses).")
@click.option("--wait/--no-wait", default=True, help="Follow the visit until it ends (default).")
@click.option("--timeout", type=click.FloatRange(min=0), default=120.0, show_default=True,
              help="Seconds to wait for the visit to end.")
def serve_command(table_id: str, order, wait: bool, timeout: float) -> None:
    """Start a visit at TABLE_ID; exit 0 finished, 1 rejected or failed, 3 timed out."""
    from pizzeria.process_manager.messages import StartTableService
    from pizzeria.process_manager.service import start_visit
    app = build_app()
    publisher = app.publisher()
    try:
        visit_id = start_visit(app.engine, publisher, StartTableService(table_id, order))
    finally:
        publisher.close()
    click.echo(f"{table_id}: visit {visit_id} started")
    if wait:
        sys.exit(_follow(app, [visit_id], timeout))


def _follow(app, visit_ids: list[str], timeout: float, consumers=None) -> int:
    from pizzeria.process_manager.service import follow
    from pizzeria.process_manager.views import visit_line
    def show_trouble() -> None:
        for line in consumers.trouble():
            click.echo(line)
    extra = {} if consumers is None else {"alive": consumers.alive, "on_poll": show_trouble}
    reports = follow(app.engine, visit_ids, timeout, on_step=_show_step, **extra)
    codes = []
    for visit_id, report in reports.items():
        if report is None or report["status"] == "in_progress":
            click.echo(f"visit {visit_id}: did not end (timeout {timeout:g}s)", err=True)
            codes.append(EXIT_TIMEOUT)
        else:
            click.echo(visit_line(report))
            codes.append(EXIT_FINISHED if report["status"] == "finished" else EXIT_NOT_FINISHED)
    return max(codes, default=EXIT_FINISHED)


def _show_step(report: dict, entry: dict) -> None:
    from pizzeria.process_manager.views import arrow
    click.echo(f"{report['table_id']:<8} {arrow(entry['direction'])} {entry['type']}")


@command(main)
@click.argument("table_id", required=False, callback=_table_id)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--stuck", is_flag=True, help="Only the visits in progress that have not moved for longer than a "
                                            "step's deadline, or have no deadline pending.")
def status_command(table_id: str | None, as_json: bool, stuck: bool) -> None:
    """Show TABLE_ID's latest visit, or the latest visit of every table (or the stuck ones)."""
    import time

    from pizzeria.process_manager import views
    app = build_app()
    if stuck:
        reports = views.stuck(app.engine, time.time(), app.settings.step_deadline_seconds)
        click.echo(json.dumps(reports, indent=2) if as_json else "\n".join(
            f"{views.visit_line(r)}; at {r['stage']} for {r['waited_seconds']:g}s, "
            f"{'a deadline pending' if r['deadline_pending'] else 'no deadline pending'}" for r in reports)
            or "no visit is stuck")
        return
    if table_id is None:
        reports = views.every_table(app.engine)
        click.echo(json.dumps(reports, indent=2) if as_json else
                   "\n".join(map(views.visit_line, reports)) or "no visits yet")
        return
    report = views.latest_visit(app.engine, table_id)
    if report is None:
        click.echo(f"error: table {table_id} has had no visit", err=True)
        sys.exit(EXIT_NOT_FINISHED)
    click.echo(json.dumps(report, indent=2) if as_json else views.visit_details(report))


@command(main)
@click.option("--tables", type=click.IntRange(1, 500), default=1, show_default=True,
              help="Serve TBL1..TBLN at once.")
@click.option("--timeout", type=click.FloatRange(min=1), default=120.0, show_default=True)
@click.option("--out-of", "out_of", metavar="PIZZA", help="The kitchen has none of PIZZA left: watch a visit "
                                                        "that orders it compensated.")
def demo_command(tables: int, timeout: float, out_of: str | None) -> None:
    """Start the four consumers as processes, serve the tables, show each visit, stop cleanly."""
    from pizzeria.devtools.processes import Consumers
    app = build_app()
    env = {"PIZZERIA_KITCHEN__STOCK": f"{out_of}:0"} if out_of else {}
    with Consumers(module_names(), log_dir=app.settings.var_dir / "log", env=env) as consumers:
        click.echo(f"consumers started: {consumers.describe()}")
        order = None if out_of is None else _order(None, None, f"margherita:1,{out_of}:1")
        visit_ids = start_tables(app, [f"TBL{n}" for n in range(1, tables + 1)], order)
        code = _follow(app, visit_ids, timeout, consumers)
    click.echo(f"consumers stopped: {consumers.describe()}")
    click.echo("to watch visits in a browser: pizzeria consume process_manager menu waiter kitchen & "
               "pizzeria web, then open http://127.0.0.1:8000")
    sys.exit(code)


def start_tables(app, table_ids: list[str], order=None) -> list[str]:
    """Start a visit at each table (with `order`, or the waiter chooses); return the visit ids."""
    from pizzeria.process_manager.messages import StartTableService
    from pizzeria.process_manager.service import start_visit
    publisher = app.publisher()
    try:
        return [start_visit(app.engine, publisher, StartTableService(table_id, order)) for table_id in table_ids]
    finally:
        publisher.close()


def _hide(url: str) -> str:
    from pizzeria.messaging.admin import hide_password
    return hide_password(url)
