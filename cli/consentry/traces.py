"""``consentry trace MANIFEST_ID``: a manifest's span tree from the local trace files.

The services write finished spans as JSON lines to ``DATA_DIR/traces/<service>.jsonl`` (the
default exporter of the embedded mode). This module finds the trace of a manifest's upload (the
``ingest.upload`` span carries ``consentry.manifest_id``), gathers every span of that trace from
all three files, and lays them out as a tree with durations, so an operator without Jaeger still
sees where the time goes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Span:
    name: str
    trace_id: str
    span_id: str
    parent_id: str | None
    service: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    children: list[Span] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


class TraceNotFound(LookupError):
    """No upload span names the manifest (wrong id, another data dir, or tracing was off)."""


def _read_spans(trace_dir: Path) -> Iterator[Span]:
    for path in sorted(trace_dir.glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    raw = json.loads(line)
                    yield Span(
                        name=raw["name"],
                        trace_id=raw["trace_id"],
                        span_id=raw["span_id"],
                        parent_id=raw.get("parent_id"),
                        service=str(raw.get("service") or path.stem).removeprefix("consentry-"),
                        start_ns=int(raw["start_ns"]),
                        end_ns=int(raw["end_ns"]),
                        attributes=raw.get("attributes") or {},
                    )
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a crash: skip it, keep the rest


def manifest_trace(trace_dir: Path, manifest_id: str) -> list[Span]:
    """The root spans (with their children) of every trace that uploaded ``manifest_id``."""
    spans = list(_read_spans(trace_dir))
    trace_ids = {
        s.trace_id
        for s in spans
        if s.name == "ingest.upload" and s.attributes.get("consentry.manifest_id") == manifest_id
    }
    if not trace_ids:
        raise TraceNotFound(f"no upload of manifest {manifest_id!r} in {trace_dir}")
    in_trace = [s for s in spans if s.trace_id in trace_ids]
    by_id = {s.span_id: s for s in in_trace}
    roots = []
    for span in sorted(in_trace, key=lambda s: s.start_ns):
        parent = by_id.get(span.parent_id or "")
        if parent is None:
            roots.append(span)
        else:
            parent.children.append(span)
    return roots


def render(roots: list[Span]) -> list[str]:
    """Indented lines: offset from the trace's start, duration, service, span name."""
    if not roots:
        return []
    origin = min(r.start_ns for r in roots)
    lines = [f"{'start':>9} {'duration':>10}  {'service':<7} span"]
    totals: dict[str, float] = defaultdict(float)

    def walk(span: Span, depth: int) -> None:
        lines.append(
            f"{(span.start_ns - origin) / 1e6:>7.1f}ms {span.duration_ms:>8.1f}ms  {span.service:<7} "
            f"{'  ' * depth}{span.name}{_detail(span)}"
        )
        if span.name in ("ingest.upload", "rights.decide", "ledger.append"):
            totals[span.service] += span.duration_ms
        for child in span.children:
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    end = max(_last_end(r) for r in roots)
    lines.append("")
    lines.append(f"upload to last ledger append: {(end - origin) / 1e6:.1f} ms")
    lines.append(
        "time in the hot spans by service: " + ", ".join(f"{k} {v:.1f} ms" for k, v in sorted(totals.items()))
    )
    return lines


def _detail(span: Span) -> str:
    keys = ("consentry.items", "consentry.records", "consentry.batch_added", "consentry.log_size")
    found = [f"{k.removeprefix('consentry.')}={span.attributes[k]}" for k in keys if k in span.attributes]
    return f"  ({', '.join(found)})" if found else ""


def _last_end(span: Span) -> int:
    return max([span.end_ns, *(_last_end(c) for c in span.children)])
