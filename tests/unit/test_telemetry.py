"""Traces are set up only when the standard OTLP variables ask for it."""

from __future__ import annotations

from pizzeria.telemetry import tracer_provider


def test_without_an_otlp_endpoint_nothing_is_set_up():
    assert tracer_provider("pizzeria-kitchen", env={}) is None


def test_an_otlp_endpoint_sets_up_an_exporting_provider_named_after_the_service():
    provider = tracer_provider("pizzeria-kitchen", env={"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"})
    try:
        assert provider.resource.attributes["service.name"] == "pizzeria-kitchen"
    finally:
        provider.shutdown()
