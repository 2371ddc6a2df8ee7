"""A small OTLP/HTTP receiver, for the end-to-end tests and the bench: it takes the protobuf spans
exporters post to /v1/traces and keeps them, decoded (or only counts them, with `keep=False`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass(frozen=True)
class ReceivedSpan:
    """What the tests look at of one span."""

    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    error: bool
    attributes: dict


class Receiver:
    """Listens on 127.0.0.1 on a free port until closed; `spans` is what it got so far."""

    def __init__(self, keep: bool = True) -> None:
        self.spans: list[ReceivedSpan] = []
        self.count = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                request = ExportTraceServiceRequest.FromString(self.rfile.read(int(self.headers["Content-Length"])))
                spans = list(_decode(request)) if keep else []
                with lock:
                    receiver.count += len(spans) if keep else _count(request)
                    receiver.spans += spans
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _count(request: ExportTraceServiceRequest) -> int:
    return sum(len(scope_spans.spans) for resource_spans in request.resource_spans
               for scope_spans in resource_spans.scope_spans)


def _decode(request: ExportTraceServiceRequest):
    for resource_spans in request.resource_spans:
        service = next((attribute.value.string_value for attribute in resource_spans.resource.attributes
                        if attribute.key == "service.name"), "")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield ReceivedSpan(service, span.name, span.trace_id.hex(), span.span_id.hex(), span.parent_span_id.hex(),
                                   span.status.code == 2,  # STATUS_CODE_ERROR
                                   {attribute.key: attribute.value.string_value for attribute in span.attributes})
