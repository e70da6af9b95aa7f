"""The CAWG training-and-data-mining assertion (``cawg.training-mining``, formerly ``c2pa.training-mining``).

Input is the manifest store as C2PA tools print it (``c2patool``, ``c2pa.Reader.json()``):
``{"active_manifest": <label>, "manifests": {<label>: {"assertions": [...]}}, ...}``; a single
manifest (with ``assertions``) or a bare list of assertions is accepted too. Only the active
manifest speaks for the asset (ingredients' manifests describe other assets); without an
``active_manifest`` every manifest is read. Assertion labels may carry an instance suffix
(``cawg.training-mining__1``). The assertion's ``entries`` map keys such as
``cawg.ai_generative_training`` (or ``c2pa.``-prefixed, or custom) to ``{"use": ...,
"constraint_info": ...}`` (``constraints_info`` is accepted as well).

Decision table per entry (signal ``c2pa.training-mining``):

============  ==================================  =====================================
``use``       status                              purposes
============  ==================================  =====================================
allowed       ``not-reserved``                    the entry's own purposes
notAllowed    ``reserved``                        own purposes, widened (below)
constrained   ``constrained`` (CAWG: "treated     own purposes, widened
              as notAllowed" without more
              information; a deal can cover it)
other/absent  ``unknown``                         own purposes, widened
============  ==================================  =====================================

Entry purposes: ``*.ai_generative_training`` -> generative training; ``*.ai_training`` ->
other (non-generative) training, and when restrictive also generative training unless the
assertion has its own generative entry; ``*.ai_inference`` -> inference; ``*.data_mining`` ->
search, and when restrictive every purpose (training and inference mine the data too).
Custom entries are ignored. Other outcomes:

- no training-mining assertion: ``unset``; unreadable JSON or a malformed assertion: ``unknown``;
- a store whose ``validation_status`` or ``validation_results.activeManifest.failure`` lists
  failures (or whose ``validation_state`` is ``Invalid``):
  permissive entries cannot be trusted and become ``unknown``; restrictions stand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from .base import (
    ALL_PURPOSES,
    GENERATIVE,
    INFERENCE,
    SEARCH,
    TRAINING,
    SignalReading,
    Status,
    clip,
    decode_text,
    unknown,
)

__all__ = ["read_c2pa_training_mining"]

SIGNAL: Final = "c2pa.training-mining"
_LABELS: Final = ("cawg.training-mining", "c2pa.training-mining")
_ENTRY_PURPOSES: Final[dict[str, frozenset[str]]] = {
    "ai_generative_training": frozenset({GENERATIVE}),
    "ai_training": frozenset({TRAINING}),
    "ai_inference": frozenset({INFERENCE}),
    "data_mining": frozenset({SEARCH}),
}
_USE: Final[dict[str, Status]] = {
    "allowed": "not-reserved",
    "notAllowed": "reserved",
    "constrained": "constrained",
}


def _is_training_mining(label: object) -> bool:
    if not isinstance(label, str):
        return False
    base = label.split("__", 1)[0]
    return any(base == known or base.startswith(known + ".v") for known in _LABELS)


def _assertions(store: Any) -> tuple[list[Any], list[str]]:
    """The assertions that speak for the asset, and the validation failures of the store."""
    failures: list[str] = []
    if isinstance(store, list):
        return store, failures
    if not isinstance(store, dict):
        raise ValueError("the manifest store is not a JSON object")
    for status in store.get("validation_status") or []:
        code = status.get("code") if isinstance(status, dict) else status
        failures.append(str(code))
    results = store.get("validation_results")
    active_results = results.get("activeManifest") if isinstance(results, dict) else None
    if isinstance(active_results, dict):
        for status in active_results.get("failure") or []:
            failures.append(str(status.get("code") if isinstance(status, dict) else status))
    if str(store.get("validation_state", "")).lower() == "invalid":
        failures.append("validation_state Invalid")
    if "assertions" in store:
        manifests = [store]
    else:
        found = store.get("manifests")
        if isinstance(found, list):
            found = {str(index): manifest for index, manifest in enumerate(found)}
        if not isinstance(found, dict):
            raise ValueError("no manifests in the manifest store")
        active = store.get("active_manifest")
        manifests = [found[active]] if isinstance(active, str) and active in found else list(found.values())
    assertions: list[Any] = []
    for manifest in manifests:
        if not isinstance(manifest, dict) or not isinstance(manifest.get("assertions", []), list):
            raise ValueError("a manifest is not an object with a list of assertions")
        assertions.extend(manifest.get("assertions", []))
    return assertions, failures


def read_c2pa_training_mining(
    manifest_store: str | bytes | Mapping[str, Any] | list[Any], *, source: str | None = None
) -> list[SignalReading]:
    """Readings from the training-mining assertion(s) of ``manifest_store``. Never raises."""
    try:
        store = (
            json.loads(decode_text(manifest_store))
            if isinstance(manifest_store, (str, bytes))
            else manifest_store
        )
        assertions, failures = _assertions(store)
    except (ValueError, TypeError, RecursionError, AttributeError) as error:
        return [unknown(SIGNAL, source, None, f"manifest store unreadable: {error}")]
    found = [item for item in assertions if isinstance(item, dict) and _is_training_mining(item.get("label"))]
    if not found:
        return [SignalReading(SIGNAL, source, None, "unset", ALL_PURPOSES, "no training-mining assertion")]
    readings: list[SignalReading] = []
    for assertion in found:
        label = assertion["label"]
        data = assertion.get("data")
        entries = data.get("entries") if isinstance(data, dict) else None
        if not isinstance(entries, dict) or not all(isinstance(key, str) for key in entries):
            readings.append(unknown(SIGNAL, source, label, f"{label}: no entries map"))
            continue
        readings.extend(_entry_readings(label, entries, failures, source))
    return readings


def _entry_readings(
    label: str, entries: dict[str, Any], failures: list[str], source: str | None
) -> list[SignalReading]:
    kinds = {key.rsplit(".", 1)[-1]: key for key in entries}
    readings: list[SignalReading] = []
    for key, entry in entries.items():
        kind = key.rsplit(".", 1)[-1]
        purposes = _ENTRY_PURPOSES.get(kind)
        if purposes is None:
            continue  # a custom entry: not a purpose this reader knows
        use = entry.get("use") if isinstance(entry, dict) else None
        status: Status = _USE.get(use, "unknown") if isinstance(use, str) else "unknown"
        info = None
        if isinstance(entry, dict):
            info = entry.get("constraint_info", entry.get("constraints_info"))
        raw = clip(f"{label}: {key}={json.dumps(entry, ensure_ascii=False, sort_keys=True)}")
        detail = f"{key} use={use!r}" if status == "unknown" else f"{key}: {use}"
        if isinstance(info, str) and info:
            detail += f"; constraints: {info}"
        if status != "not-reserved":
            if kind == "data_mining":
                purposes = ALL_PURPOSES
            elif kind == "ai_training" and "ai_generative_training" not in kinds:
                purposes = purposes | {GENERATIVE}
        elif failures:
            status = "unknown"
            detail += f"; not trusted, the manifest failed validation: {', '.join(failures)}"
        readings.append(SignalReading(SIGNAL, source, raw, status, purposes, clip(detail)))
    if not readings:
        readings.append(SignalReading(SIGNAL, source, label, "unset", ALL_PURPOSES, "no known entries"))
    return readings
