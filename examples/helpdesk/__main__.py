"""`python -m examples.helpdesk demo` tells the whole story; `consume NAME` runs one module's
consumer until SIGTERM or SIGINT. Both take `--broker` and `--db` URLs (by default the embedded
broker and a SQLite database, files in `--data`, var/helpdesk)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from kombu.exceptions import KombuError
from sqlalchemy.exc import SQLAlchemyError

from pizzeria.messaging import MessagingError

from .app import MODULES, build, default_urls, init, worker
from .demo import DemoFailed, run

FAILURES = (DemoFailed, MessagingError, KombuError, SQLAlchemyError, OSError, LookupError, ValueError)


def parser() -> argparse.ArgumentParser:
    """The command line: `demo` and `consume NAME`, with where the broker and the database are."""
    main = argparse.ArgumentParser(prog="python -m examples.helpdesk", description=__doc__.split("\n\n")[0])
    commands = main.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the whole story: report, fail, replay, ticket and confirmation")
    demo.add_argument("--timeout", type=float, default=60.0, help="seconds the story may take (60)")
    consume = commands.add_parser("consume", help="consume the queue of one module until SIGTERM")
    consume.add_argument("name", choices=[module.name for module in MODULES])
    for command in (demo, consume):
        command.add_argument("--data", type=Path, default=Path("var/helpdesk"), help="where the SQLite files go")
        command.add_argument("--broker", metavar="URL", help="amqp://... for RabbitMQ (default: the embedded broker)")
        command.add_argument("--db", metavar="URL", help="postgresql+psycopg://... (default: SQLite)")
    return main


def consume(broker_url: str, database_url: str, name: str) -> None:
    """Consume the module's queue until SIGTERM or SIGINT, then finish the batch in hand."""
    helpdesk = build(broker_url, database_url)
    init(helpdesk)
    consumer = worker(helpdesk, name)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: setattr(consumer, "should_stop", True))
    try:
        consumer.run()
    finally:
        consumer.close()


def main(argv: list[str] | None = None) -> int:
    """Run the command; a failure is one line on stderr and exit code 1, never a traceback."""
    args = parser().parse_args(argv)
    args.data.mkdir(parents=True, exist_ok=True)
    embedded, sqlite = default_urls(args.data)
    broker_url, database_url = args.broker or embedded, args.db or sqlite
    try:
        if args.command == "demo":
            run(broker_url, database_url, args.data, args.timeout)
        else:
            consume(broker_url, database_url, args.name)
    except FAILURES as error:
        print(f"error: {said(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the consumers were stopped on the way out
        return 130
    return 0


def said(error: BaseException) -> str:
    """The first line of what the error says (a KeyError's words without their quotes), else its name."""
    text = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    return text.splitlines()[0] if text.strip() else type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
