"""Parsing a registry import (JSONL, one record per line by ``kind``) with line-and-field errors."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import ValidationError

from consentry_shared.contracts.v1 import Deal, Reservation, Work, registry_record_adapter

RegistryRecord = Reservation | Deal | Work


@dataclass(frozen=True, slots=True)
class ImportLineError:
    """One rejected line: where, which field, what is wrong."""

    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", field {self.field}" if self.field else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class ParsedImport:
    records: list[RegistryRecord]
    errors: list[ImportLineError]


def parse_registry_jsonl(lines: Iterable[bytes], *, max_errors: int = 100) -> ParsedImport:
    """Parse registry JSONL. Blank lines are skipped; every other line must be a valid record.

    A record id repeated within one import is an error (which of the two was meant?). Parsing
    goes on after an error so the holder sees up to ``max_errors`` problems at once.
    """
    records: list[RegistryRecord] = []
    errors: list[ImportLineError] = []
    first_line: dict[tuple[str, str], int] = {}
    for number, raw in enumerate(lines, start=1):
        if len(errors) >= max_errors:
            break
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            errors.append(ImportLineError(number, None, f"not valid UTF-8 at byte {error.start}"))
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            errors.append(ImportLineError(number, None, f"invalid JSON: {error.msg} at column {error.colno}"))
            continue
        if not isinstance(data, dict):
            errors.append(ImportLineError(number, None, "a record must be a JSON object"))
            continue
        if data.get("kind") not in ("reservation", "deal", "work"):
            errors.append(ImportLineError(number, "kind", "must be one of reservation, deal, work"))
            continue
        try:
            record = registry_record_adapter.validate_python(data)
        except ValidationError as error:
            for problem in error.errors()[:5]:
                loc = [str(p) for p in problem["loc"]]
                if loc and loc[0] in ("reservation", "deal", "work"):
                    loc = loc[1:]
                errors.append(ImportLineError(number, ".".join(loc) or None, problem["msg"]))
            continue
        key = (record.kind, record.id)
        if key in first_line:
            errors.append(
                ImportLineError(
                    number, "id", f"{record.kind} {record.id!r} already on line {first_line[key]}"
                )
            )
            continue
        first_line[key] = number
        records.append(record)
    return ParsedImport(records, errors)
