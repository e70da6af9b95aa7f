"""``consentry ledger export`` and ``consentry ledger verify``.

Export reads the running ledger over HTTP and writes the C2SP tlog-tiles layout; verify needs
only that directory and the log's verifier key (no database, no broker, no network). ``verify
--url`` reads a live log's tiles over HTTP into a temporary directory and verifies that copy the
same way, so what the log *serves* is what gets checked.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError, SchemaValidator, core_schema, to_json

from consentry.client import ConsentryClient, ConsentryError
from consentry_shared.contracts.v1 import Evidence, LedgerEntry
from consentry_shared.tlog import TlogError, VerificationError, canonical_json, verify_export, write_export


class VerifyUsageError(Exception):
    """The export or the key could not be read (exit 2), as opposed to a failed verification."""


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    message: str
    notes: tuple[str, ...] = ()


def export_log(client: ConsentryClient, directory: Path) -> str:
    """Write (or extend) an export of the log at ``directory``; returns a one-line summary."""
    note = client.checkpoint()
    if note is None:
        raise ConsentryError("the log is empty: nothing to export yet")
    vkey = client.vkey()
    directory.mkdir(parents=True, exist_ok=True)
    stats = write_export(directory, note, vkey, client.leaves)
    return f"exported to {directory}: {stats}"


_ENTRY_KEYS = tuple(sorted(LedgerEntry.model_fields))
_EVIDENCE_KEYS = tuple(sorted(Evidence.model_fields))
_MAX_SAFE_INT = 2**53 - 1


def _written_form(entry: LedgerEntry) -> bytes | None:
    """The entry as the ledger writes it: its values, keys in RFC 8785 order, compact JSON.

    Equal to the leaf in the normal case, which then is canonical: for these values (strings,
    ASCII keys, integers up to 2**53, datetimes as pydantic writes them) pydantic-core's compact
    JSON of key-sorted dicts is the RFC 8785 form. About five times cheaper than parsing the
    leaf and canonicalising it; on any difference the caller does that exact check instead.
    """
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


# Schema types the fast path may copy from LedgerEntry's schema as they are: validating them
# gives the same values as the model does, and pydantic-core writes those values back in the
# form the ledger wrote (a float would not be RFC 8785: it is not here, so it is refused).
_PLAIN_TYPES = frozenset({"str", "bool", "datetime", "literal"})


def _fast_schema(schema: Any) -> Any:
    """A pydantic-core schema that accepts only leaves LedgerEntry accepts *and* whose values,
    written back by ``to_json``, are the ledger's written form; ``None`` if LedgerEntry's schema
    holds anything this translation does not know (then every entry takes the model path).

    Models become typed dicts with their keys in RFC 8785 order, unknown keys forbidden; an
    optional field may be absent but not ``null`` (the ledger leaves nulls out); enums become
    the literal set of their values; integers must be at most 2**53 - 1. Every change makes the
    schema stricter than the model's, never looser: a leaf it refuses goes to the model path,
    which has the last word.
    """
    kind = schema.get("type")
    if kind == "model":
        fields = schema.get("schema", {})
        if fields.get("type") != "model-fields" or fields.get("computed_fields"):
            return None
        if set(schema.get("config", {})) - {"extra_fields_behavior", "title"}:
            return None
        if schema.get("custom_init") or schema.get("root_model") or schema.get("post_init"):
            return None
        typed: dict[str, Any] = {}
        for name in sorted(fields["fields"]):
            inner = fields["fields"][name]["schema"]
            required = True
            if inner["type"] == "default":
                required, inner = False, inner["schema"]
            if inner["type"] == "nullable":
                inner = inner["schema"]
            converted = _fast_schema(inner)
            if converted is None:
                return None
            typed[name] = core_schema.typed_dict_field(converted, required=required)
        return core_schema.typed_dict_schema(typed, extra_behavior="forbid")
    if kind == "list":
        items = _fast_schema(schema["items_schema"])
        return None if items is None else {**schema, "items_schema": items}
    if kind == "enum" and schema.get("sub_type") == "str":
        return core_schema.literal_schema([member.value for member in schema["members"]])
    if kind == "int":
        return {**schema, "le": min(schema.get("le", _MAX_SAFE_INT), _MAX_SAFE_INT)}
    if kind == "function-after" and schema["function"]["type"] == "no-info":
        # A field validator (the same function on the same value); not a model validator,
        # which would be handed a dict instead of the model.
        if schema["schema"].get("type") not in _PLAIN_TYPES:
            return None
        return schema
    if kind in _PLAIN_TYPES:
        return schema
    return None


def _fast_validator() -> SchemaValidator | None:
    schema = _fast_schema(LedgerEntry.__pydantic_core_schema__)
    # Caching the strings of values costs a look-up each and never hits (ids, URLs): keys only.
    return None if schema is None else SchemaValidator(schema, {"cache_strings": "keys"})


_FAST = _fast_validator()


class _EntryChecker:
    """Checks each leaf is a canonical, schema-valid entry at its own index, with per-partition
    source offsets strictly increasing.

    Two paths, one verdict. The fast one validates the leaf with :data:`_FAST` straight into
    plain values in key order and accepts it if ``to_json`` of them gives back the leaf byte for
    byte (then the leaf is the entry's written form, hence canonical, and valid for the model).
    Anything else takes the model path, which decides and words the message (``_checked``).
    """

    def __init__(self) -> None:
        self._last_offset: dict[tuple[str, int], int] = {}
        self._first_offset: dict[tuple[str, int], int] = {}

    def __call__(self, index: int, leaf: bytes) -> str | None:
        if _FAST is not None:
            try:
                values = _FAST.validate_json(leaf)
                fast = to_json(values) == leaf
            except Exception:  # whatever the fast path cannot settle, the model path does
                fast = False
            if fast:
                if values["index"] != index:
                    return f"carries index {values['index']} at position {index}"
                return self._follow(values["topic"], values["partition"], values["offset"])
        return self._checked(index, leaf)

    def _checked(self, index: int, leaf: bytes) -> str | None:
        try:
            entry = LedgerEntry.model_validate_json(leaf)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            return f"does not match the ledger entry schema: {field}: {first['msg']}"
        if _written_form(entry) != leaf and not _is_canonical(leaf):
            return "is not in RFC 8785 canonical form"
        if entry.index != index:
            return f"carries index {entry.index} at position {index}"
        return self._follow(entry.topic, entry.partition, entry.offset)

    def _follow(self, topic: str, partition: int, offset: int) -> str | None:
        position = (topic, partition)
        previous = self._last_offset.get(position)
        if previous is not None and offset <= previous:
            return f"source offset {offset} of {topic}/{partition} is not after {previous}"
        if previous is None:
            self._first_offset[position] = offset
        self._last_offset[position] = offset
        return None

    # SplittableEntryCheck: `consentry ledger verify` checks ranges of the log in parallel.

    def fresh(self) -> _EntryChecker:
        return _EntryChecker()

    def summary(self) -> dict[tuple[str, int], tuple[int, int]]:
        """Per (topic, partition): the first and the last source offset of this range."""
        return {key: (first, self._last_offset[key]) for key, first in self._first_offset.items()}

    def follows(self, summary: object) -> bool:
        assert isinstance(summary, dict)
        for key, (first, _) in summary.items():
            previous = self._last_offset.get(key)
            if previous is not None and first <= previous:
                return False  # nothing taken in: the range is checked again, entry by entry
        for key, (first, last) in summary.items():
            self._first_offset.setdefault(key, first)
            self._last_offset[key] = last
        return True


def _is_canonical(leaf: bytes) -> bool:
    try:
        return canonical_json(json.loads(leaf)) == leaf
    except (ValueError, TlogError):
        return False


def _read_vkey(vkey: str) -> str:
    path = Path(vkey)
    return path.read_text(encoding="utf-8").strip() if path.is_file() else vkey.strip()


def _read_since(since: Path | None) -> str | None:
    if since is None:
        return None
    try:
        return since.read_text(encoding="utf-8")
    except OSError as error:
        raise VerifyUsageError(f"cannot read --since {since}: {error}") from None


def verify_log(
    directory: Path, *, vkey: str | None, since: Path | None, save: Path | None, jobs: int | None = None
) -> VerifyResult:
    """Verify the export at ``directory``; see ``consentry ledger verify --help``.

    On success the verified checkpoint is written to ``save``, or else back to ``since``.
    ``jobs`` processes check ranges of entries in parallel (default: one per CPU); the result
    and the entry a failure names do not depend on it.
    """
    if vkey is None:
        vkey_path = directory / "vkey"
        if not vkey_path.exists():
            raise VerifyUsageError(f"no --vkey given and {vkey_path} does not exist")
        vkey = vkey_path.read_text(encoding="utf-8").strip()
    else:
        vkey = _read_vkey(vkey)
    if not (directory / "checkpoint").exists():
        raise VerifyUsageError(f"{directory} has no checkpoint: is it an export?")
    return _verify_directory(directory, vkey, since, save or since, jobs)


def verify_url(
    url: str, *, vkey: str | None, since: Path | None, save: Path | None, jobs: int | None = None
) -> VerifyResult:
    """Verify the live log at ``url`` from the tiles it serves; see ``consentry ledger verify --help``.

    Raises the client's errors when the log cannot be read (exit 4).
    """
    from consentry.proofs import LedgerHttp, ProofFailed, mirror_tiles

    notes: list[str] = []
    with LedgerHttp(url) as http, tempfile.TemporaryDirectory(prefix="consentry-verify-") as scratch:
        if vkey is None:
            vkey = http.get("/vkey").decode("utf-8").strip()
            notes.append(
                "note: using the key the log itself serves; pass --vkey to verify the log's identity too"
            )
        else:
            vkey = _read_vkey(vkey)
        try:
            mirror_tiles(http, Path(scratch))
        except ProofFailed as failure:
            return VerifyResult(False, str(failure), tuple(notes))
        result = _verify_directory(Path(scratch), vkey, since, save or since, jobs)
    return VerifyResult(result.ok, result.message, tuple(notes))


def _verify_directory(
    directory: Path, vkey: str, since: Path | None, save: Path | None, jobs: int | None
) -> VerifyResult:
    saved = _read_since(since)
    if jobs is None:
        jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        report = verify_export(directory, vkey, since=saved, entry_check=_EntryChecker(), jobs=jobs)
    except VerificationError as failure:
        return VerifyResult(False, str(failure))
    except ValueError as error:  # a malformed key
        raise VerifyUsageError(str(error)) from None
    if save is not None:
        save.write_text(report.checkpoint_note, encoding="utf-8")  # exactly what was verified
    consistent = f"; consistent with the saved checkpoint {since}" if since is not None else ""
    return VerifyResult(
        True,
        f"OK: {report.entries_checked} entries verified; size {report.size}, "
        f"origin {report.origin}, root {report.root_hash.hex()}{consistent}",
    )
