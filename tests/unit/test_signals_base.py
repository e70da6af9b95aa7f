"""The common reading type, its evidence, combine() and the package's public surface."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

import consentry_rights.domain.signals as signals
from consentry_rights.domain.signals import (
    ALL_PURPOSES,
    STATUS_ORDER,
    SignalReading,
    combine,
    reading_to_evidence,
)
from consentry_rights.domain.signals.base import header_values
from consentry_shared.contracts.v1 import Evidence, Purpose

AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TRAINING = frozenset({"ai-training", "ai-generative-training"})


def reading(
    status: str, purposes: frozenset[str] = ALL_PURPOSES, signal: str = "s", **extra: object
) -> SignalReading:
    return SignalReading(signal, None, None, status, purposes, **extra)  # type: ignore[arg-type]


def test_the_public_surface_is_complete() -> None:
    own = set()
    for name in dir(signals):
        value = getattr(signals, name)
        if name.startswith("_") or inspect.ismodule(value):
            continue
        module = getattr(value, "__module__", None)
        if module is None or module.startswith("consentry_rights"):  # constants and our own names
            own.add(name)
    type_aliases = {"Headers", "Status"}  # typing constructs report typing as their module
    assert set(signals.__all__) == own | type_aliases
    assert all(hasattr(signals, name) for name in signals.__all__)


def test_purposes_are_the_contract_purposes() -> None:
    assert {purpose.value for purpose in Purpose} == ALL_PURPOSES


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"signal": "", "status": "reserved", "purposes": ALL_PURPOSES}, "signal name"),
        ({"signal": "s", "status": "denied", "purposes": ALL_PURPOSES}, "unknown status"),
        ({"signal": "s", "status": "reserved", "purposes": frozenset({"crawl"})}, "unknown purposes"),
    ],
)
def test_a_reading_checks_its_own_fields(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SignalReading(source=None, raw=None, **kwargs)  # type: ignore[arg-type]


def test_evidence_keeps_signal_source_and_a_canonical_value() -> None:
    found = SignalReading(
        "tdmrep.header",
        "https://a.example/x",
        "tdm-reservation: 1",
        "constrained",
        TRAINING,
        "policy offers tdm:mine",
        "https://a.example/policy.json",
        True,
    )
    evidence = reading_to_evidence(found, seen_at=AT, body_sha256="A" * 64)
    assert isinstance(evidence, Evidence)
    assert (evidence.signal, evidence.ref, evidence.seen_at, evidence.body_sha256) == (
        "tdmrep.header",
        "https://a.example/x",
        AT,
        "a" * 64,
    )
    assert evidence.value == (
        '{"detail":"policy offers tdm:mine","policy_url":"https://a.example/policy.json",'
        '"purposes":["ai-generative-training","ai-training"],"raw":"tdm-reservation: 1",'
        '"requires_payment":true,"status":"constrained"}'
    )
    assert found.to_evidence(seen_at=AT, body_sha256="a" * 64) == evidence


def test_evidence_omits_what_is_not_set() -> None:
    assert json.loads(reading_to_evidence(reading("unset")).value or "") == {
        "status": "unset",
        "purposes": sorted(ALL_PURPOSES),
    }


def test_raw_values_are_clipped() -> None:
    (found,) = signals.read_content_usage_header({"content-usage": "train-ai=n, " + "x=y, " * 1000 + "z=n"})
    assert found.raw is not None
    assert len(found.raw) == 1024


# --- combine -----------------------------------------------------------------------------------


def test_the_order_of_statuses() -> None:
    assert STATUS_ORDER == ("reserved", "constrained", "unknown", "not-reserved", "unset")


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["not-reserved", "reserved"], "reserved"),
        (["constrained", "unknown", "not-reserved"], "constrained"),
        (["unknown", "not-reserved"], "unknown"),
        (["not-reserved", "unset"], "not-reserved"),
        (["unset"], "unset"),
        ([], "unset"),
    ],
)
def test_the_most_restrictive_status_wins(statuses: list[str], expected: str) -> None:
    assert combine(reading(status) for status in statuses).status("ai-training") == expected


def test_combine_is_per_purpose_and_names_the_deciding_readings() -> None:
    robots = reading("reserved", TRAINING, "robots.txt")
    header = reading("not-reserved", ALL_PURPOSES, "tdmrep.header")
    usage = reading("reserved", frozenset({"ai-training"}), "robots.content-usage")
    combined = combine([robots, header, usage])
    assert combined.status("ai-training") == "reserved"
    assert combined.deciding("ai-training") == (robots, usage)
    assert combined.status("search") == "not-reserved"
    assert combined.deciding("search") == (header,)
    assert combined.by_purpose["ai-inference"].deciding == (header,)
    assert set(combined.by_purpose) == ALL_PURPOSES


def test_payment_is_reported_with_the_deciding_readings() -> None:
    paid = reading("constrained", TRAINING, "rsl", requires_payment=True)
    free_duty = reading("constrained", TRAINING, "c2pa.training-mining")
    combined = combine([paid, free_duty, reading("reserved", frozenset({"search"}), requires_payment=True)])
    assert combined.by_purpose["ai-training"].requires_payment
    assert not combined.by_purpose["ai-inference"].requires_payment


statuses_strategy = st.sampled_from(STATUS_ORDER)
purposes_strategy = st.frozensets(st.sampled_from(sorted(ALL_PURPOSES)), min_size=1)


@given(st.lists(st.tuples(statuses_strategy, purposes_strategy), max_size=8))
def test_combine_properties(pairs: list[tuple[str, frozenset[str]]]) -> None:
    readings = [reading(status, purposes) for status, purposes in pairs]
    combined = combine(readings)
    assert combined == combine(list(readings))  # deterministic
    for purpose in ALL_PURPOSES:
        seen = [status for status, purposes in pairs if purpose in purposes]
        rank = min((STATUS_ORDER.index(s) for s in seen), default=len(STATUS_ORDER) - 1)
        assert combined.status(purpose) == STATUS_ORDER[rank]
        assert all(r.status == combined.status(purpose) for r in combined.deciding(purpose))


# --- headers as callers hold them -----------------------------------------------------------------


def test_header_values_from_mappings_and_pairs() -> None:
    assert header_values({"X-Robots-Tag": "noai", "x-other": "y"}, "x-robots-tag") == ["noai"]
    assert header_values({"x-robots-tag": ["a", "b"]}, "X-Robots-Tag") == ["a", "b"]
    assert header_values([("X-Robots-Tag", "a"), ("x-robots-tag", "b")], "x-robots-tag") == ["a", "b"]
    assert header_values([], "x") == []


def test_header_values_skip_what_is_not_text() -> None:
    odd: dict[str, object] = {"x-robots-tag": None, "X-Robots-Tag": 3, "x-ROBOTS-tag": ["noai", None]}
    assert header_values(odd, "x-robots-tag") == ["noai"]  # type: ignore[arg-type]
