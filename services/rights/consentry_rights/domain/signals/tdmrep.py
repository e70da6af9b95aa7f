"""W3C TDM Reservation Protocol (TDMRep, final community group report of 2024).

Three techniques carry two properties, ``tdm-reservation`` and ``tdm-policy``:

- the origin's ``/.well-known/tdmrep.json``: a JSON array of rules ``{"location", "tdm-reservation",
  "tdm-policy"}``; the *first* rule whose ``location`` matches the item's path wins (robots-style
  ``*`` and final ``$``, case-sensitive); no matching rule means ``unset``;
- HTTP response headers ``tdm-reservation`` / ``tdm-policy``, which supersede the file;
- HTML ``<meta name="tdm-reservation" content=...>`` / ``tdm-policy``, which supersede both.

Each property supersedes separately (a header giving only the reservation keeps the file's
policy). Values and the decision table (signal ``tdmrep.well-known``, ``tdmrep.header`` or
``tdmrep.meta``: the technique that decided):

==========================================  ==========================================================
effective ``tdm-reservation``               status (for every purpose: TDM in the sense of the DSM
                                            directive covers training, inference and indexing)
==========================================  ==========================================================
``1``, no policy / policy not read /        ``reserved`` (the spec: an inaccessible or unparseable
policy unreadable / policy offers nothing   policy is not an error; nothing allows the use)
``1``, policy offers ``tdm:mine`` for the   ``constrained`` (a licence is on offer); payment required
caller's purpose (research/non-research)    when every applicable offer carries ``compensate``
``0``                                       ``not-reserved``
anything else (``2``, ``"1"``, ``true``)    a protocol error: ``unset`` (the spec's rule)
absent everywhere                           ``unset``
a technique present but unreadable          ``unknown``, unless a valid value above it decides
==========================================  ==========================================================

Two conservative choices the spec leaves open: an invalid value at a higher technique does not
erase a valid one below it (the spec would make it ``unset``; we keep the lower value and note
the error), and a ``0`` does not stand when a technique above it could not be read.

The policy is an ODRL 2.2 ``Offer`` with profile ``http://www.w3.org/ns/tdmrep``, permissions
with action ``tdm:mine``, duties ``obtainConsent`` / ``compensate`` and an optional constraint
``purpose eq tdm:research | tdm:non-research``; see :func:`parse_tdm_policy`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal, TypeAlias
from urllib.parse import urljoin, urlsplit

from ._markup import meta_tags
from ._patterns import PathPattern, url_path
from .base import (
    ALL_PURPOSES,
    Headers,
    SignalParseError,
    SignalReading,
    Status,
    clip,
    decode_text,
    header_values,
)

__all__ = [
    "TDMREP_PROFILE",
    "TdmDeclaration",
    "TdmPermission",
    "TdmPolicy",
    "TdmRepFile",
    "parse_tdm_policy",
    "read_tdmrep",
    "read_tdmrep_headers",
    "read_tdmrep_meta",
    "read_tdmrep_meta_tags",
    "resolve_tdmrep",
]

TDMREP_PROFILE: Final = "http://www.w3.org/ns/tdmrep"
_TDM_NS: Final = "http://www.w3.org/ns/tdmrep#"
_ODRL_NS: Final = "http://www.w3.org/ns/odrl/2/"

Level: TypeAlias = Literal["well-known", "header", "meta"]
Reservation: TypeAlias = Literal[0, 1]
_SIGNAL: Final[dict[Level, str]] = {
    "well-known": "tdmrep.well-known",
    "header": "tdmrep.header",
    "meta": "tdmrep.meta",
}


@dataclass(frozen=True, slots=True)
class TdmDeclaration:
    """What one technique declares for one item.

    ``reservation`` is ``None`` when the property is absent or invalid (``note`` says which);
    ``error`` is set when the technique's body could not be read at all.
    """

    level: Level
    reservation: Reservation | None
    policy: str | None
    raw: str | None
    source: str | None
    note: str | None = None
    error: str | None = None


def _string_reservation(value: str) -> tuple[Reservation | None, str | None]:
    text = value.strip()
    if text == "1":
        return 1, None
    if text == "0":
        return 0, None
    return None, f"tdm-reservation {text!r} is a protocol error (only 0 or 1): unset"


def _json_reservation(value: object) -> tuple[Reservation | None, str | None]:
    # JSON true is an int in Python; the spec's property is the integer 0 or 1.
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return (1 if value == 1 else 0), None
    shown = json.dumps(value)[:80]
    return None, f"tdm-reservation {shown} is a protocol error (only 0 or 1): unset"


# --- the well-known file -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _WellKnownRule:
    location: str
    host: str | None  # set when the location is a full URL
    pattern: PathPattern
    reservation: Reservation | None
    policy: str | None
    raw: str
    note: str | None


class TdmRepFile:
    """A parsed ``/.well-known/tdmrep.json``. Parse once per origin, then ask per item."""

    __slots__ = ("error", "rules", "skipped", "source")

    def __init__(
        self, rules: Sequence[_WellKnownRule], source: str | None, error: str | None, skipped: int = 0
    ) -> None:
        self.rules = tuple(rules)
        self.source = source
        self.error = error
        self.skipped = skipped

    @classmethod
    def parse(cls, body: str | bytes, *, source: str | None = None) -> TdmRepFile:
        """Parse the file; never raises. An unreadable file has ``error`` set and no rules."""
        try:
            document = json.loads(decode_text(body))
        except (ValueError, RecursionError) as error:
            return cls((), source, f"tdmrep.json is not JSON: {error}")
        if not isinstance(document, list):
            return cls((), source, "tdmrep.json is not a JSON array of rules")
        rules: list[_WellKnownRule] = []
        skipped = 0
        for entry in document:
            location = entry.get("location") if isinstance(entry, dict) else None
            if not isinstance(location, str) or not location or "tdm-reservation" not in entry:
                skipped += 1  # location and tdm-reservation are mandatory
                continue
            reservation, note = _json_reservation(entry["tdm-reservation"])
            policy = entry.get("tdm-policy")
            host: str | None = None
            path = location
            if "://" in location:
                parts = urlsplit(location)
                host, path = (parts.hostname or "").lower(), parts.path or "/"
            rules.append(
                _WellKnownRule(
                    location,
                    host,
                    PathPattern.compile(path),
                    reservation,
                    policy if isinstance(policy, str) and policy else None,
                    clip(json.dumps(entry, ensure_ascii=False, sort_keys=True)) or "",
                    note,
                )
            )
        return cls(rules, source, None, skipped)

    def declaration_for(self, url: str) -> TdmDeclaration | None:
        """The first matching rule's declaration for ``url``; ``None`` if no rule matches."""
        if self.error is not None:
            return TdmDeclaration("well-known", None, None, None, self.source, error=self.error)
        path = url_path(url)
        host: str | None = None
        for rule in self.rules:
            if rule.host is not None:
                if host is None:
                    host = (urlsplit(url).hostname or "").lower()
                if rule.host != host:
                    continue
            if rule.pattern.matches(path):
                note = f"rule for {rule.location!r}"
                if rule.note:
                    note = f"{note}: {rule.note}"
                return TdmDeclaration(
                    "well-known", rule.reservation, rule.policy, rule.raw, self.source, note
                )
        return None


# --- headers and HTML -------------------------------------------------------------------------


def _declare(
    level: Level, reservations: list[str], policies: list[str], source: str | None
) -> TdmDeclaration | None:
    if not reservations and not policies:
        return None
    parsed = [_string_reservation(value) for value in reservations]
    valid = {value for value, _ in parsed if value is not None}
    notes = [note for _, note in parsed if note is not None]
    reservation: Reservation | None = None
    if valid:
        reservation = 1 if 1 in valid else 0
        if len(valid) > 1:
            notes.append("conflicting tdm-reservation values: the reservation stands")
    elif not reservations:
        notes.append("tdm-policy without tdm-reservation")
    policy = next((value.strip() for value in policies if value.strip()), None)
    raw = "; ".join(
        [f"tdm-reservation: {value}" for value in reservations]
        + [f"tdm-policy: {value}" for value in policies]
    )
    return TdmDeclaration(level, reservation, policy, clip(raw), source, "; ".join(notes) or None)


def read_tdmrep_headers(headers: Headers, *, source: str | None = None) -> TdmDeclaration | None:
    """The declaration in the ``tdm-reservation`` / ``tdm-policy`` response headers, if any."""
    return _declare(
        "header", header_values(headers, "tdm-reservation"), header_values(headers, "tdm-policy"), source
    )


def read_tdmrep_meta(html: str | bytes, *, source: str | None = None) -> TdmDeclaration | None:
    """The declaration in the page's ``<meta name="tdm-reservation">`` / ``tdm-policy``, if any."""
    try:
        tags = meta_tags(html)
    except SignalParseError as error:
        return TdmDeclaration("meta", None, None, None, source, error=str(error))
    return read_tdmrep_meta_tags(tags, source=source)


def read_tdmrep_meta_tags(
    tags: Iterable[tuple[str, str]], *, source: str | None = None
) -> TdmDeclaration | None:
    """As :func:`read_tdmrep_meta`, from meta tags already extracted as (lower-case name, content)
    pairs (crawl-time evidence often carries them so, without the page)."""
    tags = list(tags)
    reservations = [content for name, content in tags if name == "tdm-reservation"]
    policies = [content for name, content in tags if name == "tdm-policy"]
    return _declare("meta", reservations, policies, source)


# --- the ODRL policy ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TdmPermission:
    """One ``tdm:mine`` permission on offer.

    ``purpose`` is the constraint's right operand (``research`` / ``non-research``), ``None``
    without one, ``other`` for a constraint this reader does not evaluate; ``duties`` are ODRL
    action names (``obtainConsent``, ``compensate``, ...).
    """

    purpose: Literal["research", "non-research", "other"] | None
    duties: frozenset[str]
    target: str | None = None


@dataclass(frozen=True, slots=True)
class TdmPolicy:
    """A TDMRep policy: an ODRL ``Offer`` of ``tdm:mine`` permissions."""

    uid: str | None
    permissions: tuple[TdmPermission, ...]
    contact: str | None = None

    def offers_for(self, *, research: bool) -> tuple[TdmPermission, ...]:
        """The permissions that apply to a research (or non-research) use."""
        wanted = "research" if research else "non-research"
        return tuple(
            permission for permission in self.permissions if permission.purpose in (None, wanted, "other")
        )


def _as_list(value: object) -> list[object]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _term(value: object) -> str | None:
    """An ODRL term as a short name: ``tdm:mine``/IRI -> ``tdm:mine``, ``odrl:x``/IRI -> ``x``."""
    if isinstance(value, dict):
        value = value.get("@id", value.get("rdf:value", value.get("value")))
        if isinstance(value, dict):
            value = value.get("@id")
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith(_TDM_NS):
        return "tdm:" + text[len(_TDM_NS) :]
    for prefix in (_ODRL_NS, "odrl:"):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def _permission(entry: object) -> TdmPermission | None:
    if not isinstance(entry, dict):
        raise SignalParseError("a permission is not a JSON object")
    actions = {_term(action) for action in _as_list(entry.get("action"))}
    if "tdm:mine" not in actions:
        return None
    duties: set[str] = set()
    for duty in _as_list(entry.get("duty")):
        if not isinstance(duty, dict):
            raise SignalParseError("a duty is not a JSON object")
        duties.update(name for name in map(_term, _as_list(duty.get("action"))) if name)
    purpose: Literal["research", "non-research", "other"] | None = None
    for constraint in _as_list(entry.get("constraint")):
        if not isinstance(constraint, dict):
            raise SignalParseError("a constraint is not a JSON object")
        left, operator = _term(constraint.get("leftOperand")), _term(constraint.get("operator"))
        right = _term(constraint.get("rightOperand"))
        if left == "purpose" and operator == "eq" and right in ("tdm:research", "tdm:non-research"):
            found: Literal["research", "non-research"] = (
                "research" if right == "tdm:research" else "non-research"
            )
            purpose = found if purpose in (None, found) else "other"
        else:
            purpose = "other"
    target = entry.get("target")
    return TdmPermission(purpose, frozenset(duties), target if isinstance(target, str) else None)


def parse_tdm_policy(body: str | bytes) -> TdmPolicy:
    """Parse a TDMRep policy. Raises :class:`SignalParseError` unless it is a TDMRep ODRL Offer."""
    try:
        document: Any = json.loads(decode_text(body))
    except (ValueError, RecursionError) as error:
        raise SignalParseError(f"policy is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise SignalParseError("policy is not a JSON object")
    profiles = {_term(value) for value in _as_list(document.get("profile"))}
    if TDMREP_PROFILE not in profiles:
        raise SignalParseError(f"policy profile is not {TDMREP_PROFILE}")
    if {_term(value) for value in _as_list(document.get("@type", document.get("type")))} != {"Offer"}:
        raise SignalParseError("policy @type is not Offer")
    permissions = tuple(
        found for found in map(_permission, _as_list(document.get("permission"))) if found is not None
    )
    uid = document.get("uid", document.get("@id"))
    assigner = document.get("assigner")
    contact = None
    if isinstance(assigner, dict):
        for key in ("vcard:hasURL", "vcard:hasEmail", "uid"):
            if isinstance(assigner.get(key), str):
                contact = assigner[key]
                break
    return TdmPolicy(uid if isinstance(uid, str) else None, permissions, contact)


def _policy_outcome(
    policy_url: str | None, body: str | bytes | None, fetch_error: str | None, research: bool
) -> tuple[Status, str, bool]:
    if policy_url is None:
        return "reserved", "no tdm-policy", False
    if body is None:
        return "reserved", f"policy not read ({fetch_error or 'not fetched'})", False
    try:
        policy = parse_tdm_policy(body)
    except SignalParseError as error:
        return "reserved", f"policy unreadable, the reservation stands: {error}", False
    offers = policy.offers_for(research=research)
    use = "research" if research else "non-research"
    if not offers:
        return "reserved", f"policy {policy.uid or policy_url} offers no tdm:mine permission for {use}", False
    duties = sorted({duty for offer in offers for duty in offer.duties})
    payment = all("compensate" in offer.duties for offer in offers)
    terms = f"duties {', '.join(duties)}" if duties else "no duties"
    contact = f"; contact {policy.contact}" if policy.contact else ""
    detail = f"policy {policy.uid or policy_url} offers tdm:mine for {use} with {terms}{contact}"
    return "constrained", detail, payment


# --- precedence and the reading ---------------------------------------------------------------


def resolve_tdmrep(
    declarations: Iterable[TdmDeclaration | None],
    *,
    url: str,
    policy: str | bytes | None = None,
    policy_error: str | None = None,
    research: bool = False,
) -> SignalReading:
    """The effective reading from ``declarations`` given lowest precedence first.

    ``policy`` is the fetched body of the effective ``tdm-policy`` (relative URLs are resolved
    against ``url``), ``policy_error`` why it could not be fetched. See the module table.
    """
    present = [declaration for declaration in declarations if declaration is not None]
    deciding: TdmDeclaration | None = None
    policy_url: str | None = None
    overridden: list[str] = []
    for declaration in present:
        if declaration.error is None and declaration.reservation is not None:
            if deciding is not None:
                overridden.append(f"{_SIGNAL[deciding.level]}={deciding.reservation}")
            deciding = declaration
        if declaration.error is None and declaration.policy is not None:
            policy_url = declaration.policy
    notes = [f"{_SIGNAL[d.level]}: {d.note}" for d in present if d.note and d is not deciding]
    unreadable = [d for d in present if d.error is not None]
    if deciding is None:
        last = present[-1] if present else None
        signal = _SIGNAL[last.level] if last else _SIGNAL["well-known"]
        if unreadable:
            errors = "; ".join(f"{_SIGNAL[d.level]}: {d.error}" for d in unreadable)
            return SignalReading(signal, unreadable[-1].source, None, "unknown", ALL_PURPOSES, clip(errors))
        detail = "; ".join(notes) if notes else "no TDMRep declaration"
        return SignalReading(
            signal,
            last.source if last else None,
            clip(last.raw if last else None),
            "unset",
            ALL_PURPOSES,
            clip(detail),
        )
    signal = _SIGNAL[deciding.level]
    context = [deciding.note] if deciding.note else []
    if overridden:
        context.append("overrides " + ", ".join(overridden))
    context.extend(notes)
    above = present[present.index(deciding) + 1 :]
    if deciding.reservation == 0:
        blocked = [d for d in above if d.error is not None]
        if blocked:
            errors = "; ".join(f"{_SIGNAL[d.level]}: {d.error}" for d in blocked)
            context.append(f"tdm-reservation 0 cannot stand: a technique above it is unreadable ({errors})")
            return SignalReading(
                signal, deciding.source, deciding.raw, "unknown", ALL_PURPOSES, clip("; ".join(context))
            )
        return SignalReading(
            signal,
            deciding.source,
            deciding.raw,
            "not-reserved",
            ALL_PURPOSES,
            clip("; ".join(context)) if context else None,
        )
    resolved_policy = urljoin(url, policy_url) if policy_url else None
    status, detail, payment = _policy_outcome(resolved_policy, policy, policy_error, research)
    context.insert(0, detail)
    return SignalReading(
        signal,
        deciding.source,
        deciding.raw,
        status,
        ALL_PURPOSES,
        clip("; ".join(context)),
        resolved_policy,
        payment,
    )


def read_tdmrep(
    url: str,
    *,
    well_known: TdmRepFile | str | bytes | None = None,
    headers: Headers | None = None,
    html: str | bytes | None = None,
    policy: str | bytes | None = None,
    policy_error: str | None = None,
    research: bool = False,
    well_known_source: str | None = None,
) -> SignalReading:
    """The TDMRep reading for the item at ``url`` (meta > header > well-known).

    ``well_known`` is the origin's tdmrep.json (parsed once with :meth:`TdmRepFile.parse`, or
    its body), ``headers`` the item's response headers, ``html`` its HTML body. Never raises.
    """
    file = well_known
    if isinstance(file, (str, bytes)):
        file = TdmRepFile.parse(file, source=well_known_source)
    declarations = [
        file.declaration_for(url) if file is not None else None,
        read_tdmrep_headers(headers, source=url) if headers is not None else None,
        read_tdmrep_meta(html, source=url) if html is not None else None,
    ]
    reading = resolve_tdmrep(
        declarations, url=url, policy=policy, policy_error=policy_error, research=research
    )
    if file is not None and reading.status == "unset" and not any(declarations):
        return replace(reading, source=file.source, detail="no rule of tdmrep.json matches the item")
    return reading
