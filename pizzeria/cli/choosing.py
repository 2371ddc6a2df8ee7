"""What the commands that act on many share: the age their filters take, and the refusal to act
on everything when nothing was chosen."""

from __future__ import annotations

import click

DURATION_HELP = "a number and a unit, s m h d or w: 30m, 2h, 7d"


def older_than(_ctx, _param, value: str | None) -> float | None:
    """The seconds of an `--older-than` DURATION, None if not given; a bad one is a usage error."""
    from pizzeria.messaging.admin import duration
    if value is None:
        return None
    try:
        return duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def one_way(ways: dict[str, bool]) -> None:
    """Refuse unless exactly one of the ways of choosing (by name: whether it was given) was given."""
    given = [name for name, chosen in ways.items() if chosen]
    if len(given) != 1:
        raise click.UsageError(f"give {' or '.join(ways)}" if not given else f"give {' or '.join(given)}, not both"
                               if len(given) == 2 else f"give one of {', '.join(given)}")
