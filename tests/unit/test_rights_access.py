"""The registry's access rules, as the pure functions the API calls."""

from __future__ import annotations

import pytest

from consentry_rights.domain.access import (
    AccessDenied,
    deal_filter,
    foreign_records,
    import_owner,
    may_see,
    signal_file_holder,
)
from consentry_shared.contracts.v1 import Deal, Work

DEAL = Deal.model_validate(
    {
        "id": "d",
        "holder": "alice",
        "licensee": "acme",
        "match": {"domain": "x.example"},
        "purposes": ["ai-training"],
        "from": "2025-01-01T00:00:00Z",
        "until": "2026-01-01T00:00:00Z",
    }
)
WORK = Work(id="w", holder="bob", sha256="a" * 64, license="MIT")


def test_who_may_write_which_records() -> None:
    assert foreign_records([DEAL, WORK], [3, 7], "admin", "ops") == []
    (found,) = foreign_records([DEAL, WORK], [3, 7], "holder", "alice")
    assert (found.line, found.field) == (7, "holder")
    assert [e.line for e in foreign_records([DEAL], [3], "platform", "acme")] == [3]
    assert (import_owner("admin", "ops"), import_owner("holder", "alice")) == (None, "alice")


def test_deals_are_seen_by_their_parties_only() -> None:
    assert [
        may_see(DEAL, role, name)
        for role, name in [("admin", "x"), ("holder", "alice"), ("platform", "acme")]
    ] == [
        True,
        True,
        True,
    ]
    assert not may_see(DEAL, "holder", "bob")
    assert not may_see(DEAL, "platform", "other")
    assert may_see(WORK, "platform", "other")
    assert (deal_filter("platform", "acme").licensee, deal_filter("holder", "bob").holder) == ("acme", "bob")
    assert deal_filter("admin", "ops") == deal_filter("admin", "x")


def test_who_may_import_an_origins_signal_files() -> None:
    assert signal_file_holder("holder", "alice", "alice", None) == "alice"
    assert signal_file_holder("admin", "ops", "alice", None) == "alice"
    assert signal_file_holder("admin", "ops", None, "bob") == "bob"
    with pytest.raises(ValueError, match="registered to 'alice'"):
        signal_file_holder("admin", "ops", "alice", "bob")
    with pytest.raises(ValueError, match="name one"):
        signal_file_holder("admin", "ops", None, None)
    for role, name, registered, requested in [
        ("holder", "bob", "alice", None),
        ("holder", "alice", None, None),
        ("holder", "alice", "alice", "bob"),
        ("platform", "acme", "acme", None),
    ]:
        with pytest.raises(AccessDenied):
            signal_file_holder(role, name, registered, requested)
