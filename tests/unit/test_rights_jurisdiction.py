"""The manifest's jurisdiction picks the regime (EU and JP opt-out by default), before its territory."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consentry_rights.domain import Policy, RegistryView, decide
from consentry_shared.contracts.v1 import ItemEvent

AT = datetime(2026, 11, 27, tzinfo=UTC)


def item(**fields: object) -> ItemEvent:
    return ItemEvent.model_validate(
        {
            "event_id": "e",
            "manifest_id": "m",
            "item_id": "i",
            "line": 2,
            "platform": "p",
            "purpose": "ai-training",
            "url": "https://x.example/a",
            "submitted_at": AT,
            **fields,
        }
    )


@pytest.mark.parametrize(
    ("fields", "verdict", "reason"),
    [
        ({"jurisdiction": "DE"}, "consent", "no-reservation"),
        ({"jurisdiction": "JP", "territory": "US"}, "consent", "no-reservation"),
        ({"jurisdiction": "US", "territory": "DE"}, "violation", "no-licence"),
        ({"territory": "FR"}, "consent", "no-reservation"),
        ({}, "violation", "no-licence"),
    ],
)
def test_the_jurisdiction_decides_the_regime_for_an_item_without_licence(
    fields: dict, verdict: str, reason: str
) -> None:
    decision = decide(item(**fields), RegistryView(), Policy(version="v"), AT)
    assert (decision.verdict, decision.reasons[0]) == (verdict, reason)
