"""The ledger's pure sequencing step."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_core import to_json

from consentry_ledger.domain import PositionedDecision, entry_leaf, sequence_batch
from consentry_ledger.domain.sequencer import DECISION_KEYS, ENTRY_KEYS, EVIDENCE_KEYS, decision_leaf
from consentry_shared.contracts.v1 import DecisionEvent, Evidence, LedgerEntry
from consentry_shared.tlog import (
    Checkpoint,
    CompactRange,
    Signer,
    Verifier,
    canonical_json,
    leaf_hash,
    open_note,
    root_from_leaf_hashes,
)

SIGNER = Signer.generate("test.example/ledger")


def decision(n: int, **overrides: object) -> DecisionEvent:
    fields: dict[str, object] = {
        "event_id": f"ev-{n}",
        "item_event_id": f"item-{n}",
        "manifest_id": "m-1",
        "item_id": f"i-{n}",
        "platform": "acme-ai",
        "purpose": "ai-training",
        "url": f"https://example.org/{n}",
        "verdict": "violation",
        "reasons": ["no-licence"],
        "evidence": [Evidence(signal="policy.regime", value="opt-in")],
        "policy_version": "p/1",
        "registry_version": 3,
        "decided_at": datetime(2026, 11, 27, 12, 0, n % 60, tzinfo=UTC),
    }
    fields.update(overrides)
    return DecisionEvent.model_validate(fields)


def positioned(n: int, offset: int | None = None, partition: int = 0) -> PositionedDecision:
    return PositionedDecision(decision(n), "decisions.v1", partition, n if offset is None else offset)


def test_a_batch_gets_consecutive_indexes_and_a_signed_checkpoint_of_the_new_root() -> None:
    plan = sequence_batch(
        [positioned(n) for n in range(5)],
        tree=CompactRange(),
        known_event_ids=set(),
        origin="test.example/ledger",
        signer=SIGNER,
    )
    assert [e.index for e in plan.entries] == [0, 1, 2, 3, 4]
    assert plan.tree.root() == root_from_leaf_hashes([leaf_hash(e.leaf) for e in plan.entries])
    assert plan.checkpoint_note is not None
    note = open_note(plan.checkpoint_note, [Verifier.from_vkey(SIGNER.vkey)])
    checkpoint = Checkpoint.from_text(note.text)
    assert (checkpoint.size, checkpoint.root_hash) == (5, plan.tree.root())
    assert plan.offsets == {("decisions.v1", 0): 4}


def test_each_event_id_is_logged_once_whatever_the_redeliveries() -> None:
    first = sequence_batch(
        [positioned(0), positioned(1)],
        tree=CompactRange(),
        known_event_ids=set(),
        origin="o",
        signer=SIGNER,
    )
    again = sequence_batch(
        [positioned(1, offset=7), positioned(2, offset=8), positioned(2, offset=9)],
        tree=first.tree,
        known_event_ids={"ev-0", "ev-1"},
        origin="o",
        signer=SIGNER,
    )
    assert [(e.index, e.event_id) for e in again.entries] == [(2, "ev-2")]
    assert again.tree.size == 3
    assert again.offsets == {("decisions.v1", 0): 9}  # skipped records still count as consumed


def test_nothing_new_means_no_checkpoint() -> None:
    plan = sequence_batch(
        [positioned(0)], tree=CompactRange(), known_event_ids={"ev-0"}, origin="o", signer=SIGNER
    )
    assert plan.entries == []
    assert plan.checkpoint_note is None


def test_the_leaf_is_canonical_json_of_the_entry_with_its_source_position() -> None:
    plan = sequence_batch(
        [positioned(4, offset=42, partition=3)],
        tree=CompactRange(),
        known_event_ids=set(),
        origin="o",
        signer=SIGNER,
    )
    leaf = plan.entries[0].leaf
    assert canonical_json(json.loads(leaf)) == leaf
    entry = LedgerEntry.model_validate_json(leaf)
    assert (entry.index, entry.topic, entry.partition, entry.offset) == (0, "decisions.v1", 3, 42)
    assert entry.event_id == "ev-4"
    assert entry.reasons == ["no-licence"]
    assert entry_leaf(entry) == leaf


def test_an_entry_too_large_for_a_tile_bundle_is_set_aside() -> None:
    huge = PositionedDecision(
        decision(1, evidence=[Evidence(signal="s", value="x" * 4000)] * 20), "decisions.v1", 0, 1
    )
    plan = sequence_batch(
        [positioned(0), huge], tree=CompactRange(), known_event_ids=set(), origin="o", signer=SIGNER
    )
    assert [e.event_id for e in plan.entries] == ["ev-0"]
    assert [(r, reason.split()[0]) for r, reason in plan.rejected] == [(huge, "entry")]
    assert "tlog-tiles limit" in plan.rejected[0][1]


# --- the fast leaf path equals the definition ---------------------------------------------------

text = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
# Any zone: named ones (historic offsets in seconds included) and fixed offsets to the
# microsecond, where msgspec and pydantic would write a sub-minute offset differently.
zones = (
    st.just(UTC)
    | st.timezones()
    | st.timedeltas(timedelta(hours=-23, minutes=-59), timedelta(hours=23, minutes=59)).map(timezone)
)
moments = st.datetimes(timezones=zones)
evidence = st.builds(
    Evidence,
    signal=text,
    ref=st.none() | text,
    value=st.none() | st.text(st.characters(codec="utf-8"), max_size=20),
    body_sha256=st.none() | st.just("ab" * 32),
    seen_at=st.none() | moments,
)


@settings(max_examples=600, deadline=None)
@given(
    event_id=text,
    item_id=text,
    reasons=st.lists(text, min_size=1, max_size=3),
    evidence=st.lists(evidence, max_size=3),
    decided_at=moments,
    path=st.text(st.characters(min_codepoint=ord("a"), max_codepoint=ord("z")), max_size=8),
    registry_version=st.integers(0, 2**53 - 1),
    position=st.tuples(st.integers(0, 2**53 - 1), st.integers(0, 1000), st.integers(0, 2**53 - 1)),
    inputs=st.fixed_dictionaries(
        {},
        optional={
            "sha256": st.just("ab" * 32),
            "license": text,
            "territory": text,
            "jurisdiction": text,
            "commercial": st.booleans(),
        },
    ),
)
def test_the_fast_leaf_is_the_canonical_json_of_the_ledger_entry(
    event_id: str,
    item_id: str,
    reasons: list[str],
    evidence: list[Evidence],
    decided_at: datetime,
    path: str,
    registry_version: int,
    position: tuple[int, int, int],
    inputs: dict[str, object],
) -> None:
    index, partition, offset = position
    if decided_at.utcoffset() is None:
        decided_at = decided_at.replace(tzinfo=UTC)
    made = decision(
        1,
        event_id=event_id,
        item_id=item_id,
        reasons=reasons,
        evidence=evidence,
        decided_at=decided_at,
        url=f"https://example.org/{path}?q=é",
        registry_version=registry_version,
        **inputs,
    )
    positioned = PositionedDecision(made, "décisions.v1", partition, offset)
    reference = LedgerEntry(
        index=index,
        **{k: getattr(made, k) for k in DECISION_KEYS if k != "url"},
        url=str(made.url),
        topic=positioned.topic,
        partition=partition,
        offset=offset,
    )
    assert decision_leaf(positioned, index) == entry_leaf(reference)


@pytest.mark.parametrize(
    "offset", [timedelta(seconds=30), timedelta(seconds=-30), timedelta(hours=1, microseconds=5)]
)
def test_a_sub_minute_utc_offset_is_written_as_the_model_writes_it(offset: timedelta) -> None:
    # msgspec writes these zones unlike pydantic (``Z`` for +00:00:30): the fast path must not
    # use it for them. Checked in both fields that hold a datetime.
    moment = datetime(2026, 11, 27, 12, 0, tzinfo=timezone(offset))
    for overrides in (
        {"decided_at": moment},
        {"evidence": [Evidence(signal="policy.regime", seen_at=moment)]},
    ):
        made = decision(1, **overrides)
        reference = LedgerEntry(
            index=4,
            **{k: getattr(made, k) for k in DECISION_KEYS},
            topic="decisions.v1",
            partition=0,
            offset=4,
        )
        assert decision_leaf(PositionedDecision(made, "decisions.v1", 0, 4), 4) == entry_leaf(reference)
    assert msgspec.json.encode(datetime(2026, 1, 1, tzinfo=timezone(timedelta(seconds=30)))) != to_json(
        datetime(2026, 1, 1, tzinfo=timezone(timedelta(seconds=30)))
    ), "msgspec now writes sub-minute offsets as pydantic does: the fallback may go"


def test_the_fast_leaf_knows_every_field_of_the_contracts() -> None:
    # A field added to LedgerEntry or Evidence must be checked against the fast path (above)
    # before it is listed here.
    assert ENTRY_KEYS == (
        "commercial",
        "decided_at",
        "event_id",
        "evidence",
        "index",
        "item_id",
        "jurisdiction",
        "license",
        "manifest_id",
        "offset",
        "partition",
        "platform",
        "policy_version",
        "purpose",
        "reasons",
        "registry_version",
        "sha256",
        "territory",
        "topic",
        "url",
        "verdict",
    )
    assert EVIDENCE_KEYS == ("body_sha256", "ref", "seen_at", "signal", "value")
    assert set(DECISION_KEYS) <= set(DecisionEvent.model_fields)


def test_an_entry_logged_before_the_item_inputs_existed_hashes_as_it_did() -> None:
    # Bytes as the ledger wrote them before sha256/license/territory/jurisdiction/commercial
    # were recorded: parsing and re-serialising must give the very same leaf.
    old = (
        b'{"decided_at":"2026-11-27T12:00:01Z","event_id":"ev-1","evidence":[{"signal":"policy.regime",'
        b'"value":"opt-in"}],"index":7,"item_id":"i-1","manifest_id":"m-1","offset":9,"partition":0,'
        b'"platform":"acme-ai","policy_version":"p/1","purpose":"ai-training","reasons":["no-licence"],'
        b'"registry_version":3,"topic":"decisions.v1","url":"https://example.org/1","verdict":"violation"}'
    )
    entry = LedgerEntry.model_validate_json(old)
    assert entry.commercial is None and entry.sha256 is None
    assert entry_leaf(entry) == old
    assert decision_leaf(PositionedDecision(decision(1), "decisions.v1", 0, 9), 7) == old


def test_a_value_without_an_rfc8785_form_is_rejected_not_raised() -> None:
    lone = PositionedDecision(decision(1, reasons=["\ud800"]), "decisions.v1", 0, 1)
    huge = PositionedDecision(decision(2), "decisions.v1", 0, 2**60)
    plan = sequence_batch(
        [positioned(0), lone, huge], tree=CompactRange(), known_event_ids=set(), origin="o", signer=SIGNER
    )
    assert [e.event_id for e in plan.entries] == ["ev-0"]
    assert [r.decision.event_id for r, _ in plan.rejected] == ["ev-1", "ev-2"]
    assert plan.offsets == {("decisions.v1", 0): 2**60}
