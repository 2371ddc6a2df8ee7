"""Traces are set up only when the standard OTLP variables ask for it."""

from __future__ import annotations

from pizzeria.devtools.otlp import Receiver
from pizzeria.menu.messages import GetMenu
from pizzeria.messaging import Envelope
from pizzeria.messaging.observe import tracing
from pizzeria.telemetry import batching, exporting, tracer_provider


def test_without_an_otlp_endpoint_nothing_is_set_up():
    assert tracer_provider("pizzeria-kitchen", env={}) is None


def test_an_otlp_endpoint_sets_up_an_exporting_provider_named_after_the_service():
    provider = tracer_provider("pizzeria-kitchen", env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"})
    try:
        assert provider.resource.attributes["service.name"] == "pizzeria-kitchen"
    finally:
        provider.shutdown()


def test_exporting_traces_in_the_block_only_and_sends_what_is_left_at_its_end():
    receiver = Receiver()
    try:
        with exporting("pizzeria-cli", env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}):
            assert tracing.active()
            tracing.created(Envelope.wrap(GetMenu(), message_id="m1", correlation_id="visit-1"), "pizzeria",
                            GetMenu.route)
        assert not tracing.active()
        assert [(span.name, span.service) for span in receiver.spans] == [("create pizzeria", "pizzeria-cli")]
    finally:
        receiver.close()


def test_exporting_without_an_endpoint_traces_nothing():
    with exporting("pizzeria-cli", env={}):
        assert not tracing.active()


def test_spans_are_exported_in_large_batches_unless_the_standard_variables_say_otherwise():
    assert batching({}) == {"max_export_batch_size": 2048, "max_queue_size": 8192}
    assert batching({"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "100", "OTEL_BSP_MAX_QUEUE_SIZE": "lots"}) == {
        "max_export_batch_size": 100, "max_queue_size": 8192}
