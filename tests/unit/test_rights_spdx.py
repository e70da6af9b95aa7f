"""SPDX licence expressions: the grammar, the canonical spelling and the terms table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry_rights.domain import (
    UNKNOWN_TERMS,
    AllOf,
    AnyOf,
    LicenceExpression,
    LicenceExpressionError,
    LicenceId,
    LicenceTerms,
    licence_terms,
    parse_licence,
)

MIT, APACHE, GPL = LicenceId("MIT"), LicenceId("Apache-2.0"), LicenceId("GPL-3.0-only")

# --- grammar ----------------------------------------------------------------------------------


def test_a_single_id_is_a_licence_id() -> None:
    assert parse_licence("MIT") == MIT


def test_blanks_around_the_expression_are_ignored() -> None:
    assert parse_licence("  MIT \t") == MIT


def test_or_lists_the_options() -> None:
    assert parse_licence("MIT OR Apache-2.0") == AnyOf((MIT, APACHE))


def test_and_lists_the_parts() -> None:
    assert parse_licence("MIT AND Apache-2.0") == AllOf((MIT, APACHE))


def test_and_binds_tighter_than_or() -> None:
    assert parse_licence("MIT OR Apache-2.0 AND GPL-3.0-only") == AnyOf((MIT, AllOf((APACHE, GPL))))


def test_parentheses_group() -> None:
    assert parse_licence("(MIT OR Apache-2.0) AND GPL-3.0-only") == AllOf((AnyOf((MIT, APACHE)), GPL))


def test_same_operator_groups_are_flattened() -> None:
    assert parse_licence("(MIT OR Apache-2.0) OR GPL-3.0-only") == AnyOf((MIT, APACHE, GPL))
    assert parse_licence("MIT AND (Apache-2.0 AND GPL-3.0-only)") == AllOf((MIT, APACHE, GPL))


def test_redundant_parentheses_vanish() -> None:
    assert parse_licence("((MIT))") == MIT


@pytest.mark.parametrize("text", ["mit or apache-2.0", "MIT Or Apache-2.0", "MIT oR Apache-2.0"])
def test_operators_are_case_insensitive(text: str) -> None:
    assert str(parse_licence(text)) == "MIT OR Apache-2.0"


def test_with_attaches_an_exception() -> None:
    assert parse_licence("GPL-2.0-only WITH Classpath-exception-2.0") == LicenceId(
        "GPL-2.0-only", exception="Classpath-exception-2.0"
    )


def test_with_binds_tighter_than_and() -> None:
    assert parse_licence("GPL-2.0-only with Classpath-exception-2.0 and MIT") == AllOf(
        (LicenceId("GPL-2.0-only", exception="Classpath-exception-2.0"), MIT)
    )


def test_plus_means_or_later() -> None:
    assert parse_licence("GPL-2.0+") == LicenceId("GPL-2.0", or_later=True)


def test_licence_refs_are_accepted() -> None:
    assert parse_licence("LicenseRef-My-Terms") == LicenceId("LicenseRef-My-Terms")
    assert parse_licence("DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2") == LicenceId(
        "DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2"
    )


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("", 0),
        ("   ", 0),
        ("MIT OR", 6),
        ("OR MIT", 0),
        ("MIT AND AND Apache-2.0", 8),
        ("(MIT", 4),
        ("MIT)", 3),
        ("()", 1),
        ("MIT Apache-2.0", 4),
        ("MIT WITH", 8),
        ("MIT WITH (Foo)", 9),
        ("(MIT OR Apache-2.0) WITH Foo", 20),
        ("MIT/Apache-2.0", 0),
        ("MIT, Apache-2.0", 0),
        ("DocumentRef-x:MIT", 0),
        ("MIT WITH Foo+", 9),
    ],
)
def test_grammar_errors_say_where(text: str, position: int) -> None:
    with pytest.raises(LicenceExpressionError) as raised:
        parse_licence(text)
    assert raised.value.position == position
    assert raised.value.expression == text
    assert isinstance(raised.value, ValueError)


def test_hostile_nesting_is_a_grammar_error_not_a_crash() -> None:
    with pytest.raises(LicenceExpressionError, match="nested too deeply"):
        parse_licence("(" * 5000 + "MIT" + ")" * 5000)


def test_reasonable_nesting_parses() -> None:
    assert parse_licence("(" * 20 + "MIT" + ")" * 20) == MIT


# --- canonical spelling -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("cc-by-4.0", "CC-BY-4.0"),
        ("cc0-1.0", "CC0-1.0"),
        ("apache-2.0 or mit", "Apache-2.0 OR MIT"),
        ("gpl-2.0+", "GPL-2.0+"),
        ("(mit or isc) and cc-by-sa-3.0-de", "(MIT OR ISC) AND CC-BY-SA-3.0-DE"),
        ("mit and isc or zlib", "MIT AND ISC OR Zlib"),
        ("LicenseRef-Whatever", "LicenseRef-Whatever"),
        ("licenseref-public-domain", "LicenseRef-Public-Domain"),
    ],
)
def test_str_is_the_canonical_spelling(text: str, canonical: str) -> None:
    assert str(parse_licence(text)) == canonical


_IDS = st.sampled_from(["MIT", "Apache-2.0", "CC-BY-4.0", "LicenseRef-X", "GPL-2.0+", "Foo-1"])


def _trees(leaves: st.SearchStrategy[LicenceExpression]) -> st.SearchStrategy[LicenceExpression]:
    children = st.lists(leaves, min_size=2, max_size=3).map(tuple)
    return st.one_of(children.map(AllOf), children.map(AnyOf))


_LEAVES: st.SearchStrategy[LicenceExpression] = st.builds(
    lambda licence, exception: LicenceId(licence.removesuffix("+"), licence.endswith("+"), exception),
    _IDS,
    st.sampled_from([None, "Classpath-exception-2.0"]),
)


@given(st.recursive(_LEAVES, _trees, max_leaves=8))
def test_the_canonical_spelling_parses_back_to_the_same_meaning(tree: LicenceExpression) -> None:
    spelled = str(tree)
    assert str(parse_licence(spelled)) == spelled
    assert licence_terms(parse_licence(spelled)) == licence_terms(tree)


# --- terms ------------------------------------------------------------------------------------

_PD = LicenceTerms("all")
_BY = LicenceTerms("all", attribution=True)
_BY_SA = LicenceTerms("all", attribution=True, share_alike=True)
_BY_ND = LicenceTerms("all", attribution=True, no_derivatives=True)
_NC = LicenceTerms("non-commercial", attribution=True)
_NC_SA = LicenceTerms("non-commercial", attribution=True, share_alike=True)
_NC_ND = LicenceTerms("non-commercial", attribution=True, no_derivatives=True)
_COPYLEFT = LicenceTerms("all", share_alike=True)
_RESERVED = LicenceTerms("none")


@pytest.mark.parametrize(
    ("licence", "terms"),
    [
        *[(pd, _PD) for pd in ["CC0-1.0", "PDDL-1.0", "Unlicense", "LicenseRef-Public-Domain"]],
        ("public-domain", _PD),
        *[(f"CC-BY-{v}", _BY) for v in ["1.0", "2.0", "2.5", "3.0", "4.0"]],
        ("CC-BY-3.0-US", _BY),
        *[(f"CC-BY-SA-{v}", _BY_SA) for v in ["1.0", "2.0", "2.5", "3.0", "4.0"]],
        *[(f"CC-BY-ND-{v}", _BY_ND) for v in ["1.0", "2.0", "2.5", "3.0", "4.0"]],
        *[(f"CC-BY-NC-{v}", _NC) for v in ["1.0", "2.0", "2.5", "3.0", "4.0"]],
        *[(f"CC-BY-NC-SA-{v}", _NC_SA) for v in ["1.0", "2.0", "2.5", "3.0", "4.0"]],
        *[(f"CC-BY-NC-ND-{v}", _NC_ND) for v in ["3.0", "4.0"]],
        ("cc-by-nc-sa-4.0", _NC_SA),
        *[(p, _BY) for p in ["MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "Zlib"]],
        *[(c, _COPYLEFT) for c in ["GPL-2.0-only", "GPL-3.0-or-later", "LGPL-2.1-only"]],
        *[(c, _COPYLEFT) for c in ["AGPL-3.0-only", "MPL-2.0", "GPL-3.0"]],
        ("GPL-2.0+", _COPYLEFT),
        ("GPL-2.0-or-later WITH Classpath-exception-2.0", _COPYLEFT),
        ("LicenseRef-All-Rights-Reserved", _RESERVED),
        *[(d, _BY) for d in ["ODC-By-1.0", "CDLA-Permissive-2.0", "DbCL-1.0", "AFL-3.0", "OGL-UK-3.0"]],
        *[(d, _BY_SA) for d in ["ODbL-1.0", "odbl-1.0", "CDLA-Sharing-1.0"]],
    ],
)
def test_known_licences_map_to_their_terms(licence: str, terms: LicenceTerms) -> None:
    assert licence_terms(licence) == terms


@pytest.mark.parametrize(
    "licence", ["LicenseRef-Foo", "CC-BY-9.0", "CC-BY-ND-NC-4.0", "NOASSERTION", "Proprietary-ish"]
)
def test_anything_else_is_unknown(licence: str) -> None:
    assert licence_terms(licence) == UNKNOWN_TERMS
    assert not UNKNOWN_TERMS.known
    assert UNKNOWN_TERMS.use == "unknown"


def test_licence_terms_parses_strings_and_raises_on_bad_ones() -> None:
    with pytest.raises(LicenceExpressionError):
        licence_terms("MIT OR")


def test_or_takes_the_most_permissive_option_for_a_commercial_use() -> None:
    assert licence_terms("CC-BY-NC-4.0 OR CC-BY-4.0") == _BY
    assert licence_terms("CC-BY-4.0 OR CC-BY-NC-4.0") == _BY


def test_or_prefers_fewer_duties_when_both_allow() -> None:
    assert licence_terms("CC-BY-SA-4.0 OR CC0-1.0") == _PD


def test_or_ties_go_to_the_option_written_first() -> None:
    assert licence_terms("MIT OR ISC") == licence_terms("MIT")


def test_or_depends_on_the_use() -> None:
    either = "CC-BY-ND-4.0 OR CC-BY-NC-4.0"
    # Training (a derivative) for a commercial platform: neither allows; the broader one is shown.
    assert licence_terms(either, commercial=True, derivative=True) == _BY_ND
    # Non-commercial training: NC allows it, ND does not.
    assert licence_terms(either, commercial=False, derivative=True) == _NC
    # Commercial inference (no derivative): ND allows it.
    assert licence_terms(either, commercial=True, derivative=False) == _BY_ND


def test_or_prefers_an_unverifiable_option_over_a_forbidding_one() -> None:
    assert licence_terms("CC-BY-NC-4.0 OR LicenseRef-Foo") == UNKNOWN_TERMS
    assert licence_terms("CC-BY-NC-4.0 OR LicenseRef-Foo", commercial=False) == _NC


def test_and_requires_every_part() -> None:
    assert licence_terms("MIT AND CC-BY-SA-4.0") == _BY_SA
    assert licence_terms("MIT AND CC-BY-NC-4.0").use == "non-commercial"
    assert licence_terms("CC-BY-ND-4.0 AND CC-BY-SA-4.0") == LicenceTerms(
        "all", attribution=True, share_alike=True, no_derivatives=True
    )


def test_and_with_an_unknown_part_is_unknown_unless_a_part_forbids_everything() -> None:
    assert licence_terms("MIT AND LicenseRef-Foo") == LicenceTerms("unknown", attribution=True, known=False)
    assert licence_terms("LicenseRef-All-Rights-Reserved AND LicenseRef-Foo").use == "none"


def test_or_inside_and_is_resolved_per_part() -> None:
    assert licence_terms("(CC-BY-NC-4.0 OR CC0-1.0) AND MIT") == _BY
