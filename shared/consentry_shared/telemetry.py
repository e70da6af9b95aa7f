"""OpenTelemetry set-up and the trace helpers batch handlers use.

Tracing follows a manifest, not a message: ingest publishes a manifest's items inside the upload's
span; a batch handler groups the records it got by the trace context they carry (usually one
manifest per batch) and opens one span per group as a child of that context. One trace then runs
from the upload through rights to the ledger without a span per item on the hot path.

``OTEL_TRACES_EXPORTER`` picks the exporter: ``file`` (default; JSON lines in the data
directory, read by ``consentry trace``), ``console``, ``otlp`` (over HTTP/protobuf, or gRPC with
``OTEL_EXPORTER_OTLP_PROTOCOL=grpc``; ``OTEL_EXPORTER_OTLP_ENDPOINT`` and the other standard
variables apply), or ``none``. ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` choose the
sampler as usual.
"""

from __future__ import annotations

import json
import os
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "JsonLinesSpanExporter",
    "continued_from",
    "group_by_trace",
    "setup_tracing",
    "span_in_context",
]

T = TypeVar("T")
_PROPAGATOR = TraceContextTextMapPropagator()


class JsonLinesSpanExporter(SpanExporter):
    """Writes finished spans as JSON lines to a file: the local exporter of the embedded mode."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            ctx = span.get_span_context()
            parent = span.parent
            lines.append(
                json.dumps(
                    {
                        "name": span.name,
                        "trace_id": f"{ctx.trace_id:032x}" if ctx else None,
                        "span_id": f"{ctx.span_id:016x}" if ctx else None,
                        "parent_id": f"{parent.span_id:016x}" if parent else None,
                        "service": span.resource.attributes.get("service.name"),
                        "start_ns": span.start_time,
                        "end_ns": span.end_time,
                        "attributes": {k: _plain(v) for k, v in (span.attributes or {}).items()},
                        "links": [f"{link.context.trace_id:032x}" for link in span.links],
                    },
                    separators=(",", ":"),
                    default=_plain_default,
                )
            )
        with self._lock:
            self._file.write("\n".join(lines) + "\n")
            self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            self._file.close()


def _plain_default(value: object) -> object:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def setup_tracing(service: str, data_dir: Path, *, enabled: bool = True) -> TracerProvider | None:
    """The tracer provider of ``service``, or ``None`` when tracing is off.

    It is also installed as the global provider so spans opened by any library join it.
    """
    choice = os.environ.get("OTEL_TRACES_EXPORTER", "file").strip().lower()
    if not enabled or choice == "none":
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": f"consentry-{service}"}))
    exporter: SpanExporter
    if choice == "console":
        exporter = ConsoleSpanExporter()
    elif choice == "otlp":
        exporter = _otlp_exporter()
    elif choice == "file":
        exporter = JsonLinesSpanExporter(data_dir / "traces" / f"{service}.jsonl")
    else:
        raise ValueError(f"OTEL_TRACES_EXPORTER={choice!r}: expected file, console, otlp or none")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def _otlp_exporter() -> SpanExporter:
    """The OTLP exporter the standard variables ask for: ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` or
    ``OTEL_EXPORTER_OTLP_PROTOCOL`` is ``http/protobuf`` (the default) or ``grpc``; the exporters
    read the endpoint, headers, timeout and TLS variables themselves."""
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        return GrpcExporter()
    if protocol in ("http/protobuf", "http"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpExporter,
        )

        return HttpExporter()
    raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: expected grpc or http/protobuf")


def group_by_trace(
    records: Iterable[T], headers_of: Callable[[T], Mapping[str, str]]
) -> Iterator[tuple[Context, list[T]]]:
    """Split a batch by the trace context its records carry, keeping each group's order."""
    groups: dict[str, list[T]] = defaultdict(list)
    for record in records:
        groups[headers_of(record).get("traceparent", "")].append(record)
    for traceparent, group in groups.items():
        carrier = {"traceparent": traceparent} if traceparent else {}
        yield _PROPAGATOR.extract(carrier), group


@contextmanager
def continued_from(headers: Mapping[str, str]) -> Iterator[None]:
    """Make the trace context a consumed record carries (``traceparent``) current, so the spans
    its handling opens join the producer's trace."""
    token = otel_context.attach(_PROPAGATOR.extract(dict(headers)))
    try:
        yield
    finally:
        otel_context.detach(token)


@contextmanager
def span_in_context(
    tracer: trace.Tracer, name: str, parent: Context, **attributes: str | int
) -> Iterator[trace.Span]:
    """Open span ``name`` as a child of ``parent`` and make it current (so publishes inherit it)."""
    with tracer.start_as_current_span(name, context=parent, attributes=attributes) as span:
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield span
        finally:
            otel_context.detach(token)
