"""`pizzeria bench`: the cost of a message with every guarantee on."""

from __future__ import annotations

import json
import sys

import click

from pizzeria.cli.app import build_app, command, main


@command(main)
@click.option("--tables", type=click.IntRange(1, 100_000), default=500, show_default=True)
@click.option("--pizzas", type=click.IntRange(1, 20), default=3, show_default=True)
@click.option("--pm-consumers", type=click.IntRange(1, 16), default=1, show_default=True)
@click.option("--kitchens", type=click.IntRange(1, 16), default=1, show_default=True)
@click.option("--timeout", type=click.FloatRange(min=1), default=600.0, show_default=True)
@click.option("--one-at-a-time", is_flag=True,
              help="Start each visit when the one before has ended: the latency of a visit alone.")
@click.option("--metrics", is_flag=True, help="Each consumer serves its metrics, scraped every 2 s.")
@click.option("--purge", "old", type=click.IntRange(1, 10_000_000), default=None, metavar="VISITS",
              help="Instead, write VISITS finished visits past the visits' retention, keep TABLES visits going, and "
                   "measure messages/s without a purge, while the process manager purges them, and after.")
@click.option("--measure-seconds", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="With --purge: how long the measures without a purge last.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def bench_command(tables: int, pizzas: int, pm_consumers: int, kitchens: int, timeout: float,
                  one_at_a_time: bool, metrics: bool, old: int | None, measure_seconds: float, as_json: bool) -> None:
    """Serve TABLES visits through fresh consumer processes, at once or one at a time, and measure them."""
    from pizzeria.devtools import bench
    app = build_app()
    if old:
        _purge(app, old, tables, pizzas, measure_seconds, timeout, as_json)
        return
    with _progress(tables) as bar:
        figures = bench.run(app, tables, pizzas, pm_consumers, kitchens, timeout,
                            progress=lambda done: bar.update(done - bar.pos), one_at_a_time=one_at_a_time,
                            metrics=metrics)
    if as_json:
        click.echo(json.dumps(figures))
        return
    latency, share, rss = figures["latency_ms"], figures["latency_share"], figures["peak_rss_mib"]
    click.echo(f"{figures['visits']} visits, {figures['messages']} messages in {figures['seconds']}s: "
               f"{figures['visits_per_second']} visits/s, {figures['messages_per_second']} messages/s\n"
               f"latency per visit: p50 {latency['p50']} ms, p95 {latency['p95']} ms, p99 {latency['p99']} ms "
               f"(p50 {share['p50']:.0%} of the run, p95 {share['p95']:.0%})\n"
               f"peak RSS: " + ", ".join(f"{kind} {mib} MiB" for kind, mib in rss.items()) + "\n"
               "CPU per message: " + ", ".join(f"{kind} {ms} ms" for kind, ms in figures["cpu_ms_per_message"].items()))
    if metrics:
        scraped = figures["metrics"]
        click.echo(f"metrics: {scraped['scrapes']} scrapes, p50 {scraped['p50_ms']} ms, longest {scraped['max_ms']} ms; "
                   f"{scraped['handled']:.0f} messages counted handled")


def _purge(app, old: int, tables: int, pizzas: int, measure_seconds: float, timeout: float, as_json: bool) -> None:
    from pizzeria.devtools import purge_bench
    figures = purge_bench.run(app, old, tables, pizzas, measure_seconds, timeout)
    if as_json:
        click.echo(json.dumps(figures))
        return
    rates = figures["messages_per_second"]
    click.echo(f"{figures['old_visits']} old visits ({figures['history_rows']} rows of history) written in "
               f"{figures['fill_seconds']}s; {figures['in_flight']} visits of {figures['pizzas_per_visit']} "
               f"pizzas kept going\nmessages/s: {rates['before']} without a purge, {rates['during']} during it, "
               f"{rates['after']} after: during / before {figures['ratio']}, during / after "
               f"{figures['ratio_to_after']}, during / their mean {figures['ratio_to_both']}\n"
               f"purged in {figures['purge_seconds']}s, {figures['left']} old visits left")


class _NoBar:
    pos = 0

    def update(self, steps: int) -> None:
        self.pos += steps

    def __enter__(self):
        return self

    def __exit__(self, *_exc) -> None:
        pass


def _progress(total: int):
    if sys.stderr.isatty():
        return click.progressbar(length=total, label="visits", file=sys.stderr)
    return _NoBar()
