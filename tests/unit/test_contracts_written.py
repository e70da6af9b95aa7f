"""written_form: the ledger's own spelling of an entry equals its RFC 8785 form, or declines."""

from __future__ import annotations

from datetime import UTC, datetime

from consentry_shared.contracts.v1 import Evidence, LedgerEntry, Purpose, Verdict
from consentry_shared.contracts.written import written_form
from consentry_shared.tlog import canonical_json


def entry(**overrides: object) -> LedgerEntry:
    values: dict[str, object] = {
        "index": 7,
        "event_id": "e-1",
        "manifest_id": "acme:ds:1",
        "item_id": "ité€m-1",
        "platform": "acme",
        "purpose": Purpose.AI_TRAINING,
        "url": "https://x.example/a\u2028b",
        "verdict": Verdict.VIOLATION,
        "reasons": ["reservation:r1"],
        "evidence": [Evidence(signal="registry.reservation", ref="r1", value='say "no"\n')],
        "policy_version": "p1",
        "registry_version": 3,
        "decided_at": datetime(2026, 11, 28, 1, 2, 3, 456000, tzinfo=UTC),
        "topic": "decisions.v1",
        "partition": 2,
        "offset": 40,
    }
    values.update(overrides)
    return LedgerEntry.model_validate(values)


def test_the_written_form_is_the_canonical_json_of_the_entry() -> None:
    made = entry()
    assert written_form(made) == canonical_json(made.model_dump(mode="json", exclude_none=True))


def test_it_declines_where_json_numbers_stop_being_exact() -> None:
    assert written_form(entry(offset=2**53)) is None
    assert written_form(entry(offset=2**53 - 1)) is not None
