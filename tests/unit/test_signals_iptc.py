"""IPTC/PLUS plus:DataMining in XMP: every vocabulary term, the XMP forms, hostile and broken input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry_rights.domain.signals import ALL_PURPOSES, combine, read_iptc_data_mining

VOCAB = "http://ns.useplus.org/ldf/vocab/"


def packet(description: str, extra_ns: str = "") -> str:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        f'  <rdf:Description rdf:about="" xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" {extra_ns}>\n'
        f"   {description}\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n" + " " * 200 + '\n<?xpacket end="w"?>'
    )


def element(term: str) -> str:
    return packet(f"<plus:DataMining>{VOCAB}{term}</plus:DataMining>")


def statuses(xmp: str | bytes) -> dict[str, str]:
    combined = combine(read_iptc_data_mining(xmp))
    return {purpose: combined.status(purpose) for purpose in sorted(ALL_PURPOSES)}


R, N, C, U, K = "reserved", "not-reserved", "constrained", "unset", "unknown"


@pytest.mark.parametrize(
    ("term", "generative", "training", "inference", "search"),
    [
        ("DMI-UNSPECIFIED", U, U, U, U),
        ("DMI-ALLOWED", N, N, N, N),
        ("DMI-PROHIBITED", R, R, R, R),
        ("DMI-PROHIBITED-AIMLTRAINING", R, R, U, U),
        ("DMI-PROHIBITED-GENAIMLTRAINING", R, U, U, U),
        ("DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING", R, R, R, N),
        ("DMI-PROHIBITED-SEECONSTRAINT", C, C, C, C),
        ("DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR", C, C, C, C),
        ("DMI-PROHIBITED-SEELINKEDRIGHTSEXPR", C, C, C, C),
        ("DMI-SOMETHING-NEW", K, K, K, K),
    ],
)
def test_the_vocabulary(term: str, generative: str, training: str, inference: str, search: str) -> None:
    assert statuses(element(term)) == {
        "ai-generative-training": generative,
        "ai-training": training,
        "ai-inference": inference,
        "search": search,
    }


@pytest.mark.parametrize(
    "description",
    [
        f"<plus:DataMining>{VOCAB}DMI-PROHIBITED</plus:DataMining>",
        f'<plus:DataMining rdf:resource="{VOCAB}DMI-PROHIBITED"/>',
        "<plus:DataMining>DMI-PROHIBITED</plus:DataMining>",
        f"<plus:DataMining>{VOCAB}dmi-prohibited</plus:DataMining>",
    ],
)
def test_element_forms(description: str) -> None:
    assert set(statuses(packet(description)).values()) == {R}


def test_the_attribute_form_and_bytes() -> None:
    xmp = packet("").replace(
        'rdf:about=""', f'rdf:about="" plus:DataMining="{VOCAB}DMI-PROHIBITED-AIMLTRAINING"'
    )
    assert statuses(xmp.encode())["ai-training"] == R


def test_other_constraints_and_linked_rights_are_reported() -> None:
    description = (
        f"<plus:DataMining>{VOCAB}DMI-PROHIBITED-SEECONSTRAINT</plus:DataMining>"
        '<plus:OtherConstraints><rdf:Alt><rdf:li xml:lang="x-default">AI training only under licence</rdf:li>'
        "</rdf:Alt></plus:OtherConstraints>"
    )
    (reading,) = read_iptc_data_mining(packet(description), source="https://img.example/a.jpg")
    assert reading.signal == "iptc.data-mining"
    assert reading.detail is not None
    assert "AI training only under licence" in reading.detail
    assert reading.source == "https://img.example/a.jpg"
    linked = packet(
        f"<plus:DataMining>{VOCAB}DMI-PROHIBITED-SEELINKEDRIGHTSEXPR</plus:DataMining>"
        '<Iptc4xmpExt:LinkedEncRightsExpr><rdf:Bag><rdf:li rdf:parseType="Resource">'
        "<Iptc4xmpExt:LinkedRightsExpr>https://rights.example/odrl.json</Iptc4xmpExt:LinkedRightsExpr>"
        "</rdf:li></rdf:Bag></Iptc4xmpExt:LinkedEncRightsExpr>",
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"',
    )
    (reading,) = read_iptc_data_mining(linked)
    assert reading.policy_url == "https://rights.example/odrl.json"


def test_several_values_combine_to_the_most_restrictive() -> None:
    xmp = packet(
        f"<plus:DataMining>{VOCAB}DMI-ALLOWED</plus:DataMining>"
        '</rdf:Description><rdf:Description rdf:about="" xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/">'
        f"<plus:DataMining>{VOCAB}DMI-PROHIBITED</plus:DataMining>"
    )
    assert set(statuses(xmp).values()) == {R}


def test_no_property_is_unset() -> None:
    (reading,) = read_iptc_data_mining(
        packet('<dc:title xmlns:dc="http://purl.org/dc/elements/1.1/">x</dc:title>')
    )
    assert (reading.status, reading.purposes) == (U, ALL_PURPOSES)


def test_the_property_in_another_namespace_is_not_plus() -> None:
    xmp = packet('<other:DataMining xmlns:other="http://example.com/">DMI-ALLOWED</other:DataMining>')
    assert set(statuses(xmp).values()) == {U}


@pytest.mark.parametrize(
    "xmp",
    [
        "",
        "not xml",
        "<x:xmpmeta>unclosed",
        '<!DOCTYPE x [<!ENTITY a "DMI-ALLOWED">]><x:xmpmeta xmlns:x="adobe:ns:meta/">&a;</x:xmpmeta>',
        '<!DOCTYPE x SYSTEM "http://evil.example/x.dtd"><x/>',
        b"\xff\xd8\xff\xe0 a jpeg, not a packet",
    ],
)
def test_broken_or_hostile_packets_are_unknown(xmp: str | bytes) -> None:
    (reading,) = read_iptc_data_mining(xmp)
    assert reading.status == K
    assert reading.detail


@given(st.one_of(st.text(), st.binary()))
def test_arbitrary_input(xmp: str | bytes) -> None:
    text = (xmp.decode("utf-8", "replace") if isinstance(xmp, bytes) else xmp).upper()
    for reading in read_iptc_data_mining(xmp):
        if reading.status == "not-reserved":
            assert "ALLOWED" in text or "EXCEPTSEARCHENGINEINDEXING" in text


@given(st.sampled_from(["DMI-ALLOWED", "DMI-PROHIBITED", "x"]), st.text(alphabet="<>/&;\"' abc"))
def test_mangled_packets(term: str, noise: str) -> None:
    for reading in read_iptc_data_mining(element(term) + noise):
        assert reading.status in ("reserved", "not-reserved", "unknown", "unset")
