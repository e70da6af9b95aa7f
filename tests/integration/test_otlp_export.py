"""The standard ``OTEL_*`` variables pick a real OTLP exporter, and spans arrive over the wire.

Each test starts a receiver on 127.0.0.1 that speaks the OTLP protocol (HTTP/protobuf at
``/v1/traces``, or the gRPC ``TraceService``), points ``OTEL_EXPORTER_OTLP_ENDPOINT`` at it, and
decodes what the service's tracer provider sends.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from consentry_shared.telemetry import setup_tracing


def _span_names(request: trace_service_pb2.ExportTraceServiceRequest) -> list[tuple[str, str]]:
    """(service.name, span name) of every span in an export request."""
    found = []
    for resource_spans in request.resource_spans:
        service = next(
            a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"
        )
        for scope in resource_spans.scope_spans:
            found += [(service, span.name) for span in scope.spans]
    return found


@pytest.fixture
def http_receiver() -> Iterator[tuple[str, list[trace_service_pb2.ExportTraceServiceRequest]]]:
    received: list[trace_service_pb2.ExportTraceServiceRequest] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/v1/traces" and self.headers["Content-Type"] == "application/x-protobuf":
                received.append(trace_service_pb2.ExportTraceServiceRequest.FromString(body))
                self.send_response(200)
            else:
                self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()


@pytest.fixture
def grpc_receiver() -> Iterator[tuple[str, list[trace_service_pb2.ExportTraceServiceRequest]]]:
    received: list[trace_service_pb2.ExportTraceServiceRequest] = []

    class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(
            self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
        ) -> trace_service_pb2.ExportTraceServiceResponse:
            received.append(request)
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Receiver(), server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"http://127.0.0.1:{port}", received
    server.stop(grace=None)


def _export_one_span(tmp_path: Path) -> None:
    provider = setup_tracing("rights", tmp_path)
    assert provider is not None
    with trace.get_tracer("test", tracer_provider=provider).start_as_current_span("rights.decide"):
        pass
    provider.force_flush()
    provider.shutdown()


def test_otlp_over_http_by_default(
    http_receiver: tuple[str, list[trace_service_pb2.ExportTraceServiceRequest]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint, received = http_receiver
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    _export_one_span(tmp_path)
    assert [name for request in received for name in _span_names(request)] == [
        ("consentry-rights", "rights.decide")
    ]
    assert not (tmp_path / "traces").exists()


def test_otlp_over_grpc_when_the_protocol_says_so(
    grpc_receiver: tuple[str, list[trace_service_pb2.ExportTraceServiceRequest]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint, received = grpc_receiver
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
    _export_one_span(tmp_path)
    assert [name for request in received for name in _span_names(request)] == [
        ("consentry-rights", "rights.decide")
    ]


def test_unknown_exporter_or_protocol_is_an_error_that_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER='zipkin'"):
        setup_tracing("rights", tmp_path)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")
    with pytest.raises(ValueError, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        setup_tracing("rights", tmp_path)
