"""CompactReservations: hash-keyed reservations held in flat arrays give the same lookups, and
the same decisions, as the same reservations held as ordinary records."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from consentry_rights.domain import Policy, RegistryView, decide
from consentry_rights.domain.batch import decide_batch
from consentry_rights.domain.compact import CompactReservations, CompactReservationsBuilder
from consentry_shared.contracts.v1 import ItemEvent, Purpose, Reservation

AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ZONES = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]
PURPOSE_SETS = [["all"], ["ai-training"], ["search", "ai-inference"], ["ai-generative-training"]]


def digest(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def reservations(rng: random.Random, count: int, hashes: int) -> list[Reservation]:
    found = []
    for n in range(count):
        zone = rng.choice(ZONES)
        valid_from = (
            AT - timedelta(days=rng.randrange(-5, 500), microseconds=rng.randrange(10**6))
        ).astimezone(zone)
        found.append(
            Reservation.model_validate(
                {
                    "id": f"res-{n}-é",  # non-ASCII ids survive the id blob
                    "holder": rng.choice(["society", "studio", "archive"]),
                    "evidence_sha256": rng.choice([None, digest(-1)]),
                    "match": {"sha256": digest(rng.randrange(hashes))},
                    "purposes": rng.choice(PURPOSE_SETS),
                    "from": valid_from,
                    "until": rng.choice([None, AT + timedelta(days=3), AT - timedelta(days=1)]),
                }
            )
        )
    return found


def test_every_hash_gives_the_records_an_ordinary_view_gives() -> None:
    rng = random.Random(3)
    records = reservations(rng, 3000, 1500)  # many hashes with several records
    compact = CompactReservations.of(records)
    ordinary = RegistryView(reservations=records)
    held = RegistryView(hashed_reservations=compact)
    assert len(compact) == len(held) == 3000
    for n in range(1700):  # known hashes and unknown ones
        sha256 = digest(n)
        expected = ordinary.reservations_for("https://x.example/a", sha256)
        got = held.reservations_for("https://x.example/a", sha256)
        assert got == expected
        # The times come back with their own offsets: the evidence value is the same string.
        assert [r.valid_from.isoformat() for r in got] == [r.valid_from.isoformat() for r in expected]
        assert (sha256 in compact) == bool(expected)


def test_compact_records_merge_with_ordinary_ones_by_rank_and_id() -> None:
    rng = random.Random(4)
    hashed = reservations(rng, 200, 50)
    others = [
        Reservation.model_validate(
            {
                "id": f"other-{n}",
                "holder": "h",
                "match": {"sha256": digest(n)} if n % 2 else {"domain": "x.example"},
                "purposes": ["all"],
                "from": AT - timedelta(days=1),
            }
        )
        for n in range(40)
    ]
    ordinary = RegistryView(reservations=[*hashed, *others])
    mixed = RegistryView(reservations=others, hashed_reservations=CompactReservations.of(hashed))
    for n in range(60):
        for url in ["https://x.example/a", "https://y.example/a"]:
            assert mixed.reservations_for(url, digest(n)) == ordinary.reservations_for(url, digest(n))


def test_decisions_are_the_same_with_compact_reservations() -> None:
    rng = random.Random(5)
    records = reservations(rng, 500, 300)
    ordinary = RegistryView(reservations=records)
    held = RegistryView(hashed_reservations=CompactReservations.of(records))
    items = [
        ItemEvent.model_validate(
            {
                "event_id": f"e{n}",
                "manifest_id": "m",
                "item_id": f"i{n}",
                "line": n + 1,
                "platform": "acme",
                "purpose": rng.choice(list(Purpose)),
                "url": f"https://site{n % 7}.example/{n}.jpg",
                "sha256": digest(rng.randrange(400)),
                "license": rng.choice([None, "CC-BY-4.0"]),
                "submitted_at": AT,
            }
        )
        for n in range(600)
    ]
    policy = Policy("p")
    expected = [decide(item, ordinary, policy, AT) for item in items]
    assert [decide(item, held, policy, AT) for item in items] == expected
    assert decide_batch(items, held, policy, AT) == expected


def test_the_builder_refuses_what_it_cannot_hold() -> None:
    builder = CompactReservationsBuilder()
    domain_reservation = Reservation.model_validate(
        {"id": "r", "holder": "h", "match": {"domain": "x.example"}, "purposes": ["all"], "from": AT}
    )
    with pytest.raises(ValueError, match="sha256-only"):
        builder.add(domain_reservation)
    with pytest.raises(ValueError, match="64 hex"):
        builder.add_fields(record_id="r", holder="h", sha256="ab", purposes=["all"], valid_from=AT)
    with pytest.raises(ValueError, match="timezone-aware"):
        builder.add_fields(
            record_id="r", holder="h", sha256=digest(1), purposes=["all"], valid_from=datetime(2025, 1, 1)
        )
    assert len(builder) == 0
    empty = builder.build()
    assert len(empty) == 0
    assert empty.for_sha256(digest(1)) == ()
    assert "not hex" not in empty
