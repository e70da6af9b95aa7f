"""Hugging Face dataset cards: the licence of a dataset repository, for the items of its data files.

A card is the repository's ``README.md``; its YAML front matter (between a first line ``---`` and
the next ``---``) says, among much else::

    license: other                 # a Hub licence id, or a list of them
    license_name: acme-data-licence
    license_link: LICENSE.md
    configs:
      - config_name: default
        data_files:
          - split: train
            path: data/train-*
          - split: test
            path: [data/test-*.parquet]
      - config_name: fr
        data_dir: data/fr              # every file below data/fr

A card has no items of its own: :func:`read_hf_card` reads its licence as a :class:`CardLicence`,
and :func:`apply_card_licence` gives that licence to the items read from the data files (Parquet,
CSV, JSONL...) that its ``configs[].data_files`` patterns describe -- to all files when it lists
none. An item that declares its own licence keeps it: the more specific claim wins, and rights
still checks it against the registry.

Hub licence ids are mapped to SPDX by :func:`~.licences.licence_from_hf` (``cc-by-4.0`` ->
``CC-BY-4.0``, ``other`` + ``license_name`` -> ``LicenseRef-<name>``, ``unknown`` -> none).

Errors carry the line of the card (1-based, counting the opening ``---``) and name the key
(``license``, ``configs[0].data_files[1].path``). The front matter is read up to
:data:`MAX_CARD_HEADER_BYTES`; YAML aliases are not expanded and the patterns are capped, so a
hostile card costs bounded time and memory.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import yaml

from consentry_ingest.domain.manifest import LineError, ParsedLine, RawItem

from ._items import FILE_LINE, quote
from .licences import licence_from_hf

__all__ = ["MAX_CARD_HEADER_BYTES", "CardLicence", "DataFiles", "apply_card_licence", "read_hf_card"]

MAX_CARD_HEADER_BYTES: Final = 1 << 20
"""The most of a card read to find the end of its front matter."""

_MAX_PATTERNS: Final = 10_000
_BOM: Final = "\ufeff"
_FENCE: Final = re.compile(r"---[ \t]*\r?$")


@dataclass(frozen=True, slots=True)
class DataFiles:
    """One ``data_files`` entry of a card: the files of ``split`` (``None``: not split) of
    ``config``, as glob patterns relative to the repository root."""

    config: str
    split: str | None
    patterns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CardLicence:
    """The licence a dataset card declares, and the data files it declares it for.

    ``license`` is the SPDX expression items get (``None``: the card declares none, or
    ``unknown``); ``hf_license`` the Hub ids as written; ``license_name`` and ``license_link`` as
    written. ``data_files`` is empty when the card lists no configs: it then speaks for every file.
    """

    license: str | None
    hf_license: tuple[str, ...] = ()
    license_name: str | None = None
    license_link: str | None = None
    data_files: tuple[DataFiles, ...] = ()

    def covers(self, path: str) -> bool:
        """Whether the file at ``path`` (relative to the repository root, ``/``-separated) is one
        the card describes. Patterns are Hub globs: ``*`` and ``?`` stay within a directory,
        ``**`` crosses them."""
        if not self.data_files:
            return True
        target = path.replace("\\", "/").removeprefix("./").lstrip("/")
        return any(
            _glob(pattern).fullmatch(target) is not None
            for files in self.data_files
            for pattern in files.patterns
        )

    def apply(self, item: RawItem) -> RawItem:
        """``item`` with the card's licence when it declares none itself; ``extra`` then records
        ``license_source: hf-card``, ``hf_license`` and ``license_link``."""
        if item.license is not None or self.license is None:
            return item
        extra = dict(item.extra)
        extra["license_source"] = "hf-card"
        extra["hf_license"] = ",".join(self.hf_license)
        if self.license_link:
            extra["license_link"] = self.license_link
        return dataclasses.replace(item, license=self.license, extra=MappingProxyType(extra))


def apply_card_licence(
    results: Iterable[ParsedLine], card: CardLicence, path: str | None = None
) -> list[ParsedLine]:
    """``results`` (a batch from any reader) with ``card``'s licence given to the items that lack
    one -- if the card covers ``path``, the data file they were read from (``None``: covered).
    Errors pass through unchanged."""
    if path is not None and not card.covers(path):
        return list(results)
    return [card.apply(result) if isinstance(result, RawItem) else result for result in results]


_GLOB_CACHE: dict[str, re.Pattern[str]] = {}


def _glob(pattern: str) -> re.Pattern[str]:
    compiled = _GLOB_CACHE.get(pattern)
    if compiled is not None:
        return compiled
    text = pattern.replace("\\", "/").removeprefix("./").lstrip("/")
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if text.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if text.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (end := text.find("]", i + 2)) > 0:
            body = text[i + 1 : end]
            negate = body.startswith(("!", "^"))
            body = body[1:] if negate else body
            out.append(("[^" if negate else "[") + body.replace("\\", "\\\\").replace("[", "\\[") + "]")
            i = end + 1
            continue
        else:
            out.append(re.escape(char))
        i += 1
    try:
        compiled = re.compile("".join(out))
    except re.error:
        compiled = re.compile(re.escape(text))
    if len(_GLOB_CACHE) < 1024:
        _GLOB_CACHE[pattern] = compiled
    return compiled


# --- reading -----------------------------------------------------------------------------------


def _front_matter(data: bytes) -> tuple[str, int] | LineError:
    """The YAML text between the fences, and the card line its first line is on."""
    head = data[: MAX_CARD_HEADER_BYTES + 1]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if len(head) > MAX_CARD_HEADER_BYTES and exc.start >= len(head) - 4:
            text = head[: exc.start].decode("utf-8")  # a character cut by the read limit
        else:
            bad_line = head[: exc.start].count(b"\n") + 1
            return LineError(bad_line, None, f"not valid UTF-8 at byte {exc.start + 1}")
    lines = text.removeprefix(_BOM).split("\n")
    if not lines or _FENCE.fullmatch(lines[0]) is None:
        return LineError(1, None, "no YAML front matter: a dataset card starts with a line '---'")
    for number, line in enumerate(lines[1:], start=2):
        if _FENCE.fullmatch(line) is not None:
            return "\n".join(lines[1 : number - 1]), 2
    if len(head) > MAX_CARD_HEADER_BYTES:
        return LineError(1, None, f"the front matter does not end within {MAX_CARD_HEADER_BYTES} bytes")
    return LineError(1, None, "the front matter does not end: no closing '---' line")


def _key_lines(root: yaml.Node | None, first_line: int) -> dict[str, int]:
    """Card line of each top-level key, and of each ``configs[i]`` entry, for error reports."""
    found: dict[str, int] = {}
    if not isinstance(root, yaml.MappingNode):
        return found
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and isinstance(key.value, str):
            found[key.value] = key.start_mark.line + first_line
            if key.value == "configs" and isinstance(value, yaml.SequenceNode):
                for index, entry in enumerate(value.value[:_MAX_PATTERNS]):
                    found[f"configs[{index}]"] = entry.start_mark.line + first_line
    return found


def read_hf_card(data: bytes) -> CardLicence | list[LineError]:
    """The licence a dataset card declares, or the errors that stop it being read.

    ``data`` is the card (``README.md``) or at least its first :data:`MAX_CARD_HEADER_BYTES`.
    A card without a ``license`` key is read as declaring none (``license=None``): absence is
    a fact rights judges, not a malformed card.
    """
    header = _front_matter(data)
    if isinstance(header, LineError):
        return [header]
    text, first_line = header
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        loader = yaml.SafeLoader("")
        value: Any = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = first_line + mark.line if mark is not None else FILE_LINE
        return [LineError(line, None, f"invalid YAML: {quote(str(exc.problem or exc))}")]
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as exc:
        return [LineError(first_line, None, f"invalid YAML: {quote(str(exc) or type(exc).__name__)}")]
    if value is None:
        value = {}
    if not isinstance(value, dict):
        return [LineError(first_line, None, "the front matter must be a YAML mapping of keys to values")]
    lines = _key_lines(root, first_line)
    errors: list[LineError] = []

    def error(key: str, message: str, line_key: str | None = None) -> None:
        errors.append(LineError(lines.get(line_key or key, first_line), key, message))

    hf_license = _strings(value.get("license"))
    if hf_license is None:
        error("license", "license must be a Hub licence id or a list of them")
        hf_license = ()
    names: dict[str, str | None] = {}
    for key in ("license_name", "license_link"):
        raw = value.get(key)
        if raw is not None and not isinstance(raw, str):
            error(key, f"{key} must be a string")
            raw = None
        names[key] = (raw.strip() or None) if isinstance(raw, str) else None
    data_files = _configs(value.get("configs"), error)
    if errors:
        return errors
    return CardLicence(
        license=licence_from_hf(hf_license, names["license_name"]),
        hf_license=hf_license,
        license_name=names["license_name"],
        license_link=names["license_link"],
        data_files=data_files,
    )


def _strings(value: object) -> tuple[str, ...] | None:
    """A string or a list of strings as a tuple (``None`` for anything else; ``()`` if absent)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, list) and len(value) <= _MAX_PATTERNS and all(isinstance(v, str) for v in value):
        return tuple(v for v in value if v.strip())
    return None


def _configs(value: object, error: Any) -> tuple[DataFiles, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        error("configs", "configs must be a list of {config_name, data_files}")
        return ()
    found: list[DataFiles] = []
    budget = _MAX_PATTERNS
    for index, config in enumerate(value[:_MAX_PATTERNS]):
        where = f"configs[{index}]"
        if not isinstance(config, dict):
            error(where, f"{where} must be a mapping", where)
            continue
        name = config.get("config_name", "default")
        if not isinstance(name, str):
            error(f"{where}.config_name", "config_name must be a string", where)
            continue
        files = config.get("data_files")
        if files is None:
            data_dir = config.get("data_dir")
            if isinstance(data_dir, str) and data_dir.strip().strip("/"):
                # a config given by its directory (``data_dir: data/en``) holds every file below it
                found.append(DataFiles(name, None, (data_dir.strip().strip("/") + "/**",)))
                budget -= 1
            continue
        entries: list[tuple[str | None, object, str]] = []
        if isinstance(files, list) and all(isinstance(f, str) for f in files[: _MAX_PATTERNS + 1]):
            if len(files) > _MAX_PATTERNS:
                error(f"{where}.data_files", f"more than {_MAX_PATTERNS} data_files patterns", where)
                return tuple(found)
            entries.append((None, files, f"{where}.data_files"))
        elif isinstance(files, str):
            entries.append((None, files, f"{where}.data_files"))
        elif isinstance(files, list):
            for position, entry in enumerate(files[:_MAX_PATTERNS]):
                at = f"{where}.data_files[{position}]"
                if not isinstance(entry, dict) or not isinstance(entry.get("split", ""), str):
                    error(at, "a data_files entry must be a pattern or {split, path}", where)
                    continue
                entries.append((entry.get("split"), entry.get("path"), f"{at}.path"))
        else:
            error(
                f"{where}.data_files",
                "data_files must be a pattern, a list, or a list of {split, path}",
                where,
            )
            continue
        for split, paths, at in entries:
            patterns = _strings(paths)
            if not patterns:
                error(at, "path must be a glob pattern or a list of them", where)
                continue
            budget -= len(patterns)
            if budget < 0:
                error(at, f"more than {_MAX_PATTERNS} data_files patterns", where)
                return tuple(found)
            found.append(DataFiles(name, split, patterns))
    return tuple(found)
