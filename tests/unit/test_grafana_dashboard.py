"""The Grafana dashboard of monitoring/ asks only for what is served: every series its queries
name is on the /metrics of a real consumer process, after a visit with retries, a copy and a
failure, or among the house-wide metrics of `pizzeria web`, with the labels the queries use;
every job it names is one Prometheus scrapes; and Grafana's provisioning finds the dashboard
and the Prometheus it reads."""

from __future__ import annotations

import itertools
import json
import re
import urllib.request
from pathlib import Path

import pytest
import yaml
from polling import wait_until
from processes import Pizzeria, environment, free_port
from prometheus_client.parser import text_string_to_metric_families
from test_compose import COMPOSE_FILE, SERVICES, mounts, prometheus_config, scrape_targets

from pizzeria import bootstrap, house_metrics
from pizzeria.config import Settings
from pizzeria.messaging import Outgoing, admin, send
from pizzeria.process_manager import views
from pizzeria.process_manager.messages import OrderLine, StartTableService

GRAFANA = COMPOSE_FILE.parent / "monitoring" / "grafana"
DASHBOARD_FILE = GRAFANA / "dashboards" / "pizzeria.json"
QUEUES = ("process_manager", "menu", "waiter", "kitchen")
TARGET_LABELS = {"job", "instance"}  # what Prometheus adds to every series it scrapes
PROMETHEUS_MADE = {"up": TARGET_LABELS}  # the series Prometheus makes itself for each target
COUNTED = ("_total", "_sum", "_count", "_bucket")  # the series that only grow, which rate() is for
ONLY_ON_RABBITMQ = {"pizzeria_queue_consumers": {"endpoint"}}  # the embedded broker counts no consumers


# --- reading the dashboard's PromQL, enough for its queries -------------------------------------

STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
MATCHERS = re.compile(r"\{([^}]*)\}")
RANGE = re.compile(r"\[[^\]]*\]")
SERIES = re.compile(r"(?<![\w.$])[A-Za-z_:][\w:]*(?![\w:])(?!\s*\()")  # an identifier no call follows
KEYWORDS = {"and", "or", "unless", "bool", "offset", "group_left", "group_right", "inf", "nan"}


def series_and_labels(expr: str) -> tuple[set[str], set[str]]:
    """The series an expression selects (`up`, `pizzeria_processing_seconds_bucket`) and the labels
    its matchers and groupings name."""
    text = STRING.sub('""', expr)
    labels = {label for clause in GROUPING.findall(text) for label in re.findall(r"\w+", clause)}
    text = GROUPING.sub(" ", text)
    labels |= {label for matchers in MATCHERS.findall(text) for label in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers)}
    text = RANGE.sub("", MATCHERS.sub("", text))
    return {name for name in SERIES.findall(text) if name.lower() not in KEYWORDS}, labels


def test_the_reader_finds_the_series_and_labels_of_a_query():
    expr = ('histogram_quantile(0.99, sum by (le, endpoint) (rate(pizzeria_critical_seconds_bucket{type!~"a|b"}'
            '[$__rate_interval]))) / on(job) group_left up{job="consumers"} > bool 0.5e3')
    assert series_and_labels(expr) == ({"pizzeria_critical_seconds_bucket", "up"}, {"le", "endpoint", "type", "job"})
    assert series_and_labels("pizzeria_visits") == ({"pizzeria_visits"}, set())


def load_dashboard() -> dict:
    return json.loads(DASHBOARD_FILE.read_text())


def panels(dashboard: dict) -> list[dict]:
    """Every panel, those inside collapsed rows included, rows included."""
    return [panel for top in dashboard["panels"] for panel in (top, *top.get("panels", []))]


def queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query of the dashboard."""
    return [(panel["title"], target["expr"]) for panel in panels(load_dashboard()) for target in panel.get("targets", [])]


QUERIES = queries()


# --- what a real consumer and the house serve ---------------------------------------------------

def labels_by_series(text: str) -> dict[str, set[str]]:
    """{series name: the labels it carries} of a /metrics text."""
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return found


def scraped_with(port: int, names: set[str]) -> dict[str, set[str]] | None:
    """The series the process on `port` serves, once `names` are among them; None until then."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        found = labels_by_series(answer.read().decode())
    return found if names <= set(found) else None


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> dict[str, set[str]]:
    """Every series one process consuming the four queues serves, once a visit has had its pizza
    retried at once and later, a copy of its first message was dropped and a garbage message failed;
    with every series of the house-wide metrics, and the ones Prometheus makes."""
    where = tmp_path_factory.mktemp("served")
    port = free_port()
    env = environment(where, PIZZERIA_VAR_DIR=str(where / "var"), PIZZERIA_METRICS_PORT=str(port),
                      PIZZERIA_FAULTS="kitchen.DoPizza:2", PIZZERIA_RETRY_IMMEDIATE="1", PIZZERIA_RETRY_DELAYED="1",
                      PIZZERIA_RETRY_DELAY_SECONDS="0.1")
    app = bootstrap.bootstrap(Settings.from_env(env))
    bootstrap.init(app)
    pizzeria, publisher = Pizzeria(where, env), app.publisher()
    try:
        pizzeria.consume(*QUEUES)
        start = StartTableService("T1", (OrderLine("margherita", 1),))
        send(publisher, start, "visit-1")
        wait_until(lambda: (views.visit(app.engine, "visit-1") or {}).get("status") == "finished", what="the visit")
        send(publisher, start, "visit-1")  # the same message again: the inbox drops it
        publisher.publish(Outgoing("menu.command.GetMenu", b"not json", {}))  # to the failed store
        wait_until(lambda: admin.failed_entries(app.engine), what="the garbage stored as failed")
        last = {"pizzeria_messages_duplicate_total", "pizzeria_messages_failed_total"}
        consumer = wait_until(lambda: scraped_with(port, last), what="the copy and the failure counted")
        house = labels_by_series(house_metrics.exposition(app).decode())
    finally:
        publisher.close()
        assert pizzeria.stop_consumers() == [0]
        app.engine.dispose()
    return {**consumer, **house, **PROMETHEUS_MADE}


@pytest.mark.parametrize(("title", "expr"), QUERIES)
def test_every_series_a_query_names_is_served_by_a_consumer_or_the_house(served, title, expr):
    names, _labels = series_and_labels(expr)
    assert names, f"{title}: no series in {expr}"
    missing = names - set(served) - set(ONLY_ON_RABBITMQ)
    assert not missing, f"{title}: {sorted(missing)} served by no consumer, no house, in {expr}"


def test_what_only_rabbitmq_counts_is_served_by_the_house_on_rabbitmq(tmp_path, amqp_url):
    app = bootstrap.bootstrap(Settings(amqp_url, f"sqlite:///{tmp_path}/pizzeria.sqlite", tmp_path))
    bootstrap.init(app)
    try:
        found = labels_by_series(house_metrics.exposition(app).decode())
    finally:
        app.engine.dispose()
    assert {name: found.get(name) for name in ONLY_ON_RABBITMQ} == ONLY_ON_RABBITMQ


@pytest.mark.parametrize(("title", "expr"), QUERIES)
def test_every_label_a_query_groups_or_matches_by_is_on_its_series(served, title, expr):
    names, labels = series_and_labels(expr)
    carried = set().union(TARGET_LABELS, *(served.get(name, set()) for name in names))
    assert labels <= carried, f"{title}: {sorted(labels - carried)} on none of {sorted(names)}"


def test_the_dashboard_shows_every_series_the_consumers_and_the_house_count():
    named = set().union(*(series_and_labels(expr)[0] for _title, expr in QUERIES))
    wanted = {"pizzeria_messages_handled_total", "pizzeria_messages_failed_total", "pizzeria_messages_retried_now_total",
              "pizzeria_messages_retried_later_total", "pizzeria_processing_seconds_bucket",
              "pizzeria_critical_seconds_bucket", "pizzeria_queue_messages", "pizzeria_outbox_due_rows",
              "pizzeria_failed_entries", "pizzeria_visits", "pizzeria_visit_duration_seconds_bucket", "up"}
    assert wanted <= named, sorted(wanted - named)


# --- the queries, as PromQL wants them ----------------------------------------------------------

@pytest.mark.parametrize(("title", "expr"), QUERIES)
def test_percentiles_come_from_buckets_summed_by_le_and_rates_from_series_that_only_grow(title, expr):
    names, labels = series_and_labels(expr)
    if "histogram_quantile" in expr:
        assert all(name.endswith("_bucket") for name in names) and "le" in labels, f"{title}: {expr}"
    if re.search(r"\b(?:rate|increase)\(", expr):
        assert all(name.endswith(COUNTED) for name in names), f"{title}: rate of a gauge in {expr}"


def test_every_job_a_query_names_is_one_prometheus_scrapes():
    jobs = {job for _title, expr in QUERIES for job in re.findall(r'\bjob\s*=\s*"([^"]*)"', expr)}
    assert jobs and jobs <= set(scrape_targets()), f"{sorted(jobs - set(scrape_targets()))} scraped by no job"


# --- the dashboard's structure and Grafana's provisioning ---------------------------------------

def provisioned(kind: str) -> dict:
    """The one provisioning file of `kind` (datasources, dashboards)."""
    (path,) = (GRAFANA / "provisioning" / kind).glob("*.yml")
    return yaml.safe_load(path.read_text())


def overlap(a: dict, b: dict) -> bool:
    """Whether two gridPos rectangles share a cell."""
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def test_the_panels_lie_on_the_grid_without_overlapping_each_with_its_queries():
    every = panels(load_dashboard())
    assert len({panel["id"] for panel in every}) == len(every), "panel ids repeat"
    for panel in every:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= 24, f"{panel['title']}: {grid}"
        if panel["type"] != "row":
            refs = [target["refId"] for target in panel["targets"]]
            assert refs and len(refs) == len(set(refs)), f"{panel['title']}: refIds {refs}"
    overlapping = [(a["title"], b["title"]) for a, b in itertools.combinations(every, 2) if overlap(a["gridPos"], b["gridPos"])]
    assert not overlapping


def test_every_query_reads_the_provisioned_prometheus_which_is_the_compose_service():
    (source,) = provisioned("datasources")["datasources"]
    assert (source["type"], source["url"]) == ("prometheus", "http://prometheus:9090")  # the image's port
    assert SERVICES["prometheus"]["ports"][0].endswith(":9090")
    assert source["jsonData"]["timeInterval"] == prometheus_config()["global"]["scrape_interval"]
    wanted = {"type": "prometheus", "uid": source["uid"]}
    for panel in panels(load_dashboard()):
        for asking in ([] if panel["type"] == "row" else [panel, *panel["targets"]]):
            assert asking["datasource"] == wanted, panel["title"]


def test_grafana_loads_the_dashboard_from_the_folder_compose_mounts_and_shows_it_first():
    (provider,) = provisioned("dashboards")["providers"]
    grafana = SERVICES["grafana"]
    folder = mounts(grafana)[provider["options"]["path"]]
    assert folder == DASHBOARD_FILE.parent and provider["type"] == "file"
    for kind in ("datasources", "dashboards"):
        assert mounts(grafana)[f"/etc/grafana/provisioning/{kind}"] == GRAFANA / "provisioning" / kind
    home = Path(grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert (home.parent.as_posix(), home.name) == (provider["options"]["path"], DASHBOARD_FILE.name)
    assert load_dashboard()["uid"] == "pizzeria"
