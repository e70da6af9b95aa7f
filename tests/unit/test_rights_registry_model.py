"""The registry model's newer fields: holders, works and selectors by md5 and identifier,
territory-scoped reservations, a deal's attribution and compensation terms; in the contract, the
engine, the registry view, revocation, sharding and the compact store."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from consentry_rights.domain import Policy, RegistryView, decide
from consentry_rights.domain.compact import CompactReservationsBuilder
from consentry_rights.domain.revocation import Selectors, selectors_of
from consentry_rights.domain.sharding import RegistryShard, hash_only_selector, shard_records
from consentry_shared.contracts.v1 import (
    Compensation,
    Deal,
    Holder,
    ItemEvent,
    Match,
    Purpose,
    Reservation,
    Verdict,
    Work,
    normalise_creator_id,
    normalise_identifier,
    registry_record_adapter,
)

AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
BEFORE = AT - timedelta(days=30)
AFTER = AT + timedelta(days=30)
MD5 = "d" * 32
DOI = "doi:10.1000/xyz-42"
ISBN13 = "isbn:9780306406157"
OPT_IN = Policy("p1", regimes={})
OPT_OUT = Policy("p1", regime="opt-out", regimes={})


def item(**overrides: Any) -> ItemEvent:
    fields: dict[str, Any] = {
        "event_id": "e1",
        "manifest_id": "m1",
        "item_id": "i1",
        "line": 1,
        "platform": "acme-ai",
        "purpose": Purpose.AI_TRAINING,
        "territory": "DE",
        "url": "https://cdn.example/file.bin",
        "submitted_at": AT,
    }
    fields.update(overrides)
    return ItemEvent.model_validate(fields)


def reservation(match: dict[str, str], **overrides: Any) -> Reservation:
    fields: dict[str, Any] = {
        "id": "r1",
        "holder": "h",
        "match": match,
        "purposes": ["ai-training"],
        "from": BEFORE,
    }
    fields.update(overrides)
    return Reservation.model_validate(fields)


def deal(match: dict[str, str], **overrides: Any) -> Deal:
    fields: dict[str, Any] = {
        "id": "d1",
        "holder": "h",
        "licensee": "acme-ai",
        "match": match,
        "purposes": ["ai-training"],
        "from": BEFORE,
        "until": AFTER,
    }
    fields.update(overrides)
    return Deal.model_validate(fields)


# --- the contract -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("isbn:0-306-40615-2", ISBN13),  # ISBN-10 -> ISBN-13
        ("ISBN: 978 0 306 40615 7", ISBN13),
        ("isbn:0-8044-2957-X", "isbn:9780804429573"),  # check digit X
        ("isrc:us-rc1-76-07839", "isrc:USRC17607839"),
        ("iswc:T-034.524.680-1", "iswc:T0345246801"),
        ("doi:10.1000/XYZ-42", DOI),  # lower case, hyphens kept
        ("doi:https://doi.org/10.1000/xyz-42", DOI),
    ],
)
def test_identifiers_are_normalised(given: str, canonical: str) -> None:
    assert normalise_identifier(given) == canonical
    assert Match(identifier=given).identifier == canonical


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("isbn:0-306-40615-3", "wrong check digit"),
        ("isbn:9780306406158", "wrong check digit"),
        ("isbn:9770306406157", "978 or 979"),
        ("isbn:12345", "10 or 13 digits"),
        ("isrc:USRC1760783", "7 digits"),
        ("iswc:T-034.524.680-2", "wrong check digit"),
        ("doi:11.1000/x", "10.<registrant>/<suffix>"),
        ("doi:10.1000/a b", "10.<registrant>/<suffix>"),
        ("issn:1234-5678", "scheme of isbn, isrc, iswc, doi"),
        ("9780306406157", "scheme:value"),
    ],
)
def test_bad_identifiers_are_refused_saying_why(given: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        normalise_identifier(given)
    with pytest.raises(ValidationError) as refused:
        Match(identifier=given)
    assert refused.value.errors()[0]["loc"] == ("identifier",)


def test_creator_ids_check_their_check_character() -> None:
    assert normalise_creator_id("orcid:https://orcid.org/0000-0002-1825-0097") == "orcid:0000000218250097"
    assert normalise_creator_id("isni:0000 0001 2146 438X") == "isni:000000012146438X"
    with pytest.raises(ValueError, match="wrong check character"):
        normalise_creator_id("orcid:0000-0002-1825-0098")
    with pytest.raises(ValueError, match="scheme"):
        normalise_creator_id("viaf:12345")


def test_a_work_needs_one_identifier_of_any_kind() -> None:
    by_doi = Work.model_validate({"id": "w", "holder": "h", "doi": "10.1000/XYZ-42", "license": "MIT"})
    assert (by_doi.sha256, by_doi.doi, by_doi.identifiers) == (None, "10.1000/xyz-42", (DOI,))
    everything = Work.model_validate(
        {
            "id": "w",
            "holder": "h",
            "md5": MD5.upper(),
            "isbn": "0-306-40615-2",
            "isrc": "USRC17607839",
            "iswc": "T0345246801",
            "doi": "10.1000/xyz-42",
            "creator_ids": ["orcid:0000-0002-1825-0097"],
            "license": "MIT",
        }
    )
    assert everything.md5 == MD5
    assert everything.identifiers == (ISBN13, "isrc:USRC17607839", "iswc:T0345246801", DOI)
    with pytest.raises(ValidationError, match="at least one of sha256, md5, isbn"):
        Work.model_validate({"id": "w", "holder": "h", "license": "MIT"})
    with pytest.raises(ValidationError, match="wrong check digit"):
        Work.model_validate({"id": "w", "holder": "h", "isbn": "0306406153", "license": "MIT"})


def test_older_records_still_validate_and_keep_their_json() -> None:
    old_work = '{"id":"w","holder":"h","kind":"work","sha256":"' + "a" * 64 + '","license":"MIT"}'
    work = registry_record_adapter.validate_json(old_work)
    assert work.model_dump_json(by_alias=True, exclude_none=True) == old_work
    old = reservation({"domain": "example.org"})
    assert old.territories == ["*"]
    assert deal({"domain": "example.org"}).compensation is None


def test_a_holder_record_holds_itself() -> None:
    holder = registry_record_adapter.validate_python(
        {
            "kind": "holder",
            "id": "photo-collective",
            "name": "Photo Collective",
            "creator_ids": ["isni:000000012146438X"],
        }
    )
    assert isinstance(holder, Holder)
    assert holder.holder == "photo-collective"
    with pytest.raises(ValidationError, match="its own id"):
        Holder.model_validate({"id": "a", "holder": "b", "name": "A"})


def test_compensation_terms_are_typed() -> None:
    assert Compensation(basis="per-item", amount="0.02", currency="EUR").describe() == (
        "basis=per-item;amount=0.02;currency=EUR"
    )
    assert Compensation.model_validate({"basis": "revenue-share", "amount": "12.5"}).currency is None
    for bad in (
        {"basis": "flat", "amount": "100"},  # money without a currency
        {"basis": "flat", "amount": "100", "currency": "eur"},
        {"basis": "flat", "amount": "-1", "currency": "EUR"},
        {"basis": "revenue-share", "amount": "150"},
        {"basis": "barter", "amount": "1", "currency": "EUR"},
    ):
        with pytest.raises(ValidationError):
            Compensation.model_validate(bad)


def test_an_item_carries_normalised_identifiers() -> None:
    assert item(identifiers=["isbn:0-306-40615-2"]).identifiers == [ISBN13]
    with pytest.raises(ValidationError):
        item(identifiers=["isbn:0-306-40615-3"])


# --- the engine -------------------------------------------------------------------------------


def test_a_reservation_by_identifier_binds_an_item_with_that_identifier() -> None:
    view = RegistryView(reservations=[reservation({"identifier": "doi:10.1000/XYZ-42"})])
    bound = decide(item(identifiers=["isbn:9780306406157", "doi:10.1000/xyz-42"]), view, OPT_OUT, AT)
    assert (bound.verdict, bound.reasons[0]) == (Verdict.VIOLATION, "reservation:r1")
    other = decide(item(identifiers=["doi:10.1000/other"]), view, OPT_OUT, AT)
    assert other.verdict is Verdict.CONSENT


def test_a_reservation_by_md5_binds_an_item_with_that_md5() -> None:
    view = RegistryView(reservations=[reservation({"md5": MD5.upper()})])
    assert decide(item(md5=MD5), view, OPT_OUT, AT).reasons[0] == "reservation:r1"
    assert decide(item(md5="e" * 32), view, OPT_OUT, AT).verdict is Verdict.CONSENT
    assert decide(item(), view, OPT_OUT, AT).verdict is Verdict.CONSENT


@pytest.mark.parametrize(
    ("territory", "bound"),
    [("FR", True), ("fr", True), ("DE", False), (None, True), ("", True)],
)
def test_a_territory_scoped_reservation_binds_only_where_it_applies(
    territory: str | None, bound: bool
) -> None:
    view = RegistryView(reservations=[reservation({"domain": "cdn.example"}, territories=["FR", "BE"])])
    decision = decide(item(territory=territory, jurisdiction="FR"), view, OPT_OUT, AT)
    # An item with no territory could be used anywhere: the reservation binds (never fail open).
    assert (decision.verdict is Verdict.VIOLATION) == bound
    if bound:
        assert decision.evidence[0].value is not None
        assert decision.evidence[0].value.endswith(";territories=FR,BE")


def test_a_work_known_by_doi_gives_its_licence() -> None:
    work = Work.model_validate(
        {"id": "w-doi", "holder": "h", "doi": "10.1000/XYZ-42", "license": "CC-BY-ND-4.0"}
    )
    view = RegistryView(works=[work])
    decision = decide(item(identifiers=[DOI], license="CC0-1.0"), view, OPT_IN, AT)
    assert decision.verdict is Verdict.VIOLATION
    assert decision.reasons == (
        "licence-no-derivatives:CC-BY-ND-4.0",
        "work-licence:w-doi",
        "licence-laundering",
    )
    unregistered = decide(item(identifiers=["doi:10.1000/other"], license="CC0-1.0"), view, OPT_IN, AT)
    assert unregistered.reasons == ("licence:CC0-1.0",)


def test_works_by_md5_and_by_sha256_are_one_set() -> None:
    by_md5 = Work.model_validate({"id": "w1", "holder": "h", "md5": MD5, "license": "CC-BY-4.0"})
    by_sha = Work.model_validate(
        {"id": "w2", "holder": "h", "sha256": "a" * 64, "isbn": "0306406152", "license": "MIT"}
    )
    view = RegistryView(works=[by_md5, by_sha])
    assert view.works_for("a" * 64, MD5, [ISBN13]) == (by_md5, by_sha)  # each once, by id
    assert view.works_for(None, MD5.upper()) == (by_md5,)
    assert view.works_for(None, None, [ISBN13]) == (by_sha,)
    assert view.works_for(None) == ()


def test_a_granting_deal_puts_its_terms_in_the_evidence() -> None:
    terms = deal(
        {"identifier": ISBN13},
        attribution="Photo: Photo Collective",
        compensation={"basis": "per-item", "amount": "0.02", "currency": "EUR"},
    )
    view = RegistryView(deals=[terms], reservations=[reservation({"domain": "cdn.example"})])
    decision = decide(item(identifiers=[ISBN13]), view, OPT_IN, AT)
    assert decision.reasons == ("deal:d1",)
    assert [(e.signal, e.ref, e.value) for e in decision.evidence[1:]] == [
        ("registry.deal.attribution", "d1", "Photo: Photo Collective"),
        ("registry.deal.compensation", "d1", "basis=per-item;amount=0.02;currency=EUR"),
        ("manifest.identifier", "m1", ISBN13),  # the item input the deal matched by
    ]
    # A deal that does not grant (another purpose) reports no terms: nothing was granted under them.
    search = decide(item(identifiers=[ISBN13], purpose=Purpose.SEARCH), view, OPT_IN, AT)
    assert not [e for e in search.evidence if e.signal.startswith("registry.deal.")]
    plain = decide(item(identifiers=[ISBN13]), RegistryView(deals=[deal({"identifier": ISBN13})]), OPT_IN, AT)
    assert [e.signal for e in plain.evidence] == ["registry.deal", "manifest.identifier"]


def test_attribution_true_is_recorded_as_required() -> None:
    view = RegistryView(deals=[deal({"md5": MD5}, attribution=True)])
    decision = decide(item(md5=MD5), view, OPT_IN, AT)
    assert decision.evidence[1].value == "required"


def test_hash_and_identifier_matches_rank_together_by_id() -> None:
    view = RegistryView(
        reservations=[
            reservation({"domain": "cdn.example"}, id="a-domain"),
            reservation({"identifier": DOI}, id="c-doi"),
            reservation({"md5": MD5}, id="b-md5"),
            reservation({"md5": MD5, "identifier": DOI}, id="d-both"),
        ]
    )
    found = view.reservations_for("https://cdn.example/x", None, MD5, [DOI])
    assert [r.id for r in found] == ["b-md5", "c-doi", "d-both", "a-domain"]


# --- revocation, sharding, the compact store --------------------------------------------------


def test_revocation_selectors_name_md5s_and_identifiers() -> None:
    work = Work.model_validate({"id": "w", "holder": "h", "md5": MD5, "isbn": "0306406152", "license": "MIT"})
    holder = Holder.model_validate({"id": "h", "name": "H"})
    selectors = selectors_of([work, reservation({"identifier": DOI}), holder])
    assert selectors.md5 == {MD5}
    assert selectors.identifiers == {ISBN13, DOI}
    assert not selectors_of([holder])
    assert selectors.covers(item(identifiers=[DOI]), "cdn.example")
    assert selectors.covers(item(md5=MD5), "cdn.example")
    assert not selectors.covers(item(identifiers=["doi:10.1/other"]), "cdn.example")
    assert not Selectors().covers(item(md5=MD5), "cdn.example")


def test_records_matching_by_md5_or_identifier_are_kept_by_every_shard() -> None:
    sha = "a" * 64
    hash_only = reservation({"sha256": sha})
    with_md5 = reservation({"sha256": sha, "md5": MD5}, id="r2")
    by_identifier = deal({"identifier": DOI})
    work_sha = Work(id="w1", holder="h", sha256=sha, license="MIT")
    work_doi = Work.model_validate(
        {"id": "w2", "holder": "h", "sha256": sha, "doi": DOI[4:], "license": "MIT"}
    )
    holder = Holder.model_validate({"id": "h", "name": "H"})
    assert hash_only_selector(hash_only) == sha
    assert hash_only_selector(work_sha) == sha
    for record in (with_md5, by_identifier, work_doi, holder):
        assert hash_only_selector(record) is None
    # A share that holds no partition of this hash keeps only what can match by something else.
    shard = RegistryShard(2, frozenset({1}), lambda key, count: 0)
    kept = shard_records([hash_only, with_md5, by_identifier, work_sha, work_doi, holder], shard)
    assert [record.id for record in kept.records] == ["r2", "d1", "w2", "h"]
    assert kept.hash_keyed_left_out == 2


def test_the_compact_store_refuses_what_it_cannot_hold_faithfully() -> None:
    builder = CompactReservationsBuilder()
    builder.add(reservation({"sha256": "a" * 64}))
    with pytest.raises(ValueError, match="sha256-only"):
        builder.add(reservation({"sha256": "a" * 64, "md5": MD5}, id="r2"))
    with pytest.raises(ValueError, match="worldwide"):
        builder.add(reservation({"sha256": "a" * 64}, id="r3", territories=["FR"]))
    assert len(builder) == 1


def test_the_md5_and_identifiers_the_registry_names_are_recorded_as_evidence() -> None:
    view = RegistryView(reservations=[reservation({"md5": MD5}), reservation({"identifier": DOI}, id="r2")])
    decision = decide(
        item(md5=MD5, identifiers=[ISBN13, DOI], purpose=Purpose.SEARCH, license="MIT"), view, OPT_IN, AT
    )
    # Neither reservation covers search, but both looked at the item's md5 and DOI; its ISBN,
    # which no record names, could not have mattered and is left out.
    assert decision.reasons[0] == "licence:MIT"
    assert [(e.signal, e.value) for e in decision.evidence[-2:]] == [
        ("manifest.md5", MD5),
        ("manifest.identifier", DOI),
    ]
    unknown = decide(item(md5="e" * 32, identifiers=[ISBN13], license="MIT"), view, OPT_IN, AT)
    assert not [
        e for e in unknown.evidence if e.signal.startswith("manifest.") and e.signal != "manifest.license"
    ]
