"""Registry imports (JSONL and CSV): every bad record is named by line and field, nothing is half-read."""

from __future__ import annotations

import json

import pytest

from consentry_rights.domain.importing import (
    CSV_COLUMNS,
    parse_registry_csv,
    parse_registry_jsonl,
    scope_problems,
)
from consentry_shared.contracts.v1 import Deal, Reservation, Work

RESERVATION: dict[str, object] = {
    "kind": "reservation",
    "id": "r1",
    "holder": "h",
    "match": {"domain": "photos.example"},
    "purposes": ["ai-training"],
    "from": "2024-01-01T00:00:00Z",
}
DEAL: dict[str, object] = {
    "kind": "deal",
    "id": "d1",
    "holder": "h",
    "licensee": "acme",
    "match": {"url_prefix": "https://news.example/archive/"},
    "purposes": ["ai-training"],
    "territories": ["FR", "*"],
    "from": "2025-01-01T00:00:00Z",
    "until": "2030-01-01T00:00:00Z",
}


def jsonl(*records: dict[str, object]) -> list[bytes]:
    return [json.dumps(r).encode() for r in records]


def errors(parsed: object) -> list[tuple[int, str | None]]:
    return [(e.line, e.field) for e in parsed.errors]  # type: ignore[attr-defined]


def test_valid_jsonl_gives_records() -> None:
    parsed = parse_registry_jsonl([*jsonl(RESERVATION, DEAL), b""])
    assert parsed.errors == []
    assert [type(r) for r in parsed.records] == [Reservation, Deal]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "red"}, "colour"),  # an unknown field
        ({"from": "2024-13-01T00:00:00Z"}, "from"),  # a bad date
        ({"from": "2024-01-01T00:00:00"}, "from"),  # a date without a zone
        ({"match": {"domain": "photos.example", "path": "/x"}}, "match.path"),
        ({"match": {}}, "match"),  # a scope with no selector
        ({"match": {"domain": "bad_host!.example"}}, "match.domain"),  # a host no URL can have
        ({"match": {"url_prefix": "https://exa mple/"}}, "match.url_prefix"),
        ({"until": "2023-01-01T00:00:00Z"}, "until"),  # ends before it starts
        ({"kind": "opinion"}, "kind"),
    ],
)
def test_each_bad_reservation_is_named_by_line_and_field(change: dict[str, object], field: str) -> None:
    parsed = parse_registry_jsonl(jsonl(DEAL, {**RESERVATION, **change}))
    assert parsed.records == [Deal.model_validate(DEAL)]
    assert errors(parsed)[0] == (2, field)


def test_a_deal_territory_that_matches_nothing_is_refused() -> None:
    parsed = parse_registry_jsonl(jsonl({**DEAL, "territories": ["FR", "France"]}))
    assert errors(parsed) == [(1, "territories.1")]
    assert "ISO 3166" in parsed.errors[0].message


def test_the_same_id_twice_names_the_first_line() -> None:
    parsed = parse_registry_jsonl(jsonl(RESERVATION, DEAL, {**RESERVATION, "purposes": ["search"]}))
    assert errors(parsed) == [(3, "id")]
    assert "already on line 1" in parsed.errors[0].message
    # Same id, different kind: two different records.
    assert parse_registry_jsonl(jsonl(RESERVATION, {**DEAL, "id": "r1"})).errors == []


def test_malformed_lines() -> None:
    parsed = parse_registry_jsonl([b"{not json", b"[1]", b"\xff"])
    assert errors(parsed) == [(1, None), (2, None), (3, None)]


def test_scope_problems_are_empty_for_a_good_record() -> None:
    assert scope_problems(Deal.model_validate(DEAL)) == []
    assert scope_problems(Work(id="w", holder="h", sha256="a" * 64, license="MIT")) == []
    assert (
        scope_problems(Reservation.model_validate({**RESERVATION, "match": {"domain": "bücher.example"}}))
        == []
    )


CSV = (
    "kind,id,holder,licensee,domain,url_prefix,sha256,purposes,territories,from,until,revoked_at,license\n"
    "reservation,r1,h,,photos.example,,,ai-training;search,,2024-01-01T00:00:00Z,,,\n"
    "deal,d1,h,acme,,https://news.example/archive/,,ai-training,FR;DE,2025-01-01T00:00:00Z,"
    "2030-01-01T00:00:00Z,2026-01-01T00:00:00Z,\n"
    f"work,w1,h,,,,{'ab' * 32},,,,,,CC-BY-4.0\n"
)


def test_csv_gives_the_same_records_as_jsonl() -> None:
    parsed = parse_registry_csv(CSV.encode())
    assert parsed.errors == []
    reservation, deal, work = parsed.records
    assert reservation == Reservation.model_validate({**RESERVATION, "purposes": ["ai-training", "search"]})
    assert isinstance(deal, Deal) and deal.territories == ["FR", "DE"] and deal.revoked_at is not None
    assert work == Work(id="w1", holder="h", sha256="ab" * 32, license="CC-BY-4.0")
    assert set(CSV_COLUMNS) >= set(CSV.splitlines()[0].split(","))


def test_csv_a_subset_of_columns_in_any_order_with_a_bom() -> None:
    body = (
        "\ufeffholder,id,kind,domain,purposes,from\n"
        "h,r1,reservation,photos.example,ai-training,2024-01-01T00:00:00Z\n"
    )
    assert parse_registry_csv(body.encode()).records == [Reservation.model_validate(RESERVATION)]


def test_csv_errors_name_the_line_and_column() -> None:
    body = (
        "kind,id,holder,domain,purposes,from\n"
        "reservation,r1,h,photos.example,ai-training,2024-01-01T00:00:00Z\n"
        'reservation,r2,h,"bad host",ai-training,2024-01-01T00:00:00Z\n'
        "reservation,r3,h,photos.example,ai-training,yesterday\n"
        "reservation,r1,h,photos.example,ai-training,2024-01-01T00:00:00Z\n"
        "reservation,r4,h,photos.example\n"
    )
    parsed = parse_registry_csv(body.encode())
    assert errors(parsed) == [(3, "domain"), (4, "from"), (5, "id"), (6, None)]
    assert len(parsed.records) == 1


def test_csv_a_quoted_newline_keeps_line_numbers_right() -> None:
    body = (
        "kind,id,holder,domain,purposes,from\n"
        'reservation,"r\n1",h,photos.example,ai-training,2024-01-01T00:00:00Z\n'
        "reservation,r2,h,photos.example,ai-training,never\n"
    )
    assert errors(parse_registry_csv(body.encode())) == [(4, "from")]


def test_csv_an_unknown_or_missing_column_is_refused_before_any_row() -> None:
    parsed = parse_registry_csv(b"kind,id,holder,colour\nwork,w,h,red\n")
    assert errors(parsed) == [(1, "colour")]
    assert parse_registry_csv(b"kind,id\n").errors[0].field == "holder"
    assert parse_registry_csv(b"").records == []


# --- holders, identifiers, territories, deal terms -------------------------------------------

HOLDER: dict[str, object] = {
    "kind": "holder",
    "id": "photo-collective",
    "name": "Photo Collective",
    "contact": "rights@photos.example",
    "creator_ids": ["isni:0000 0001 2146 438X"],
}


def test_jsonl_holder_work_by_identifier_and_deal_terms() -> None:
    parsed = parse_registry_jsonl(
        jsonl(
            HOLDER,
            {
                "kind": "work",
                "id": "w1",
                "holder": "h",
                "doi": "10.1000/ABC",
                "isbn": "0-306-40615-2",
                "license": "MIT",
            },
            {**RESERVATION, "match": {"identifier": "isrc:US-RC1-76-07839"}, "territories": ["FR"]},
            {
                **DEAL,
                "match": {"md5": "cd" * 16},
                "attribution": "Photo: Photo Collective",
                "compensation": {"basis": "flat", "amount": "1500.00", "currency": "EUR"},
            },
        )
    )
    assert parsed.errors == []
    holder, work, reservation, deal = parsed.records
    assert holder.kind == "holder" and holder.holder == "photo-collective"
    assert isinstance(work, Work) and work.identifiers == ("isbn:9780306406157", "doi:10.1000/abc")
    assert isinstance(reservation, Reservation)
    assert (reservation.match.identifier, reservation.territories) == ("isrc:USRC17607839", ["FR"])
    assert isinstance(deal, Deal) and deal.compensation is not None
    assert deal.compensation.describe() == "basis=flat;amount=1500.00;currency=EUR"


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({**RESERVATION, "match": {"identifier": "isbn:0-306-40615-3"}}, "match.identifier"),
        ({**RESERVATION, "match": {"md5": "xyz"}}, "match.md5"),
        ({**RESERVATION, "territories": ["France"]}, "territories.0"),
        ({"kind": "work", "id": "w", "holder": "h", "iswc": "T-034.524.680-2", "license": "MIT"}, "iswc"),
        ({"kind": "work", "id": "w", "holder": "h", "license": "MIT"}, None),  # no identifier at all
        ({**DEAL, "compensation": {"basis": "flat", "amount": "10"}}, "compensation"),
        (
            {**DEAL, "compensation": {"basis": "flat", "amount": "ten", "currency": "EUR"}},
            "compensation.amount",
        ),
        ({**HOLDER, "holder": "someone-else"}, None),
        ({**HOLDER, "creator_ids": ["orcid:0000-0002-1825-0098"]}, "creator_ids.0"),
    ],
)
def test_bad_new_fields_are_named_by_line_and_field(record: dict[str, object], field: str | None) -> None:
    parsed = parse_registry_jsonl(jsonl(RESERVATION, record))
    assert [r.id for r in parsed.records] == ["r1"]
    assert (parsed.errors[0].line, parsed.errors[0].field) == (2, field)


def test_csv_new_columns() -> None:
    body = (
        "kind,id,holder,name,contact,creator_ids,licensee,md5,identifier,isbn,doi,purposes,territories,"
        "from,until,attribution,compensation_basis,compensation_amount,compensation_currency,license\n"
        "holder,photo-collective,,Photo Collective,rights@photos.example,isni:000000012146438X"
        ",,,,,,,,,,,,,,\n"
        f"work,w1,h,,,orcid:0000-0002-1825-0097,,{'cd' * 16},,0306406152,10.1/X,,,,,,,,,MIT\n"
        "reservation,r1,h,,,,,,doi:10.1/X,,,ai-training,FR;BE,2024-01-01T00:00:00Z,,,,,,\n"
        "deal,d1,h,,,,acme,,isbn:9780306406157,,,ai-training,*,2025-01-01T00:00:00Z,2030-01-01T00:00:00Z,"
        "true,per-item,0.02,EUR,\n"
        "deal,d2,h,,,,acme,,isbn:9780306406157,,,ai-training,*,2025-01-01T00:00:00Z,2030-01-01T00:00:00Z,"
        "Credit: H,flat,100,,\n"
    )
    parsed = parse_registry_csv(body.encode())
    assert [(e.line, e.field) for e in parsed.errors] == [(6, "compensation")]
    holder, work, reservation, deal = parsed.records
    assert holder.holder == "photo-collective"
    assert isinstance(work, Work)
    assert work.md5 == "cd" * 16  # a work's md5 column is its own hash, not a match
    assert work.identifiers == ("isbn:9780306406157", "doi:10.1/x")
    assert work.creator_ids == ["orcid:0000000218250097"]
    assert isinstance(reservation, Reservation)
    assert (reservation.match.identifier, reservation.territories) == ("doi:10.1/x", ["FR", "BE"])
    assert isinstance(deal, Deal) and deal.attribution is True and deal.compensation is not None
    assert deal.compensation.describe() == "basis=per-item;amount=0.02;currency=EUR"


def test_csv_a_bad_identifier_names_its_column() -> None:
    body = (
        "kind,id,holder,identifier,purposes,from\n"
        "reservation,r1,h,isbn:123,ai-training,2024-01-01T00:00:00Z\n"
    )
    assert errors(parse_registry_csv(body.encode())) == [(2, "identifier")]
