"""`make bench`: bare kombu and pizzeria on the same private RabbitMQ, one after the other, with
quorum queues on both sides and PostgreSQL at its durable defaults; pizzeria on the embedded
broker with the same store; then both on a private three-node cluster. The ratios against the
targets. Nothing else should run on the machine meanwhile."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from pizzeria.devtools.cluster import RabbitMQCluster
from pizzeria.devtools.otlp import Receiver
from pizzeria.devtools.processes import cpu_seconds
from pizzeria.devtools.servers import PostgreSQL, RabbitMQ

ROOT = Path(__file__).resolve().parent.parent

# pizzeria runs from a virtualenv of its own with what a deployment installs (no test or lint
# tools, whose imports, pulled in by libraries that look for them, weigh on every process).
RUNTIME = ROOT / "var" / "bench-venv"
VISITS, PIZZAS, LATENCY_VISITS = int(os.environ.get("BENCH_VISITS", 500)), 3, 20
BURST_VISITS = int(os.environ.get("BENCH_BURST_VISITS", 2000))  # of one pizza, started at once
# Before the work on a visit alone and on bursts (make bench at 8170946, another sitting): a target's baseline.
BEFORE = {"pm_cpu_ms_alone": 1.367}
UNORDERED = {"PIZZERIA_PROCESS_MANAGER__ARRIVALS_PREFETCH": "30"}  # as many arrivals at once as other messages
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
IDLE_SECONDS = 10.0
RESULTS = ROOT / "var" / "bench-results.json"  # the last run's raw figures: `python benchmarks/run.py --report`


def runtime_python() -> str:
    """The Python of RUNTIME, made (or made again when pyproject.toml changed) with the
    postgres and tracing extras."""
    python, stamp = RUNTIME / "bin" / "python", RUNTIME / ".installed"
    if not stamp.exists() or stamp.stat().st_mtime < (ROOT / "pyproject.toml").stat().st_mtime:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(RUNTIME)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "-e", f"{ROOT}[postgres,tracing]"], check=True)
        stamp.touch()
    return str(python)


PYTHON = sys.executable  # main() sets the runtime's


def main() -> None:
    global PYTHON
    PYTHON = runtime_python()
    with RabbitMQ() as rabbitmq, PostgreSQL(durable=True) as postgres, tempfile.TemporaryDirectory() as directory:
        fresh = lambda: (rabbitmq.add_vhost(f"b{uuid.uuid4().hex[:8]}"),  # noqa: E731
                         postgres.create_database(f"b{uuid.uuid4().hex[:8]}"))
        unsynced = lambda: (fresh()[0],  # noqa: E731
                            postgres.create_database(f"b{uuid.uuid4().hex[:8]}", synchronous_commit=False))
        embedded = lambda: (f"sqlite:///{directory}/b{uuid.uuid4().hex[:8]}.sqlite",  # noqa: E731
                            fresh()[1])
        rounds = [throughput_round(fresh, embedded, unsynced) for _ in range(ROUNDS)]
        receiver = Receiver(keep=False)
        try:
            traced = [traced_round(fresh, receiver.endpoint) for _ in range(ROUNDS)]
        finally:
            receiver.close()
        results = {
            "rounds": rounds,
            "traced": traced,
            "spans_received": receiver.count,
            "bare_latency": bare(fresh()[0], "--route", "visit", "--one-at-a-time", chains=LATENCY_VISITS, hops=15),
            "floor_latency": floor(*fresh()),
            "pizzeria_latency": pizzeria(*fresh(), *ONE_AT_A_TIME),
            "embedded_latency": pizzeria(*embedded(), *ONE_AT_A_TIME),
            "idle_cpu_percent": idle_cpu_percent(*embedded(), Path(directory)),
            "embedded_broker_bytes": embedded_broker_bytes(*embedded()),
            "help_seconds": help_seconds(),
            "harness_ms": _json([PYTHON, "-c", HARNESS])["ms"],
        }
        with RabbitMQCluster() as cluster:
            on_cluster = lambda: (cluster.add_vhost(f"b{uuid.uuid4().hex[:8]}"),  # noqa: E731
                                  postgres.create_database(f"b{uuid.uuid4().hex[:8]}"))
            results["cluster"] = {"bare": bare(on_cluster()[0], chains=VISITS, hops=13 + 2 * PIZZAS),
                                  "pizzeria": pizzeria(*on_cluster(), "--tables", VISITS, "--pizzas", PIZZAS)}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results))
    report(results)


# The latency of a visit alone: a warm-up visit, then 20 one after the other on the same
# consumers, the median kept. Bare kombu's chains take the route of a visit's 15 messages, a
# process for each of its four consumers.
ONE_AT_A_TIME = ("--tables", LATENCY_VISITS, "--pizzas", 1, "--one-at-a-time")
HARNESS = ("import json, logging, structlog; "
           "structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING)); "
           "from pizzeria.devtools.bench import harness_visit_ms; print(json.dumps({'ms': harness_visit_ms()}))")


def traced_round(fresh, endpoint: str) -> dict:
    """pizzeria on RabbitMQ without traces or metrics, then exporting traces over OTLP/HTTP, then
    serving metrics scraped every 2 s, back to back."""
    args = ("--tables", VISITS, "--pizzas", PIZZAS)
    return {"untraced": pizzeria(*fresh(), *args),
            "traced": pizzeria(*fresh(), *args, env={"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}),
            "metrics": pizzeria(*fresh(), *args, "--metrics")}


def throughput_round(fresh, embedded, unsynced) -> dict:
    """Bare kombu, then pizzeria with one process manager, with two, on the embedded broker (the
    same store, PostgreSQL), with commits not waiting for the disk, and a burst of visits of one
    pizza started at once, then the same burst with the starts taken as freely as the rest (the
    house before the arrivals' queue): back to back, so that a slow spell of the machine falls on
    all of them alike."""
    args = ("--tables", VISITS, "--pizzas", PIZZAS)
    return {"bare": bare(fresh()[0], chains=VISITS, hops=13 + 2 * PIZZAS),
            "pizzeria": pizzeria(*fresh(), *args),
            "pizzeria_2pm": pizzeria(*fresh(), *args, "--pm-consumers", 2),
            "embedded": pizzeria(*embedded(), *args),
            "unsynced": pizzeria(*unsynced(), *args),
            "burst": pizzeria(*fresh(), "--tables", BURST_VISITS, "--pizzas", 1),
            "burst_unordered": pizzeria(*fresh(), "--tables", BURST_VISITS, "--pizzas", 1, env=UNORDERED)}


def embedded_broker_bytes(broker_url: str, database_url: str, runs: int = 3) -> list[int]:
    """The size of the embedded broker's files (the database, its write-ahead log and shared
    memory) after each of `runs` benches of 200 visits on the same broker."""
    path = Path(broker_url.removeprefix("sqlite:///"))
    sizes = []
    for _ in range(runs):
        pizzeria(broker_url, database_url, "--tables", 200, "--pizzas", PIZZAS)
        sizes.append(sum(file.stat().st_size for file in path.parent.glob(f"{path.name}*")))
    return sizes


def idle_cpu_percent(broker_url: str, database_url: str, directory: Path) -> float:
    """The CPU an idle `pizzeria consume kitchen` takes on the embedded broker, in % of a core."""
    env = {**os.environ, "PIZZERIA_BROKER_URL": broker_url, "PIZZERIA_DATABASE_URL": database_url}
    log = directory / "idle.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([PYTHON, "-m", "pizzeria", "consume", "kitchen"], env=env,
                                   stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while b"consuming" not in log.read_bytes():
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the idle consumer did not start: {log.read_text()}")
            time.sleep(0.1)
        before, started = cpu_seconds(process.pid), time.monotonic()
        time.sleep(IDLE_SECONDS)
        return round(100 * (cpu_seconds(process.pid) - before) / (time.monotonic() - started), 2)
    finally:
        process.terminate()
        process.wait()


def bare(url: str, *args: str, chains: int, hops: int) -> dict:
    return _json([sys.executable, str(ROOT / "benchmarks" / "bare_kombu.py"), "--url", url, "--json",
                  "--chains", str(chains), "--hops", str(hops), *args])


def floor(broker_url: str, database_url: str) -> dict:
    """The durable floor of a visit alone: bare kombu along its route, a chain at a time, each
    hop committing its message's id into the database before it passes the message on."""
    return bare(broker_url, "--route", "visit", "--one-at-a-time", "--database", database_url,
                chains=LATENCY_VISITS, hops=15)


def pizzeria(broker_url: str, database_url: str, *args, env: dict | None = None) -> dict:
    env = {**os.environ, "PIZZERIA_BROKER_URL": broker_url, "PIZZERIA_DATABASE_URL": database_url, **(env or {})}
    return _json([PYTHON, "-m", "pizzeria", "bench", "--json", *map(str, args)], env)


def help_seconds() -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([PYTHON, "-m", "pizzeria", "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def _json(command: list[str], env=None) -> dict:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def rates(rounds: list[dict], run: str) -> list[float]:
    return [one[run]["messages_per_second"] for one in rounds]


def ratios(ours: list[float], theirs: list[float]) -> list[float]:
    return [a / b for a, b in zip(ours, theirs)]


def machine_cpu_ms(rounds: list[dict], run: str) -> list[float]:
    return [one[run]["cpu_ms_per_message"]["machine"] for one in rounds]


def before(key: str, ours: float) -> tuple[float, float]:
    """The figure before this work, and ours against it."""
    return BEFORE[key], ours / BEFORE[key]


def report(r: dict) -> None:
    bare_rates, one_pm, two_pms, embedded, unsynced = (
        rates(r["rounds"], run) for run in ("bare", "pizzeria", "pizzeria_2pm", "embedded", "unsynced"))
    speed, pair, local = ratios(one_pm, bare_rates), ratios(two_pms, one_pm), ratios(embedded, one_pm)
    embedded_latency = r["embedded_latency"]["latency_ms"]["p50"]
    untraced, traced = ([one[run]["messages_per_second"] for one in r["traced"]] for run in ("untraced", "traced"))
    tracing_cost = ratios(traced, untraced)
    counted = [one["metrics"]["messages_per_second"] for one in r["traced"]]
    metrics_cost, longest_scrape = ratios(counted, untraced), max(one["metrics"]["metrics"]["max_ms"]
                                                                  for one in r["traced"])
    rss = max(max(x["peak_rss_mib"].values())
              for one in r["rounds"] for x in (one["pizzeria"], one["pizzeria_2pm"]))
    latency, chain = r["pizzeria_latency"]["latency_ms"]["p50"], r["bare_latency"]["latency_ms"]["p50"]
    cluster, cluster_bare = (r["cluster"][run]["messages_per_second"] for run in ("pizzeria", "bare"))
    median = statistics.median
    floor_latency, pm_alone = r["floor_latency"]["latency_ms"]["p50"], r["pizzeria_latency"]["cpu_ms_per_message"][
        "process_manager"]
    burst, unordered = ({share: median(one[run]["latency_share"][share] for one in r["rounds"]) for share in ("p50", "p95")}
                        for run in ("burst", "burst_unordered"))
    burst_rate, unordered_rate = (median(rates(r["rounds"], run)) for run in ("burst", "burst_unordered"))
    files = r["embedded_broker_bytes"]
    machine_cpu = ratios(machine_cpu_ms(r["rounds"], "pizzeria_2pm"), machine_cpu_ms(r["rounds"], "pizzeria"))
    rows = [
        ("messages/s, 1 PM vs bare kombu", median(one_pm), median(bare_rates), median(speed), ">= 1.05"),
        ("messages/s, 2 PMs vs 1 PM (the worst round)", median(two_pms), median(one_pm), min(pair), ">= 1.00"),
        ("whole-machine CPU per message, 2 PMs vs 1 PM", round(median(machine_cpu), 2), 1.0, median(machine_cpu),
         "<= 1.10"),
        ("latency of 1 visit of 1 pizza (15 hops), alone, warm, ms", latency, chain, latency / chain, "(measured)"),
        ("latency of 1 visit alone vs the durable floor (bare kombu, a commit a hop), ms", latency, floor_latency,
         latency / floor_latency, "<= 1.50"),
        ("process manager CPU per message, a visit alone, ms (vs before, another sitting)", pm_alone,
         *before("pm_cpu_ms_alone", pm_alone), "<= 0.50"),
        (f"{BURST_VISITS} visits at once: p50 latency, share of the burst (vs the starts taken freely)", burst["p50"],
         unordered["p50"], burst["p50"], "<= 0.60"),
        (f"{BURST_VISITS} visits at once: p95 latency, share of the burst (vs the starts taken freely)", burst["p95"],
         unordered["p95"], burst["p95"] / unordered["p95"], "<= 1.00"),
        (f"{BURST_VISITS} visits at once: messages/s (vs the starts taken freely)", burst_rate, unordered_rate,
         burst_rate / unordered_rate, ">= 0.95"),
        ("peak RSS of any consumer, MiB", rss, 60, rss / 60, "<= 1.00"),
        ("messages/s on a 3-node cluster, 1 PM vs bare kombu there", cluster, cluster_bare, cluster / cluster_bare,
         "(as on one node)"),
        ("messages/s on a 3-node cluster vs one node, 1 PM", cluster, median(one_pm), cluster / median(one_pm),
         "(measured)"),
        ("messages/s, commits not waiting for the disk (not durable) vs durable, 1 PM", median(unsynced),
         median(one_pm), median(ratios(unsynced, one_pm)), "(measured)"),
        ("messages/s, embedded broker vs RabbitMQ (1 PM, PostgreSQL)", median(embedded), median(one_pm),
         median(local), ">= 0.50"),
        ("latency of 1 visit of 1 pizza, embedded vs RabbitMQ, ms", embedded_latency, latency,
         embedded_latency / latency, "<= 1.50"),
        ("embedded broker's files after a third 200-visit bench vs after the first, bytes", files[-1], files[0],
         files[-1] / files[0], "<= 1.20"),
        ("idle consumer on the embedded broker, % of a core", r["idle_cpu_percent"], 2.0,
         r["idle_cpu_percent"] / 2.0, "<= 1.00"),
        ("messages/s, traced (OTLP/HTTP to a local receiver) vs untraced", median(traced), median(untraced),
         median(tracing_cost), ">= 0.80"),
        ("messages/s, metrics served and scraped every 2 s vs none", median(counted), median(untraced),
         median(metrics_cost), ">= 0.97"),
        ("a consumer's /metrics under load, the longest answer, ms", longest_scrape, 50, longest_scrape / 50,
         "<= 1.00"),
        ("1 visit of 1 pizza on the test harness (memory://, one process), ms", r["harness_ms"], latency,
         r["harness_ms"] / latency, "(unit-test speed)"),
        ("pizzeria --help, s", round(r["help_seconds"], 3), 0.3, r["help_seconds"] / 0.3, "<= 1.00"),
    ]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{VISITS} visits of {PIZZAS} pizzas ({13 + 2 * PIZZAS} messages each), {len(r['rounds'])} rounds; "
          "quorum queues, PostgreSQL at its durable defaults")
    print("| measure | pizzeria | against | ratio | target |\n|---|---|---|---|---|")
    for name, ours, theirs, ratio, target in rows:
        print(f"| {name} | {ours} | {theirs} | {ratio:.2f} | {target} |")
    print("messages/s are medians of the rounds, their ratios the medians of each round's ratio: "
          f"1 PM / bare {' '.join(f'{x:.2f}' for x in speed)}; 2 PMs / 1 PM {' '.join(f'{x:.2f}' for x in pair)}; "
          f"embedded / RabbitMQ {' '.join(f'{x:.2f}' for x in local)}; "
          f"traced / untraced {' '.join(f'{x:.2f}' for x in tracing_cost)} ({r['spans_received']} spans received); "
          f"metrics / none {' '.join(f'{x:.2f}' for x in metrics_cost)}")
    print("raw:", json.dumps(r))


if __name__ == "__main__":
    if sys.argv[1:] == ["--report"]:
        report(json.loads(RESULTS.read_text()))
    else:
        main()
