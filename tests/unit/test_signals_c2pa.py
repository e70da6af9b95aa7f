"""CAWG/C2PA training-mining assertion: the entries table, manifest-store shapes, validation, bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry_rights.domain.signals import ALL_PURPOSES, combine, read_c2pa_training_mining


def assertion(entries: dict[str, Any], label: str = "cawg.training-mining") -> dict[str, Any]:
    return {"label": label, "data": {"entries": entries}}


def store(*assertions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "active_manifest": "urn:uuid:active",
        "manifests": {
            "urn:uuid:active": {"claim_generator": "test", "assertions": list(assertions)},
            "urn:uuid:ingredient": {
                "assertions": [assertion({"cawg.ai_generative_training": {"use": "allowed"}})]
            },
        },
        **extra,
    }


def statuses(manifest_store: Any) -> dict[str, str]:
    combined = combine(read_c2pa_training_mining(manifest_store))
    return {purpose: combined.status(purpose) for purpose in sorted(ALL_PURPOSES)}


# Shaped like the CAWG 1.1 example: one entry per pre-defined key.
CAWG_EXAMPLE = assertion(
    {
        "cawg.ai_inference": {"use": "allowed"},
        "cawg.ai_generative_training": {"use": "notAllowed"},
        "cawg.ai_training": {"use": "constrained", "constraint_info": "may be used for research; contact us"},
        "cawg.data_mining": {"use": "constrained", "constraint_info": "https://example.com/tdm-policy"},
    }
)


def test_the_cawg_example() -> None:
    assert statuses(store(CAWG_EXAMPLE)) == {
        "ai-generative-training": "reserved",
        "ai-training": "constrained",
        "ai-inference": "constrained",  # data_mining constrained reaches every purpose
        "search": "constrained",
    }
    readings = read_c2pa_training_mining(json.dumps(store(CAWG_EXAMPLE)), source="https://i.example/a.jpg")
    constrained = [r for r in readings if r.status == "constrained" and "ai-training" in r.purposes]
    assert constrained[0].detail is not None
    assert "contact us" in constrained[0].detail
    assert {r.signal for r in readings} == {"c2pa.training-mining"}


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ({"cawg.ai_generative_training": {"use": "allowed"}}, {"ai-generative-training": "not-reserved"}),
        (
            {"cawg.ai_training": {"use": "notAllowed"}},
            {"ai-training": "reserved", "ai-generative-training": "reserved"},
        ),
        (
            {"cawg.ai_training": {"use": "notAllowed"}, "cawg.ai_generative_training": {"use": "allowed"}},
            {"ai-training": "reserved", "ai-generative-training": "not-reserved"},
        ),
        ({"cawg.ai_training": {"use": "allowed"}}, {"ai-training": "not-reserved"}),
        ({"cawg.ai_inference": {"use": "notAllowed"}}, {"ai-inference": "reserved"}),
        ({"cawg.data_mining": {"use": "allowed"}}, {"search": "not-reserved"}),
        (
            {"cawg.data_mining": {"use": "notAllowed"}},
            dict.fromkeys(("ai-generative-training", "ai-training", "ai-inference", "search"), "reserved"),
        ),
        ({"cawg.ai_inference": {"use": "sometimes"}}, {"ai-inference": "unknown"}),
        ({"cawg.ai_inference": {}}, {"ai-inference": "unknown"}),
        ({"cawg.ai_inference": "notAllowed"}, {"ai-inference": "unknown"}),
        (
            {"cawg.ai_training": {"use": "constrained", "constraints_info": "x"}},
            {"ai-training": "constrained", "ai-generative-training": "constrained"},
        ),
        ({"com.example.custom": {"use": "notAllowed"}}, {}),
    ],
)
def test_entries(entries: dict[str, Any], expected: dict[str, str]) -> None:
    result = statuses(store(assertion(entries)))
    assert {p: s for p, s in result.items() if s != "unset"} == expected


def test_the_c2pa_1x_labels() -> None:
    old = assertion(
        {"c2pa.ai_generative_training": {"use": "notAllowed"}, "c2pa.ai_inference": {"use": "allowed"}},
        label="c2pa.training-mining",
    )
    result = statuses(store(old))
    assert (result["ai-generative-training"], result["ai-inference"]) == ("reserved", "not-reserved")


def test_instance_suffixes() -> None:
    labelled = assertion({"cawg.ai_inference": {"use": "notAllowed"}}, label="cawg.training-mining__1")
    assert statuses(store(labelled))["ai-inference"] == "reserved"


def test_only_the_active_manifest_speaks_for_the_asset() -> None:
    assert set(statuses(store()).values()) == {"unset"}


def test_without_an_active_manifest_every_manifest_counts() -> None:
    manifests = store(assertion({"cawg.ai_generative_training": {"use": "notAllowed"}}))
    del manifests["active_manifest"]
    assert statuses(manifests)["ai-generative-training"] == "reserved"


def test_a_single_manifest_or_a_list_of_assertions() -> None:
    entries = {"cawg.ai_inference": {"use": "notAllowed"}}
    assert statuses({"assertions": [assertion(entries)]})["ai-inference"] == "reserved"
    assert statuses([assertion(entries)])["ai-inference"] == "reserved"


@pytest.mark.parametrize(
    "extra",
    [
        {"validation_status": [{"code": "claimSignature.mismatch"}]},
        {"validation_state": "Invalid"},
        {"validation_results": {"activeManifest": {"failure": [{"code": "assertion.dataHash.mismatch"}]}}},
    ],
)
def test_a_manifest_that_fails_validation_grants_nothing(extra: dict[str, Any]) -> None:
    entries = {"cawg.ai_inference": {"use": "allowed"}, "cawg.ai_generative_training": {"use": "notAllowed"}}
    result = statuses(store(assertion(entries), **extra))
    assert (result["ai-inference"], result["ai-generative-training"]) == ("unknown", "reserved")


@pytest.mark.parametrize(
    "manifest_store",
    [
        "",
        "{",
        "null",
        "42",
        '"text"',
        '{"manifests": 3}',
        '{"manifests": {"a": {"assertions": 1}}}',
        b"\x00\xff",
    ],
)
def test_unreadable_stores_are_unknown(manifest_store: str | bytes) -> None:
    (reading,) = read_c2pa_training_mining(manifest_store)
    assert reading.status == "unknown"


def test_an_assertion_without_entries_is_unknown() -> None:
    (reading,) = read_c2pa_training_mining(store({"label": "cawg.training-mining", "data": {"entries": []}}))
    assert reading.status == "unknown"


@given(st.one_of(st.text(), st.binary()))
def test_arbitrary_text(manifest_store: str | bytes) -> None:
    for reading in read_c2pa_training_mining(manifest_store):
        if reading.status == "not-reserved":
            text = (
                manifest_store.decode("utf-8", "replace")
                if isinstance(manifest_store, bytes)
                else manifest_store
            )
            assert "allowed" in text


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(["allowed", "notAllowed", "cawg.ai_training", "x"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["use", "entries", "data", "label", "assertions", "manifests", "active_manifest"]
            ),
            children,
            max_size=3,
        )
    ),
    max_leaves=12,
)


@given(json_values)
def test_arbitrary_json_never_raises(document: Any) -> None:
    for reading in read_c2pa_training_mining(json.dumps(document)):
        assert reading.status in ("reserved", "not-reserved", "constrained", "unknown", "unset")
