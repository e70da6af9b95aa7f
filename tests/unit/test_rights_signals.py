"""decide() with web signals: crawl-time evidence (and a fetched capture) read, combined, ruled on.

Each kind of evidence an item can carry is fed through decide(); then the order of the rules
(deals > registry reservations + signals > licence), unknown never failing open, the evidence
recorded, the parse memo, and the property that reserving evidence never gives consent.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry_rights.domain import (
    Decision,
    OriginDocument,
    ParsedDocuments,
    Policy,
    RegistryView,
    SignalCapture,
    capture_from_evidence,
    decide,
    origin_of,
    read_signals,
)
from consentry_shared.contracts.v1 import Deal, ItemEvent, Purpose, Reservation, Verdict, Work

AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
FETCHED_AT = "2025-05-12T07:40:01Z"
URL = "https://img.example.org/photos/cat.jpg"
ORIGIN = "https://img.example.org"
PLATFORM = "acme-ai"
OPT_IN = Policy("p1", regimes={})
OPT_OUT = Policy("p1", regime="opt-out", regimes={})
CONSENT, VIOLATION, UNKNOWN = Verdict.CONSENT, Verdict.VIOLATION, Verdict.UNKNOWN


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def item(evidence: dict[str, str] | None = None, **overrides: Any) -> ItemEvent:
    fields: dict[str, Any] = {
        "event_id": "e1",
        "manifest_id": "m1",
        "item_id": "i1",
        "line": 1,
        "platform": PLATFORM,
        "purpose": Purpose.AI_TRAINING,
        "territory": "US",
        "url": URL,
        "license": None,
        "media_type": "image/jpeg",
        "submitted_at": AT,
        "evidence": evidence or {},
    }
    fields.update(overrides)
    return ItemEvent.model_validate(fields)


def headers(**values: str | list[str]) -> str:
    named = {
        name.replace("_", "-"): value if isinstance(value, list) else [value]
        for name, value in values.items()
    }
    return json.dumps(dict(sorted(named.items())), separators=(",", ":"))


def run(
    the_item: ItemEvent,
    *,
    policy: Policy = OPT_IN,
    fetched: SignalCapture | None = None,
    documents: ParsedDocuments | None = None,
    **records: Any,
) -> Decision:
    view = RegistryView(
        reservations=records.get("reservations", ()),
        deals=records.get("deals", ()),
        works=records.get("works", ()),
    )
    return decide(
        the_item,
        view,
        policy,
        AT,
        fetched=fetched,
        documents=ParsedDocuments() if documents is None else documents,
    )


def deal(**overrides: Any) -> Deal:
    fields: dict[str, Any] = {
        "id": "d1",
        "holder": "h",
        "licensee": PLATFORM,
        "match": {"domain": "example.org"},
        "purposes": ["ai-training"],
        "from": AT - timedelta(days=1),
        "until": AT + timedelta(days=1),
    }
    fields.update(overrides)
    return Deal.model_validate(fields)


def reservation(**overrides: Any) -> Reservation:
    fields: dict[str, Any] = {
        "id": "r1",
        "holder": "h",
        "match": {"domain": "example.org"},
        "purposes": ["ai-training"],
        "from": AT - timedelta(days=1),
    }
    fields.update(overrides)
    return Reservation.model_validate(fields)


def xmp(term: str) -> str:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" '
        f'plus:DataMining="http://ns.useplus.org/ldf/vocab/{term}"/></rdf:RDF></x:xmpmeta>'
    )


def c2pa(**entries: str) -> str:
    store = {
        "active_manifest": "urn:m1",
        "manifests": {
            "urn:m1": {
                "assertions": [
                    {
                        "label": "cawg.training-mining",
                        "data": {"entries": {f"cawg.{key}": {"use": use} for key, use in entries.items()}},
                    }
                ]
            }
        },
    }
    return json.dumps(store)


RSL_PAID = """<rsl xmlns="https://rslstandard.org/rsl">
  <content url="/photos/*">
    <license>
      <permits type="usage">ai-train</permits>
      <payment type="training"><amount currency="USD">0.01</amount></payment>
    </license>
  </content>
</rsl>"""


# --- each kind of evidence ---------------------------------------------------------------------

# (evidence, purpose, the reason that must settle the verdict)
RESERVING: list[tuple[dict[str, str], Purpose, str]] = [
    ({"headers": headers(tdm_reservation="1")}, Purpose.AI_TRAINING, "signal:tdmrep.header"),
    ({"html_meta": '{"tdm-reservation":["1"]}'}, Purpose.SEARCH, "signal:tdmrep.meta"),
    (
        {"tdmrep_json": '[{"location":"/photos/*","tdm-reservation":1}]'},
        Purpose.AI_INFERENCE,
        "signal:tdmrep.well-known",
    ),
    ({"robots_txt": "User-agent: GPTBot\nDisallow: /photos/\n"}, Purpose.AI_TRAINING, "signal:robots.txt"),
    ({"robots_txt": f"User-agent: {PLATFORM}\nDisallow: /\n"}, Purpose.SEARCH, "signal:robots.txt"),
    (
        {"robots_txt": "User-agent: *\nAllow: /\nContent-Usage: /photos/ train-ai=n\n"},
        Purpose.AI_GENERATIVE_TRAINING,
        "signal:robots.content-usage",
    ),
    (
        {"robots_txt": "User-agent: *\nContent-Signal: ai-train=no, search=yes\nAllow: /\n"},
        Purpose.AI_TRAINING,
        "signal:robots.content-signal",
    ),
    ({"ai_txt": "User-Agent: *\nDisallow: *.jpg\n"}, Purpose.AI_TRAINING, "signal:ai.txt"),
    ({"headers": headers(x_robots_tag=["noindex", "noai"])}, Purpose.AI_INFERENCE, "signal:x-robots-tag"),
    ({"headers": headers(x_robots_tag="noimageai")}, Purpose.AI_TRAINING, "signal:x-robots-tag"),
    ({"headers": headers(content_usage="train-ai=n")}, Purpose.AI_TRAINING, "signal:http.content-usage"),
    ({"html_meta": '<meta name="robots" content="noai">'}, Purpose.AI_TRAINING, "signal:meta-robots"),
    ({"html_meta": '{"robots":["noimageai"]}'}, Purpose.AI_GENERATIVE_TRAINING, "signal:meta-robots"),
    ({"xmp": xmp("DMI-PROHIBITED-AIMLTRAINING")}, Purpose.AI_TRAINING, "signal:iptc.data-mining"),
    ({"xmp": xmp("DMI-PROHIBITED-SEECONSTRAINT")}, Purpose.SEARCH, "signal:iptc.data-mining"),
    ({"c2pa": c2pa(ai_training="notAllowed")}, Purpose.AI_GENERATIVE_TRAINING, "signal:c2pa.training-mining"),
    ({"c2pa": c2pa(ai_inference="constrained")}, Purpose.AI_INFERENCE, "signal:c2pa.training-mining"),
]


@pytest.mark.parametrize(("evidence", "purpose", "reason"), RESERVING)
@pytest.mark.parametrize("policy", [OPT_IN, OPT_OUT], ids=["opt-in", "opt-out"])
def test_each_reserving_signal_gives_a_violation_over_a_permissive_licence(
    evidence: dict[str, str], purpose: Purpose, reason: str, policy: Policy
) -> None:
    decision = run(item(evidence, purpose=purpose, license="CC0-1.0"), policy=policy)
    assert decision.verdict is VIOLATION
    assert decision.reasons[0] == reason
    assert decision.evidence[0].signal == reason.removeprefix("signal:")


# (evidence, purpose): each signal leaves this purpose open; the licence decides.
NOT_RESERVING: list[tuple[dict[str, str], Purpose]] = [
    ({"headers": headers(tdm_reservation="0")}, Purpose.AI_TRAINING),
    ({"robots_txt": "User-agent: GPTBot\nDisallow: /\n"}, Purpose.SEARCH),  # GPTBot stands for training
    ({"robots_txt": "User-agent: GPTBot\nDisallow: /\n"}, Purpose.AI_INFERENCE),
    ({"ai_txt": "User-Agent: *\nDisallow: *.png\n"}, Purpose.AI_TRAINING),
    ({"headers": headers(x_robots_tag="googlebot: noai")}, Purpose.AI_TRAINING),  # another agent's
    ({"xmp": xmp("DMI-PROHIBITED-GENAIMLTRAINING")}, Purpose.AI_TRAINING),  # generative only
    ({"xmp": xmp("DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING")}, Purpose.SEARCH),
    ({"c2pa": c2pa(ai_generative_training="notAllowed", ai_training="allowed")}, Purpose.AI_TRAINING),
]


@pytest.mark.parametrize(("evidence", "purpose"), NOT_RESERVING)
def test_signals_that_do_not_reserve_are_evidence_only(evidence: dict[str, str], purpose: Purpose) -> None:
    licensed = run(item(evidence, purpose=purpose, license="CC0-1.0"))
    assert (licensed.verdict, licensed.reasons) == (CONSENT, ("licence:CC0-1.0",))
    assert licensed.evidence[0].signal == "manifest.license"
    assert len(licensed.evidence) > 1  # the signals read follow
    # Not reserved is not a grant: under opt-in an unlicensed item is still refused...
    assert run(item(evidence, purpose=purpose)).reasons == ("no-licence",)
    # ...and under opt-out it is allowed.
    assert run(item(evidence, purpose=purpose), policy=OPT_OUT).reasons == ("no-reservation",)


def test_noimageai_does_not_reserve_a_page() -> None:
    page = item({"headers": headers(x_robots_tag="noimageai")}, media_type="text/html", license="CC0-1.0")
    assert run(page).verdict is CONSENT


def test_a_header_declaration_supersedes_the_well_known_file() -> None:
    evidence = {
        "tdmrep_json": '[{"location":"/","tdm-reservation":1}]',
        "headers": headers(tdm_reservation="0"),
    }
    assert run(item(evidence, license="CC0-1.0")).verdict is CONSENT
    evidence["html_meta"] = '{"tdm-reservation":["1"]}'
    assert run(item(evidence, license="CC0-1.0")).reasons[0] == "signal:tdmrep.meta"


def test_every_reserving_signal_is_a_reason_most_restrictive_first() -> None:
    evidence = {
        "robots_txt": "User-agent: CCBot\nDisallow: /\n",
        "headers": headers(x_robots_tag="noai", content_usage="train-ai=y"),
        "xmp": xmp("DMI-PROHIBITED"),
    }
    decision = run(item(evidence))
    assert decision.reasons == ("signal:robots.txt", "signal:x-robots-tag", "signal:iptc.data-mining")
    assert [e.signal for e in decision.evidence[:3]] == ["robots.txt", "x-robots-tag", "iptc.data-mining"]
    assert "http.content-usage" in [e.signal for e in decision.evidence[3:]]  # read, did not decide


def test_payment_required_by_rsl_is_its_own_reason() -> None:
    robots = "User-agent: *\nAllow: /\nLicense: /license.xml\n"
    fetched = SignalCapture(
        where="fetch",
        seen_at=AT,
        robots_txt=OriginDocument(f"{ORIGIN}/robots.txt", robots),
        rsl={f"{ORIGIN}/license.xml": OriginDocument(f"{ORIGIN}/license.xml", RSL_PAID)},
    )
    decision = run(item(license="CC0-1.0"), fetched=fetched)
    assert decision.verdict is VIOLATION
    assert decision.reasons == ("signal-payment-required:rsl@fetch",)
    assert decision.evidence[0].ref == f"{ORIGIN}/license.xml"
    assert decision.evidence[0].body_sha256 == sha(RSL_PAID)


def test_a_deal_beats_every_signal_and_keeps_them_as_evidence() -> None:
    evidence = {"robots_txt": "User-agent: GPTBot\nDisallow: /\n", "xmp": xmp("DMI-PROHIBITED")}
    decision = run(item(evidence), deals=[deal()])
    assert (decision.verdict, decision.reasons) == (CONSENT, ("deal:d1",))
    assert [e.signal for e in decision.evidence] == [
        "registry.deal",
        "robots.txt",
        "robots.txt",
        "iptc.data-mining",
    ]


def test_registry_reservations_and_signals_both_count() -> None:
    decision = run(item({"headers": headers(x_robots_tag="noai")}), reservations=[reservation()])
    assert decision.verdict is VIOLATION
    assert decision.reasons == ("reservation:r1", "signal:x-robots-tag")
    assert [e.signal for e in decision.evidence[:2]] == ["registry.reservation", "x-robots-tag"]


def test_a_signal_reservation_beats_a_registry_licence_and_laundering_is_moot() -> None:
    decision = run(
        item({"headers": headers(tdm_reservation="1")}, sha256="c" * 64, license="CC0-1.0"),
        works=[Work(id="w1", holder="h", sha256="c" * 64, license="CC0-1.0")],
    )
    assert decision.reasons == ("signal:tdmrep.header",)


# --- unknown never fails open -------------------------------------------------------------------

UNREADABLE: list[tuple[dict[str, str], str]] = [
    ({"robots_txt_sha256": "a" * 64}, "signal-unreadable:robots.txt"),
    ({"ai_txt_sha256": "b" * 64}, "signal-unreadable:ai.txt"),
    ({"tdmrep_json_sha256": "c" * 64}, "signal-unreadable:tdmrep.well-known"),
    ({"tdmrep_json": "[{not json"}, "signal-unreadable:tdmrep.well-known"),
    ({"headers": "not json"}, "signal-unreadable:tdmrep.header"),
    ({"html_meta": "{broken"}, "signal-unreadable:tdmrep.meta"),
    ({"xmp": "<x:xmpmeta><unclosed"}, "signal-unreadable:iptc.data-mining"),
    ({"xmp": xmp("DMI-SOMETHING-NEW")}, "signal-unreadable:iptc.data-mining"),
    ({"c2pa": "{]"}, "signal-unreadable:c2pa.training-mining"),
    ({"c2pa": c2pa(ai_training="maybe")}, "signal-unreadable:c2pa.training-mining"),
    ({"headers": headers(content_usage="train-ai=")}, "signal-unreadable:http.content-usage"),
    ({"robots_txt": "User-agent: *\nLicense: https://rsl.example/l.xml\n"}, "signal-unreadable:rsl"),
]


@pytest.mark.parametrize(("evidence", "reason"), UNREADABLE)
@pytest.mark.parametrize("policy", [OPT_IN, OPT_OUT], ids=["opt-in", "opt-out"])
def test_an_unreadable_signal_is_unknown_under_either_regime(
    evidence: dict[str, str], reason: str, policy: Policy
) -> None:
    decision = run(item(evidence, license="CC0-1.0"), policy=policy)
    assert decision.verdict is UNKNOWN
    assert decision.reasons[0] == reason
    assert json.loads(decision.evidence[0].value or "{}")["status"] == "unknown"
    # Without a licence: opt-out would have allowed it, so the answer is still unknown.
    assert run(item(evidence), policy=OPT_OUT).verdict is UNKNOWN


def test_unknown_does_not_soften_a_licence_that_refuses_anyway() -> None:
    evidence = {"robots_txt_sha256": "a" * 64}
    no_licence = run(item(evidence))
    assert (no_licence.verdict, no_licence.reasons) == (
        VIOLATION,
        ("no-licence", "signal-unreadable:robots.txt"),
    )
    nc = run(item(evidence, license="CC-BY-NC-4.0"), policy=OPT_OUT)
    assert nc.verdict is VIOLATION
    assert nc.reasons == ("licence-non-commercial:CC-BY-NC-4.0", "signal-unreadable:robots.txt")


def test_a_reservation_read_elsewhere_beats_an_unreadable_signal() -> None:
    evidence = {"robots_txt_sha256": "a" * 64, "headers": headers(x_robots_tag="noai")}
    assert run(item(evidence)).reasons == ("signal:x-robots-tag",)


def test_an_unreadable_header_keeps_a_lower_tdmrep_zero_from_standing() -> None:
    evidence = {"tdmrep_json": '[{"location":"/","tdm-reservation":0}]', "html_meta": "{broken"}
    assert run(item(evidence, license="CC0-1.0"), policy=OPT_OUT).verdict is UNKNOWN


# --- evidence -----------------------------------------------------------------------------------


def test_each_reading_is_evidence_with_source_value_body_hash_and_time() -> None:
    robots = "User-agent: GPTBot\nDisallow: /photos/\n"
    decision = run(item({"robots_txt": robots, "fetched_at": FETCHED_AT}))
    first = decision.evidence[0]
    assert first.signal == "robots.txt"
    assert first.ref == f"{ORIGIN}/robots.txt"
    assert first.body_sha256 == sha(robots)
    assert first.seen_at == datetime(2025, 5, 12, 7, 40, 1, tzinfo=UTC)
    value = json.loads(first.value or "")
    assert value["status"] == "reserved"
    assert value["raw"] == "Disallow: /photos/"
    assert set(value["purposes"]) == {"ai-training", "ai-generative-training"}


def test_a_carried_hash_that_differs_from_the_body_is_noted() -> None:
    robots = "User-agent: GPTBot\nDisallow: /\n"
    decision = run(item({"robots_txt": robots, "robots_txt_sha256": "d" * 64}))
    assert decision.reasons == ("signal:robots.txt",)  # the body read decides
    assert decision.evidence[0].body_sha256 == sha(robots)
    assert "d" * 64 in json.loads(decision.evidence[0].value or "")["detail"]


def test_an_item_without_evidence_is_decided_as_before() -> None:
    assert run(item()).evidence[0].signal == "policy.regime"
    assert run(item({"fetched_at": FETCHED_AT})).reasons == ("no-licence",)
    assert capture_from_evidence({"fetched_at": FETCHED_AT}, URL) is None


def test_decisions_are_deterministic_and_independent_of_the_memo() -> None:
    evidence = {
        "robots_txt": "User-agent: *\nDisallow: /private\nContent-Usage: train-ai=n\n",
        "ai_txt": "User-Agent: *\nDisallow: *.gif\n",
        "headers": headers(x_robots_tag="noindex", tdm_reservation="0"),
        "xmp": xmp("DMI-ALLOWED"),
        "fetched_at": FETCHED_AT,
    }
    shared = ParsedDocuments()
    first = run(item(evidence), documents=shared)
    assert run(item(evidence), documents=shared) == first
    assert run(item(evidence), documents=ParsedDocuments()) == first


def test_items_of_one_origin_parse_its_files_once() -> None:
    documents = ParsedDocuments()
    robots, ai_txt = "User-agent: CCBot\nDisallow: /\n", "User-Agent: *\nDisallow: *.png\n"
    for n in range(50):
        run(item({"robots_txt": robots, "ai_txt": ai_txt}, url=f"{ORIGIN}/p/{n}.jpg"), documents=documents)
    assert (documents.misses, documents.hits) == (2, 98)


def test_the_memo_is_bounded_and_evicts_the_least_recently_used() -> None:
    documents = ParsedDocuments(maxsize=2)
    for n in range(3):
        run(item({"robots_txt": f"User-agent: bot{n}\nDisallow: /\n"}), documents=documents)
    assert len(documents) == 2
    run(item({"robots_txt": "User-agent: bot0\nDisallow: /\n"}), documents=documents)
    assert documents.misses == 4
    with pytest.raises(ValueError, match="maxsize"):
        ParsedDocuments(maxsize=0)


# --- crawl and fetch ----------------------------------------------------------------------------


def test_with_a_fetch_every_signal_says_where_it_was_read() -> None:
    crawl = {"robots_txt": "User-agent: *\nAllow: /\n", "fetched_at": FETCHED_AT}
    fetched = SignalCapture(
        where="fetch",
        seen_at=AT,
        robots_txt=OriginDocument(f"{ORIGIN}/robots.txt", "User-agent: GPTBot\nDisallow: /\n"),
        headers={},
    )
    decision = run(item(crawl), fetched=fetched)
    assert decision.reasons == ("signal:robots.txt@fetch",)
    signals = {e.signal for e in decision.evidence}
    assert {"robots.txt@crawl", "robots.txt@fetch", "x-robots-tag@fetch"} <= signals
    assert all("@" in s for s in signals)


def test_a_crawl_time_reservation_still_counts_when_the_fetch_allows() -> None:
    crawl = {"headers": headers(tdm_reservation="1")}
    fetched = SignalCapture(where="fetch", seen_at=AT, headers={"tdm-reservation": ["0"]})
    assert run(item(crawl, license="CC0-1.0"), fetched=fetched).reasons == ("signal:tdmrep.header@crawl",)


def test_a_failed_fetch_is_unknown_never_permission() -> None:
    fetched = SignalCapture(
        where="fetch",
        seen_at=AT,
        item_error="circuit open for https://img.example.org",
        robots_txt=OriginDocument(f"{ORIGIN}/robots.txt", error="timeout"),
        ai_txt=OriginDocument(f"{ORIGIN}/ai.txt", status=503),
        tdmrep_json=OriginDocument(f"{ORIGIN}/.well-known/tdmrep.json", status=404),
    )
    decision = run(item(license="CC0-1.0"), policy=OPT_OUT, fetched=fetched)
    assert decision.verdict is UNKNOWN
    assert decision.reasons == (
        "signal-unreadable:tdmrep.meta@fetch",  # the highest TDMRep technique that failed
        "signal-unreadable:robots.txt@fetch",
        "signal-unreadable:ai.txt@fetch",
        "signal-unreadable:x-robots-tag@fetch",
        "signal-unreadable:http.content-usage@fetch",
        "signal-unreadable:meta-robots@fetch",
    )


def test_absent_origin_files_say_nothing() -> None:
    fetched = SignalCapture(
        where="fetch",
        seen_at=AT,
        headers={},
        robots_txt=OriginDocument(f"{ORIGIN}/robots.txt", status=404),
        ai_txt=OriginDocument(f"{ORIGIN}/ai.txt", status=410),
        tdmrep_json=OriginDocument(f"{ORIGIN}/.well-known/tdmrep.json", status=404),
    )
    assert run(item(license="CC0-1.0"), fetched=fetched).reasons == ("licence:CC0-1.0",)
    assert run(item(), fetched=fetched).reasons == ("no-licence",)
    assert run(item(), policy=OPT_OUT, fetched=fetched).verdict is CONSENT
    # A 429 is not absence: the origin asks us to come back.
    busy = SignalCapture(where="fetch", robots_txt=OriginDocument(f"{ORIGIN}/robots.txt", status=429))
    assert run(item(license="CC0-1.0"), fetched=busy).verdict is UNKNOWN


def test_a_hash_only_crawl_file_is_read_from_a_fetched_body_with_that_hash() -> None:
    robots = "User-agent: GPTBot\nDisallow: /\n"
    fetched = SignalCapture(
        where="fetch", seen_at=AT, robots_txt=OriginDocument(f"{ORIGIN}/robots.txt", robots, sha(robots))
    )
    decision = run(item({"robots_txt_sha256": sha(robots)}, license="CC0-1.0"), fetched=fetched)
    assert decision.reasons == ("signal:robots.txt@crawl", "signal:robots.txt@fetch")
    other = SignalCapture(
        where="fetch", robots_txt=OriginDocument(f"{ORIGIN}/robots.txt", "User-agent: *\nAllow: /\n")
    )
    unread = run(item({"robots_txt_sha256": sha(robots)}, license="CC0-1.0"), fetched=other)
    assert unread.reasons == ("signal-unreadable:robots.txt@crawl",)


def test_read_signals_without_any_capture_is_none() -> None:
    assert read_signals([None, None], URL) is None
    assert read_signals([SignalCapture(where="fetch")], URL) is None


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Img.Example.org/a?b#c", "https://img.example.org"),
        ("http://example.org:80/x", "http://example.org"),
        ("https://example.org:8443/x", "https://example.org:8443"),
        ("http://[::1]:8080/", "http://[::1]:8080"),
        ("not a url", ""),
        ("http://example.org:99999/", ""),
    ],
)
def test_origin_of(url: str, origin: str) -> None:
    assert origin_of(url) == origin


# --- properties ---------------------------------------------------------------------------------

_RESERVING_EVIDENCE = [(evidence, purpose) for evidence, purpose, _ in RESERVING]
_NOISE = st.sampled_from(
    [
        {},
        {"fetched_at": FETCHED_AT},
        {"ai_txt": "User-Agent: *\nAllow: /\n"},
        # (not a tdm-reservation: 0, which rightly supersedes a well-known reservation)
        {"headers": headers(content_usage="train-ai=y, search=y")},
        {"xmp": xmp("DMI-ALLOWED")},
        {"c2pa": c2pa(ai_training="allowed", ai_generative_training="allowed", ai_inference="allowed")},
        {"robots_txt_sha256": "a" * 64},
        {"html_meta": "{broken"},
    ]
)
_LICENCES = st.sampled_from([None, "CC0-1.0", "MIT", "CC-BY-4.0", "LicenseRef-X", "(((", "CC-BY-NC-4.0"])
_POLICIES = st.sampled_from([OPT_IN, OPT_OUT, Policy("p2")])


@settings(max_examples=150, deadline=None)
@given(
    chosen=st.sampled_from(_RESERVING_EVIDENCE),
    noise=_NOISE,
    licence=_LICENCES,
    policy=_POLICIES,
    territory=st.sampled_from([None, "DE", "JP", "US"]),
    commercial=st.booleans(),
    other_deal=st.booleans(),
    registry_work=st.sampled_from([None, "CC0-1.0", "LicenseRef-All-Rights-Reserved"]),
)
def test_evidence_that_reserves_never_yields_consent_without_a_deal(
    chosen: tuple[dict[str, str], Purpose],
    noise: dict[str, str],
    licence: str | None,
    policy: Policy,
    territory: str | None,
    commercial: bool,
    other_deal: bool,
    registry_work: str | None,
) -> None:
    evidence, purpose = chosen
    merged = {**noise, **evidence}  # the reserving evidence wins a clash of fields
    the_item = item(
        merged, purpose=purpose, license=licence, territory=territory, commercial=commercial, sha256="c" * 64
    )
    records: dict[str, Any] = {}
    if other_deal:  # a deal for someone else, or for another purpose, grants nothing here
        other = "search" if purpose is not Purpose.SEARCH else "ai-inference"
        records["deals"] = [deal(id="d-other", licensee="other-ai"), deal(id="d-purpose", purposes=[other])]
    if registry_work is not None:
        records["works"] = [Work(id="w1", holder="h", sha256="c" * 64, license=registry_work)]
    decision = run(the_item, policy=policy, **records)
    assert decision.verdict is not CONSENT
    assert any(reason.startswith(("signal:", "signal-")) for reason in decision.reasons)


@settings(max_examples=100, deadline=None)
@given(chosen=st.sampled_from(_RESERVING_EVIDENCE), noise=_NOISE, licence=_LICENCES, policy=_POLICIES)
def test_a_deal_in_force_beats_any_evidence(
    chosen: tuple[dict[str, str], Purpose], noise: dict[str, str], licence: str | None, policy: Policy
) -> None:
    evidence, purpose = chosen
    the_item = item({**noise, **evidence}, purpose=purpose, license=licence)
    decision = run(the_item, policy=policy, deals=[deal(purposes=["all"])])
    assert (decision.verdict, decision.reasons) == (CONSENT, ("deal:d1",))


@settings(max_examples=100, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(["headers", "html_meta", "xmp", "c2pa", "robots_txt", "ai_txt", "tdmrep_json"]),
        st.text(max_size=60),
        max_size=4,
    ),
    policy=_POLICIES,
)
def test_arbitrary_evidence_never_raises_and_always_has_a_reason(
    fields: dict[str, str], policy: Policy
) -> None:
    decision = run(item(fields, license="CC0-1.0"), policy=policy)
    assert decision.reasons
    assert decision.verdict in (CONSENT, VIOLATION, UNKNOWN)
