"""Live revocation: which earlier decisions a registry change can touch, and what becomes of them.

A new reservation, a revoked or expired deal, or a corrected work licence changes the verdict of
items decided before it. :func:`selectors_of` says which stored items a change may affect (by
sha256, md5, work identifier, domain and URL prefix: the same selectors the records match on; a
work by all its hashes and identifiers); :func:`redecide` decides
such an item again and, only when the verdict flips, returns the new decision with its first
reason saying which way: ``consent-revoked`` or ``consent-granted``. :func:`redecide_batch` does
the same for many items through :func:`~.batch.decide_batch` (one change can touch 100,000
earlier decisions; the batch path shares the work their common matches and licences make).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from consentry_shared.contracts.v1 import Deal, Holder, ItemEvent, Match, Reservation, Verdict, Work

from .batch import decide_batch
from .decide import Decision, Policy, decide
from .registry import RegistryView, normalise_url
from .web_signals import DEFAULT_DOCUMENTS, ParsedDocuments

CONSENT_REVOKED = "consent-revoked"
CONSENT_GRANTED = "consent-granted"


@dataclass(frozen=True, slots=True)
class Selectors:
    """What a set of registry changes covers: an item is affected if any selector matches it."""

    sha256: frozenset[str] = field(default_factory=frozenset)
    domains: frozenset[str] = field(default_factory=frozenset)
    url_prefixes: frozenset[str] = field(default_factory=frozenset)
    md5: frozenset[str] = field(default_factory=frozenset)
    identifiers: frozenset[str] = field(default_factory=frozenset)

    def __bool__(self) -> bool:
        return bool(self.sha256 or self.domains or self.url_prefixes or self.md5 or self.identifiers)

    def covers(self, item: ItemEvent, host: str) -> bool:
        """Whether a selector matches ``item`` (``host``: its URL's host, lower case): the exact
        test a store's query may only approximate from above."""
        url = str(item.url)
        return (
            (item.sha256 is not None and item.sha256 in self.sha256)
            or (item.md5 is not None and item.md5 in self.md5)
            or any(identifier in self.identifiers for identifier in item.identifiers or ())
            or any(host == domain or host.endswith("." + domain) for domain in self.domains)
            or any(url.startswith(prefix) for prefix in self.url_prefixes)
        )


def selectors_of(records: Iterable[Reservation | Deal | Work | Holder]) -> Selectors:
    """The selectors of every changed record (a work by its hashes and identifiers, the others by
    their match). A holder record matches no item."""
    sha256: set[str] = set()
    md5: set[str] = set()
    identifiers: set[str] = set()
    domains: set[str] = set()
    prefixes: set[str] = set()
    for record in records:
        if isinstance(record, Holder):
            continue
        if isinstance(record, Work):
            if record.sha256:
                sha256.add(record.sha256)
            if record.md5:
                md5.add(record.md5)
            identifiers.update(record.identifiers)
            continue
        match: Match = record.match
        if match.sha256:
            sha256.add(match.sha256)
        if match.md5:
            md5.add(match.md5)
        if match.identifier:
            identifiers.add(match.identifier)
        if match.domain:
            domains.add(match.domain)
        if match.url_prefix:
            prefixes.add(normalise_url(match.url_prefix))  # stored items are normalised
    return Selectors(
        frozenset(sha256), frozenset(domains), frozenset(prefixes), frozenset(md5), frozenset(identifiers)
    )


def redecide(
    item: ItemEvent, previous: Verdict, registry: RegistryView, policy: Policy, at: datetime
) -> Decision | None:
    """The item's decision under ``registry`` if its verdict differs from ``previous``, else None.

    An item that was not consented before and still is not (violation <-> unknown) does not
    flip: only the line between consent and no consent is news for the ledger.
    """
    return _flipped(previous, decide(item, registry, policy, at))


def redecide_batch(
    candidates: Sequence[tuple[ItemEvent, Verdict]],
    registry: RegistryView,
    policy: Policy,
    at: datetime,
    *,
    documents: ParsedDocuments = DEFAULT_DOCUMENTS,
) -> list[Decision | None]:
    """``[redecide(item, previous, registry, policy, at) for item, previous in candidates]``,
    the items decided together by :func:`~.batch.decide_batch` (which gives exactly the
    decisions :func:`~.decide.decide` gives, at a fraction of the cost)."""
    decisions = decide_batch([item for item, _ in candidates], registry, policy, at, documents=documents)
    # decide_batch hands equal decisions out as one object: their flips are one object too (a
    # caller encoding each decision once, as the service does, then encodes each flip once).
    # ``decisions`` keeps every object alive, so an id is not reused while this runs.
    flips: dict[tuple[int, bool], Decision | None] = {}
    found: list[Decision | None] = []
    for (_, previous), decision in zip(candidates, decisions, strict=True):
        key = id(decision), previous == Verdict.CONSENT
        if key not in flips:
            flips[key] = _flipped(previous, decision)
        found.append(flips[key])
    return found


def _flipped(previous: Verdict, decision: Decision) -> Decision | None:
    """``decision`` with its flip as first reason if it crosses the consent line, else None."""
    was_consent = previous == Verdict.CONSENT
    is_consent = decision.verdict == Verdict.CONSENT
    if was_consent == is_consent:
        return None
    change = CONSENT_GRANTED if is_consent else CONSENT_REVOKED
    return Decision(decision.verdict, (change, *decision.reasons), decision.evidence)
