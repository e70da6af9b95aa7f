"""Live revocation decided in batches: redecide_batch() must give what redecide() gives item by item,
and the service's view builder must give the same decisions with hash-only reservations held
compactly as with ordinary records."""

from __future__ import annotations

import hashlib
import random
from datetime import timedelta
from typing import Any

import pytest

from consentry_rights.domain import Policy, RegistryView
from consentry_rights.domain.batch import decide_batch
from consentry_rights.domain.revocation import CONSENT_GRANTED, CONSENT_REVOKED, redecide, redecide_batch
from consentry_rights.service import ViewBuilder, build_view, compact_hash
from consentry_shared.contracts.v1 import Deal, ItemEvent, Reservation, Verdict, Work
from tests.unit.test_rights_decide_batch import AT, POLICIES, TIMES, build_item, build_registry

VERDICTS = list(Verdict)


@pytest.mark.parametrize("seed", range(12))
def test_the_batch_flips_exactly_what_redecide_flips(seed: int) -> None:
    rng = random.Random(seed)
    view = build_registry(rng, rng.randrange(1, 30))
    policy = rng.choice(POLICIES)
    at = rng.choice(TIMES)
    candidates = [(build_item(rng, n, evidence=rng.random() < 0.2), rng.choice(VERDICTS)) for n in range(300)]
    got = redecide_batch(candidates, view, policy, at)
    want = [redecide(item, previous, view, policy, at) for item, previous in candidates]
    assert got == want
    # Not a vacuous comparison: these samples flip both ways and leave others alone.
    firsts = {decision.reasons[0] for decision in got if decision is not None}
    assert firsts <= {CONSENT_REVOKED, CONSENT_GRANTED}
    assert any(decision is None for decision in got)
    assert any(decision is not None for decision in got)


def item(n: int, *, sha: str, platform: str = "acme-ai", licence: str | None = "CC-BY-4.0") -> ItemEvent:
    return ItemEvent.model_validate(
        {
            "event_id": f"e{n}",
            "manifest_id": "m",
            "item_id": f"i{n}",
            "line": n + 1,
            "platform": platform,
            "purpose": "ai-training",
            "url": f"https://photos.example/{n}.jpg",
            "sha256": sha,
            "license": licence,
            "submitted_at": AT,
        }
    )


def sha(n: int) -> str:
    return hashlib.sha256(f"work-{n}".encode()).hexdigest()


def test_only_the_consent_line_is_news_and_each_flip_says_which_way() -> None:
    reserved = Reservation.model_validate(
        {"id": "r", "holder": "h", "match": {"sha256": sha(0)}, "purposes": ["ai-training"], "from": TIMES[0]}
    )
    granted = Deal.model_validate(
        {
            "id": "d",
            "holder": "h",
            "licensee": "acme-ai",
            "match": {"sha256": sha(1)},
            "purposes": ["ai-training"],
            "territories": ["*"],
            "from": TIMES[0],
            "until": AT + timedelta(days=30),
        }
    )
    view = RegistryView(reservations=[reserved], deals=[granted], version=2)
    policy = Policy("p", regime="opt-in", regimes={})
    candidates = [
        (item(0, sha=sha(0)), Verdict.CONSENT),  # reserved now: revoked
        (item(1, sha=sha(1), licence=None), Verdict.VIOLATION),  # a deal now: granted
        (item(2, sha=sha(2), licence=None), Verdict.UNKNOWN),  # opt-in, no deal: violation, still no consent
        (item(3, sha=sha(1)), Verdict.CONSENT),  # still consent
    ]
    revoked, granted_now, unchanged, still = redecide_batch(candidates, view, policy, AT)
    assert revoked is not None
    assert revoked.verdict == Verdict.VIOLATION
    assert revoked.reasons[0] == CONSENT_REVOKED
    assert "reservation:r" in revoked.reasons
    assert granted_now is not None
    assert granted_now.verdict == Verdict.CONSENT
    assert granted_now.reasons[0] == CONSENT_GRANTED
    assert unchanged is None
    assert still is None
    # The rest of each flipped decision is the engine's own.
    plain = decide_batch([candidates[0][0]], view, policy, AT)[0]
    assert revoked.reasons[1:] == plain.reasons
    assert revoked.evidence == plain.evidence


def registry_records(rng: random.Random, size: int) -> list[Any]:
    """Hash-only reservations (most compactable, some scoped to territories or sharing an id),
    plus reservations, deals and works by other selectors, over a few hashes."""
    records: list[Any] = []
    for n in range(size):
        records.append(
            Reservation.model_validate(
                {
                    "id": f"hr{rng.randrange(size)}",  # repeated ids: the later record replaces
                    "holder": rng.choice(["h", "society"]),
                    "match": {"sha256": sha(rng.randrange(8))},
                    "purposes": rng.choice([["all"], ["ai-training"], ["search"], ["ai-all", "search"]]),
                    "territories": rng.choice([["*"], ["*"], ["*"], ["DE"], ["*", "US"]]),
                    "from": rng.choice(TIMES),
                    "until": rng.choice([None, None, *TIMES]),
                    "evidence_sha256": rng.choice([None, "e" * 64]),
                }
            )
        )
        if n % 3 == 0:
            records.append(
                Reservation.model_validate(
                    {
                        "id": f"dr{n}",
                        "holder": "h",
                        "match": rng.choice(
                            [{"domain": "photos.example"}, {"sha256": sha(1), "md5": "a" * 32}]
                        ),
                        "purposes": ["ai-generative-training"],
                        "from": rng.choice(TIMES),
                    }
                )
            )
            records.append(
                Deal.model_validate(
                    {
                        "id": f"d{n}",
                        "holder": "h",
                        "licensee": rng.choice(["acme-ai", "globex-ml"]),
                        "match": {"sha256": sha(rng.randrange(8))},
                        "purposes": ["ai-training"],
                        "territories": ["*"],
                        "from": TIMES[0],
                        "until": AT + timedelta(days=rng.choice([-1, 30])),
                    }
                )
            )
            records.append(
                Work.model_validate(
                    {"id": f"w{n}", "holder": "h", "sha256": sha(rng.randrange(8)), "license": "CC0-1.0"}
                )
            )
    return records


@pytest.mark.parametrize("seed", range(8))
def test_a_compact_view_decides_as_the_plain_one(seed: int) -> None:
    rng = random.Random(seed)
    records = registry_records(rng, 40)
    compact, plain = build_view(5, records), build_view(5, records, compact=False)
    assert len(compact) == len(plain)
    items = [
        item(n, sha=sha(rng.randrange(10)), platform=rng.choice(["acme-ai", "globex-ml"])).model_copy(
            update={"purpose": rng.choice(["ai-training", "search", "ai-generative-training"])}
        )
        for n in range(400)
    ]
    for policy in POLICIES:
        for at in TIMES:
            assert decide_batch(items, compact, policy, at) == decide_batch(items, plain, policy, at)
    url = "https://photos.example/x.jpg"
    for n in range(10):
        assert compact.reservations_for(url, sha(n)) == plain.reservations_for(url, sha(n))


def test_the_builder_holds_compactly_exactly_the_worldwide_hash_only_reservations() -> None:
    records = registry_records(random.Random(1), 60)
    builder = ViewBuilder()
    latest = {(r.kind, r.id): r for r in records}
    for record in latest.values():
        builder.add(record)
    view, sharded = builder.build(3)
    eligible = [r for r in latest.values() if compact_hash(r) is not None]
    assert builder.held_compactly == len(eligible) > 0
    assert all(isinstance(r, Reservation) and r.territories == ["*"] for r in eligible)
    assert any(
        isinstance(r, Reservation) and r.territories != ["*"] and r.match.sha256 for r in latest.values()
    )
    assert len(view) == len(latest)
    assert sharded.records == []
    assert sharded.hash_keyed_kept == sum(
        1 for r in latest.values() if compact_hash(r) is not None or _hash_only(r)
    )
    off = ViewBuilder(compact=False)
    for record in latest.values():
        off.add(record)
    off.build(3)
    assert off.held_compactly == 0


def _hash_only(record: Any) -> bool:
    from consentry_rights.domain.sharding import hash_only_selector

    return hash_only_selector(record) is not None
