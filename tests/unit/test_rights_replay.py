"""Audit replay: a logged decision decided again from its ledger entry alone.

Each entry here is built the way the pipeline builds it: decide() on a real item, then the
fields rights publishes and the ledger copies. The replay sees only the entry (no crawl-time
bodies), a registry view and a policy.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from consentry_rights.domain import Decision, OriginDocument, Policy, RegistryView, SignalCapture, decide
from consentry_rights.domain.replay import NotReplayable, recorded_signals, replay_decision, replay_entry
from consentry_shared.contracts.v1 import Deal, Evidence, ItemEvent, LedgerEntry, Purpose, Verdict, Work

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
URL = "https://img.example.org/photos/cat.jpg"
SHA = "ab" * 32
POLICY = Policy("consentry-policy/1")


def item(**overrides: Any) -> ItemEvent:
    fields: dict[str, Any] = {
        "event_id": "e1",
        "manifest_id": "m1",
        "item_id": "i1",
        "line": 3,
        "platform": "acme-ai",
        "purpose": Purpose.AI_TRAINING,
        "territory": "US",
        "url": URL,
        "sha256": SHA,
        "license": "CC-BY-4.0",
        "media_type": "image/jpeg",
        "submitted_at": AT,
    }
    fields.update(overrides)
    return ItemEvent.model_validate(fields)


def logged(the_item: ItemEvent, decision: Decision, registry_version: int, **overrides: Any) -> LedgerEntry:
    """The entry the ledger writes for this decision (what rights' _event and the sequencer copy)."""
    fields: dict[str, Any] = {
        "index": 5,
        "event_id": "d1",
        "manifest_id": the_item.manifest_id,
        "item_id": the_item.item_id,
        "platform": the_item.platform,
        "purpose": the_item.purpose,
        "url": str(the_item.url),
        "verdict": decision.verdict,
        "reasons": list(decision.reasons),
        "evidence": list(decision.evidence),
        "policy_version": POLICY.version,
        "registry_version": registry_version,
        "decided_at": AT,
        "topic": "decisions.v1",
        "partition": 0,
        "offset": 11,
        "sha256": the_item.sha256,
        "license": the_item.license,
        "territory": the_item.territory,
        "jurisdiction": the_item.jurisdiction,
        "commercial": the_item.commercial,
    }
    fields.update(overrides)
    # Through JSON, as an auditor reads it from an export.
    return LedgerEntry.model_validate_json(
        LedgerEntry.model_validate(fields).model_dump_json(exclude_none=True)
    )


def test_an_entry_whose_registry_has_since_changed_is_reported() -> None:
    the_item = item()
    v1 = RegistryView(version=1)
    decision = decide(the_item, v1, POLICY, AT)
    assert decision.verdict is Verdict.CONSENT
    entry = logged(the_item, decision, 1)

    v2 = RegistryView(
        works=[Work(id="w1", holder="guild", sha256=SHA, license="LicenseRef-All-Rights-Reserved")],
        version=2,
    )
    replayed = replay_entry(entry, v2, POLICY)
    assert replayed.differs
    assert replayed.replayed.verdict is Verdict.VIOLATION
    assert replayed.replayed.reasons[:2] == (
        "all-rights-reserved:LicenseRef-All-Rights-Reserved",
        "work-licence:w1",
    )


def test_an_entry_replayed_with_its_own_registry_agrees_with_the_same_reasons_and_evidence() -> None:
    the_item = item()
    v1 = RegistryView(
        works=[Work(id="w1", holder="guild", sha256=SHA, license="CC-BY-4.0")],
        version=1,
    )
    decision = decide(the_item, v1, POLICY, AT)
    entry = logged(the_item, decision, 1)
    replayed = replay_entry(entry, v1, POLICY)
    assert not replayed.differs
    assert replayed.replayed.reasons == decision.reasons
    assert replayed.replayed.evidence == decision.evidence


def test_crawl_time_signals_are_replayed_from_their_recorded_readings() -> None:
    robots = "User-agent: GPTBot\nDisallow: /\n\nUser-agent: acme-ai\nDisallow: /photos/\n"
    the_item = item(evidence={"robots_txt": robots, "fetched_at": "2026-02-01T00:00:00Z"})
    registry = RegistryView(version=4)
    decision = decide(the_item, registry, POLICY, AT)
    assert decision.verdict is Verdict.VIOLATION and decision.reasons[0] == "signal:robots.txt"
    entry = logged(the_item, decision, 4)
    # The entry holds the readings, never the robots.txt body.
    assert robots not in entry.model_dump_json()

    replayed = replay_decision(entry, registry, POLICY)
    assert replayed.verdict is Verdict.VIOLATION
    assert replayed.reasons == decision.reasons
    assert replayed.evidence == decision.evidence


def test_a_deal_in_force_at_decision_time_is_judged_at_that_time_not_now() -> None:
    the_item = item(license=None)
    deal = Deal.model_validate(
        {
            "id": "deal-1",
            "holder": "h",
            "licensee": "acme-ai",
            "match": {"domain": "img.example.org"},
            "purposes": ["ai-training"],
            "from": "2026-01-01T00:00:00Z",
            "until": "2026-06-01T00:00:00Z",
        }
    )
    registry = RegistryView(deals=[deal], version=2)
    entry = logged(the_item, decide(the_item, registry, POLICY, AT), 2)
    replayed = replay_decision(entry, registry, POLICY)  # the deal has expired since; AT it had not
    assert replayed.verdict is Verdict.CONSENT and replayed.reasons == ("deal:deal-1",)


def test_the_recorded_jurisdiction_picks_the_regime_on_replay() -> None:
    the_item = item(license=None, sha256=None, territory="US", jurisdiction="DE")
    registry = RegistryView(version=1)
    decision = decide(the_item, registry, POLICY, AT)
    assert decision.reasons == ("no-reservation",)  # German law: opt-out by default
    entry = logged(the_item, decision, 1)
    assert not replay_entry(entry, registry, POLICY).differs
    # The same entry without its jurisdiction is a US (opt-in) decision: the replay says so.
    stripped = logged(the_item, decision, 1, jurisdiction=None)
    assert replay_entry(stripped, registry, POLICY).replayed.verdict is Verdict.VIOLATION


def test_an_entry_logged_before_the_item_inputs_were_recorded_is_not_guessed() -> None:
    the_item = item()
    registry = RegistryView(version=1)
    old = logged(the_item, decide(the_item, registry, POLICY, AT), 1, commercial=None)
    with pytest.raises(NotReplayable, match="entry 5 was logged before"):
        replay_decision(old, registry, POLICY)


def test_another_policy_version_is_refused() -> None:
    the_item = item()
    registry = RegistryView(version=1)
    entry = logged(the_item, decide(the_item, registry, POLICY, AT), 1)
    with pytest.raises(NotReplayable, match="policy 'consentry-policy/1'"):
        replay_decision(entry, registry, Policy("consentry-policy/2"))


def test_a_signal_evidence_that_is_not_a_reading_names_the_entry_and_position() -> None:
    bad = [
        Evidence(signal="registry.work", ref="w1", value="CC0-1.0"),
        Evidence(signal="robots.txt", value="?"),
    ]
    with pytest.raises(NotReplayable, match=r"entry 9 evidence\[1\] \(robots.txt\)"):
        recorded_signals(bad, index=9)
    wrong_status = json.dumps({"status": "maybe", "purposes": ["search"]})
    with pytest.raises(NotReplayable):
        recorded_signals([Evidence(signal="x-robots-tag", value=wrong_status)])
    assert recorded_signals([Evidence(signal="policy.regime", value="opt-in")]) is None


def xmp(term: str) -> str:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" '
        f'plus:DataMining="http://ns.useplus.org/ldf/vocab/{term}"/></rdf:RDF></x:xmpmeta>'
    )


C2PA = json.dumps(
    {
        "active_manifest": "urn:m1",
        "manifests": {
            "urn:m1": {
                "assertions": [
                    {
                        "label": "cawg.training-mining",
                        "data": {"entries": {"cawg.ai_training": {"use": "constrained"}}},
                    }
                ]
            }
        },
    }
)
ORIGIN = "https://img.example.org"
CRAWL_EVIDENCE: list[dict[str, str]] = [
    {"robots_txt": "User-agent: *\nAllow: /\n", "headers": '{"tdm-reservation":["0"]}'},
    {"xmp": xmp("DMI-ALLOWED")},
    {"headers": '{"x-robots-tag":["noai"]}'},
    {"headers": '{"tdm-reservation":["0"]}', "html_meta": '{"robots":["noimageai"]}'},
    {"html_meta": '<meta name="tdm-reservation" content="1">'},
    {"tdmrep_json": '[{"location":"/photos/*","tdm-reservation":1}]'},
    {"tdmrep_json": '[{"location":"/elsewhere/*","tdm-reservation":1}]'},
    {"ai_txt": "User-Agent: *\nDisallow: *.jpg\n", "robots_txt": "User-agent: *\nAllow: /\n"},
    {"robots_txt": "User-agent: *\nAllow: /\nContent-Usage: /photos/ train-ai=n\n"},
    {"xmp": xmp("DMI-PROHIBITED-AIMLTRAINING")},
    {"xmp": xmp("DMI-ALLOWED"), "c2pa": C2PA},
    {"c2pa": "{]"},
    {"robots_txt_sha256": "a" * 64},
    {"xmp": xmp("DMI-SOMETHING-NEW"), "headers": '{"x-robots-tag":["noai"]}'},
]
FETCHED: list[SignalCapture | None] = [
    None,
    SignalCapture(
        where="fetch",
        seen_at=AT,
        headers={"tdm-reservation": ["0"]},
        robots_txt=OriginDocument(f"{ORIGIN}/robots.txt", body="User-agent: *\nAllow: /\n", status=200),
    ),
    SignalCapture(where="fetch", seen_at=AT, headers={"tdm-reservation": ["1"]}),
    SignalCapture(
        where="fetch",
        seen_at=AT,
        item_error="circuit open",
        robots_txt=OriginDocument(f"{ORIGIN}/robots.txt", error="timeout"),
        ai_txt=OriginDocument(f"{ORIGIN}/ai.txt", status=503),
        tdmrep_json=OriginDocument(f"{ORIGIN}/.well-known/tdmrep.json", status=404),
    ),
]


@pytest.mark.parametrize("fetched", FETCHED, ids=["crawl", "fetch-allows", "fetch-reserves", "fetch-failed"])
@pytest.mark.parametrize("evidence", CRAWL_EVIDENCE)
@pytest.mark.parametrize("licence", ["CC0-1.0", "CC-BY-NC-4.0", None])
def test_every_kind_of_signal_replays_to_the_same_decision(
    evidence: dict[str, str], fetched: SignalCapture | None, licence: str | None
) -> None:
    the_item = item(evidence=evidence, license=licence, sha256=None, url=f"{ORIGIN}/photos/cat.jpg")
    registry = RegistryView(version=1)
    decision = decide(the_item, registry, POLICY, AT, fetched=fetched)
    replayed = replay_decision(logged(the_item, decision, 1), registry, POLICY)
    assert replayed == decision  # verdict, reasons and evidence, in order


def test_a_decision_made_by_md5_and_identifier_replays_from_the_recorded_inputs() -> None:
    the_item = item(
        sha256=None, md5="cd" * 16, identifiers=["doi:10.1000/A", "isbn:0-306-40615-2"], license="MIT"
    )
    works = [
        Work.model_validate({"id": "w-doi", "holder": "g", "doi": "10.1000/a", "license": "CC-BY-ND-4.0"})
    ]
    deals = [
        Deal.model_validate(
            {
                "id": "d-md5",
                "holder": "g",
                "licensee": "acme-ai",
                "match": {"md5": "cd" * 16},
                "purposes": ["search"],  # does not grant training: noted only
                "from": "2025-01-01T00:00:00Z",
                "until": "2030-01-01T00:00:00Z",
            }
        )
    ]
    view = RegistryView(works=works, deals=deals, version=4)
    decision = decide(the_item, view, POLICY, AT)
    assert decision.reasons[:2] == ("licence-no-derivatives:CC-BY-ND-4.0", "work-licence:w-doi")
    entry = logged(the_item, decision, 4)
    # The entry has no md5 or identifier field: they come back from the evidence (the ISBN,
    # which no record names, was not recorded and is not needed).
    replayed = replay_entry(entry, view, POLICY)
    assert not replayed.differs
    assert (replayed.replayed.reasons, replayed.replayed.evidence) == (decision.reasons, decision.evidence)
