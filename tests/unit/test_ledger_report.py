"""The per-manifest report: an item's current verdict is its latest entry."""

from __future__ import annotations

import json

from consentry_ledger.service import manifest_report


def leaf(item: str, verdict: str, *reasons: str, purpose: str = "ai-training") -> bytes:
    return json.dumps(
        {
            "item_id": item,
            "verdict": verdict,
            "reasons": list(reasons),
            "url": f"https://x.example/{item}",
            "purpose": purpose,
        }
    ).encode()


def test_a_revocation_supersedes_the_first_decision_and_is_counted_once() -> None:
    report = manifest_report(
        "m",
        [
            (0, leaf("a", "consent", "deal:d1")),
            (3, leaf("b", "violation", "no-licence")),
            (7, leaf("a", "violation", "consent-revoked", "no-licence", "deal-revoked:d1")),
        ],
    )
    assert report["ledgered"] == 2
    assert report["entries"] == 3
    assert report["counts"] == {"consent": 0, "violation": 2, "unknown": 0}
    assert report["reasons"]["no-licence"] == 2
    assert "deal:d1" not in report["reasons"]
    latest = {i["id"]: i for i in report["items"]}
    assert (latest["a"]["index"], latest["a"]["history"]) == (7, [0])
    assert latest["b"]["history"] == []
    assert [i["id"] for i in report["items"]] == ["b", "a"]  # in the order of their latest entry
