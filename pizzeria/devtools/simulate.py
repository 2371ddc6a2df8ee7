"""`make simulate`: the pizza house under the simulator, for a budget of time, with hypothesis
drawing each run's seed, visits and length of chaos, so that a failure shrinks to a short
schedule; or one run again, exactly, from its seed.

    python -m pizzeria.devtools.simulate --seconds 120
    python -m pizzeria.devtools.simulate --seed 22 --visits 3 --chaos 100
"""

from __future__ import annotations

import functools
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

import click
import structlog
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pizzeria.messaging import Step
from pizzeria.messaging.simulation import Report, Sabotage, System, simulate

from .simulation import pizza_house

ROUND = 50  # runs hypothesis draws between two looks at the clock


class Violation(AssertionError):
    """A run broke an invariant; its report says how to replay it."""

    def __init__(self, report: Report, visits: int):
        super().__init__(f"{report.violations[0]} (seed {report.seed})")
        self.report, self.visits = report, visits


@dataclass
class Tally:
    """What a search ran: runs, visits, messages handled (by process, type and version), and
    the steps reached and crashed at."""

    runs: int = 0
    visits: int = 0
    handled: int = 0
    versions: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    reached: Counter[Step] = field(default_factory=Counter)
    crashed: Counter[Step] = field(default_factory=Counter)

    def add(self, report: Report, visits: int) -> None:
        """Count one run."""
        self.runs, self.visits, self.handled = self.runs + 1, self.visits + visits, self.handled + report.handled
        self.versions.update(report.versions)
        self.reached.update(report.reached)
        self.crashed.update(report.crashed)


@functools.cache
def system(visits: int) -> System:
    """The pizza house with `visits` visits, built once."""
    return pizza_house(visits)


def search(seconds: float, max_visits: int = 4, max_chaos: int = 200, sabotage: Sabotage = Sabotage(),
           tally: Tally | None = None) -> Violation | None:
    """Run drawn schedules for `seconds`; the first violation, shrunk, or None."""
    tally = tally if tally is not None else Tally()

    @settings(max_examples=ROUND, deadline=None, database=None, phases=[Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck))
    @given(seed=st.integers(0, 2**32 - 1), visits=st.integers(1, max_visits), chaos=st.integers(0, max_chaos))
    def run(seed: int, visits: int, chaos: int) -> None:
        report = simulate(system(visits), seed, chaos, sabotage)
        tally.add(report, visits)
        if report.violations:
            raise Violation(report, visits)

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            run()
        except Violation as violation:
            return violation
    return None


def replay_command(report: Report, visits: int) -> str:
    """The command that runs the report's schedule again."""
    return f"make simulate SEED={report.seed} VISITS={visits} CHAOS={report.chaos}"


@click.command()
@click.option("--seconds", default=120.0, show_default=True, help="How long to search.")
@click.option("--seed", type=int, help="Run this one seed again, and show its schedule.")
@click.option("--visits", default=4, show_default=True, help="Visits of a run (at most, when searching).")
@click.option("--chaos", default=200, show_default=True, help="Chaotic steps of a run (at most, when searching).")
def main(seconds: float, seed: int | None, visits: int, chaos: int) -> None:
    """Simulate the pizza house: search for a schedule that breaks an invariant, or replay one."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    if seed is not None:
        report = simulate(system(visits), seed, chaos)
        click.echo("\n".join(report.trace))
        _verdict(report, visits)
        return
    tally, started = Tally(), time.monotonic()
    found = search(seconds, visits, chaos, tally=tally)
    _summary(tally, time.monotonic() - started)
    if found is None:
        click.echo("no violation")
        return
    click.echo("\n".join(found.report.trace))
    _verdict(found.report, found.visits)


def _summary(tally: Tally, elapsed: float) -> None:
    click.echo(f"{tally.runs} schedules, {tally.visits} visits, {tally.handled} messages handled "
               f"in {elapsed:.1f} s: {tally.runs / elapsed:.1f} schedules/s")
    for step in Step:
        click.echo(f"  {step:<16} reached {tally.reached[step]:>8}, crashed at {tally.crashed[step]:>6}")
    click.echo(f"crash points crashed at: {sum(1 for step in Step if tally.crashed[step])} of {len(Step)}")
    _releases(tally)


def _releases(tally: Tally) -> None:
    """What the processes of another release handled, and the messages of a version above 1."""
    releases, by_process, newer = system(1).releases, Counter[str](), Counter[tuple[str, int]]()
    for (process, kind, version), count in tally.versions.items():
        by_process[process] += count
        if version > 1:
            newer[kind, version] += count
    for process in sorted(releases):
        click.echo(f"{process}, another release of {releases[process].name}, handled {by_process[process]} messages")
    click.echo("handled at a version above 1: " + (", ".join(
        f"{kind} v{version} {count}" for (kind, version), count in sorted(newer.items())) or "none"))


def _verdict(report: Report, visits: int) -> None:
    if not report.violations:
        click.echo(f"seed {report.seed}: no violation; end state {report.digest}")
        return
    for violation in report.violations:
        click.echo(f"VIOLATION: {violation}", err=True)
    click.echo(f"replay: {replay_command(report, visits)}", err=True)
    raise SystemExit(1)


if __name__ == "__main__":
    main()
