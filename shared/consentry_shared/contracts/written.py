"""A ledger entry's written form: how the ledger writes an entry's leaf, recomputed from the model.

Compact JSON of the entry's values with keys in sorted order and nulls left out, which for the
values an entry holds (strings, ASCII keys, integers up to 2**53 - 1, datetimes as pydantic writes
them) is exactly the RFC 8785 form the leaf must have. Readers that parsed a leaf into a
:class:`~consentry_shared.contracts.v1.LedgerEntry` compare this with the leaf's bytes: equal means
canonical, at a fraction of the cost of canonicalising the leaf; on any difference they run the
exact check instead. (The ledger's verify and rebuild both do this.)
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic_core import PydanticSerializationError, to_json

from consentry_shared.contracts.v1 import Evidence, LedgerEntry

__all__ = ["written_form"]

_ENTRY_KEYS = tuple(sorted(LedgerEntry.model_fields))
_EVIDENCE_KEYS = tuple(sorted(Evidence.model_fields))
_MAX_SAFE_INT = 2**53 - 1


def written_form(entry: LedgerEntry) -> bytes | None:
    """The entry as the ledger writes it, or ``None`` where this shortcut cannot speak for RFC 8785
    (an integer past 2**53 - 1, a value pydantic cannot serialise): the caller then checks exactly."""
    if max(entry.index, entry.partition, entry.offset, entry.registry_version) > _MAX_SAFE_INT:
        return None
    values: dict[str, Any] = {}
    for key in _ENTRY_KEYS:
        value = getattr(entry, key)
        if key == "evidence":
            value = [{k: v for k in _EVIDENCE_KEYS if (v := getattr(item, k)) is not None} for item in value]
        elif isinstance(value, Enum):
            value = value.value
        if value is not None:
            values[key] = value
    try:
        return to_json(values)
    except PydanticSerializationError:
        return None
