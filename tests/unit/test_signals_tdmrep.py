"""TDMRep: the final community group report's examples, the decision table, precedence, bad input."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry_rights.domain.signals import (
    ALL_PURPOSES,
    SignalParseError,
    TdmDeclaration,
    TdmRepFile,
    parse_tdm_policy,
    read_tdmrep,
    read_tdmrep_headers,
    read_tdmrep_meta,
    resolve_tdmrep,
)

ORIGIN = "https://provider.com"
WELL_KNOWN = f"{ORIGIN}/.well-known/tdmrep.json"
POLICY_URL = "https://provider.com/policies/policy.json"

# The report's §4.2 examples, verbatim in substance.
SITE_WIDE = '[\n  {\n  "location": "/",\n  "tdm-reservation": 1\n  }\n]'
THREE_GROUPS = json.dumps(
    [
        {"location": "/directory-a/", "tdm-reservation": 1},
        {"location": "/directory-b/html/", "tdm-reservation": 1, "tdm-policy": POLICY_URL},
        {"location": "/directory-b/images/*.jpg", "tdm-reservation": 0},
    ]
)
META_EXAMPLE = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="tdm-reservation" content="1">
    <meta name="tdm-policy" content="https://provider.com/policies/policy.json">
    <title>Document title</title>
  </head>
  <body>...</body>
</html>"""

# The report's §5 full examples. As printed, the second one has a trailing comma (not JSON).
POLICY_CONSENT = {
    "@context": ["http://www.w3.org/ns/odrl.jsonld", {"tdm": "http://www.w3.org/ns/tdmrep#"}],
    "@type": "Offer",
    "profile": "http://www.w3.org/ns/tdmrep",
    "uid": "https://provider.com/policies/1",
    "assigner": {
        "uid": "https://provider.com",
        "vcard:fn": "Provider",
        "vcard:hasEmail": "mailto:contact@provider.com",
        "vcard:hasURL": "https://provider.com/tdm/licensing.html",
    },
    "permission": [{"action": "tdm:mine", "duty": [{"action": "obtainConsent"}]}],
}
POLICY_PAID_NON_RESEARCH = {
    "@context": ["http://www.w3.org/ns/odrl.jsonld", {"tdm": "http://www.w3.org/ns/tdmrep#"}],
    "@type": "Offer",
    "profile": "http://www.w3.org/ns/tdmrep",
    "uid": "https://provider.com/policies/1",
    "assigner": {"uid": "https://provider.com", "vcard:fn": "Provider"},
    "permission": [
        {
            "action": "tdm:mine",
            "duty": [{"action": "compensate"}],
            "constraint": [{"leftOperand": "purpose", "operator": "eq", "rightOperand": "tdm:non-research"}],
        }
    ],
}
POLICY_AS_PRINTED = """{
    "@context": ["http://www.w3.org/ns/odrl.jsonld", {"tdm": "http://www.w3.org/ns/tdmrep#"}],
  "@type": "Offer",
  "profile": "http://www.w3.org/ns/tdmrep",
  "uid": "https://provider.com/policies/1",
  "assigner": {
    "uid": "https://provider.com",
    "vcard:fn": "Provider",
    "vcard:hasEmail": "mailto:contact@provider.com",
  },
  "permission": [{"action": "tdm:mine", "duty": [{"action": "compensate"}]}]
}"""


def url(path: str) -> str:
    return ORIGIN + path


# --- the well-known file -------------------------------------------------------------------------


def test_site_wide_opt_out_reserves_every_path() -> None:
    reading = read_tdmrep(url("/any/thing.pdf"), well_known=SITE_WIDE, well_known_source=WELL_KNOWN)
    assert reading.status == "reserved"
    assert reading.signal == "tdmrep.well-known"
    assert reading.source == WELL_KNOWN
    assert reading.purposes == ALL_PURPOSES


@pytest.mark.parametrize(
    ("path", "status", "policy"),
    [
        ("/directory-a/report.pdf", "reserved", None),
        ("/directory-b/html/page.html", "reserved", POLICY_URL),
        ("/directory-b/images/cat.jpg", "not-reserved", None),
        ("/directory-b/images/deeper/cat.jpg", "not-reserved", None),
        ("/directory-b/images/cat.png", "unset", None),
        ("/elsewhere.html", "unset", None),
    ],
)
def test_three_groups_example(path: str, status: str, policy: str | None) -> None:
    file = TdmRepFile.parse(THREE_GROUPS, source=WELL_KNOWN)
    reading = read_tdmrep(url(path), well_known=file)
    assert reading.status == status
    assert reading.policy_url == policy


def test_the_first_matching_location_wins_not_the_longest() -> None:
    rules = json.dumps(
        [{"location": "/a/", "tdm-reservation": 0}, {"location": "/a/private/", "tdm-reservation": 1}]
    )
    assert read_tdmrep(url("/a/private/x"), well_known=rules).status == "not-reserved"


@pytest.mark.parametrize(
    ("location", "path", "matches"),
    [
        ("/this/path/exactly$", "/this/path/exactly", True),
        ("/this/path/exactly$", "/this/path/exactly/more", False),
        ("/this/*/then", "/this/a/b/then/x", True),
        ("/this/*/then", "/this/then", False),
        ("/path/foo-%24", "/path/foo-$", True),
        ("/Dir/", "/dir/x", False),  # matching is case-sensitive
        ("/caf%C3%A9/", "/café/menu", True),
        ("https://provider.com/full/", "/full/x", True),
        ("https://other.example/full/", "/full/x", False),
    ],
)
def test_locations_match_robots_style(location: str, path: str, matches: bool) -> None:
    rules = json.dumps([{"location": location, "tdm-reservation": 1}])
    assert (read_tdmrep(url(path), well_known=rules).status == "reserved") is matches


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (1, "reserved"),
        (0, "not-reserved"),
        (2, "unset"),
        ("1", "unset"),
        (True, "unset"),
        (None, "unset"),
        (1.5, "unset"),
    ],
)
def test_only_the_integers_0_and_1_count(value: object, status: str) -> None:
    rules = json.dumps([{"location": "/", "tdm-reservation": value}])
    reading = read_tdmrep(url("/x"), well_known=rules)
    assert reading.status == status
    if status == "unset":
        assert reading.detail is not None
        assert "protocol error" in reading.detail


def test_rules_missing_a_mandatory_property_are_skipped() -> None:
    rules = json.dumps([{"tdm-reservation": 0}, {"location": "/"}, {"location": "/", "tdm-reservation": 1}])
    assert read_tdmrep(url("/x"), well_known=rules).status == "reserved"


@pytest.mark.parametrize("body", ["", "not json", "{}", '{"location": "/"}', "[", b"\xff\xfe\x00", "1"])
def test_an_unreadable_file_is_unknown(body: str | bytes) -> None:
    reading = read_tdmrep(url("/x"), well_known=body, well_known_source=WELL_KNOWN)
    assert reading.status == "unknown"
    assert reading.detail


# --- headers and HTML -------------------------------------------------------------------------


def test_header_example_without_policy() -> None:
    reading = read_tdmrep(url("/img.jpg"), headers={"Content-type": "image/jpg", "tdm-reservation": "1"})
    assert (reading.signal, reading.status, reading.policy_url) == ("tdmrep.header", "reserved", None)


def test_header_example_with_policy() -> None:
    headers = [("Content-type", "text/html"), ("tdm-reservation", "1"), ("tdm-policy", POLICY_URL)]
    reading = read_tdmrep(url("/page"), headers=headers)
    assert reading.status == "reserved"
    assert reading.policy_url == POLICY_URL


def test_meta_example() -> None:
    declaration = read_tdmrep_meta(META_EXAMPLE)
    assert declaration is not None
    assert (declaration.reservation, declaration.policy) == (1, POLICY_URL)
    assert read_tdmrep(url("/page"), html=META_EXAMPLE).signal == "tdmrep.meta"


@pytest.mark.parametrize(
    ("value", "reservation"), [("1", 1), (" 0 ", 0), ("2", None), ("yes", None), ("", None), ("1, 0", None)]
)
def test_header_values(value: str, reservation: int | None) -> None:
    declaration = read_tdmrep_headers({"TDM-Reservation": value})
    assert declaration is not None
    assert declaration.reservation == reservation


def test_conflicting_header_instances_keep_the_reservation() -> None:
    declaration = read_tdmrep_headers([("tdm-reservation", "0"), ("tdm-reservation", "1")])
    assert declaration is not None
    assert declaration.reservation == 1


def test_no_header_is_no_declaration() -> None:
    assert read_tdmrep_headers({"content-type": "text/html"}) is None


# --- precedence: meta > header > well-known -------------------------------------------------


@pytest.mark.parametrize(
    ("file_value", "header", "meta", "signal", "status"),
    [
        (1, None, None, "tdmrep.well-known", "reserved"),
        (1, "0", None, "tdmrep.header", "not-reserved"),
        (0, "1", None, "tdmrep.header", "reserved"),
        (1, "0", "1", "tdmrep.meta", "reserved"),
        (0, "1", "0", "tdmrep.meta", "not-reserved"),
        (None, None, "0", "tdmrep.meta", "not-reserved"),
        # an invalid higher value does not erase a valid lower one
        (1, "maybe", None, "tdmrep.well-known", "reserved"),
        (0, "1", "maybe", "tdmrep.header", "reserved"),
    ],
)
def test_precedence(
    file_value: int | None, header: str | None, meta: str | None, signal: str, status: str
) -> None:
    file = json.dumps([{"location": "/", "tdm-reservation": file_value}]) if file_value is not None else "[]"
    headers = {"tdm-reservation": header} if header is not None else {}
    html = f'<meta name="tdm-reservation" content="{meta}">' if meta is not None else "<p>no meta</p>"
    reading = read_tdmrep(url("/x"), well_known=file, headers=headers, html=html)
    assert (reading.signal, reading.status) == (signal, status)


def test_each_property_supersedes_separately() -> None:
    file = json.dumps([{"location": "/", "tdm-reservation": 1, "tdm-policy": POLICY_URL}])
    reading = read_tdmrep(url("/x"), well_known=file, headers={"tdm-reservation": "1"})
    assert reading.signal == "tdmrep.header"
    assert reading.policy_url == POLICY_URL


def test_a_zero_does_not_stand_under_an_unreadable_technique() -> None:
    header = read_tdmrep_headers({"tdm-reservation": "0"})
    unreadable_meta = TdmDeclaration("meta", None, None, None, url("/x"), error="HTML: the tokenizer gave up")
    reading = resolve_tdmrep([None, header, unreadable_meta], url=url("/x"))
    assert reading.status == "unknown"
    assert reading.detail is not None
    assert "tokenizer" in reading.detail


def test_a_one_stands_under_an_unreadable_technique() -> None:
    header = read_tdmrep_headers({"tdm-reservation": "1"})
    unreadable_meta = TdmDeclaration("meta", None, None, None, url("/x"), error="HTML: the tokenizer gave up")
    assert resolve_tdmrep([None, header, unreadable_meta], url=url("/x")).status == "reserved"


def test_a_valid_header_decides_over_an_unreadable_file() -> None:
    reading = read_tdmrep(url("/x"), well_known="garbage", headers={"tdm-reservation": "0"})
    assert reading.status == "not-reserved"


def test_nothing_anywhere_is_unset() -> None:
    assert read_tdmrep(url("/x")).status == "unset"
    assert read_tdmrep(url("/x"), well_known="[]", headers={}, html="<p></p>").status == "unset"


# --- the policy ------------------------------------------------------------------------------------


def test_consent_policy_example_is_an_offer_without_payment() -> None:
    reading = read_tdmrep(
        url("/page"),
        headers={"tdm-reservation": "1", "tdm-policy": POLICY_URL},
        policy=json.dumps(POLICY_CONSENT),
    )
    assert reading.status == "constrained"
    assert not reading.requires_payment
    assert reading.detail is not None
    assert "obtainConsent" in reading.detail
    assert "https://provider.com/tdm/licensing.html" in reading.detail


def test_compensation_example_requires_payment_for_non_research() -> None:
    headers = {"tdm-reservation": "1", "tdm-policy": POLICY_URL}
    policy = json.dumps(POLICY_PAID_NON_RESEARCH)
    commercial = read_tdmrep(url("/page"), headers=headers, policy=policy)
    assert (commercial.status, commercial.requires_payment) == ("constrained", True)
    research = read_tdmrep(url("/page"), headers=headers, policy=policy, research=True)
    assert research.status == "reserved"


def test_the_example_as_printed_is_not_json_and_the_reservation_stands() -> None:
    reading = read_tdmrep(
        url("/p"), headers={"tdm-reservation": "1", "tdm-policy": POLICY_URL}, policy=POLICY_AS_PRINTED
    )
    assert reading.status == "reserved"
    assert reading.detail is not None
    assert "policy unreadable" in reading.detail


@pytest.mark.parametrize(
    ("policy", "fetch_error"),
    [
        (None, "HTTP 404"),
        (None, None),
        ("<html>terms</html>", None),
        ("[]", None),
        (json.dumps({"@type": "Offer"}), None),
    ],
)
def test_an_unfetchable_or_unparseable_policy_keeps_the_reservation(
    policy: str | None, fetch_error: str | None
) -> None:
    reading = read_tdmrep(
        url("/p"),
        headers={"tdm-reservation": "1", "tdm-policy": POLICY_URL},
        policy=policy,
        policy_error=fetch_error,
    )
    assert reading.status == "reserved"
    assert reading.policy_url == POLICY_URL


def test_a_policy_is_ignored_when_not_reserved() -> None:
    reading = read_tdmrep(
        url("/p"),
        headers={"tdm-reservation": "0", "tdm-policy": POLICY_URL},
        policy=json.dumps(POLICY_CONSENT),
    )
    assert reading.status == "not-reserved"


def test_a_relative_policy_is_resolved_against_the_item() -> None:
    reading = read_tdmrep(url("/a/b"), headers={"tdm-reservation": "1", "tdm-policy": "/policies/1.json"})
    assert reading.policy_url == "https://provider.com/policies/1.json"


def test_parse_policy_reads_iris_and_single_objects() -> None:
    policy = parse_tdm_policy(
        json.dumps(
            {
                "@type": "http://www.w3.org/ns/odrl/2/Offer",
                "profile": ["http://www.w3.org/ns/tdmrep"],
                "permission": {
                    "action": {"@id": "http://www.w3.org/ns/tdmrep#mine"},
                    "duty": {"action": "odrl:compensate"},
                    "constraint": {
                        "leftOperand": "purpose",
                        "operator": "eq",
                        "rightOperand": {"@id": "tdm:research"},
                    },
                },
            }
        )
    )
    (permission,) = policy.permissions
    assert permission.purpose == "research"
    assert permission.duties == {"compensate"}


def test_permissions_for_other_actions_are_not_offers() -> None:
    policy = parse_tdm_policy(json.dumps({**POLICY_CONSENT, "permission": [{"action": "display"}]}))
    assert policy.permissions == ()


@pytest.mark.parametrize(
    "document",
    [
        {**POLICY_CONSENT, "profile": "http://example.com/other"},
        {**POLICY_CONSENT, "@type": "Agreement"},
        {**POLICY_CONSENT, "permission": ["not an object"]},
    ],
)
def test_non_tdmrep_policies_are_rejected(document: dict[str, object]) -> None:
    with pytest.raises(SignalParseError):
        parse_tdm_policy(json.dumps(document))


# --- never raises, never permits by accident --------------------------------------------------------


@given(st.one_of(st.text(), st.binary()))
def test_arbitrary_well_known_bodies(body: str | bytes) -> None:
    reading = read_tdmrep(url("/x"), well_known=body)
    if reading.status == "not-reserved":
        assert json.loads(body)  # only a real rule with 0 can say so


@given(st.text(), st.text())
def test_arbitrary_headers(reservation: str, policy: str) -> None:
    reading = read_tdmrep(url("/x"), headers=[("tdm-reservation", reservation), ("tdm-policy", policy)])
    assert (reading.status == "not-reserved") is (reservation.strip() == "0")


@given(st.one_of(st.text(), st.binary()))
def test_arbitrary_html(html: str | bytes) -> None:
    reading = read_tdmrep(url("/x"), html=html)
    if reading.status == "not-reserved":
        assert (
            "tdm-reservation"
            in (html.decode("utf-8", "replace") if isinstance(html, bytes) else html).lower()
        )


@given(st.one_of(st.text(), st.binary()))
def test_arbitrary_policies_never_lift_the_reservation(policy: str | bytes) -> None:
    reading = read_tdmrep(
        url("/x"), headers={"tdm-reservation": "1", "tdm-policy": POLICY_URL}, policy=policy
    )
    assert reading.status in ("reserved", "constrained")
