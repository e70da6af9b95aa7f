"""The fast paths of ``consentry ledger verify`` find what the slow ones find, at the same entry.

Two fast paths: the per-entry check decodes the leaf bytes with msgspec into a mirror of the
model and proves canonical form by writing it back (a whole bundle at once when all of it is
fine); and ranges of the export are checked in worker processes. Both may only say "all good"
faster: whatever they reject is decided and named by the sequential, model-based pass. These
tests tamper with bytes and compare.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import consentry_shared.tlog.verify as verify_module
from consentry.ledger_tools import _EntryChecker, verify_log
from consentry_ledger.domain import PositionedDecision, sequence_batch
from consentry_shared.contracts.v1 import DecisionEvent, Evidence
from consentry_shared.tlog import (
    CompactRange,
    Signer,
    VerificationError,
    decode_entry_bundle,
    encode_entry_bundle,
    entries_path,
    leaf_hash,
    tile_path,
    verify_export,
    write_export,
)

SIGNER = Signer.generate("parallel.example/ledger")
START = datetime(2026, 3, 1, tzinfo=UTC)
SIZE = 16 * 256 + 37  # 16 full bundles and a partial one


def decision(n: int) -> DecisionEvent:
    return DecisionEvent(
        event_id=f"ev-{n}",
        item_event_id=f"it-{n}",
        manifest_id=f"m-{n // 1000}",
        item_id=f"i-{n}",
        platform="acme",
        purpose="ai-training",
        url=f"https://example.org/ü/{n}",
        sha256="0f" * 32 if n % 3 else None,
        license="CC-BY-4.0" if n % 2 else None,
        verdict="violation" if n % 5 == 0 else "consent",
        reasons=["reservation:x"] if n % 5 == 0 else ["licence:CC-BY-4.0", "duty:attribution"],
        evidence=[
            Evidence(signal="manifest.license", value="CC-BY-4.0", seen_at=START + timedelta(microseconds=n)),
            Evidence(signal="registry.reservation", ref=f"res-{n % 7}", body_sha256="ab" * 32),
        ][: 1 + n % 2],
        policy_version="p/1",
        registry_version=7,
        decided_at=START + timedelta(seconds=n, microseconds=n % 1000),
    )


def ledger_leaves(size: int) -> list[bytes]:
    batch = [PositionedDecision(decision(n), "decisions.v1", n % 3, 100 + n) for n in range(size)]
    plan = sequence_batch(batch, tree=CompactRange(), known_event_ids=(), origin="o", signer=SIGNER)
    return [e.leaf for e in plan.entries]


LEAVES = ledger_leaves(SIZE)


def flips(leaf: bytes) -> Iterator[bytes]:
    """``leaf`` with each of its bytes changed, one at a time (to a byte JSON cares about)."""
    for position in range(len(leaf)):
        replacement = b"0" if leaf[position : position + 1] != b"0" else b" "
        yield leaf[:position] + replacement + leaf[position + 1 :]


def test_fast_and_model_paths_agree_on_every_single_byte_change() -> None:
    leaf = LEAVES[3]  # evidence with every optional field, sha256 and a licence set
    fast_accepted = 0
    for tampered in flips(leaf):
        fast = _EntryChecker()(3, tampered)
        model = _EntryChecker()._checked(3, tampered)
        assert fast == model, tampered
        fast_accepted += fast is None
        # The whole-bundle path names the same entry with the same words.
        bundle = [*LEAVES[:3], tampered, *LEAVES[4:8]]
        expected = model_verdict(bundle)
        assert _EntryChecker().check_entries(0, bundle) == expected
    # Some flips keep a valid, canonical entry (a digit of an id, a letter of a URL).
    assert 0 < fast_accepted < len(leaf)


def model_verdict(bundle: list[bytes]) -> tuple[int, str] | None:
    """The model path over a bundle of entries 0, 1, ...: the first bad one and its problem."""
    checker = _EntryChecker()
    for index, leaf in enumerate(bundle):
        if (problem := checker._checked(index, leaf)) is not None:
            return index, problem
    return None


def test_fast_path_accepts_the_ledgers_own_leaves_without_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_model(self: _EntryChecker, index: int, leaf: bytes) -> str | None:
        raise AssertionError(f"entry {index} took the model path")

    monkeypatch.setattr(_EntryChecker, "_checked", no_model)
    checker = _EntryChecker()
    assert all(checker(i, leaf) is None for i, leaf in enumerate(LEAVES))
    bundles = _EntryChecker()
    assert all(bundles.check_entries(i, LEAVES[i : i + 256]) is None for i in range(0, SIZE, 256))
    assert bundles.summary() == checker.summary()


@pytest.fixture
def export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Ranges of 2 bundles, parallel from 4: the seams between ranges fall all over the export.
    monkeypatch.setattr(verify_module, "_CHUNK_BUNDLES", 2)
    monkeypatch.setattr(verify_module, "_PARALLEL_MIN_BUNDLES", 4)
    tree = CompactRange()
    batch = [PositionedDecision(decision(n), "decisions.v1", n % 3, 100 + n) for n in range(SIZE)]
    plan = sequence_batch(batch, tree=tree, known_event_ids=(), origin="o", signer=SIGNER)
    assert plan.checkpoint_note is not None
    write_export(tmp_path, plan.checkpoint_note, SIGNER.vkey, lambda s, e: LEAVES[s:e])
    return tmp_path


def outcome(directory: Path, jobs: int) -> tuple[str, int | None, str] | None:
    try:
        verify_export(directory, SIGNER.vkey, entry_check=_EntryChecker(), jobs=jobs)
    except VerificationError as error:
        return error.code, error.index, str(error)
    return None


def rewrite_entry(directory: Path, index: int, change: Callable[[bytes], bytes]) -> None:
    """Change entry ``index`` in its bundle and re-hash it into its level-0 tile (what a log
    operator rewriting history would do), so only the upper tiles and the checks can tell."""
    bundle = index // 256
    width = 256 if bundle < SIZE // 256 else SIZE % 256
    bundle_path = directory / entries_path(bundle, width)
    entries = decode_entry_bundle(bundle_path.read_bytes())
    changed = change(entries[index % 256])
    assert changed != entries[index % 256]
    entries[index % 256] = changed
    bundle_path.write_bytes(encode_entry_bundle(entries))
    level0 = directory / tile_path(0, bundle, width)
    hashes = bytearray(level0.read_bytes())
    hashes[(index % 256) * 32 : (index % 256 + 1) * 32] = leaf_hash(entries[index % 256])
    level0.write_bytes(bytes(hashes))


def parallel_pass(directory: Path, size: int) -> int | None:
    """The parallel pass alone: how many full bundles it verified before the first range that
    failed (the rest is verified in order by the caller)."""
    resumed = verify_module._verify_in_parallel(directory, size, _EntryChecker(), 2, lambda *_: None)
    return None if resumed is None else resumed[1]


def test_parallel_and_sequential_agree_on_a_good_export(export: Path) -> None:
    assert parallel_pass(export, SIZE) == SIZE // 256  # the workers checked every full bundle
    assert outcome(export, jobs=2) is None
    assert outcome(export, jobs=1) is None
    result = verify_log(export, vkey=SIGNER.vkey, since=None, save=None, jobs=2)
    assert result.ok, result.message


@pytest.mark.parametrize(
    ("index", "change", "bundles_before"),
    [
        # A valid entry, re-hashed into its level-0 tile: the upper tiles tell, after the workers.
        (1501, lambda leaf: leaf.replace(b'"verdict":"consent"', b'"verdict":"violation"'), 16),
        (2049, lambda leaf: leaf.replace(b'"index":2049', b'"index":2050'), 8),
        (1024, lambda leaf: leaf.replace(b'"offset":1124', b'"offset":1100'), 4),  # first of a range
        (700, lambda leaf: leaf.replace(b'"policy_version":"p/1"', b'"policy_version":""'), 2),
        (4100, lambda leaf: leaf.replace(b'"platform":"acme"', b'"platform": "acme"'), 16),  # partial
    ],
)
def test_parallel_names_the_same_entry_as_sequential(
    export: Path, index: int, change: Callable[[bytes], bytes], bundles_before: int
) -> None:
    rewrite_entry(export, index, change)
    # The workers vouch for the ranges (2 bundles each) before the bad one; the rest is redone here.
    assert parallel_pass(export, SIZE) == bundles_before
    sequential = outcome(export, jobs=1)
    assert sequential is not None
    # Named exactly, or (a valid entry re-hashed) as the start of the subtree whose hash changed.
    assert sequential[1] == index or sequential[:2] == ("tile-mismatch", index // 256 * 256)
    assert outcome(export, jobs=2) == sequential


def test_a_flipped_byte_in_a_bundle_is_named_the_same_either_way(export: Path) -> None:
    bundle = export / "tile" / "entries" / "009"
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0x01
    bundle.write_bytes(bytes(data))
    sequential = outcome(export, jobs=1)
    assert sequential is not None and sequential[0] == "entry-mismatch"
    assert sequential[1] is not None and 9 * 256 <= sequential[1] < 10 * 256
    assert outcome(export, jobs=2) == sequential


def test_offsets_going_back_across_a_seam_are_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each range alone is fine; only joining them shows partition 0 going back."""
    monkeypatch.setattr(verify_module, "_CHUNK_BUNDLES", 2)
    monkeypatch.setattr(verify_module, "_PARALLEL_MIN_BUNDLES", 4)
    size = 8 * 256
    # Offsets restart at 0 on entry 1024 (the first entry of the third range).
    batch = [PositionedDecision(decision(n), "decisions.v1", 0, n % 1024) for n in range(size)]
    plan = sequence_batch(batch, tree=CompactRange(), known_event_ids=(), origin="o", signer=SIGNER)
    assert plan.checkpoint_note is not None
    leaves = [e.leaf for e in plan.entries]
    write_export(tmp_path, plan.checkpoint_note, SIGNER.vkey, lambda s, e: leaves[s:e])
    sequential = outcome(tmp_path, jobs=1)
    assert sequential is not None and sequential[:2] == ("entry-invalid", 1024)
    assert "is not after 1023" in sequential[2]
    assert parallel_pass(tmp_path, size) == 4  # caught at the seam of the third range, by follows()
    assert outcome(tmp_path, jobs=2) == sequential


def replaced_by(new: bytes, old: bytes) -> bytes:
    return new


def test_verify_export_names_the_same_entry_through_the_bundle_check_and_the_model(export: Path) -> None:
    """End to end through ``verify_export``: the msgspec bundle check (``BundleEntryCheck``) and a
    plain per-entry check on the model path alone agree on every flip (a sample of positions) of
    one entry re-hashed into its tile; flips that keep a valid entry surface as a tile mismatch."""
    index = 1027  # in the middle of bundle 4
    original = LEAVES[index]
    codes = set()
    for position, tampered in list(enumerate(flips(original)))[::13]:
        rewrite_entry(export, index, functools.partial(replaced_by, tampered))
        results = []
        for check in (_EntryChecker(), _EntryChecker()._checked):
            try:
                verify_export(export, SIGNER.vkey, entry_check=check)
            except VerificationError as error:
                results.append((error.code, error.index, str(error)))
        assert len(results) == 2 and results[0] == results[1], position
        codes.add(results[0][0])
        rewrite_entry(export, index, functools.partial(replaced_by, original))
    assert codes == {"entry-invalid", "tile-mismatch"}
