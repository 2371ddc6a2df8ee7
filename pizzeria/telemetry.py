"""Traces exported over OTLP/HTTP when the standard variables ask for it
(`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; `OTEL_SERVICE_NAME`,
`OTEL_TRACES_SAMPLER` and the rest as the SDK reads them) and `pizzeria[tracing]` is installed;
otherwise nothing is set up, and nothing is traced."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pizzeria.messaging import tracing

ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# A consumer makes thousands of spans a second: fewer, larger exports cost less than the SDK's
# 512 a request (measured by make bench). The standard variables still have the last word.
BATCHING = {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": ("max_export_batch_size", 2048),
            "OTEL_BSP_MAX_QUEUE_SIZE": ("max_queue_size", 8192)}


def tracer_provider(service: str, env: Mapping[str, str] = os.environ) -> Any:
    """An SDK provider exporting the spans of this process as `service` (unless OTEL_SERVICE_NAME
    names it), to hand to `pizzeria.messaging.tracing.use` and `shutdown()` at the end; None if
    nothing asks for traces."""
    if not any(env.get(name) for name in ENDPOINTS):
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or service}))
    sizes = batching(env)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=_traces_endpoint(env)),
                                                   max_queue_size=sizes["max_queue_size"],
                                                   max_export_batch_size=sizes["max_export_batch_size"]))
    return provider


def batching(env: Mapping[str, str]) -> dict[str, int]:
    """The batch span processor's sizes: a standard variable's if it holds a positive number, else ours."""
    return {option: int(value) if (value := env.get(name, "")).isdigit() and int(value) > 0 else default
            for name, (option, default) in BATCHING.items()}


def _traces_endpoint(env: Mapping[str, str]) -> str:
    """Where traces go, read as the SDK would, from `env`: the traces' own endpoint, else the
    general one's /v1/traces."""
    return env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or f"{env['OTEL_EXPORTER_OTLP_ENDPOINT'].rstrip('/')}/v1/traces"


@contextmanager
def exporting(service: str, env: Mapping[str, str] = os.environ) -> Iterator[None]:
    """Trace this process as `service` in the block, if anything asks for traces; what is
    left is exported at its end."""
    provider = tracer_provider(service, env)
    if provider is None:
        yield
        return
    tracing.use(provider)
    try:
        yield
    finally:
        provider.shutdown()
        tracing.use(None)
