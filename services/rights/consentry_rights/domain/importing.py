"""Parsing a registry import (JSONL or CSV, one record per line by ``kind``) with line-and-field
errors.

Both formats go through the same checks, so a file is judged the same whichever way it came:

- the record must validate against its contract (unknown fields, bad dates, bad hashes...);
- an id may appear once per kind in one import (which of two versions was meant?);
- its scope must be able to match something (:func:`scope_problems`): a record that can never
  apply is almost always a typo that would otherwise sit silently in the registry.

CSV columns (a header row names them, in any order, any subset that includes ``kind``, ``id`` and
``holder``; an empty cell is an absent field):

========================  =====================================================================
column                    meaning
========================  =====================================================================
``kind``                  ``reservation``, ``deal``, ``work`` or ``holder``
``id``, ``holder``        the record's id and its holder (a holder's is its own id: may be empty)
``licensee``              a deal's licensee
``domain``                scope: a domain (covers its subdomains)
``url_prefix``            scope: a URL prefix
``sha256``, ``md5``       scope (reservation, deal) or the work's own hashes (work)
``identifier``            scope: a work identifier, ``isbn:...``, ``isrc:...``, ``iswc:...``,
                          ``doi:...``
``isbn``, ``isrc``,       a work's identifiers (bare values; an ISBN-10 becomes an ISBN-13)
``iswc``, ``doi``
``creator_ids``           a work's or holder's creator ids separated by ``;``
                          (``orcid:0000-0002-1825-0097;isni:000000012146438X``)
``name``, ``contact``     a holder's name and contact
``purposes``              purposes separated by ``;`` (``ai-training;search``)
``territories``           territories separated by ``;`` (``FR;DE`` or ``*``; the default)
``from``, ``until``       validity, RFC 3339 with a zone
``revoked_at``            a deal's revocation time
``attribution``           a deal's attribution: ``true``, ``false`` or the credit line to show
``compensation_basis``    a deal's compensation: ``flat``, ``per-item`` or ``revenue-share``,
``compensation_amount``   the amount (a percentage for ``revenue-share``) and
``compensation_currency`` its ISO 4217 currency
``license``               a work's licence (an SPDX expression)
``evidence_sha256``       the evidence file a record was read from
========================  =====================================================================
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import ValidationError

from consentry_shared.contracts.v1 import Deal, Holder, Reservation, Work, registry_record_adapter

RegistryRecord = Reservation | Deal | Work | Holder

CSV_COLUMNS: Final = (
    "kind",
    "id",
    "holder",
    "licensee",
    "domain",
    "url_prefix",
    "sha256",
    "md5",
    "identifier",
    "isbn",
    "isrc",
    "iswc",
    "doi",
    "creator_ids",
    "name",
    "contact",
    "purposes",
    "territories",
    "from",
    "until",
    "revoked_at",
    "attribution",
    "compensation_basis",
    "compensation_amount",
    "compensation_currency",
    "license",
    "evidence_sha256",
)
_MATCH_COLUMNS: Final = ("domain", "url_prefix", "sha256", "md5", "identifier")
_WORK_OWN_COLUMNS: Final = ("sha256", "md5")  # a work's own hashes, not a match
_LIST_COLUMNS: Final = ("purposes", "territories", "creator_ids")
_COMPENSATION_PREFIX: Final = "compensation_"
_KINDS: Final = ("reservation", "deal", "work", "holder")
_LABEL: Final = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TERRITORY: Final = re.compile(r"^[A-Za-z]{2}$")


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
    """The valid records, the line each came from (``lines[i]`` for ``records[i]``), the errors."""

    records: list[RegistryRecord]
    errors: list[ImportLineError]
    lines: list[int] = field(default_factory=list)


def _valid_host(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):  # an IPv6 literal
        return len(host) > 2
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return False
    labels = ascii_host.lower().rstrip(".").split(".")
    return len(ascii_host) <= 253 and all(_LABEL.match(label) for label in labels)


def scope_problems(record: RegistryRecord) -> list[tuple[str, str]]:
    """Why ``record`` can match nothing, as ``(field, message)`` pairs (empty when it can).

    Checked: a validity that ends before it starts; a domain or URL prefix whose host is not a
    host name (item URLs always have one, so it would never match); a territory that is not an
    ISO 3166 alpha-2 code or ``*`` (items carry alpha-2 codes only).
    """
    problems: list[tuple[str, str]] = []
    if isinstance(record, Work | Holder):
        return problems
    if record.valid_until is not None and record.valid_until <= record.valid_from:
        problems.append(("until", "ends at or before 'from': the record could never apply"))
    match = record.match
    if match.domain is not None and not _valid_host(match.domain):
        problems.append(("match.domain", f"{match.domain!r} is not a host name: it can match no item"))
    if match.url_prefix is not None:
        rest = match.url_prefix.partition("://")[2]
        authority = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2]
        host = authority if authority.startswith("[") else authority.partition(":")[0]
        if not _valid_host(host):
            problems.append(("match.url_prefix", f"host {host!r} is not a host name: it can match no item"))
    if isinstance(record, Deal | Reservation):
        for n, territory in enumerate(record.territories):
            code = territory.strip()
            if code != "*" and not _TERRITORY.match(code):
                problems.append(
                    (
                        f"territories.{n}",
                        f"{territory!r} is not an ISO 3166 alpha-2 code or '*': it matches no item",
                    )
                )
    return problems


class _Collector:
    """Validates records one line at a time and keeps the first ``max_errors`` problems."""

    def __init__(self, max_errors: int, field_names: dict[str, str] | None = None) -> None:
        self.records: list[RegistryRecord] = []
        self.lines: list[int] = []
        self.errors: list[ImportLineError] = []
        self._first_line: dict[tuple[str, str], int] = {}
        self._max_errors = max_errors
        self._field_names = field_names or {}

    @property
    def full(self) -> bool:
        return len(self.errors) >= self._max_errors

    def error(self, line: int, name: str | None, message: str) -> None:
        if name is not None:
            name = self._field_names.get(name, name)
        self.errors.append(ImportLineError(line, name, message))

    def add(self, number: int, data: Any) -> None:
        if not isinstance(data, dict):
            self.error(number, None, "a record must be a JSON object")
            return
        if data.get("kind") not in _KINDS:
            self.error(number, "kind", "must be one of reservation, deal, work, holder")
            return
        try:
            record = registry_record_adapter.validate_python(data)
        except ValidationError as error:
            for problem in error.errors()[:5]:
                loc = [str(p) for p in problem["loc"]]
                if loc and loc[0] in _KINDS:
                    loc = loc[1:]
                self.error(number, ".".join(loc) or None, problem["msg"])
            return
        problems = scope_problems(record)
        for name, message in problems:
            self.error(number, name, message)
        if problems:
            return
        key = (record.kind, record.id)
        if key in self._first_line:
            self.error(number, "id", f"{record.kind} {record.id!r} already on line {self._first_line[key]}")
            return
        self._first_line[key] = number
        self.records.append(record)
        self.lines.append(number)

    def result(self) -> ParsedImport:
        return ParsedImport(self.records, self.errors[: self._max_errors], self.lines)


def parse_registry_jsonl(lines: Iterable[bytes], *, max_errors: int = 100) -> ParsedImport:
    """Parse registry JSONL. Blank lines are skipped; every other line must be a valid record.

    Parsing goes on after an error so the holder sees up to ``max_errors`` problems at once.
    """
    found = _Collector(max_errors)
    for number, raw in enumerate(lines, start=1):
        if found.full:
            break
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            found.error(number, None, f"not valid UTF-8 at byte {error.start}")
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            found.error(number, None, f"invalid JSON: {error.msg} at column {error.colno}")
            continue
        found.add(number, data)
    return found.result()


def _csv_record(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row as the record's JSON object (empty cells left out)."""
    data: dict[str, Any] = {}
    match: dict[str, str] = {}
    compensation: dict[str, str] = {}
    work = row.get("kind", "").strip() == "work"
    for column, value in row.items():
        cell = value.strip()
        if not cell:
            continue
        if column in _LIST_COLUMNS:
            data[column] = [part.strip() for part in cell.split(";") if part.strip()]
        elif column in _MATCH_COLUMNS and not (work and column in _WORK_OWN_COLUMNS):
            match[column] = cell
        elif column.startswith(_COMPENSATION_PREFIX):
            compensation[column.removeprefix(_COMPENSATION_PREFIX)] = cell
        elif column == "attribution" and cell.lower() in ("true", "false"):
            data[column] = cell.lower() == "true"
        else:
            data[column] = cell
    if match:
        data["match"] = match
    if compensation:
        data["compensation"] = compensation
    return data


def parse_registry_csv(body: bytes, *, max_errors: int = 100) -> ParsedImport:
    """Parse a registry CSV (columns in the module docstring); errors name the line (the first
    physical line of the row, the header being line 1) and the column."""
    names = {f"match.{column}": column for column in _MATCH_COLUMNS}
    names.update({f"compensation.{key}": f"compensation_{key}" for key in ("basis", "amount", "currency")})
    found = _Collector(max_errors, names)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = body[: error.start].count(b"\n") + 1
        found.error(line, None, f"not valid UTF-8 at byte {error.start}")
        return found.result()
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as error:
        found.error(1, None, f"malformed CSV: {error}")
        return found.result()
    if header is None:
        return found.result()
    header = [name.strip() for name in header]
    for name in header:
        if name not in CSV_COLUMNS:
            found.error(1, name or None, f"unknown column {name!r} (known: {', '.join(CSV_COLUMNS)})")
    for name in ("kind", "id", "holder"):
        if name not in header:
            found.error(1, name, "required column missing")
    if len(set(header)) != len(header):
        found.error(1, None, "a column is named twice")
    if found.errors:
        return found.result()
    start = reader.line_num + 1
    while not found.full:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            found.error(start, None, f"malformed CSV: {error}")
            break
        number, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            found.error(number, None, f"{len(cells)} cells for {len(header)} columns")
            continue
        found.add(number, _csv_record(dict(zip(header, cells, strict=True))))
    return found.result()
