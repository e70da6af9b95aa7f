"""`consentry trace`: a manifest's span tree from the local JSON-lines trace files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consentry.traces import TraceNotFound, manifest_trace, render


def span(
    name: str,
    span_id: str,
    parent: str | None,
    start: int,
    end: int,
    service: str,
    trace: str = "t1",
    **attrs: object,
) -> str:
    return json.dumps(
        {
            "name": name,
            "trace_id": trace,
            "span_id": span_id,
            "parent_id": parent,
            "service": f"consentry-{service}",
            "start_ns": start * 1_000_000,
            "end_ns": end * 1_000_000,
            "attributes": attrs,
            "links": [],
        }
    )


def test_the_tree_follows_one_trace_across_the_three_files(tmp_path: Path) -> None:
    (tmp_path / "ingest.jsonl").write_text(
        span(
            "ingest.upload",
            "a",
            None,
            0,
            10,
            "ingest",
            **{"consentry.manifest_id": "m1", "consentry.items": 3},
        )
        + "\n"
        + span("items.v1 publish", "b", "a", 2, 3, "ingest")
        + "\n"
        + span("ingest.upload", "z", None, 0, 1, "ingest", "t2", **{"consentry.manifest_id": "other"})
        + "\n"
    )
    (tmp_path / "rights.jsonl").write_text(
        span("rights.decide", "c", "b", 20, 25, "rights", **{"consentry.items": 3}) + "\n{broken"
    )
    (tmp_path / "ledger.jsonl").write_text(span("ledger.append", "d", "c", 30, 42, "ledger") + "\n")

    roots = manifest_trace(tmp_path, "m1")
    assert [r.name for r in roots] == ["ingest.upload"]
    assert roots[0].children[0].children[0].children[0].name == "ledger.append"
    lines = render(roots)
    assert any("rights.decide  (items=3)" in line for line in lines)
    assert "upload to last ledger append: 42.0 ms" in lines
    assert lines[-1] == "time in the hot spans by service: ingest 10.0 ms, ledger 12.0 ms, rights 5.0 ms"


def test_an_unknown_manifest_is_named(tmp_path: Path) -> None:
    with pytest.raises(TraceNotFound, match="nope"):
        manifest_trace(tmp_path, "nope")
