"""``consentry check``: read a manifest on the platform's own machine exactly as ingest reads it,
before uploading anything.

The readers are ingest's own (:mod:`consentry_ingest.domain`), so an error found here is the
error the upload would get, with the same line and field, and a file that checks clean is one
ingest accepts (size and rate limits aside: those are the service's, per platform). Nothing is
sent anywhere and no service needs to run.

A Hugging Face dataset card is read too: it has no items of its own, so the result says which
licence its data files' items would take.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from consentry_ingest.adapters.spill import FileSpill
from consentry_ingest.domain import MAX_REPORTED_ERRORS, LineError, ManifestErrors, RawItem
from consentry_ingest.domain.formats import detect_any_format, read_manifest
from consentry_ingest.domain.formats.detect import AnyManifestFormat
from consentry_ingest.domain.formats.hf_card import CardLicence, read_hf_card
from consentry_ingest.domain.formats.read import ReadOptions
from consentry_ingest.domain.id_index import DuplicateIds

__all__ = ["CheckResult", "check_manifest"]

_DETECT_BYTES: Final = 8192  # what ingest reads to tell the format (service._DETECT_BYTES)
_TOP: Final = 10


@dataclass(slots=True)
class CheckResult:
    """What ingest would make of a manifest: its format, how many items, the first errors (in
    file order) and how many there are in all, and a profile of the items (licences as ingest
    reads them, how many carry a hash, crawl-time evidence or work identifiers)."""

    path: Path
    format: AnyManifestFormat
    items: int = 0
    errors: list[LineError] = field(default_factory=list)
    error_total: int = 0
    licences: Counter[str] = field(default_factory=Counter)
    with_sha256: int = 0
    with_md5: int = 0
    with_evidence: int = 0
    with_identifiers: int = 0
    card: CardLicence | None = None

    @property
    def ok(self) -> bool:
        """Whether ingest would accept the manifest: no error and at least one item (a dataset
        card is never uploaded on its own, so it is never ``ok``)."""
        return self.card is None and self.error_total == 0 and self.items > 0

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "file": str(self.path),
            "format": self.format,
            "ok": self.ok,
            "items": self.items,
            "errors": [{"line": e.line, "field": e.field, "message": e.message} for e in self.errors],
            "error_total": self.error_total,
            "licences": dict(self.licences.most_common()),
            "with_sha256": self.with_sha256,
            "with_md5": self.with_md5,
            "with_evidence": self.with_evidence,
            "with_identifiers": self.with_identifiers,
        }
        if self.card is not None:
            body["card"] = {
                "license": self.card.license,
                "hf_license": list(self.card.hf_license),
                "license_name": self.card.license_name,
                "license_link": self.card.license_link,
                "data_files": [list(files.patterns) for files in self.card.data_files],
            }
        return body


def check_manifest(
    path: Path,
    *,
    format: str | None = None,
    columns: Mapping[str, str | None] | None = None,
    max_errors: int = MAX_REPORTED_ERRORS,
) -> CheckResult:
    """Read ``path`` as ingest would and say what it found.

    Raises :class:`~consentry_ingest.domain.UnsupportedFormatError` for a format that cannot be
    told or is unknown, and :class:`~consentry_ingest.domain.formats.parquet.ColumnMappingError`
    for a bad ``columns`` mapping; every problem in the file itself is a :class:`LineError` in
    the result.
    """
    with path.open("rb") as source:
        head = source.read(_DETECT_BYTES)
    fmt = detect_any_format(path.name, head, override=format)
    result = CheckResult(path=path, format=fmt)
    errors = ManifestErrors(max_errors)
    if path.stat().st_size == 0:
        errors.add(LineError(line=1, field=None, message="the manifest is empty"))
    elif fmt == "hf-card":
        card = read_hf_card(path.read_bytes())
        if isinstance(card, list):
            for error in card:
                errors.add(error)
        else:
            result.card = card
    else:
        for parsed in _read(path, fmt, columns):
            if isinstance(parsed, RawItem):
                _profile(result, parsed)
            else:
                errors.add(parsed)
        if result.items == 0 and not errors.rejected:
            errors.add(LineError(line=1, field=None, message="no items in the manifest"))
    result.errors = list(errors.shown)
    result.error_total = errors.total
    return result


def _read(
    path: Path, fmt: AnyManifestFormat, columns: Mapping[str, str | None] | None
) -> Iterator[RawItem | LineError]:
    """Every item and error of the manifest, as ingest's validating pass reads them (duplicate
    ids found in bounded memory, spilling to a temporary directory for huge manifests)."""
    with tempfile.TemporaryDirectory(prefix="consentry-check-") as spill_dir, path.open("rb") as source:
        ids = DuplicateIds(FileSpill(Path(spill_dir) / "ids"))
        for batch in read_manifest(fmt, source, ReadOptions(parquet_columns=columns, duplicate_ids=ids)):
            yield from batch


def _profile(result: CheckResult, item: RawItem) -> None:
    result.items += 1
    result.licences[item.license or "(none)"] += 1
    if len(result.licences) > 1000:  # a manifest of unique licence strings: keep memory bounded
        result.licences = Counter(dict(result.licences.most_common(_TOP)))
    result.with_sha256 += item.sha256 is not None
    result.with_md5 += item.md5 is not None
    result.with_evidence += bool(item.evidence)
    result.with_identifiers += bool(item.identifiers)
