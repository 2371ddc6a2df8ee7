"""A consumer's metrics port on the embedded broker and SQLite: /metrics counts and times what the
database records (the inbox, the failed store), /livez and /readyz tell a loop turning and
connected from one that is not."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from fakes import running
from polling import wait_until
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from pizzeria import bootstrap
from pizzeria.config import Settings
from pizzeria.kitchen.messages import DoPizza
from pizzeria.messaging import BreakerPolicy, FailurePolicy, Outgoing, ProbeServer, admin, send
from pizzeria.messaging.store.tables import inbox
from pizzeria.process_manager import views
from pizzeria.process_manager.messages import OrderLine, StartTableService
from pizzeria.settings_table import Down


@pytest.fixture
def app(tmp_path):
    settings = Settings(f"sqlite:///{tmp_path}/broker.sqlite", f"sqlite:///{tmp_path}/pizzeria.sqlite", tmp_path,
                        retry=FailurePolicy(immediate=1, delayed=0), faults={"kitchen.DoPizza": 1},
                        modules={"kitchen": {"bake_seconds": 0}})
    app = bootstrap.bootstrap(settings)
    bootstrap.init(app)
    yield app
    app.engine.dispose()


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample /metrics shows, by name and labels."""
    status, body = get(port, "/metrics")
    assert status == 200
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body) for sample in family.samples}


def total(found: dict, name: str, **labels: str) -> float:
    return sum(value for (each, labelled), value in found.items()
               if each == name and all((key, wanted) in labelled for key, wanted in labels.items()))


def test_the_metrics_count_what_the_inbox_and_the_failed_store_record(app):
    worker = bootstrap.worker(app, list(app.endpoints))
    probes = ProbeServer(worker, 0, "127.0.0.1")
    publisher = app.publisher()
    with running(worker):
        send(publisher, StartTableService("T1", (OrderLine("margherita", 2),)), "visit-1")
        publisher.publish(Outgoing("menu.command.GetMenu", b"not json", {}))
        wait_until(lambda: (views.visit(app.engine, "visit-1") or {}).get("status") == "finished", what="the visit finished")
        wait_until(lambda: admin.failed_entries(app.engine), what="the garbage stored as failed")
        found = wait_until(lambda: (lambda found: found if total(found, "pizzeria_messages_failed_total") else None)(
            samples(probes.port)), what="the failure counted")
        with app.engine.connect() as conn:
            handled = dict(conn.execute(select(inbox.c.consumer, func.count()).group_by(inbox.c.consumer)).all())
            after_a_failure = conn.execute(select(func.count()).where(inbox.c.last_error.is_not(None))).scalar_one()
    publisher.close()
    probes.close()
    for endpoint, rows in handled.items():
        assert total(found, "pizzeria_messages_handled_total", endpoint=endpoint) == rows
        assert total(found, "pizzeria_processing_seconds_count", endpoint=endpoint) == rows
        assert total(found, "pizzeria_critical_seconds_count", endpoint=endpoint) == rows
    assert total(found, "pizzeria_messages_retried_now_total", endpoint="kitchen", type="DoPizza") == after_a_failure == 2
    assert total(found, "pizzeria_messages_failed_total", endpoint="menu", type="unopened") == 1
    assert total(found, "pizzeria_batch_size_count") >= len(handled)
    assert total(found, "process_cpu_seconds_total") > 0


def test_a_turning_connected_loop_is_live_and_ready_and_one_never_connected_is_not_ready(app):
    worker = bootstrap.worker(app, ["menu"])
    probes = ProbeServer(worker, 0, "127.0.0.1")
    assert get(probes.port, "/livez") == (200, "ok\n")
    assert get(probes.port, "/readyz") == (503, "not connected to the broker\n")
    with running(worker):
        wait_until(lambda: get(probes.port, "/readyz") == (200, "ok\n"), what="ready once consuming")
        assert get(probes.port, "/livez") == (200, "ok\n")
        worker.outages = 2  # as the loop counts batches requeued for an outage
        assert get(probes.port, "/readyz")[0] == 503
        worker.outages = 0
    assert get(probes.port, "/nowhere")[0] == 404
    probes.close()


def test_a_loop_connected_but_stalled_is_not_live(app):
    worker = bootstrap.worker(app, ["menu"])
    probes = ProbeServer(worker, 0, "127.0.0.1")
    (watching,) = probes.probes
    watching.stalled_after = 0.2
    with running(worker):
        wait_until(lambda: worker.connected, what="connected")
        worker.middleware.remove(watching)  # the loop turns, but the probes no longer see it
        status, body = wait_until(lambda: (lambda answer: answer if answer[0] == 503 else None)(
            get(probes.port, "/livez")), what="not live")
        assert body.startswith("the consume loop has not turned for")
    probes.close()


def test_the_metrics_show_each_queues_breaker_and_how_often_it_opened(tmp_path):
    settings = Settings(f"sqlite:///{tmp_path}/broker.sqlite", f"sqlite:///{tmp_path}/pizzeria.sqlite", tmp_path,
                        retry=FailurePolicy(immediate=2, delayed=0), faults={"kitchen.DoPizza": Down(600)},
                        breaker=BreakerPolicy(min_attempts=3, pause=600), modules={"kitchen": {"bake_seconds": 0}})
    app = bootstrap.bootstrap(settings)
    bootstrap.init(app)
    worker = bootstrap.worker(app, ["kitchen"])
    probes = ProbeServer(worker, 0, "127.0.0.1")
    with running(worker):
        publisher = app.publisher()
        send(publisher, DoPizza("k1", "margherita"), correlation_id="visit-1")
        publisher.close()
        wait_until(lambda: total(samples(probes.port), "pizzeria_breaker_state", queue="pizzeria.kitchen") == 2,
                   what="the kitchen's breaker open")
        found = samples(probes.port)
    probes.close()
    assert total(found, "pizzeria_breaker_trips_total", queue="pizzeria.kitchen") == 1
    assert total(found, "pizzeria_messages_released_total", endpoint="kitchen") == 1
    assert total(found, "pizzeria_messages_failed_total") == 0
    app.engine.dispose()
