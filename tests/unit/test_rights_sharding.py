"""Registry sharding: an instance keeps only the hash-keyed records of its partitions, and every
item of its partitions is decided exactly as with the whole registry.

The differential tests decide random items (hosts, prefixes, hashes, licences, times drawn from
small vocabularies so records of every kind hit them, alone and together) with the whole
registry and with a share of it, and compare whole Decisions; an item whose hash the share does
not hold must be reported by ``ShardedRecords.missing``, and only such an item.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentry_rights.domain import Policy, RegistryView, decide
from consentry_rights.domain.batch import decide_batch
from consentry_rights.domain.sharding import (
    DigestSet,
    RegistryShard,
    hash_only_selector,
    item_key,
    shard_records,
)
from consentry_shared.contracts.v1 import Deal, Holder, ItemEvent, Match, Purpose, Reservation, Work
from consentry_shared.kafka import partition_for

AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
T0 = AT - timedelta(days=30)
T1 = AT + timedelta(days=30)
SHAS = [hashlib.sha256(str(n).encode()).hexdigest() for n in range(16)]
MD5S = ["1" * 32, "2" * 32]
DOIS = ["doi:10.1000/182", "doi:10.1000/183"]
HOSTS = ["example.org", "img.example.org", "other.net"]
PREFIXES = ["https://example.org/photos/", "https://other.net/"]
DOMAINS = ["example.org", "other.net"]
PLATFORMS = ["acme-ai", "globex-ml"]
LICENCES = [None, "CC0-1.0", "CC-BY-4.0", "LicenseRef-All-Rights-Reserved", "CC-BY-NC-4.0"]
POLICIES = [Policy("p1"), Policy("p2", regime="opt-out", regimes={})]


def shard(held: set[int], partitions: int = 6) -> RegistryShard:
    return RegistryShard(partitions, frozenset(held), partition_for)


def reservation(record_id: str, **match: str) -> Reservation:
    return Reservation.model_validate(
        {"id": record_id, "holder": "h", "match": match, "purposes": ["all"], "from": T0}
    )


def deal(record_id: str, **match: str) -> Deal:
    return Deal.model_validate(
        {
            "id": record_id,
            "holder": "h",
            "licensee": "acme-ai",
            "match": match,
            "purposes": ["all"],
            "from": T0,
            "until": T1,
        }
    )


def work(record_id: str, sha256: str) -> Work:
    return Work(id=record_id, holder="h", sha256=sha256, license="LicenseRef-All-Rights-Reserved")


def random_match(rng: random.Random) -> dict[str, str]:
    chosen: dict[str, str] = {}
    while not chosen:
        if rng.random() < 0.7:
            chosen["sha256"] = rng.choice(SHAS)
        if rng.random() < 0.2:
            chosen["domain"] = rng.choice(DOMAINS)
        if rng.random() < 0.2:
            chosen["url_prefix"] = rng.choice(PREFIXES)
        if rng.random() < 0.15:
            chosen["md5"] = rng.choice(MD5S)
        if rng.random() < 0.15:
            chosen["identifier"] = rng.choice(DOIS)
    return chosen


def random_records(rng: random.Random, size: int) -> list[Reservation | Deal | Work]:
    records: list[Reservation | Deal | Work] = []
    for n in range(size):
        kind = rng.randrange(3)
        if kind == 0:
            records.append(
                Reservation.model_validate(
                    {
                        "id": f"r{n}",
                        "holder": "h",
                        "match": random_match(rng),
                        "purposes": [rng.choice(["all", "ai-training", "search"])],
                        "from": rng.choice([T0, T1]),
                    }
                )
            )
        elif kind == 1:
            records.append(
                Deal.model_validate(
                    {
                        "id": f"d{n}",
                        "holder": "h",
                        "licensee": rng.choice(PLATFORMS),
                        "match": random_match(rng),
                        "purposes": ["all"],
                        "from": T0,
                        "until": rng.choice([T1, AT - timedelta(days=1)]),
                    }
                )
            )
        else:
            records.append(
                Work(
                    id=f"w{n}",
                    holder="h",
                    sha256=rng.choice(SHAS),
                    md5=rng.choice([None, None, *MD5S]),
                    doi=rng.choice([None, None, "10.1000/182"]),
                    license=rng.choice(LICENCES[1:]) or "",
                )
            )
    return records


def random_item(rng: random.Random, n: int) -> ItemEvent:
    fields: dict[str, Any] = {
        "event_id": f"e{n}",
        "manifest_id": "m",
        "item_id": f"i{n}",
        "line": n + 1,
        "platform": rng.choice(PLATFORMS),
        "purpose": rng.choice(list(Purpose)),
        "url": f"https://{rng.choice(HOSTS)}/photos/{n}.jpg",
        "sha256": rng.choice([None, *SHAS]),
        "md5": rng.choice([None, *MD5S]),
        "identifiers": rng.choice([None, DOIS[:1], DOIS[1:]]),
        "license": rng.choice(LICENCES),
        "submitted_at": AT,
    }
    return ItemEvent.model_validate(fields)


def view_of(records: Sequence[Reservation | Deal | Work | Holder]) -> RegistryView:
    return RegistryView(
        reservations=[r for r in records if isinstance(r, Reservation)],
        deals=[r for r in records if isinstance(r, Deal)],
        works=[r for r in records if isinstance(r, Work)],
        version=1,
    )


# --- which records are hash-only -------------------------------------------------------------


def test_only_a_record_that_can_match_by_one_hash_alone_is_hash_keyed() -> None:
    sha = SHAS[0]
    assert hash_only_selector(reservation("a", sha256=sha)) == sha
    assert hash_only_selector(deal("b", sha256=sha)) == sha
    assert hash_only_selector(work("c", sha)) == sha
    # A domain or URL prefix beside the hash can match items keyed by anything: kept everywhere.
    assert hash_only_selector(reservation("d", sha256=sha, domain="example.org")) is None
    assert hash_only_selector(deal("e", sha256=sha, url_prefix="https://example.org/")) is None
    assert hash_only_selector(reservation("f", domain="example.org")) is None


# A valid value for every selector a match or a work may carry besides its sha256. A contract
# that gains a field fails the two tests below until the field is listed (and so checked).
OTHER_SELECTORS: dict[str, object] = {
    "url_prefix": "https://example.org/",
    "domain": "example.org",
    "md5": "0" * 32,
    "identifier": "doi:10.1000/182",
}
WORK_SELECTORS: dict[str, object] = {
    "md5": "0" * 32,
    "isbn": "9780306406157",
    "isrc": "USRC17607839",
    "iswc": "T-034.524.680-1",
    "doi": "10.1000/182",
    "creator_ids": ["orcid:0000-0002-1825-0097"],
}
WORK_NOT_SELECTORS = {"kind", "id", "holder", "license", "evidence_sha256", "sha256"}


def test_any_match_selector_beside_the_hash_keeps_the_record_everywhere() -> None:
    for name in Match.model_fields:
        if name == "sha256":
            continue
        assert name in OTHER_SELECTORS, f"new Match field {name!r}: add a value to OTHER_SELECTORS"
        for make in (reservation, deal):
            record = make("r", sha256=SHAS[0], **{name: OTHER_SELECTORS[name]})  # type: ignore[arg-type]
            assert hash_only_selector(record) is None, (make.__name__, name)


def test_any_work_field_that_could_match_beside_the_hash_keeps_the_work_everywhere() -> None:
    for name in Work.model_fields:
        if name in WORK_NOT_SELECTORS:
            continue
        assert name in WORK_SELECTORS, f"new Work field {name!r}: add a value to WORK_SELECTORS"
        known = Work.model_validate(
            {"id": "w", "holder": "h", "sha256": SHAS[0], "license": "CC0-1.0", name: WORK_SELECTORS[name]}
        )
        assert hash_only_selector(known) is None, name
    assert hash_only_selector(Work(id="w", holder="h", md5="0" * 32, license="CC0-1.0")) is None
    evidence = Work(id="w", holder="h", sha256=SHAS[0], license="CC0-1.0", evidence_sha256=SHAS[1])
    assert hash_only_selector(evidence) == SHAS[0]


def test_the_key_is_the_hash_as_ingest_spells_it() -> None:
    """Ingest keys ``(event.sha256 or str(event.url)).encode()``; the validated hash is lower
    case whatever the manifest wrote, and so is the shard's key."""
    upper = SHAS[3].upper()
    event = ItemEvent.model_validate(
        {
            "event_id": "e",
            "manifest_id": "m",
            "item_id": "i",
            "line": 1,
            "platform": "p",
            "purpose": "ai-training",
            "url": "https://example.org/x.jpg",
            "sha256": upper,
            "submitted_at": AT,
        }
    )
    assert event.sha256 is not None
    assert item_key(upper) == (event.sha256 or str(event.url)).encode() == SHAS[3].encode()
    assert shard({0}).partition_of_hash(upper) == partition_for(SHAS[3].encode(), 6)


# --- what a share keeps ----------------------------------------------------------------------


def test_a_share_keeps_its_hashes_and_every_record_with_another_selector() -> None:
    records: list[Reservation | Deal | Work] = []
    for n, sha in enumerate(SHAS):
        records += [reservation(f"r{n}", sha256=sha), deal(f"d{n}", sha256=sha), work(f"w{n}", sha)]
    shared: list[Reservation | Deal | Work] = [
        reservation("dom", domain="example.org"),
        deal("pre", url_prefix="https://example.org/"),
        reservation("both", sha256=SHAS[0], domain="other.net"),
    ]
    records += shared
    held = {0, 2, 4}
    got = shard_records(records, shard(held))
    expected_hash_keyed = [
        r
        for r in records
        if hash_only_selector(r) is not None
        and partition_for(item_key(hash_only_selector(r) or ""), 6) in held
    ]
    assert [r for r in got.records if hash_only_selector(r) is not None] == expected_hash_keyed
    assert all(r in got.records for r in shared)
    assert got.hash_keyed_kept == len(expected_hash_keyed)
    assert got.hash_keyed_kept + got.hash_keyed_left_out == 3 * len(SHAS)
    assert 0 < got.hash_keyed_kept < 3 * len(SHAS)  # the 16 hashes do not all land on one side


def test_disjoint_shares_split_the_hash_keyed_records_and_both_keep_the_rest() -> None:
    rng = random.Random(7)
    records = random_records(rng, 300)
    first, second = shard_records(records, shard({0, 1, 2})), shard_records(records, shard({3, 4, 5}))
    hash_keyed = [r for r in records if hash_only_selector(r) is not None]
    assert first.hash_keyed_kept + second.hash_keyed_kept == len(hash_keyed)
    assert first.hash_keyed_kept == second.hash_keyed_left_out
    ids_first = {(r.kind, r.id) for r in first.records if hash_only_selector(r) is not None}
    ids_second = {(r.kind, r.id) for r in second.records if hash_only_selector(r) is not None}
    assert not ids_first & ids_second
    others = [r for r in records if hash_only_selector(r) is None]
    assert others and all(r in first.records and r in second.records for r in others)


def test_the_whole_share_keeps_everything_without_hashing() -> None:
    records = random_records(random.Random(3), 50)

    def refuse(key: bytes, count: int) -> int:
        raise AssertionError("a whole share need not hash")

    whole = RegistryShard(6, frozenset(range(6)), refuse)
    assert whole.is_whole
    got = shard_records(records, whole)
    assert got.records == records and got.hash_keyed_left_out == 0
    assert got.missing(SHAS) == frozenset()


def test_an_empty_share_keeps_only_the_shared_records() -> None:
    records = random_records(random.Random(4), 80)
    got = shard_records(records, shard(set()))
    assert got.records == [r for r in records if hash_only_selector(r) is None]
    assert got.hash_keyed_kept == 0


def test_missing_names_the_partitions_of_left_out_hashes_an_item_carries() -> None:
    held = {partition_for(SHAS[0].encode(), 6)}
    outside = [s for s in SHAS if partition_for(s.encode(), 6) not in held]
    assert len(outside) > 2
    registered = outside[:-1]  # the last hash outside the share has no record anywhere
    records: list[Reservation | Deal | Work] = [
        reservation(f"r{n}", sha256=s) for n, s in enumerate(SHAS[:1] + registered)
    ]
    share = shard(held)
    got = shard_records(records, share)
    assert got.missing([SHAS[0], None]) == frozenset()
    assert got.missing([outside[-1]]) == frozenset()  # keyed elsewhere, but nothing was left out for it
    assert got.missing([s.upper() for s in registered]) == {partition_for(s.encode(), 6) for s in registered}
    wider = shard_records(records, share.widened(got.missing(registered)))
    assert wider.missing(registered) == frozenset() and wider.shard is not None and wider.shard.held > held


def test_a_digest_set_answers_no_exactly_and_yes_by_the_first_64_bits() -> None:
    digests = DigestSet(SHAS[:8])
    assert len(digests) == 8 and digests.nbytes() == 8 * 8 + 4 * 65537
    assert all(s in digests for s in SHAS[:8])
    assert not any(s in digests for s in SHAS[8:])
    assert SHAS[0][:16] + "0" * 48 in digests  # same first 64 bits: a (safe) yes
    assert "0" * 64 not in DigestSet() and "f" * 64 not in DigestSet(["e" * 64])
    edges = DigestSet(["0" * 64, "f" * 64])
    assert "0" * 64 in edges and "f" * 64 in edges and "8" * 64 not in edges


def test_a_share_refuses_partitions_it_cannot_have() -> None:
    with pytest.raises(ValueError, match="outside"):
        shard({6})
    with pytest.raises(ValueError, match=">= 1"):
        RegistryShard(0, frozenset(), partition_for)


# --- verdicts are unchanged ------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    held=st.sets(st.integers(min_value=0, max_value=5)),
    policy=st.sampled_from(POLICIES),
)
def test_items_of_the_share_are_decided_as_with_the_whole_registry(
    seed: int, held: set[int], policy: Policy
) -> None:
    rng = random.Random(seed)
    records = random_records(rng, rng.randrange(1, 60))
    whole = view_of(records)
    share = shard(held)
    sharded = shard_records(records, share)
    part = view_of(sharded.records)
    items = [random_item(rng, n) for n in range(80)]
    covered = [item for item in items if not sharded.missing([item.sha256])]
    uncovered = [item for item in items if sharded.missing([item.sha256])]
    left_out = {hash_only_selector(r) for r in records if r not in sharded.records}
    assert {item.sha256 for item in uncovered} == {item.sha256 for item in items} & left_out
    for item in covered:
        assert decide(item, part, policy, AT) == decide(item, whole, policy, AT), item
    assert decide_batch(covered, part, policy, AT) == decide_batch(covered, whole, policy, AT)
    # Widening the share by what ``missing`` names covers the rest.
    wider = share.widened(sharded.missing(item.sha256 for item in uncovered))
    wide_view = view_of(shard_records(records, wider).records)
    for item in uncovered:
        assert decide(item, wide_view, policy, AT) == decide(item, whole, policy, AT), item


def test_leaving_out_a_needed_record_would_be_caught() -> None:
    """The differential test can fail: a share that drops a hash-keyed record of its own
    partition changes that item's verdict."""
    sha = SHAS[0]
    records: list[Reservation | Deal | Work] = [reservation("r", sha256=sha)]
    item = ItemEvent.model_validate(
        {
            "event_id": "e",
            "manifest_id": "m",
            "item_id": "i",
            "line": 1,
            "platform": "acme-ai",
            "purpose": "ai-training",
            "url": "https://example.org/x.jpg",
            "sha256": sha,
            "license": "CC0-1.0",
            "submitted_at": AT,
        }
    )
    own = shard({partition_for(sha.encode(), 6)})
    assert (
        decide(item, view_of(shard_records(records, own).records), POLICIES[0], AT).verdict.value
        == "violation"
    )
    other = shard(set(range(6)) - own.held)
    assert shard_records(records, other).missing([sha]) == own.held
    assert (
        decide(item, view_of(shard_records(records, other).records), POLICIES[0], AT).verdict.value
        == "consent"
    )
