"""Keys land where Kafka's default partitioner would put them."""

from __future__ import annotations

from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from consentry_shared.kafka.publisher import murmur2, partition_for


@given(st.binary(max_size=300))
def test_murmur2_is_kafkas(key: bytes) -> None:
    assert murmur2(key) == aiokafka_murmur2(key) & 0xFFFFFFFF


def test_known_partitions() -> None:
    # The Java client's DefaultPartitioner places these keys so (murmur2, positive, modulo).
    assert [partition_for(k, 6) for k in (b"21", b"a" * 64)] == [
        (aiokafka_murmur2(b"21") & 0x7FFFFFFF) % 6,
        (aiokafka_murmur2(b"a" * 64) & 0x7FFFFFFF) % 6,
    ]
