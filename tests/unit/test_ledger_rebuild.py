"""The rebuild's pure checks: a log's entries in index order must rebuild its signed root."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from consentry_ledger.domain import PositionedDecision, sequence_batch
from consentry_ledger.domain.rebuild import LogRebuilder, RebuildRefused, chunk_plan
from consentry_shared.contracts.v1 import DecisionEvent
from consentry_shared.tlog import Checkpoint, CompactRange, Signer, Verifier, open_checkpoint

ORIGIN = "rebuild.example/ledger"
SIGNER = Signer.generate(ORIGIN)


def log(count: int) -> tuple[list[bytes], bytes]:
    """The leaves and root of a log of ``count`` entries made by the sequencer."""
    decisions = [
        PositionedDecision(
            DecisionEvent(
                event_id=f"ev-{n}",
                item_event_id=f"it-{n}",
                manifest_id="m-1",
                item_id=f"i-{n}",
                platform="acme-ai",
                purpose="ai-training",
                url=f"https://example.org/{n}",
                verdict="consent",
                reasons=["licence:MIT"],
                evidence=[],
                policy_version="p/1",
                registry_version=1,
                decided_at=datetime(2026, 1, 1, tzinfo=UTC),
                commercial=n % 2 == 0 or None,
            ),
            "decisions.v1",
            n % 3,
            n,
        )
        for n in range(count)
    ]
    plan = sequence_batch(decisions, tree=CompactRange(), known_event_ids=(), origin=ORIGIN, signer=SIGNER)
    return [e.leaf for e in plan.entries], plan.tree.root()


def test_the_entries_in_order_rebuild_the_root_and_an_identical_repeat_is_skipped() -> None:
    leaves, root = log(10)
    rebuilder = LogRebuilder(10, root)
    stored = [rebuilder.accept(i, leaf) for i, leaf in enumerate(leaves[:6])]
    assert rebuilder.accept(4, leaves[4]) is None  # the outbox published it twice
    stored += [rebuilder.accept(i, leaf) for i, leaf in enumerate(leaves[6:], start=6)]
    rebuilder.finish()
    assert [e.index for e in stored if e is not None] == list(range(10))
    assert rebuilder.offsets == {("decisions.v1", 0): 9, ("decisions.v1", 1): 7, ("decisions.v1", 2): 8}


def test_a_gap_names_the_missing_entry() -> None:
    leaves, root = log(5)
    rebuilder = LogRebuilder(5, root)
    rebuilder.accept(0, leaves[0])
    with pytest.raises(RebuildRefused, match=r"entry 1 is missing: the next entry on the topic is 2 \(p 0\)"):
        rebuilder.accept(2, leaves[2], "p 0")


def test_a_short_topic_names_where_it_ends() -> None:
    leaves, root = log(5)
    rebuilder = LogRebuilder(5, root)
    for i, leaf in enumerate(leaves[:3]):
        rebuilder.accept(i, leaf)
    with pytest.raises(RebuildRefused, match="entry 3 is missing: the topic ends there"):
        rebuilder.finish()


def test_a_repeat_with_other_bytes_is_refused() -> None:
    leaves, root = log(3)
    rebuilder = LogRebuilder(3, root)
    rebuilder.accept(0, leaves[0])
    rebuilder.accept(1, leaves[1])
    altered = leaves[0].replace(b'"consent"', b'"violation"')
    with pytest.raises(RebuildRefused, match="entry 0 appears again with different bytes"):
        rebuilder.accept(0, altered)


def test_an_altered_entry_is_caught_by_the_root_or_named_by_a_reference() -> None:
    leaves, root = log(4)
    altered = [*leaves]
    altered[2] = leaves[2].replace(b'"consent"', b'"violation"')
    blind = LogRebuilder(4, root)
    for i, leaf in enumerate(altered):
        blind.accept(i, leaf)  # a valid entry: only the root can tell
    with pytest.raises(RebuildRefused, match=r"rebuild root .* the checkpoint has"):
        blind.finish()

    honest = LogRebuilder(4, root)
    for i, leaf in enumerate(leaves):
        honest.accept(i, leaf)
    reference = honest.hashes
    named = LogRebuilder(4, root, reference.__getitem__)
    named.accept(0, altered[0])
    named.accept(1, altered[1])
    with pytest.raises(RebuildRefused, match=r"entry 2 hashes to .* it was altered"):
        named.accept(2, altered[2])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda leaf: leaf.replace(b'"index":1', b'"index":7'), "entry 1 carries index 7"),
        (lambda leaf: leaf.replace(b'"url"', b'"URL"'), "entry 1: field url: Field required"),
        (lambda leaf: leaf.replace(b"{", b"{ ", 1), "entry 1 is not in RFC 8785 canonical form"),
        (
            lambda leaf: leaf.replace(b'"offset":1', b'"offset":0').replace(
                b'"partition":1', b'"partition":0'
            ),
            "source offset 0 of decisions.v1/0 is not after 0",
        ),
    ],
)
def test_each_entry_is_checked_before_it_counts(mutate: Callable[[bytes], bytes], message: str) -> None:
    leaves, root = log(2)
    rebuilder = LogRebuilder(2, root)
    rebuilder.accept(0, leaves[0])
    with pytest.raises(RebuildRefused, match=message):
        rebuilder.accept(1, mutate(leaves[1]))


def test_entries_beyond_the_checkpoint_are_refused() -> None:
    leaves, root = log(3)
    rebuilder = LogRebuilder(2, root)
    rebuilder.accept(0, leaves[0])
    rebuilder.accept(1, leaves[1])
    with pytest.raises(RebuildRefused, match="entry 2 is beyond the checkpoint of size 2"):
        rebuilder.accept(2, leaves[2])


def test_an_intermediate_chunk_gets_a_checkpoint_signed_for_its_size() -> None:
    leaves, root = log(3)
    rebuilder = LogRebuilder(3, root)
    entries = [rebuilder.accept(i, leaf) for i, leaf in enumerate(leaves[:2])]
    plan = chunk_plan(
        [e for e in entries if e is not None],
        rebuilder.tree,
        rebuilder.offsets,
        note=None,
        signer=SIGNER,
        origin=ORIGIN,
    )
    assert plan.checkpoint_note is not None
    checkpoint, _ = open_checkpoint(plan.checkpoint_note, [Verifier.from_vkey(SIGNER.vkey)])
    assert checkpoint == Checkpoint(ORIGIN, 2, rebuilder.tree.root())
    assert plan.tree.size == 2 and len(plan.entries) == 2
