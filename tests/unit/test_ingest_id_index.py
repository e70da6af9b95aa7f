import random

from hypothesis import given
from hypothesis import strategies as st

from consentry_ingest.domain.id_index import IdIndex, id_digest


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
