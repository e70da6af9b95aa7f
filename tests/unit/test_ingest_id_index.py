import io
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry_ingest.adapters.spill import FileSpill
from consentry_ingest.domain.formats import read_parquet
from consentry_ingest.domain.id_index import DuplicateIds, IdIndex, id_digest
from consentry_ingest.domain.manifest import LineError, ManifestParser


def test_first_sighting_is_none_and_a_repeat_names_the_first_line() -> None:
    index = IdIndex()
    assert index.first_seen(id_digest("a"), 1) is None
    assert index.first_seen(id_digest("b"), 2) is None
    assert index.first_seen(id_digest("a"), 7) == 1
    assert index.first_seen(id_digest("a"), 9) == 1
    assert len(index) == 2


def test_digest_zero_is_a_real_key() -> None:
    index = IdIndex()
    assert index.first_seen(0, 3) is None
    assert index.first_seen(0, 4) == 3


def test_it_grows_and_keeps_every_entry() -> None:
    index = IdIndex(capacity=16)
    rng = random.Random(7)
    digests = [rng.getrandbits(64) | 1 for _ in range(50_000)]
    for line, digest in enumerate(digests, start=1):
        assert index.first_seen(digest, line) is None
    assert len(index) == len(set(digests))
    assert index.slots >= len(index) * 4 // 3
    for line, digest in enumerate(digests, start=1):
        assert index.first_seen(digest, 10**6) == line


def test_lines_beyond_32_bits_are_capped_not_wrapped() -> None:
    index = IdIndex()
    index.first_seen(42, 2**40)
    assert index.first_seen(42, 1) == 2**32 - 1


@given(st.lists(st.tuples(st.integers(0, 2**64 - 1), st.integers(1, 2**31)), max_size=300))
def test_agrees_with_a_dict(entries: list[tuple[int, int]]) -> None:
    index = IdIndex(capacity=4)
    reference: dict[int, int] = {}
    for digest, line in entries:
        key = digest or 1
        expected = reference.get(key)
        reference.setdefault(key, line)
        assert index.first_seen(digest, line) == expected


class MemorySpill:
    """The spill store port over bytearrays (the service's store writes files)."""

    def __init__(self) -> None:
        self.buckets: dict[int, bytearray] = {}

    def append(self, bucket: int, data: bytes) -> None:
        self.buckets.setdefault(bucket, bytearray()).extend(data)

    def read(self, bucket: int) -> bytes:
        return bytes(self.buckets.get(bucket, b""))


def test_past_the_memory_limit_ids_spill_and_repeats_are_found_at_the_end() -> None:
    spill = MemorySpill()
    ids = DuplicateIds(spill, memory_entries=2)
    assert ids.first_seen("a", 1) is None
    assert not ids.spilled
    assert ids.first_seen("b", 2) is None
    assert ids.spilled  # the table is full: new ids from now on go to the spill store
    assert ids.first_seen("c", 3) is None
    assert ids.first_seen("a", 4) == 1  # a repeat of an id in memory is still found at once
    assert ids.first_seen("c", 5) is None  # ... a repeat of a spilled one only at the end
    assert ids.first_seen("d", 6) is None
    assert ids.first_seen("c", 7) is None
    assert sorted(ids.deferred()) == [(5, 3, "c"), (7, 3, "c")]
    assert spill.buckets


def test_without_a_spill_store_everything_stays_in_memory() -> None:
    ids = DuplicateIds(memory_entries=1)
    assert ids.first_seen("a", 1) is None
    assert ids.first_seen("b", 2) is None
    assert ids.first_seen("b", 3) == 2
    assert list(ids.deferred()) == []


def test_a_tracker_that_does_not_check_finds_nothing() -> None:
    ids = DuplicateIds(check=False)
    assert ids.first_seen("a", 1) is None
    assert ids.first_seen("a", 2) is None


def _errors(data: bytes, ids: DuplicateIds | None, fmt: str = "jsonl") -> list[tuple[int, str | None, str]]:
    parser = ManifestParser(fmt, ids=ids)  # type: ignore[arg-type]
    found = []
    for chunk in (data[i : i + 97] for i in range(0, len(data), 97)):
        found += parser.feed(chunk)
    found += parser.close()
    return sorted((e.line, e.field, e.message) for e in found if isinstance(e, LineError))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from("abcdefghij"), min_size=1, max_size=40), st.integers(1, 6))
def test_spilling_parser_reports_exactly_what_the_in_memory_one_does(ids: list[str], limit: int) -> None:
    lines = [json.dumps({"id": item_id, "url": f"https://x.org/{n}"}) for n, item_id in enumerate(ids)]
    data = ("\n".join(lines) + "\n").encode()
    assert _errors(data, DuplicateIds(MemorySpill(), memory_entries=limit)) == _errors(data, None)


def test_parquet_spills_and_names_the_row() -> None:
    table = pa.table({"key": ["a", "b", "c", "d", "c", "a"], "url": [f"https://x.org/{n}" for n in range(6)]})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    buffer.seek(0)
    found = [
        (e.line, e.field, e.message)
        for batch in read_parquet(buffer, batch_rows=2, ids=DuplicateIds(MemorySpill(), memory_entries=2))
        for e in batch
        if isinstance(e, LineError)
    ]
    assert sorted(found) == [
        (5, "key", "duplicate id 'c', first seen on row 3"),
        (6, "key", "duplicate id 'a', first seen on row 1"),
    ]


def test_the_file_spill_store_keeps_buckets_on_disk_and_removes_them(tmp_path: Path) -> None:
    spill = FileSpill(tmp_path / "upload.ids")
    ids = DuplicateIds(spill, memory_entries=1)
    lines = ["x", "y", "z", "y", "x", "z", "w"]
    found = [ids.first_seen(item_id, line) for line, item_id in enumerate(lines, start=1)]
    assert found == [None, None, None, None, 1, None, None]
    assert sorted(ids.deferred()) == [(4, 2, "y"), (6, 3, "z")]
    assert any((tmp_path / "upload.ids").iterdir())
    spill.remove()
    assert not (tmp_path / "upload.ids").exists()
