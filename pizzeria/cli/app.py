"""The `pizzeria` group: one-line errors for users, tracebacks with --debug, lazy imports."""

from __future__ import annotations

import functools
import sys

import click


class OneLineErrors(click.Group):
    """A group whose usage errors are one line on stderr and exit 2."""

    def main(self, *args, **kwargs):
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as error:
            where = f" (see {error.ctx.command_path} --help)" if getattr(error, "ctx", None) else ""
            click.echo(f"error: {error.format_message()}{where}", err=True)
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=OneLineErrors)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """A pizza house run by a process manager over RabbitMQ or an embedded broker."""
    ctx.obj = debug


def command(group: click.Group):
    """Register a subcommand of `group`, named after the function less `_command`, whose
    expected failures print one line and exit non-zero instead of a traceback."""
    def register(fn):
        @group.command(name=fn.__name__.removesuffix("_command"))
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except click.ClickException:
                raise
            except Exception as error:
                if click.get_current_context().obj:
                    raise
                from pizzeria.cli.errors import explain
                message, code = explain(error)
                click.echo(f"error: {message}", err=True)
                sys.exit(code)
        return wrapper
    return register


def build_app(wait: bool = False, set_up: bool = True):
    """Read the settings, set up logging, build the application and (with `set_up`) make sure
    it is set up: its tables created, its topology declared."""
    from pizzeria.bootstrap import bootstrap, init
    from pizzeria.config import Settings
    from pizzeria.logs import configure
    settings = Settings.from_env()
    configure(json_lines=settings.log_json)
    app = bootstrap(settings)
    if set_up:
        init(app, wait=wait)
    return app
