"""Deciding many items at once: :func:`decide_batch` gives exactly the Decisions that
:func:`~.decide.decide` gives item by item, at a fraction of the cost.

Why it is fast: most of what :func:`~.decide.decide` computes for an item does not depend on
the item itself but on a few of its fields, and a batch repeats them. Within one batch (one
registry view, one policy, one decision time):

- registry matches are found through :class:`~.registry.BatchMatcher` (domain matches once per
  origin, hash matches by one dict read, the general ranked lookup only where selectors mix);
- what a matching record contributes is computed once per record (and purpose, territory):
  whether a deal grants, whether a reservation binds, and its :class:`Evidence` (the records'
  evidence depends on the decision time only, so it is built once, not per item);
- the licence rule's Decision is computed once per (declared licence, commercial use, purpose,
  manifest, jurisdiction) by the reference rule itself; for an item whose hash the registry
  knows as a work, the terms of the governing licence are applied once per (licence, use,
  jurisdiction) and only the works' ids and evidence are filled in per item.

Items that carry web signals (crawl-time ``evidence``, or a ``fetched`` capture) are decided by
:func:`~.decide.decide` itself: their readings name the item's URL, so nothing is shared.

Correctness rests on one argument, checked by a differential test: every memo key holds every
field the reference rules read for that part of the decision, and on a miss the reference code
computes the value. Decisions are shared between the items of a batch (they are immutable).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Final, TypeVar
from weakref import WeakKeyDictionary

from consentry_shared.contracts.v1 import Deal, Evidence, ItemEvent, Purpose, Reservation, Verdict, Work

from .decide import (
    _TRAINING,
    Decision,
    Policy,
    _apply_claim,
    _Case,
    _deal_failure,
    _deal_terms,
    _deal_value,
    _licence_rule,
    _read_claim,
    _reservation_covers_territory,
    _reservation_in_force,
    _reservation_value,
    decide,
    purpose_covers,
    with_identity,
)
from .registry import RegistryView
from .web_signals import DEFAULT_DOCUMENTS, ParsedDocuments, SignalCapture

__all__ = ["decide_batch"]

_MISSING: Final = object()


def decide_batch(
    items: Sequence[ItemEvent],
    registry: RegistryView,
    policy: Policy,
    at: datetime,
    *,
    fetched: Sequence[SignalCapture | None] | None = None,
    documents: ParsedDocuments = DEFAULT_DOCUMENTS,
) -> list[Decision]:
    """``[decide(item, registry, policy, at, fetched=f, documents=documents) for item, f in ...]``,
    computed once per distinct case rather than once per item.

    ``fetched``, when given, has one capture (or ``None``) per item. ``at`` MUST be
    timezone-aware. Equal Decisions may be the same object.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("decision time must be timezone-aware")
    if fetched is not None and len(fetched) != len(items):
        raise ValueError(f"{len(fetched)} fetched captures for {len(items)} items")
    batch = _Batch(registry, policy, at)
    if fetched is None:
        return [
            decide(item, registry, policy, at, documents=documents) if item.evidence else batch.decide(item)
            for item in items
        ]
    return [
        decide(item, registry, policy, at, fetched=capture, documents=documents)
        if item.evidence or capture is not None
        else batch.decide(item)
        for item, capture in zip(items, fetched, strict=True)
    ]


# (declared licence, commercial, purpose, manifest id, jurisdiction, territory)
_LicenceKey = tuple[str | None, bool, Purpose, str, str | None, str | None]
# (the governing claim's text, commercial, purpose, jurisdiction, territory)
_AppliedKey = tuple[str, bool, Purpose, str | None, str | None]
_K = TypeVar("_K", _LicenceKey, _AppliedKey)


_MAX_KEPT: Final = 100_000


class _Kept:
    """Licence-rule results kept from batch to batch for one registry view and policy.

    They depend on the decision time only through their evidence's ``seen_at`` (the time of
    the batch that computed them); a later batch re-stamps them (see :func:`_restamped`)
    instead of running the rule again.
    """

    __slots__ = ("applied", "licences")

    def __init__(self) -> None:
        self.licences: dict[_LicenceKey, tuple[Decision, datetime]] = {}
        self.applied: dict[_AppliedKey, tuple[Decision, datetime]] = {}

    @staticmethod
    def keep(into: dict[_K, tuple[Decision, datetime]], key: _K, decision: Decision, at: datetime) -> None:
        if len(into) >= _MAX_KEPT:
            into.clear()
        into[key] = (decision, at)


_KEPT: Final[WeakKeyDictionary[RegistryView, dict[Policy, _Kept]]] = WeakKeyDictionary()


def _kept_for(registry: RegistryView, policy: Policy) -> _Kept:
    by_policy = _KEPT.get(registry)
    if by_policy is None:
        by_policy = _KEPT[registry] = {}
    kept = by_policy.get(policy)
    if kept is None:
        kept = by_policy[policy] = _Kept()
    return kept


def _restamped(decision: Decision, computed_at: datetime, at: datetime) -> Decision:
    """``decision`` as computed at ``at``: the evidence the rule stamped with its decision time
    (``seen_at == computed_at``, which is all the licence rule records) gets ``at`` instead."""
    if computed_at == at and computed_at.utcoffset() == at.utcoffset():
        return decision
    evidence = tuple(
        found.model_copy(update={"seen_at": at}) if found.seen_at == computed_at else found
        for found in decision.evidence
    )
    return Decision(decision.verdict, decision.reasons, evidence)


class _Batch:
    """The memos of one batch: valid for one registry view, policy and decision time only."""

    __slots__ = (
        "_alive",
        "_applied",
        "_at",
        "_binds",
        "_compact",
        "_consents",
        "_evidence",
        "_failures",
        "_hashes",
        "_identifiers",
        "_kept",
        "_licences",
        "_manifests",
        "_matcher",
        "_md5s",
        "_policy",
        "_registry",
    )

    def __init__(self, registry: RegistryView, policy: Policy, at: datetime) -> None:
        self._registry = registry
        self._policy = policy
        self._at = at
        self._matcher = registry.matcher()
        self._hashes = self._matcher.hashes  # read inline: most items' hashes are unknown
        self._md5s = self._matcher.md5s
        self._identifiers = self._matcher.identifiers
        self._compact = self._matcher.has_compact
        self._kept = _kept_for(registry, policy)
        # Keyed by id(): every record memoised is also kept in _alive, so no id is reused
        # within the batch (compactly held reservations are built afresh at each lookup).
        self._alive: list[object] = []
        self._failures: dict[tuple[int, str, str | None], str | None] = {}
        self._consents: dict[int, Decision] = {}
        self._binds: dict[tuple[int, str, str | None], bool] = {}
        self._evidence: dict[int, Evidence] = {}
        self._licences: dict[_LicenceKey, Decision] = {}
        self._applied: dict[_AppliedKey, Decision] = {}
        self._manifests: dict[tuple[str, str | None], Evidence] = {}

    def decide(self, item: ItemEvent) -> Decision:
        """The Decision of :func:`~.decide.decide` for an item without web signals."""
        url = str(item.url)
        sha256 = item.sha256
        if sha256 is not None:
            sha256 = sha256.lower()
            if sha256 not in self._hashes and not (self._compact and self._matcher.known_hash(sha256)):
                sha256 = None  # no record names it: it matches nothing, as no hash would
        md5 = item.md5
        if md5 is not None and md5 not in self._md5s:
            md5 = None
        identifiers: tuple[str, ...] = ()
        if item.identifiers:
            identifiers = tuple(found for found in item.identifiers if found in self._identifiers)
        decision = self._decide(item, url, sha256, md5, identifiers)
        if md5 is None and not identifiers:
            return decision
        return with_identity(decision, item.manifest_id, md5, identifiers, self._at)

    def _decide(
        self, item: ItemEvent, url: str, sha256: str | None, md5: str | None, identifiers: tuple[str, ...]
    ) -> Decision:
        purpose = item.purpose
        deals, reservations = self._matcher.matches(item.platform, url, sha256, md5, identifiers)
        noted_reasons: list[str] | tuple[()] = ()  # lists only when there are deals to note
        noted_evidence: list[Evidence] | tuple[()] = ()
        if deals:
            noted_reasons, noted_evidence = [], []
            for deal in deals:
                key = (id(deal), purpose, item.territory)
                failure = self._failures.get(key, _MISSING)
                if failure is _MISSING:
                    self._alive.append(deal)
                    why = _deal_failure(deal, item, self._at)
                    failure = self._failures[key] = None if why is None else f"{why}:{deal.id}"
                if failure is None:
                    return self._consent(deal)
                assert isinstance(failure, str)
                noted_reasons.append(failure)
                noted_evidence.append(self._deal_evidence(deal))
        if reservations:
            binding = [
                reservation
                for reservation in reservations
                if self._bound(reservation, purpose, item.territory)
            ]
            if binding:
                return Decision(
                    Verdict.VIOLATION,
                    (*(f"reservation:{reservation.id}" for reservation in binding), *noted_reasons),
                    (*(self._reservation_evidence(reservation) for reservation in binding), *noted_evidence),
                )
        licence = self._licence(item, url, sha256, md5, identifiers)
        if noted_reasons:
            return Decision(
                licence.verdict,
                (*licence.reasons, *noted_reasons),
                (*licence.evidence, *noted_evidence),
            )
        return licence

    def _consent(self, deal: Deal) -> Decision:
        found = self._consents.get(id(deal))
        if found is None:
            evidence = (self._deal_evidence(deal), *_deal_terms(deal, self._at))
            found = Decision(Verdict.CONSENT, (f"deal:{deal.id}",), evidence)
            self._consents[id(deal)] = found
        return found

    def _deal_evidence(self, deal: Deal) -> Evidence:
        found = self._evidence.get(id(deal))
        if found is None:
            found = Evidence(signal="registry.deal", ref=deal.id, value=_deal_value(deal), seen_at=self._at)
            self._evidence[id(deal)] = found
        return found

    def _bound(self, reservation: Reservation, purpose: Purpose, territory: str | None) -> bool:
        key = (id(reservation), purpose, territory)
        found = self._binds.get(key)
        if found is None:
            self._alive.append(reservation)
            found = self._binds[key] = (
                _reservation_in_force(reservation, self._at)
                and purpose_covers(reservation.purposes, purpose)
                and _reservation_covers_territory(reservation, territory)
            )
        return found

    def _reservation_evidence(self, reservation: Reservation) -> Evidence:
        found = self._evidence.get(id(reservation))
        if found is None:
            found = Evidence(
                signal="registry.reservation",
                ref=reservation.id,
                value=_reservation_value(reservation),
                seen_at=self._at,
            )
            self._evidence[id(reservation)] = found
        return found

    def _licence(
        self, item: ItemEvent, url: str, sha256: str | None, md5: str | None, identifiers: tuple[str, ...]
    ) -> Decision:
        known = sha256 is not None or md5 is not None or identifiers
        works = self._registry.works_for(sha256, md5, identifiers) if known else ()
        if works:
            return self._work_licence(item, works)
        key = (
            item.license,
            item.commercial,
            item.purpose,
            item.manifest_id,
            item.jurisdiction,
            item.territory,
        )
        found = self._licences.get(key)
        if found is None:
            kept = self._kept.licences.get(key)
            if kept is None:
                # The reference rule itself, on a case with nothing noted yet (noted reasons are
                # appended by the caller exactly as the rule's settle() would append them).
                found = _licence_rule(_Case(item, self._registry, self._policy, self._at, url))
                self._kept.keep(self._kept.licences, key, found, self._at)
            else:
                found = _restamped(*kept, self._at)
            self._licences[key] = found
        return found

    def _work_licence(self, item: ItemEvent, works: tuple[Work, ...]) -> Decision:
        """The licence rule's registered-work branch, with the claim's terms applied once per
        (claim, use, jurisdiction): only the works' ids and evidence differ between items."""
        commercial, purpose = item.commercial, item.purpose
        derivative = purpose in _TRAINING
        claims = [
            (_read_claim(work.license, commercial=commercial, derivative=derivative), work) for work in works
        ]
        governing, work = min(claims, key=lambda pair: (pair[0].rank, pair[1].id))
        context = [f"work-licence:{work.id}"]
        evidence = [self._work_evidence(found) for found in works]
        declared = item.license.strip() if item.license is not None else ""
        if declared:
            if _laundering(declared, governing.text, commercial=commercial, derivative=derivative):
                context.append("licence-laundering")
            evidence.append(self._manifest_evidence(item.manifest_id, item.license))
        key = (governing.text, commercial, purpose, item.jurisdiction, item.territory)
        applied = self._applied.get(key)
        if applied is None:
            kept = self._kept.applied.get(key)
            if kept is None:
                # _apply_claim puts its own reasons before the context and its own evidence
                # after the evidence it is given, so applying it to empty ones gives what to wrap.
                case = _Case(item, self._registry, self._policy, self._at, "")
                applied = _apply_claim(case, governing, [], [])
                self._kept.keep(self._kept.applied, key, applied, self._at)
            else:
                applied = _restamped(*kept, self._at)
            self._applied[key] = applied
        return Decision(applied.verdict, (*applied.reasons, *context), (*evidence, *applied.evidence))

    def _work_evidence(self, work: Work) -> Evidence:
        found = self._evidence.get(id(work))
        if found is None:
            self._alive.append(work)
            found = Evidence(signal="registry.work", ref=work.id, value=work.license, seen_at=self._at)
            self._evidence[id(work)] = found
        return found

    def _manifest_evidence(self, manifest_id: str, licence: str | None) -> Evidence:
        key = (manifest_id, licence)
        found = self._manifests.get(key)
        if found is None:
            found = Evidence(signal="manifest.license", ref=manifest_id, value=licence, seen_at=self._at)
            self._manifests[key] = found
        return found


@lru_cache(maxsize=4096)
def _laundering(declared: str, registered: str, *, commercial: bool, derivative: bool) -> bool:
    """Whether the manifest claims a more permissive licence than the registered one (the
    reference rule's test; memoised because a claim's spelling is formatted on every read)."""
    manifest = _read_claim(declared, commercial=commercial, derivative=derivative)
    governing = _read_claim(registered, commercial=commercial, derivative=derivative)
    return (
        governing.terms is not None
        and manifest.spelling.casefold() != governing.spelling.casefold()
        and manifest.rank > governing.rank
    )
