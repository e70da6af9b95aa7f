"""DecisionJson, how the rights service writes every decision (first ones and live revocation's),
gives exactly the bytes of the model path (``DecisionEvent`` built and dumped with
``exclude_none``), for decisions the engine makes on a random corpus and for item fields with any
text in them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from consentry_rights.domain import Decision
from consentry_rights.domain.batch import decide_batch
from consentry_rights.domain.revocation import redecide_batch
from consentry_rights.service import DecisionJson
from consentry_shared.contracts.v1 import DecisionEvent, Evidence, ItemEvent, Purpose, Verdict
from tests.unit.test_rights_decide_batch import AT, POLICIES, TIMES, build_item, build_registry

POLICY = POLICIES[0]


def model_bytes(item: ItemEvent, decision: Decision, version: int, at: datetime, event_id: str) -> bytes:
    """The model path: the event built and validated by ``DecisionEvent`` itself, dumped."""
    event = DecisionEvent(
        event_id=event_id,
        item_event_id=item.event_id,
        manifest_id=item.manifest_id,
        item_id=item.item_id,
        platform=item.platform,
        purpose=item.purpose,
        url=str(item.url),
        sha256=item.sha256,
        verdict=decision.verdict,
        reasons=list(decision.reasons),
        evidence=list(decision.evidence),
        policy_version=POLICY.version,
        registry_version=version,
        decided_at=at,
        license=item.license,
        territory=item.territory,
        jurisdiction=item.jurisdiction,
        commercial=item.commercial,
    )
    return event.model_dump_json(exclude_none=True).encode()


def test_a_random_corpus_encodes_as_the_model_does() -> None:
    compared = flips = 0
    for seed in range(10):
        rng = random.Random(seed)
        view = build_registry(rng, rng.randrange(1, 30))
        at = rng.choice([*TIMES, AT.astimezone(timezone(timedelta(hours=-5)))])
        items = [build_item(rng, n, evidence=rng.random() < 0.2) for n in range(300)]
        encoder = DecisionJson(POLICY.version, view.version, at)
        for item, decision in zip(items, decide_batch(items, view, POLICY, at), strict=True):
            assert encoder.encode(item, decision, f"ev-{item.event_id}") == model_bytes(
                item, decision, view.version, at, f"ev-{item.event_id}"
            )
            compared += 1
        previous = [(item, rng.choice(list(Verdict))) for item in items]
        for item, flip in zip(items, redecide_batch(previous, view, POLICY, at), strict=True):
            if flip is not None:
                assert encoder.encode(item, flip, "x") == model_bytes(item, flip, view.version, at, "x")
                flips += 1
    assert compared == 3000
    assert flips > 100


TEXT = st.text(min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    item_id=TEXT,
    manifest_id=TEXT,
    platform=TEXT,
    licence=st.none() | st.text(max_size=12),
    territory=st.none() | st.text(max_size=4),
    jurisdiction=st.none() | st.text(max_size=4),
    commercial=st.booleans(),
    path=st.text(max_size=12),
    reasons=st.lists(TEXT, min_size=1, max_size=3),
    value=st.none() | st.text(max_size=12),
    seen=st.none() | st.datetimes(timezones=st.just(UTC)),
    version=st.integers(min_value=0, max_value=2**40),
    purpose=st.sampled_from(list(Purpose)),
)
def test_any_text_encodes_as_the_model_does(
    item_id: str,
    manifest_id: str,
    platform: str,
    licence: str | None,
    territory: str | None,
    jurisdiction: str | None,
    commercial: bool,
    path: str,
    reasons: list[str],
    value: str | None,
    seen: datetime | None,
    version: int,
    purpose: Purpose,
) -> None:
    item = ItemEvent.model_construct(
        event_id=f"e-{item_id}",
        manifest_id=manifest_id,
        item_id=item_id,
        line=1,
        platform=platform,
        purpose=purpose,
        url=ItemEvent.model_validate(
            {
                "event_id": "e",
                "manifest_id": "m",
                "item_id": "i",
                "line": 1,
                "platform": "p",
                "purpose": "ai-training",
                "url": "https://example.org/" + path,
                "submitted_at": AT,
            }
        ).url,
        sha256=None if commercial else "ab" * 32,
        license=licence,
        territory=territory,
        jurisdiction=jurisdiction,
        commercial=commercial,
        submitted_at=AT,
    )
    decision = Decision(
        Verdict.VIOLATION,
        tuple(reasons),
        (Evidence(signal="registry.reservation", ref=item_id, value=value, seen_at=seen),),
    )
    at = datetime(2026, 1, 2, 3, 4, 5, 6789, tzinfo=UTC)
    encoder = DecisionJson(POLICY.version, version, at)
    assert encoder.encode(item, decision, item_id) == model_bytes(item, decision, version, at, item_id)
    # What is published still validates as the contract.
    DecisionEvent.model_validate_json(encoder.encode(item, decision, item_id))
