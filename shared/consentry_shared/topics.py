"""Kafka topic names. The version is part of the name: a breaking contract change is a new topic."""

from typing import Final

MANIFESTS: Final = "manifests.v1"
ITEMS: Final = "items.v1"
DECISIONS: Final = "decisions.v1"
RIGHTS_UPDATES: Final = "rights.updates.v1"
LEDGER_ENTRIES: Final = "ledger.entries.v1"

ALL: Final = (MANIFESTS, ITEMS, DECISIONS, RIGHTS_UPDATES, LEDGER_ENTRIES)


def dead_letter(topic: str) -> str:
    """The dead-letter topic of ``topic``: where its poison messages go, with the reason."""
    return f"{topic}.dlq"
