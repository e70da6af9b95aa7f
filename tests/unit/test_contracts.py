"""The v1 contracts: what ingest may put in an item is what the contract accepts."""

from __future__ import annotations

import typing

from consentry_ingest.domain import EVIDENCE_FIELDS
from consentry_shared.contracts import v1


def test_every_evidence_field_ingest_reads_has_a_place_in_items_v1() -> None:
    assert set(typing.get_args(v1.CrawlEvidenceField)) == set(EVIDENCE_FIELDS)


def test_public_surface_is_complete() -> None:
    public = {
        name
        for name, value in vars(v1).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == v1.__name__
    }
    assert public <= set(v1.__all__), public - set(v1.__all__)
