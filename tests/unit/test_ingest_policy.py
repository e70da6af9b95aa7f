"""The all-or-nothing policy's error tally, detect_format, and the domain's public surface."""

from __future__ import annotations

import importlib
import inspect

import pytest

from consentry_ingest import domain
from consentry_ingest.domain import (
    MAX_REPORTED_ERRORS,
    LineError,
    ManifestErrors,
    UnsupportedFormatError,
    detect_format,
)

# --- ManifestErrors ----------------------------------------------------------------------------


def test_a_manifest_without_errors_is_accepted() -> None:
    tally = ManifestErrors()
    assert not tally.rejected
    assert (tally.total, tally.shown, tally.truncated) == (0, (), False)


def test_one_error_rejects_the_manifest() -> None:
    tally = ManifestErrors()
    tally.add(LineError(7, "url", "missing url"))
    assert tally.rejected
    assert tally.shown == (LineError(7, "url", "missing url"),)


def test_only_the_first_hundred_errors_are_kept_but_all_are_counted() -> None:
    tally = ManifestErrors()
    for line in range(1, 1001):
        tally.add(LineError(line, "id", "missing id"))
    assert MAX_REPORTED_ERRORS == 100
    assert tally.total == 1000
    assert [e.line for e in tally.shown] == list(range(1, 101))
    assert tally.truncated


def test_limit_zero_counts_without_keeping() -> None:
    tally = ManifestErrors(limit=0)
    tally.add(LineError(1, None, "x"))
    assert (tally.rejected, tally.shown, tally.truncated) == (True, (), True)
    with pytest.raises(ValueError, match="negative"):
        ManifestErrors(limit=-1)


# --- detect_format -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "first_bytes", "expected"),
    [
        ("items.jsonl", b"id,url\n", "jsonl"),  # the name beats the content
        ("items.NDJSON", b"", "jsonl"),
        ("items.csv", b'{"id": 1}', "csv"),
        ("items.csv.gz", b"\x1f\x8b", "csv"),
        ("items.jsonl.zst", b"", "jsonl"),
        (None, b'{"manifest": {}}\n', "jsonl"),
        (None, b'\xef\xbb\xbf \r\n {"id": "a"}', "jsonl"),
        (None, b"id,url\n", "csv"),
        (None, b"\xef\xbb\xbfid,url\n", "csv"),
        ("upload.bin", b'{"id": "a"}', "jsonl"),
        ("items.json", b"id,url\n", "csv"),
        (None, b"", "jsonl"),
        (None, b"  \n", "jsonl"),
    ],
)
def test_format_from_name_then_content(filename: str | None, first_bytes: bytes, expected: str) -> None:
    assert detect_format(filename, first_bytes) == expected


def test_an_explicit_format_wins() -> None:
    assert detect_format("items.jsonl", b"{}", override="CSV") == "csv"
    assert detect_format("items.csv", b"id", override="jsonl") == "jsonl"
    with pytest.raises(UnsupportedFormatError, match="parquet"):
        detect_format(None, b"", override="parquet")


@pytest.mark.parametrize(
    ("filename", "first_bytes"),
    [("data.parquet", b"PAR1"), ("data.tsv", b"id\turl"), (None, b' [{"id": "a"}]')],
)
def test_unsupported_formats_are_refused(filename: str | None, first_bytes: bytes) -> None:
    with pytest.raises(UnsupportedFormatError):
        detect_format(filename, first_bytes)


# --- the public surface ------------------------------------------------------------------------


def test_the_domain_exports_exactly_its_modules_public_names() -> None:
    exported = set(domain.__all__)
    declared: set[str] = set()
    for module in ("errors", "items", "manifest", "policy"):
        declared |= set(importlib.import_module(f"consentry_ingest.domain.{module}").__all__)
    assert exported == declared
    assert all(hasattr(domain, name) for name in exported)


def test_public_callables_are_documented() -> None:
    for name in domain.__all__:
        value = getattr(domain, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert inspect.getdoc(value), name
