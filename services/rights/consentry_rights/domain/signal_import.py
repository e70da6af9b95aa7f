"""An origin's signal files (``robots.txt``, ``ai.txt``, ``tdmrep.json``) turned into registry
reservations, so a holder can register what their site already says once, with the file kept as
evidence.

Pure: the file's bytes, its origin, its hash and the time are passed in. The signal parsers of
:mod:`.signals` decide; this module only chooses *where* to ask them. Each path a file names is a
candidate scope (``origin + path``, a URL prefix); the parser evaluates the file for that URL as
it would for an item there, and the purposes it finds reserved (or constrained: usable only under
a licence, which grants nothing until a deal covers it) become one reservation:

============  =========================================================  ======================
file          candidate paths                                            purposes reserved by
============  =========================================================  ======================
robots.txt    ``/``, every ``Disallow``, ``Content-Usage`` and           each AI crawler token
              ``Content-Signal`` path                                    (:data:`AI_USER_AGENTS`)
ai.txt        ``/``, every ``Disallow`` path (``/...``)                  the ``*`` group
tdmrep.json   every ``location`` (a final ``*`` is a prefix)             the first matching rule
============  =========================================================  ======================

What a URL prefix cannot say is reported in :attr:`SignalImport.notes`, never guessed: patterns
with an inner ``*`` or a ``$`` (``Disallow: /*.jpg$``), ai.txt file globs (``*.jpg``), groups for
one platform's own token, a location on another host, and an ``Allow`` carved out of a reserved
path (the reservation covers the whole prefix; the engine still reads the file itself exactly
when an item carries or fetches it). A scope already covered by a shorter one with the same or
more purposes is not repeated.

Records are ``reservation`` records with the id ``<file>:<origin><path>``, ``from`` the time of
the import, and ``evidence_sha256`` the file's hash. Importing a newer file for the same origin
closes (``until`` = now) the reservations the old file made that the new one no longer makes, and
keeps the ``from`` of those it repeats: the registry's valid time follows what the site said when.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from urllib.parse import urlsplit

from consentry_shared.contracts.v1 import Match, Reservation

from .signals import AI_USER_AGENTS, AiTxt, RobotsTxt, SignalReading, TdmRepFile, read_tdmrep
from .signals.base import AI_PURPOSES, ALL_PURPOSES

__all__ = [
    "SIGNAL_FILES",
    "SignalFileError",
    "SignalImport",
    "canonical_origin",
    "record_id_prefix",
    "reservations_from_signal_file",
    "signal_file_kind",
]

SIGNAL_FILES: Final = ("robots.txt", "ai.txt", "tdmrep.json")
_BINDING: Final = frozenset({"reserved", "constrained"})
_DIRECTIVE: Final = re.compile(r"^\s*([A-Za-z-]+)\s*:\s*(.*?)\s*$")
_PATH_LINES: Final = frozenset({"disallow", "content-usage", "content-signal"})


class SignalFileError(ValueError):
    """The file or origin cannot be imported at all (the message says why)."""


@dataclass(frozen=True, slots=True)
class SignalImport:
    """The reservations a file makes (new, repeated or closed) and what it could not express."""

    records: list[Reservation]
    notes: list[str]


def signal_file_kind(name: str) -> str | None:
    """The signal file ``name`` (a path or URL) is, by its last segment: ``robots.txt``,
    ``ai.txt``, ``tdmrep.json`` or ``None``."""
    last = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()
    return last if last in SIGNAL_FILES else None


def canonical_origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` in lower case, default port dropped."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise SignalFileError(f"origin {url!r}: {error}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise SignalFileError(f"origin {url!r} must be an http or https URL with a host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SignalFileError(f"origin {url!r} must have no path, query or fragment")
    scheme = parts.scheme.lower()
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def record_id_prefix(kind: str, origin: str) -> str:
    """The id prefix of every record a ``kind`` file of ``origin`` makes."""
    return f"{kind}:{origin}/"


def _record_purposes(purposes: frozenset[str]) -> list[str]:
    if purposes >= ALL_PURPOSES:
        return ["all"]
    if purposes >= AI_PURPOSES:
        return ["ai-all", *sorted(purposes - AI_PURPOSES)]
    return sorted(purposes)


def _reserved(readings: Sequence[SignalReading]) -> frozenset[str]:
    found: set[str] = set()
    for reading in readings:
        if reading.status in _BINDING:
            found |= reading.purposes
    return frozenset(found)


def _robots(body: bytes, origin: str, notes: list[str]) -> dict[str, frozenset[str]]:
    parsed = RobotsTxt.parse(body, source=f"{origin}/robots.txt")
    text = body.decode("utf-8", errors="replace")
    candidates = ["/"]
    agents: list[str] = []
    in_agents = False
    known = {token.lower() for token in AI_USER_AGENTS} | {"*"}
    noted: set[tuple[str, ...]] = set()
    for line in text.splitlines():
        found = _DIRECTIVE.match(line.split("#", 1)[0])
        if not found:
            continue
        name, value = found.group(1).lower(), found.group(2)
        if name == "user-agent":
            agents = agents if in_agents else []
            agents.append(value.split("/", 1)[0].strip().lower())
            in_agents = True
            continue
        in_agents = False
        if name == "allow" and value and value != "/":
            candidates.append(f"allow:{value}")
        elif name in _PATH_LINES and value:
            path = value.split(None, 1)[0] if value.startswith("/") else "/"
            candidates.append(path)
        if name == "disallow" and value and not set(agents) & known and tuple(agents) not in noted:
            noted.add(tuple(agents))
            notes.append(
                f"robots.txt: the group for {', '.join(agents)} is not for an AI crawler "
                "(the engine reads it when that platform's own token is the user)"
            )
    scopes: dict[str, frozenset[str]] = {}
    allows = [c.removeprefix("allow:") for c in candidates if c.startswith("allow:")]
    for path in dict.fromkeys(c for c in candidates if not c.startswith("allow:")):
        if not _representable(path, "robots.txt", notes):
            continue
        purposes = _reserved(parsed.evaluate(origin + path).readings)
        if purposes:
            scopes[path] = purposes
    _note_carve_outs(scopes, allows, "robots.txt", notes)
    return scopes


def _ai_txt(body: bytes, origin: str, notes: list[str]) -> dict[str, frozenset[str]]:
    parsed = AiTxt.parse(body, source=f"{origin}/ai.txt")
    candidates = ["/"]
    allows: list[str] = []
    for line in body.decode("utf-8", errors="replace").splitlines():
        found = _DIRECTIVE.match(line.split("#", 1)[0])
        if not found or not found.group(2):
            continue
        name, value = found.group(1).lower(), found.group(2)
        if name == "disallow":
            if value.startswith("/"):
                candidates.append(value)
            elif value != "*":
                notes.append(
                    f"ai.txt: 'Disallow: {value}' names files by pattern, which a URL prefix cannot "
                    "express (the engine reads it when an item carries or fetches ai.txt)"
                )
        elif name == "allow" and value not in ("/", "*"):
            allows.append(value)
    scopes: dict[str, frozenset[str]] = {}
    for path in dict.fromkeys(candidates):
        if not _representable(path, "ai.txt", notes):
            continue
        purposes = _reserved([parsed.evaluate(origin + path)])
        if purposes:
            scopes[path] = purposes
    _note_carve_outs(scopes, allows, "ai.txt", notes)
    return scopes


def _tdmrep(body: bytes, origin: str, notes: list[str]) -> dict[str, frozenset[str]]:
    parsed = TdmRepFile.parse(body, source=f"{origin}/.well-known/tdmrep.json")
    if parsed.error is not None:
        raise SignalFileError(parsed.error)
    if parsed.skipped:
        notes.append(f"tdmrep.json: {parsed.skipped} rule(s) without location or tdm-reservation ignored")
    host = urlsplit(origin).hostname
    scopes: dict[str, frozenset[str]] = {}
    for rule in parsed.rules:
        location = rule.location
        if "://" in location:
            if urlsplit(location).hostname != host:
                notes.append(f"tdmrep.json: location {location!r} is on another host; ignored")
                continue
            location = urlsplit(location).path or "/"
        path = location[:-1] if location.endswith("*") and "*" not in location[:-1] else location
        if not path.startswith("/"):
            path = "/" + path
        if not _representable(path, "tdmrep.json", notes):
            continue
        url = origin + path
        purposes = _reserved([read_tdmrep(url, well_known=parsed)])
        if purposes:
            scopes.setdefault(path, purposes)
    return scopes


def _representable(path: str, kind: str, notes: list[str]) -> bool:
    if "*" in path or "$" in path:
        notes.append(f"{kind}: pattern {path!r} is not a URL prefix; no registry record made for it")
        return False
    return True


def _note_carve_outs(
    scopes: dict[str, frozenset[str]], allows: list[str], kind: str, notes: list[str]
) -> None:
    for allowed in dict.fromkeys(allows):
        covering = sorted((path for path in scopes if allowed.startswith(path) and allowed != path), key=len)
        if covering:
            notes.append(
                f"{kind}: 'Allow: {allowed}' inside reserved {covering[-1]!r}: the reservation covers it "
                "(a registry scope has no exceptions; the engine reads the file itself exactly)"
            )


def _drop_covered(scopes: dict[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    kept: dict[str, frozenset[str]] = {}
    for path in sorted(scopes, key=len):
        purposes = scopes[path]
        if any(path.startswith(shorter) and kept[shorter] >= purposes for shorter in kept):
            continue
        kept[path] = purposes
    return kept


_READERS: Final = {"robots.txt": _robots, "ai.txt": _ai_txt, "tdmrep.json": _tdmrep}


def reservations_from_signal_file(
    kind: str,
    body: bytes,
    *,
    origin: str,
    holder: str,
    evidence_sha256: str,
    at: datetime,
    previous: Sequence[Reservation] = (),
) -> SignalImport:
    """The reservations the ``kind`` file ``body`` of ``origin`` makes for ``holder`` at ``at``.

    ``previous`` are the current records an earlier file of the same kind and origin made (ids
    starting with :func:`record_id_prefix`): those the new file repeats keep their ``from``, those
    it drops are returned closed (``until`` = ``at``). Raises :class:`SignalFileError` for an
    unknown kind or a file that cannot be read at all (a tdmrep.json that is not a JSON array).
    """
    reader = _READERS.get(kind)
    if reader is None:
        raise SignalFileError(f"unknown signal file {kind!r} (one of {', '.join(SIGNAL_FILES)})")
    notes: list[str] = []
    scopes = _drop_covered(reader(body, origin, notes))
    prefix = record_id_prefix(kind, origin)
    earlier = {record.id: record for record in previous if record.id.startswith(prefix)}
    records: list[Reservation] = []
    for path, purposes in sorted(scopes.items()):
        record_id = f"{kind}:{origin}{path}"
        wanted = _record_purposes(purposes)
        before = earlier.pop(record_id, None)
        still_open = before is not None and (before.valid_until is None or before.valid_until > at)
        since = before.valid_from if before is not None and still_open and before.purposes == wanted else at
        records.append(
            Reservation.model_validate(
                {
                    "id": record_id,
                    "holder": holder,
                    "match": Match(url_prefix=origin + path),
                    "purposes": wanted,
                    "from": since,
                    "evidence_sha256": evidence_sha256,
                }
            )
        )
    for record in sorted(earlier.values(), key=lambda r: r.id):
        if record.valid_until is None or record.valid_until > at:
            records.append(record.model_copy(update={"valid_until": at, "evidence_sha256": evidence_sha256}))
    return SignalImport(records, notes)
