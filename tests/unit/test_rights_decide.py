"""decide(): every rule of the engine with plain values, and its two safety properties."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import consentry_rights.domain as domain
from consentry_rights.domain import Decision, Policy, RegistryView, decide, purpose_covers
from consentry_shared.contracts.v1 import (
    Deal,
    Evidence,
    ItemEvent,
    Purpose,
    Reservation,
    Verdict,
    Work,
)

AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
BEFORE = AT - timedelta(days=30)
AFTER = AT + timedelta(days=30)
SHA = "c" * 64
URL = "https://img.example.org/photos/cat.jpg"
PLATFORM = "acme-ai"
# One regime everywhere: the jurisdiction table has its own tests (test_rights_regimes.py).
OPT_IN = Policy("p1", regimes={})
OPT_OUT = Policy("p1", regime="opt-out", regimes={})
CONSENT, VIOLATION = Verdict.CONSENT, Verdict.VIOLATION


def item(**overrides: Any) -> ItemEvent:
    fields: dict[str, Any] = {
        "event_id": "e1",
        "manifest_id": "m1",
        "item_id": "i1",
        "line": 1,
        "platform": PLATFORM,
        "purpose": Purpose.AI_TRAINING,
        "territory": "DE",
        "commercial": True,
        "url": URL,
        "sha256": SHA,
        "license": None,
        "submitted_at": AT,
    }
    fields.update(overrides)
    return ItemEvent.model_validate(fields)


def deal(
    record_id: str = "d1",
    *,
    licensee: str = PLATFORM,
    purposes: Sequence[str] = ("ai-training",),
    territories: Sequence[str] = ("*",),
    valid_from: datetime = BEFORE,
    until: datetime = AFTER,
    revoked_at: datetime | None = None,
    match: dict[str, str] | None = None,
) -> Deal:
    return Deal.model_validate(
        {
            "id": record_id,
            "holder": "holder",
            "licensee": licensee,
            "match": match or {"domain": "example.org"},
            "purposes": list(purposes),
            "territories": list(territories),
            "from": valid_from,
            "until": until,
            "revoked_at": revoked_at,
        }
    )


def reservation(
    record_id: str = "r1",
    *,
    purposes: Sequence[str] = ("ai-training",),
    valid_from: datetime = BEFORE,
    until: datetime | None = None,
    match: dict[str, str] | None = None,
) -> Reservation:
    return Reservation.model_validate(
        {
            "id": record_id,
            "holder": "holder",
            "match": match or {"domain": "example.org"},
            "purposes": list(purposes),
            "from": valid_from,
            "until": until,
        }
    )


def work(record_id: str = "w1", licence: str = "CC-BY-4.0", sha256: str = SHA) -> Work:
    return Work(id=record_id, holder="holder", sha256=sha256, license=licence)


def registry(
    *,
    reservations: Sequence[Reservation] = (),
    deals: Sequence[Deal] = (),
    works: Sequence[Work] = (),
) -> RegistryView:
    return RegistryView(reservations=reservations, deals=deals, works=works, version=1)


def run(
    the_item: ItemEvent | None = None,
    *,
    policy: Policy = OPT_IN,
    at: datetime = AT,
    **records: Any,
) -> Decision:
    return decide(the_item or item(), registry(**records), policy, at)


def signals(decision: Decision) -> list[tuple[str, str | None]]:
    return [(evidence.signal, evidence.ref) for evidence in decision.evidence]


# --- purposes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("listed", "purpose", "covered"),
    [
        ("all", Purpose.AI_GENERATIVE_TRAINING, True),
        ("all", Purpose.SEARCH, True),
        ("ai-all", Purpose.AI_GENERATIVE_TRAINING, True),
        ("ai-all", Purpose.AI_TRAINING, True),
        ("ai-all", Purpose.AI_INFERENCE, True),
        ("ai-all", Purpose.SEARCH, False),
        ("ai-training", Purpose.AI_GENERATIVE_TRAINING, True),
        ("ai-training", Purpose.AI_TRAINING, True),
        ("ai-training", Purpose.AI_INFERENCE, False),
        ("ai-generative-training", Purpose.AI_GENERATIVE_TRAINING, True),
        ("ai-generative-training", Purpose.AI_TRAINING, False),
        ("ai-inference", Purpose.AI_INFERENCE, True),
        ("ai-inference", Purpose.AI_TRAINING, False),
        ("search", Purpose.SEARCH, True),
        ("search", Purpose.AI_INFERENCE, False),
    ],
)
def test_purpose_hierarchy(listed: str, purpose: Purpose, covered: bool) -> None:
    assert purpose_covers([listed], purpose) is covered


def test_any_listed_purpose_may_cover() -> None:
    assert purpose_covers(["search", "ai-inference"], Purpose.AI_INFERENCE)
    assert not purpose_covers(["search", "ai-inference"], Purpose.AI_TRAINING)


# --- rule 1: deals ----------------------------------------------------------------------------


def test_a_matching_deal_in_force_gives_consent() -> None:
    decision = run(deals=[deal()])
    assert decision.verdict is CONSENT
    assert decision.reasons == ("deal:d1",)
    assert signals(decision) == [("registry.deal", "d1")]
    assert decision.evidence[0].seen_at == AT
    assert decision.evidence[0].value is not None
    assert "purposes=ai-training" in decision.evidence[0].value


def test_a_deal_beats_a_reservation_and_a_bad_licence() -> None:
    decision = run(
        item(license="LicenseRef-All-Rights-Reserved"),
        deals=[deal()],
        reservations=[reservation()],
        works=[work(licence="LicenseRef-All-Rights-Reserved")],
    )
    assert decision.verdict is CONSENT
    assert decision.reasons == ("deal:d1",)


def test_a_deal_is_in_force_from_its_first_instant() -> None:
    assert run(deals=[deal(valid_from=AT)]).verdict is CONSENT


def test_a_deal_has_expired_at_its_until_instant() -> None:
    decision = run(deals=[deal(until=AT)], reservations=[reservation()])
    assert decision.verdict is VIOLATION
    assert decision.reasons == ("reservation:r1", "deal-expired:d1")
    assert signals(decision) == [("registry.reservation", "r1"), ("registry.deal", "d1")]


def test_a_deal_just_before_its_until_instant_grants() -> None:
    assert run(deals=[deal(until=AT + timedelta(microseconds=1))]).verdict is CONSENT


def test_a_deal_not_yet_valid_does_not_grant() -> None:
    decision = run(deals=[deal(valid_from=AT + timedelta(seconds=1))])
    assert decision.verdict is VIOLATION
    assert decision.reasons == ("no-licence", "deal-not-yet-valid:d1")


@pytest.mark.parametrize("revoked_at", [BEFORE + timedelta(days=1), AT])
def test_a_deal_revoked_at_or_before_the_decision_does_not_grant(revoked_at: datetime) -> None:
    decision = run(deals=[deal(revoked_at=revoked_at)])
    assert decision.verdict is VIOLATION
    assert "deal-revoked:d1" in decision.reasons
    assert decision.evidence[-1].value is not None
    assert "revoked=" in decision.evidence[-1].value


def test_a_deal_revoked_later_still_grants_now() -> None:
    assert run(deals=[deal(revoked_at=AT + timedelta(seconds=1))]).verdict is CONSENT


def test_a_deal_for_another_territory_does_not_grant() -> None:
    decision = run(deals=[deal(territories=["FR", "IT"])])
    assert decision.verdict is VIOLATION
    assert "deal-territory:d1" in decision.reasons


def test_a_deal_listing_the_items_territory_grants() -> None:
    assert run(item(territory="DE"), deals=[deal(territories=["FR", "DE"])]).verdict is CONSENT


def test_without_a_territory_only_a_worldwide_deal_grants() -> None:
    no_territory = item(territory=None)
    regional = run(no_territory, deals=[deal(territories=["DE"])])
    assert regional.verdict is VIOLATION
    assert "deal-territory:d1" in regional.reasons
    assert run(no_territory, deals=[deal(territories=["*"])]).verdict is CONSENT


def test_a_deal_for_another_purpose_does_not_grant() -> None:
    decision = run(deals=[deal(purposes=["search", "ai-inference"])])
    assert decision.verdict is VIOLATION
    assert "deal-purpose:d1" in decision.reasons


def test_a_deal_for_a_broader_purpose_grants() -> None:
    generative = item(purpose=Purpose.AI_GENERATIVE_TRAINING)
    assert run(generative, deals=[deal(purposes=["ai-all"])]).verdict is CONSENT
    assert run(item(purpose=Purpose.SEARCH), deals=[deal(purposes=["all"])]).verdict is CONSENT


def test_a_deal_for_a_narrower_purpose_does_not_grant() -> None:
    decision = run(deals=[deal(purposes=["ai-generative-training"])])
    assert "deal-purpose:d1" in decision.reasons
    assert decision.verdict is VIOLATION


def test_a_deal_for_another_licensee_is_not_even_reported() -> None:
    decision = run(deals=[deal(licensee="other-ai")], reservations=[reservation()])
    assert decision.reasons == ("reservation:r1",)
    assert signals(decision) == [("registry.reservation", "r1")]


def test_a_deal_that_does_not_match_the_item_is_ignored() -> None:
    decision = run(deals=[deal(match={"domain": "example.com"})])
    assert decision.reasons == ("no-licence",)


def test_a_failed_deal_is_reported_alongside_a_licence_verdict() -> None:
    decision = run(item(license="CC0-1.0"), deals=[deal(until=AT)])
    assert decision.verdict is CONSENT
    assert decision.reasons == ("licence:CC0-1.0", "deal-expired:d1")


def test_one_good_deal_among_failed_ones_grants() -> None:
    decision = run(
        deals=[
            deal("d0", until=AT, match={"sha256": SHA}),
            deal("d1", match={"domain": "example.org"}),
        ]
    )
    assert decision.verdict is CONSENT
    assert decision.reasons == ("deal:d1",)


# --- rule 2: reservations ---------------------------------------------------------------------


def test_a_reservation_in_force_gives_violation() -> None:
    decision = run(item(license="CC0-1.0"), reservations=[reservation()])
    assert decision.verdict is VIOLATION
    assert decision.reasons == ("reservation:r1",)
    assert signals(decision) == [("registry.reservation", "r1")]
    assert decision.evidence[0].value == f"purposes=ai-training;from={BEFORE.isoformat()}"


def test_an_expired_reservation_no_longer_binds() -> None:
    decision = run(item(license="CC0-1.0"), reservations=[reservation(until=AT)])
    assert decision.verdict is CONSENT


def test_a_reservation_binds_from_its_first_instant_until_its_until() -> None:
    assert run(reservations=[reservation(valid_from=AT)]).reasons == ("reservation:r1",)
    assert run(reservations=[reservation(until=AT + timedelta(seconds=1))]).reasons == ("reservation:r1",)


def test_a_future_reservation_does_not_bind_yet() -> None:
    decision = run(item(license="CC0-1.0"), reservations=[reservation(valid_from=AT + timedelta(days=1))])
    assert decision.verdict is CONSENT


def test_a_reservation_for_another_purpose_does_not_bind() -> None:
    decision = run(item(license="CC0-1.0"), reservations=[reservation(purposes=["search"])])
    assert decision.verdict is CONSENT


def test_a_reservation_for_all_purposes_covers_search() -> None:
    decision = run(item(purpose=Purpose.SEARCH), reservations=[reservation(purposes=["all"])])
    assert decision.verdict is VIOLATION


def test_a_reservation_of_ai_all_does_not_cover_search() -> None:
    decision = run(
        item(purpose=Purpose.SEARCH, license="CC0-1.0"),
        reservations=[reservation(purposes=["ai-all"])],
    )
    assert decision.verdict is CONSENT


def test_every_binding_reservation_is_listed_most_specific_first() -> None:
    decision = run(
        reservations=[
            reservation("r-domain", match={"domain": "example.org"}),
            reservation("r-prefix", match={"url_prefix": "https://img.example.org/photos/"}),
            reservation("r-hash", match={"sha256": SHA}),
            reservation("r-expired", match={"sha256": SHA}, until=AT),
            reservation("r-elsewhere", match={"url_prefix": "https://img.example.org/videos/"}),
        ]
    )
    assert decision.reasons == ("reservation:r-hash", "reservation:r-prefix", "reservation:r-domain")
    assert [evidence.ref for evidence in decision.evidence] == ["r-hash", "r-prefix", "r-domain"]


def test_a_reservation_on_a_parent_domain_covers_a_subdomain() -> None:
    decision = run(
        item(url="https://cdn.img.example.org/x.jpg"),
        reservations=[reservation(match={"domain": "example.org"})],
    )
    assert decision.reasons == ("reservation:r1",)


def test_a_reservation_by_url_prefix_matches_and_misses() -> None:
    prefixed = [reservation(match={"url_prefix": "https://img.example.org/photos/"})]
    assert run(item(url=URL), reservations=prefixed).verdict is VIOLATION
    outside = run(item(url="https://img.example.org/photo.jpg"), reservations=prefixed)
    assert outside.reasons == ("no-licence",)


def test_a_reservation_binds_under_opt_out_too() -> None:
    assert run(policy=OPT_OUT, reservations=[reservation()]).verdict is VIOLATION


# --- rule 3: the licence ----------------------------------------------------------------------


def test_a_public_domain_licence_gives_consent_without_duties() -> None:
    decision = run(item(license="cc0-1.0"))
    assert decision.verdict is CONSENT
    assert decision.reasons == ("licence:CC0-1.0",)
    assert decision.evidence == (Evidence(signal="manifest.license", ref="m1", value="cc0-1.0", seen_at=AT),)


def test_attribution_is_a_duty() -> None:
    decision = run(item(license="CC-BY-4.0"))
    assert decision.verdict is CONSENT
    assert decision.reasons == ("licence:CC-BY-4.0", "duty:attribution")


def test_share_alike_is_a_duty() -> None:
    decision = run(item(license="CC-BY-SA-4.0"))
    assert decision.verdict is CONSENT
    assert decision.reasons == ("licence:CC-BY-SA-4.0", "duty:attribution", "duty:share-alike")


def test_copyleft_gives_consent_with_share_alike() -> None:
    assert run(item(license="GPL-3.0-only")).reasons == ("licence:GPL-3.0-only", "duty:share-alike")


def test_non_commercial_licence_refuses_a_commercial_use() -> None:
    decision = run(item(license="CC-BY-NC-4.0", commercial=True))
    assert decision.verdict is VIOLATION
    assert decision.reasons == ("licence-non-commercial:CC-BY-NC-4.0",)


def test_non_commercial_licence_allows_a_non_commercial_use() -> None:
    decision = run(item(license="CC-BY-NC-SA-4.0", commercial=False))
    assert decision.verdict is CONSENT
    assert decision.reasons == (
        "licence:CC-BY-NC-SA-4.0",
        "duty:attribution",
        "duty:share-alike",
        "duty:non-commercial",
    )


@pytest.mark.parametrize("purpose", [Purpose.AI_TRAINING, Purpose.AI_GENERATIVE_TRAINING])
def test_no_derivatives_refuses_training(purpose: Purpose) -> None:
    decision = run(item(license="CC-BY-ND-4.0", purpose=purpose))
    assert decision.verdict is VIOLATION
    assert decision.reasons == ("licence-no-derivatives:CC-BY-ND-4.0",)


@pytest.mark.parametrize("purpose", [Purpose.AI_INFERENCE, Purpose.SEARCH])
def test_no_derivatives_allows_uses_that_make_no_derivative(purpose: Purpose) -> None:
    decision = run(item(license="CC-BY-ND-4.0", purpose=purpose))
    assert decision.verdict is CONSENT


def test_nc_nd_refuses_non_commercial_training_for_the_derivative() -> None:
    decision = run(item(license="CC-BY-NC-ND-4.0", commercial=False))
    assert decision.reasons == ("licence-no-derivatives:CC-BY-NC-ND-4.0",)


def test_all_rights_reserved_refuses() -> None:
    decision = run(item(license="LicenseRef-All-Rights-Reserved"), policy=OPT_OUT)
    assert decision.verdict is VIOLATION
    assert decision.reasons == ("all-rights-reserved:LicenseRef-All-Rights-Reserved",)


def test_an_unknown_licence_refuses_under_opt_in() -> None:
    decision = run(item(license="LicenseRef-Custom"))
    assert decision.verdict is VIOLATION
    assert decision.reasons == ("licence-unverified:LicenseRef-Custom",)
    assert signals(decision) == [("manifest.license", "m1"), ("policy.regime", "p1")]
    assert decision.evidence[-1].value == "opt-in;jurisdiction=DE"


def test_an_unknown_licence_is_allowed_but_flagged_under_opt_out() -> None:
    decision = run(item(license="LicenseRef-Custom"), policy=OPT_OUT)
    assert decision.verdict is CONSENT
    assert decision.reasons == ("no-reservation", "licence-unverified:LicenseRef-Custom")
    assert decision.evidence[-1].value == "opt-out;jurisdiction=DE"


@pytest.mark.parametrize("policy", [OPT_IN, OPT_OUT])
def test_an_unparseable_licence_refuses_under_either_regime(policy: Policy) -> None:
    decision = run(item(license="MIT OR OR"), policy=policy)
    assert decision.verdict is VIOLATION
    assert decision.reasons == ("licence-invalid",)
    assert decision.evidence[0].value == "MIT OR OR"


@pytest.mark.parametrize("declared", [None, "", "   "])
def test_no_licence_refuses_under_opt_in(declared: str | None) -> None:
    decision = run(item(license=declared))
    assert decision.verdict is VIOLATION
    assert decision.reasons == ("no-licence",)
    assert signals(decision) == [("policy.regime", "p1")]


def test_no_licence_and_no_reservation_is_consent_under_opt_out() -> None:
    decision = run(item(license=None), policy=OPT_OUT)
    assert decision.verdict is CONSENT
    assert decision.reasons == ("no-reservation",)


def test_or_takes_the_option_that_allows_the_use() -> None:
    decision = run(item(license="CC-BY-NC-4.0 OR MIT"))
    assert decision.verdict is CONSENT
    assert decision.reasons == ("licence:CC-BY-NC-4.0 OR MIT", "duty:attribution")


def test_and_requires_every_part() -> None:
    decision = run(item(license="MIT AND CC-BY-NC-4.0"))
    assert decision.verdict is VIOLATION
    assert decision.reasons == ("licence-non-commercial:MIT AND CC-BY-NC-4.0",)


# --- rule 3: registry works beat the manifest -------------------------------------------------


def test_a_registered_work_beats_the_manifest_and_a_more_permissive_claim_is_laundering() -> None:
    decision = run(item(license="CC0-1.0"), works=[work(licence="LicenseRef-All-Rights-Reserved")])
    assert decision.verdict is VIOLATION
    assert decision.reasons == (
        "all-rights-reserved:LicenseRef-All-Rights-Reserved",
        "work-licence:w1",
        "licence-laundering",
    )
    assert signals(decision) == [("registry.work", "w1"), ("manifest.license", "m1")]


def test_claiming_away_a_duty_is_laundering_too() -> None:
    decision = run(item(license="CC0-1.0"), works=[work(licence="CC-BY-4.0")])
    assert decision.verdict is CONSENT
    assert decision.reasons == (
        "licence:CC-BY-4.0",
        "duty:attribution",
        "work-licence:w1",
        "licence-laundering",
    )


def test_claiming_nc_for_a_reserved_work_is_laundering() -> None:
    decision = run(item(license="CC-BY-NC-4.0"), works=[work(licence="LicenseRef-All-Rights-Reserved")])
    assert "licence-laundering" in decision.reasons


def test_the_same_licence_spelled_differently_is_not_laundering() -> None:
    decision = run(item(license="cc-by-4.0"), works=[work(licence="CC-BY-4.0")])
    assert decision.reasons == ("licence:CC-BY-4.0", "duty:attribution", "work-licence:w1")


def test_an_equally_permissive_claim_is_not_laundering() -> None:
    decision = run(item(license="ISC"), works=[work(licence="MIT")])
    assert decision.reasons == ("licence:MIT", "duty:attribution", "work-licence:w1")


def test_a_stricter_claim_than_the_registry_is_not_laundering() -> None:
    decision = run(item(license="CC-BY-NC-4.0"), works=[work(licence="CC0-1.0")])
    assert decision.verdict is CONSENT
    assert decision.reasons == ("licence:CC0-1.0", "work-licence:w1")


def test_an_unparseable_claim_is_not_laundering() -> None:
    decision = run(item(license="((("), works=[work(licence="CC-BY-NC-4.0")])
    assert decision.reasons == ("licence-non-commercial:CC-BY-NC-4.0", "work-licence:w1")


def test_a_registered_work_without_a_manifest_licence() -> None:
    decision = run(item(license=None), works=[work(licence="MIT")])
    assert decision.reasons == ("licence:MIT", "duty:attribution", "work-licence:w1")
    assert signals(decision) == [("registry.work", "w1")]
    assert decision.evidence[0].value == "MIT"


def test_a_registered_work_with_an_unknown_licence_follows_the_regime() -> None:
    works = [work(licence="LicenseRef-Holder-Terms")]
    assert run(works=works).reasons == (
        "licence-unverified:LicenseRef-Holder-Terms",
        "work-licence:w1",
    )
    assert run(works=works, policy=OPT_OUT).verdict is CONSENT


def test_a_registered_work_with_an_unparseable_licence_refuses() -> None:
    decision = run(item(license="CC0-1.0"), works=[work(licence="not a licence")])
    assert decision.verdict is VIOLATION
    assert decision.reasons == ("licence-invalid", "work-licence:w1")


def test_a_work_is_matched_by_hash_only() -> None:
    decision = run(item(license="CC0-1.0", sha256="d" * 64), works=[work(licence="MIT")])
    assert decision.reasons == ("licence:CC0-1.0",)
    assert run(item(license="CC0-1.0", sha256=None), works=[work()]).reasons == ("licence:CC0-1.0",)


def test_the_strictest_of_several_registered_works_governs() -> None:
    decision = run(
        item(license=None),
        works=[work("w1", "CC0-1.0"), work("w2", "CC-BY-NC-4.0"), work("w3", "MIT")],
    )
    assert decision.verdict is VIOLATION
    assert decision.reasons == ("licence-non-commercial:CC-BY-NC-4.0", "work-licence:w2")
    assert [evidence.ref for evidence in decision.evidence] == ["w1", "w2", "w3"]


# --- inputs and determinism -------------------------------------------------------------------


def test_the_decision_time_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        run(at=datetime(2025, 6, 1, 12, 0))


def test_any_timezone_compares_by_instant() -> None:
    one_hour_east = timezone(timedelta(hours=1))
    at_until = AT.astimezone(one_hour_east)
    assert "deal-expired:d1" in run(at=at_until, deals=[deal(until=AT)]).reasons


@pytest.mark.parametrize("regime", ["opt_out", "OPT-OUT", "", "allow"])
def test_a_policy_with_an_unknown_regime_is_refused(regime: str) -> None:
    with pytest.raises(ValueError, match="regime"):
        Policy("p1", regime=regime)  # type: ignore[arg-type]


def test_a_policy_needs_a_version() -> None:
    with pytest.raises(ValueError, match="version"):
        Policy("")


def test_the_same_inputs_in_any_order_give_the_same_decision() -> None:
    records = {
        "reservations": [reservation(f"r{n}", match={"domain": "example.org"}) for n in range(5)]
        + [reservation("r-hash", match={"sha256": SHA})],
        "deals": [deal(f"d{n}", until=AT) for n in range(5)],
        "works": [work(f"w{n}", "MIT") for n in range(3)],
    }
    first = run(**records)
    for seed in range(5):
        shuffled = {key: random.Random(seed).sample(value, len(value)) for key, value in records.items()}
        assert run(**shuffled) == first
    assert first.reasons[0] == "reservation:r-hash"


def test_every_decision_has_a_reason() -> None:
    for licence in [None, "MIT", "LicenseRef-X", "((", "CC-BY-NC-4.0"]:
        for policy in (OPT_IN, OPT_OUT):
            assert run(item(license=licence), policy=policy).reasons


def test_the_public_surface_is_complete() -> None:
    public = {
        name
        for name, value in vars(domain).items()
        if not name.startswith("_") and not isinstance(value, type(domain))
    }
    assert set(domain.__all__) == public


# --- properties -------------------------------------------------------------------------------

_COVERING = {
    Purpose.AI_GENERATIVE_TRAINING: ["all", "ai-all", "ai-training", "ai-generative-training"],
    Purpose.AI_TRAINING: ["all", "ai-all", "ai-training"],
    Purpose.AI_INFERENCE: ["all", "ai-all", "ai-inference"],
    Purpose.SEARCH: ["all", "search"],
}
_ALL_PURPOSES = ["all", "ai-all", "ai-training", "ai-generative-training", "ai-inference", "search"]
_HOSTS = ["img.example.org", "example.org", "cdn.other.net"]
_LICENCES = [None, "CC0-1.0", "CC-BY-NC-4.0", "CC-BY-ND-4.0", "LicenseRef-X", "MIT AND", "MIT"]


@st.composite
def _items(draw: st.DrawFn) -> ItemEvent:
    return item(
        purpose=draw(st.sampled_from(list(Purpose))),
        territory=draw(st.sampled_from([None, "DE", "US"])),
        commercial=draw(st.booleans()),
        url=f"https://{draw(st.sampled_from(_HOSTS))}/{draw(st.sampled_from(['a/1.jpg', 'b.png']))}",
        sha256=draw(st.sampled_from([None, SHA, "e" * 64])),
        license=draw(st.sampled_from(_LICENCES)),
    )


def _selectors(the_item: ItemEvent) -> st.SearchStrategy[dict[str, str]]:
    """Selectors that match the item."""
    host = the_item.url.host or ""
    options: list[dict[str, str]] = [
        {"domain": host},
        {"domain": host.split(".", 1)[-1]} if host.count(".") > 1 else {"domain": host},
        {"url_prefix": f"https://{host}/"},
        {"url_prefix": str(the_item.url)},
    ]
    if the_item.sha256 is not None:
        options.append({"sha256": the_item.sha256})
    return st.sampled_from(options)


_ANY_SELECTOR = st.sampled_from(
    [{"domain": host} for host in _HOSTS] + [{"sha256": SHA}, {"url_prefix": "https://example.org/a/"}]
)
_TIMES = st.sampled_from([BEFORE - timedelta(days=400), BEFORE, AT, AFTER])


@st.composite
def _background(draw: st.DrawFn, the_item: ItemEvent) -> dict[str, list[Any]]:
    """Random registry content that never grants ``the_item.platform`` anything."""
    reservations = [
        reservation(
            f"bg-r{n}",
            purposes=draw(st.lists(st.sampled_from(_ALL_PURPOSES), min_size=1, max_size=2)),
            valid_from=draw(_TIMES),
            until=draw(st.none() | st.just(AFTER)),
            match=draw(_ANY_SELECTOR),
        )
        for n in range(draw(st.integers(0, 3)))
    ]
    deals = []
    for n in range(draw(st.integers(0, 3))):
        mine = draw(st.booleans())
        deals.append(
            deal(
                f"bg-d{n}",
                licensee=PLATFORM if mine else "other-ai",
                purposes=draw(st.lists(st.sampled_from(_ALL_PURPOSES), min_size=1, max_size=2)),
                territories=draw(st.sampled_from([["*"], ["DE"], ["US", "FR"]])),
                valid_from=BEFORE - timedelta(days=400),
                # A deal of our platform in the background has always expired before AT.
                until=BEFORE if mine else draw(st.sampled_from([BEFORE, AFTER])),
                match=draw(_ANY_SELECTOR),
            )
        )
    works = [
        work(f"bg-w{n}", draw(st.sampled_from(["CC0-1.0", "LicenseRef-All-Rights-Reserved"])))
        for n in range(draw(st.integers(0, 2)))
    ]
    return {"reservations": reservations, "deals": deals, "works": works}


@given(data=st.data(), the_item=_items(), regime=st.sampled_from(["opt-in", "opt-out"]))
def test_a_matching_worldwide_deal_in_force_always_gives_consent(
    data: st.DataObject, the_item: ItemEvent, regime: str
) -> None:
    background = data.draw(_background(the_item))
    granting = deal(
        "zz-granting",
        purposes=[data.draw(st.sampled_from(_COVERING[the_item.purpose]))],
        territories=["*"],
        valid_from=data.draw(st.sampled_from([BEFORE, AT])),
        until=data.draw(st.sampled_from([AT + timedelta(microseconds=1), AFTER])),
        revoked_at=data.draw(st.sampled_from([None, AFTER])),
        match=data.draw(_selectors(the_item)),
    )
    background["deals"].append(granting)
    policy = Policy("p", regime="opt-out" if regime == "opt-out" else "opt-in", regimes={})
    decision = run(the_item, policy=policy, **background)
    assert decision.verdict is CONSENT
    assert decision.reasons[0].startswith("deal:")


@given(data=st.data(), the_item=_items(), regime=st.sampled_from(["opt-in", "opt-out"]))
def test_a_matching_reservation_in_force_without_a_deal_never_gives_consent(
    data: st.DataObject, the_item: ItemEvent, regime: str
) -> None:
    background = data.draw(_background(the_item))
    binding = reservation(
        "zz-binding",
        purposes=[data.draw(st.sampled_from(_COVERING[the_item.purpose]))],
        valid_from=data.draw(st.sampled_from([BEFORE, AT])),
        until=data.draw(st.sampled_from([None, AT + timedelta(microseconds=1), AFTER])),
        match=data.draw(_selectors(the_item)),
    )
    background["reservations"].append(binding)
    policy = Policy("p", regime="opt-out" if regime == "opt-out" else "opt-in", regimes={})
    decision = run(the_item, policy=policy, **background)
    assert decision.verdict is VIOLATION
    assert "reservation:zz-binding" in decision.reasons
