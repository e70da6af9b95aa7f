"""The per-entry checks of ``consentry ledger verify``: schema, RFC 8785 form, index, offsets."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from consentry.ledger_tools import _EntryChecker
from consentry_ledger.domain import PositionedDecision, sequence_batch
from consentry_shared.contracts.v1 import DecisionEvent, Evidence
from consentry_shared.tlog import CompactRange, Signer

SIGNER = Signer.generate("verify.example/ledger")
SEEN = datetime(2026, 1, 1, tzinfo=UTC)


def leaves(count: int = 4) -> list[bytes]:
    batch = [
        PositionedDecision(
            DecisionEvent(
                event_id=f"ev-{n}",
                item_event_id=f"it-{n}",
                manifest_id="m",
                item_id=f"i-{n}",
                platform="p",
                purpose="search",
                url=f"https://example.org/é/{n}",
                verdict="violation",
                reasons=["no-licence", "tdm:\u2028reserved"],
                evidence=[
                    Evidence(signal="s", body_sha256="ab" * 32, seen_at=datetime(2026, 1, 1, tzinfo=UTC))
                ],
                policy_version="p/1",
                registry_version=3,
                decided_at=datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC),
            ),
            "decisions.v1",
            n % 2,
            10 + n,
        )
        for n in range(count)
    ]
    plan = sequence_batch(batch, tree=CompactRange(), known_event_ids=(), origin="o", signer=SIGNER)
    return [e.leaf for e in plan.entries]


def check_all(entries: list[bytes]) -> list[str | None]:
    checker = _EntryChecker()
    return [checker(index, leaf) for index, leaf in enumerate(entries)]


def rewrite(leaf: bytes, **changes: object) -> bytes:
    value = json.loads(leaf)
    value.update(changes)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_the_ledgers_own_leaves_pass() -> None:
    assert check_all(leaves()) == [None] * 4


def test_canonical_json_that_is_not_the_ledgers_exact_spelling_still_passes() -> None:
    entries = leaves()
    evidence = json.loads(entries[1])["evidence"]
    evidence[0]["body_sha256"] = "AB" * 32  # the schema lowercases it; the leaf is still canonical
    entries[1] = rewrite(entries[1], evidence=evidence)
    assert check_all(entries) == [None] * 4


def reordered(leaf: bytes) -> bytes:
    value = json.loads(leaf)
    return json.dumps(dict(reversed(value.items())), separators=(",", ":"), ensure_ascii=False).encode()


@pytest.mark.parametrize(
    ("position", "tamper", "problem"),
    [
        (1, lambda leaf: leaf.replace(b'","', b'", "', 1), "RFC 8785"),  # a space
        (1, reordered, "RFC 8785"),
        (1, lambda leaf: leaf.replace("\u2028".encode(), b"\\u2028"), "RFC 8785"),  # needless escape
        (1, lambda leaf: leaf.replace(b'"registry_version":3', b'"registry_version":3.0'), "RFC 8785"),
        (1, lambda leaf: leaf.replace(b'"offset":11', b'"offset":1152921504606846976'), "RFC 8785"),
        (1, lambda leaf: leaf.replace(b'"index":1', b'"index":7'), "carries index 7"),
        (3, lambda leaf: leaf.replace(b'"offset":13', b'"offset":11'), "is not after 11"),
        (1, lambda leaf: leaf.replace(b'"verdict":"violation"', b'"verdict":"maybe"'), "schema: verdict"),
    ],
)
def test_a_bad_entry_is_named(position: int, tamper: Callable[[bytes], bytes], problem: str) -> None:
    entries = leaves()
    tampered = tamper(entries[position])
    assert tampered != entries[position]
    entries[position] = tampered
    results = check_all(entries)
    assert [i for i, r in enumerate(results) if r is not None] == [position]
    assert problem in str(results[position])
