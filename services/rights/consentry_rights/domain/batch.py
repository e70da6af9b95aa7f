"""Deciding many items at once: :func:`decide_batch` gives exactly the Decisions that
:func:`~.decide.decide` gives item by item, at a fraction of the cost.

Why it is fast: most of what :func:`~.decide.decide` computes for an item does not depend on
the item itself but on a few of its fields, and a batch repeats them. Within one batch (one
registry view, one policy, one decision time):

- registry matches are found through :class:`~.registry.BatchMatcher` (domain matches once per
  origin, hash matches by one dict read, and for an item whose origin matches nothing its
  hash's records as they are; the general ranked lookup only where selectors mix);
- what a matching record contributes is computed once per record (and purpose, territory):
  whether a deal grants, whether a reservation binds, and its :class:`Evidence` (the records'
  evidence depends on the decision time only, so it is built once, not per item); what a record
  says whatever the time (purposes covered, territories, evidence value) is kept from batch to
  batch;
- the licence rule's Decision is computed once per (declared licence, commercial use, purpose,
  manifest, jurisdiction) by the reference rule itself; for an item whose hash the registry
  knows as a work, the terms of the governing licence are applied once per (licence, use,
  jurisdiction), and for one work (the usual case) everything but the work's id and evidence
  once per (its licence, the item's fields the rule reads).

Items that carry web signals (crawl-time ``evidence``, or a ``fetched`` capture) have their
signals read by :func:`~.web_signals.read_signals` itself (their readings name the item's URL);
what is shared is the crawl-time capture (a function of the evidence and the item's origin, kept
from batch to batch) and everything registry and licence rules compute, which
:meth:`_Batch.decide_signalled` combines with the signals exactly as :func:`~.decide.decide`'s
rules do.

Correctness rests on one argument, checked by a differential test: every memo key holds every
field the reference rules read for that part of the decision, and on a miss the reference code
computes the value. Decisions are shared between the items of a batch (they are immutable).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Final, TypeVar
from weakref import WeakKeyDictionary

from consentry_shared.contracts.v1 import (
    CrawlEvidenceField,
    Deal,
    Evidence,
    ItemEvent,
    Purpose,
    Reservation,
    Verdict,
    Work,
)

from .decide import (
    _RESTRICTING,
    _TRAINING,
    Decision,
    Policy,
    _apply_claim,
    _Case,
    _Claim,
    _deal_terms,
    _deal_value,
    _licence_rule,
    _read_claim,
    _reservation_value,
    _signal_reasons,
    purpose_covers,
    with_identity,
)
from .registry import NOTHING_MATCHED, RegistryView
from .web_signals import (
    DEFAULT_DOCUMENTS,
    ParsedDocuments,
    SignalCapture,
    WebSignals,
    capture_from_evidence,
    origin_of,
    read_signals,
)

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
            batch.decide_signalled(item, None, documents) if item.evidence else batch.decide(item)
            for item in items
        ]
    return [
        batch.decide_signalled(item, capture, documents)
        if item.evidence or capture is not None
        else batch.decide(item)
        for item, capture in zip(items, fetched, strict=True)
    ]


# (declared licence, commercial, purpose, manifest id, jurisdiction, territory)
_LicenceKey = tuple[str | None, bool, Purpose, str, str | None, str | None]
# (the governing claim's text, commercial, purpose, jurisdiction, territory)
_AppliedKey = tuple[str, bool, Purpose, str | None, str | None]
_K = TypeVar("_K", _LicenceKey, _AppliedKey)
_Matched = tuple[tuple[Deal, ...], tuple[Reservation, ...]]
# (the work's licence, declared licence, commercial, purpose, jurisdiction, territory, manifest id)
_WorkKey = tuple[str, str | None, bool, Purpose, str | None, str | None, str]
# (verdict, the claim's reasons, "licence-laundering" or nothing, the evidence after the work's)
_WorkShape = tuple[Verdict, tuple[str, ...], tuple[str, ...], tuple[Evidence, ...]]


_MAX_KEPT: Final = 100_000
# Crawl-time captures kept (each holds its evidence's text): at most 8,192 of at most 16 KiB of
# text each, so at most ~128 MiB; larger evidence (a long robots.txt) is read for each item.
_MAX_CAPTURES: Final = 8192
_MAX_CAPTURED_TEXT: Final = 16_384


class _Kept:
    """What is kept from batch to batch for one registry view and policy.

    Licence-rule results depend on the decision time only through their evidence's ``seen_at``
    (the time of the batch that computed them); a later batch re-stamps them (see
    :func:`_restamped`) instead of running the rule again. Records' facts and crawl-time
    captures do not depend on it at all. Nothing that tests a record's validity is kept.
    """

    __slots__ = ("applied", "captures", "facts", "licences", "shapes")

    def __init__(self) -> None:
        # What a deal or reservation says whatever the decision time, by (kind, record id).
        self.facts: dict[tuple[str, str], _Facts] = {}
        # Crawl-time captures by (origin, evidence fields): they hold no decision time.
        self.captures: dict[tuple[object, ...], SignalCapture | None] = {}
        self.licences: dict[_LicenceKey, tuple[Decision, datetime]] = {}
        self.applied: dict[_AppliedKey, tuple[Decision, datetime]] = {}
        self.shapes: dict[_WorkKey, tuple[_WorkShape, datetime]] = {}

    def keep_facts(self, key: tuple[str, str], facts: _Facts) -> _Facts:
        if len(self.facts) >= _MAX_KEPT:
            self.facts.clear()
        self.facts[key] = facts
        return facts

    @staticmethod
    def keep(into: dict[_K, tuple[Decision, datetime]], key: _K, decision: Decision, at: datetime) -> None:
        if len(into) >= _MAX_KEPT:
            into.clear()
        into[key] = (decision, at)


@dataclass(frozen=True, slots=True)
class _Facts:
    """The parts of a deal's or reservation's tests that do not depend on the decision time:
    the purposes it covers (:func:`~.decide.purpose_covers`), its territories as the rules
    compare them (stripped, upper case; ``everywhere`` when one is ``*``) and its evidence value."""

    covered: frozenset[Purpose]
    territories: frozenset[str]
    everywhere: bool
    value: str


def _facts(record: Deal | Reservation, value: str) -> _Facts:
    territories = frozenset(territory.strip().upper() for territory in record.territories)
    covered = frozenset(purpose for purpose in Purpose if purpose_covers(record.purposes, purpose))
    return _Facts(covered, territories, "*" in territories, value)


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


def _restamped_shape(shape: _WorkShape, computed_at: datetime, at: datetime) -> _WorkShape:
    """A kept one-work shape as computed at ``at`` (see :func:`_restamped`)."""
    verdict, reasons, laundering, evidence = shape
    stamped = _restamped(Decision(verdict, reasons, evidence), computed_at, at)
    return verdict, reasons, laundering, stamped.evidence


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
        "_work_shapes",
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
        self._work_shapes: dict[_WorkKey, _WorkShape] = {}

    def decide(self, item: ItemEvent) -> Decision:
        """The Decision of :func:`~.decide.decide` for an item without web signals."""
        url = str(item.url)
        sha256, md5, identifiers = self._named(item)
        if (
            sha256 is not None
            and md5 is None
            and not identifiers
            and self._matcher.by_location(item.platform, url) is NOTHING_MATCHED
        ):
            # Only the hash matches: the records naming it, without a ranked merge.
            return self._decide(item, url, sha256, None, (), self._matcher.by_hash(item.platform, sha256))
        decision = self._decide(item, url, sha256, md5, identifiers)
        if md5 is None and not identifiers:
            return decision
        return with_identity(decision, item.manifest_id, md5, identifiers, self._at)

    def _named(self, item: ItemEvent) -> tuple[str | None, str | None, tuple[str, ...]]:
        """The item's sha256, md5 and identifiers that some record names (``None``, ``()``
        for those that none does: they match nothing, as no hash would)."""
        sha256 = item.sha256
        if sha256 is not None:
            sha256 = sha256.lower()
            if sha256 not in self._hashes and not (self._compact and self._matcher.known_hash(sha256)):
                sha256 = None
        md5 = item.md5
        if md5 is not None and md5 not in self._md5s:
            md5 = None
        identifiers: tuple[str, ...] = ()
        if item.identifiers:
            identifiers = tuple(found for found in item.identifiers if found in self._identifiers)
        return sha256, md5, identifiers

    def decide_signalled(
        self, item: ItemEvent, fetched: SignalCapture | None, documents: ParsedDocuments
    ) -> Decision:
        """The Decision of ``decide(item, ..., fetched=fetched, documents=documents)`` for an item
        that carries crawl-time evidence or comes with a fetched capture."""
        url = str(item.url)
        crawl = self._capture(item.evidence, url) if item.evidence else None
        signals = None
        if crawl is not None or fetched is not None:
            signals = read_signals(
                (crawl, fetched),
                url,
                media_type=item.media_type,
                platform_token=item.platform,
                user="commercial" if item.commercial else "non-commercial",
                territory=item.territory,
                label=fetched is not None,
                documents=documents,
            )
        if signals is None:
            return self.decide(item)
        sha256, md5, identifiers = self._named(item)
        decision = self._with_signals(item, url, sha256, md5, identifiers, signals)
        if md5 is None and not identifiers:
            return decision
        return with_identity(decision, item.manifest_id, md5, identifiers, self._at)

    def _capture(self, evidence: dict[CrawlEvidenceField, str], url: str) -> SignalCapture | None:
        """``capture_from_evidence(evidence, url)``: it reads the URL only for its origin."""
        if sum(len(text) for text in evidence.values()) > _MAX_CAPTURED_TEXT:
            return capture_from_evidence(evidence, url)
        origin = origin_of(url)
        key = (origin, *evidence.items())
        captures = self._kept.captures
        found = captures.get(key, _MISSING)
        if found is _MISSING:
            found = capture_from_evidence(evidence, url)
            if len(captures) >= _MAX_CAPTURES:
                captures.clear()
            captures[key] = found
        assert found is None or isinstance(found, SignalCapture)
        return found

    def _with_signals(
        self,
        item: ItemEvent,
        url: str,
        sha256: str | None,
        md5: str | None,
        identifiers: tuple[str, ...],
        signals: WebSignals,
    ) -> Decision:
        """:func:`~.decide._decide` with web signals: deals, reservations, signals, licence, with
        the registry's parts and the licence's from this batch's memos."""
        purpose = item.purpose
        deals, reservations = self._matcher.matches(item.platform, url, sha256, md5, identifiers)
        noted_reasons: list[str] = []
        noted_evidence: list[Evidence] = []
        for deal in deals:
            failure = self._failure(deal, item)
            if failure is None:
                granted = self._consent(deal)  # the signals it overrides stay on the record
                return Decision(Verdict.CONSENT, granted.reasons, (*granted.evidence, *signals.evidence))
            noted_reasons.append(failure)
            noted_evidence.append(self._deal_evidence(deal))
        outcome = signals.outcome(purpose.value)
        restricting = outcome.status in _RESTRICTING
        binding = [
            reservation for reservation in reservations if self._bound(reservation, purpose, item.territory)
        ]
        if binding:
            reasons = [f"reservation:{reservation.id}" for reservation in binding]
            if restricting:
                reasons.extend(_signal_reasons(outcome.deciding))
            evidence = [self._reservation_evidence(reservation) for reservation in binding]
            evidence.extend(signals.evidence_of(outcome.deciding))
            return Decision(Verdict.VIOLATION, (*reasons, *noted_reasons), (*evidence, *noted_evidence))
        if restricting:
            return Decision(
                Verdict.VIOLATION,
                (*_signal_reasons(outcome.deciding), *noted_reasons),
                (*signals.evidence_of(outcome.deciding), *noted_evidence),
            )
        unreadable = outcome.deciding if outcome.status == "unknown" else ()
        if not unreadable:
            noted_evidence.extend(signals.evidence)  # not reserved or unset: evidence only
        licence = self._licence(item, url, sha256, md5, identifiers)
        if noted_reasons or noted_evidence:
            licence = Decision(
                licence.verdict, (*licence.reasons, *noted_reasons), (*licence.evidence, *noted_evidence)
            )
        if not unreadable:
            return licence
        # A signal could not be read: never consent (see decide._unreadable).
        why = tuple(dict.fromkeys(f"signal-unreadable:{reading.signal}" for reading in unreadable))
        unread = signals.evidence_of(unreadable)
        if licence.verdict is Verdict.VIOLATION:
            return Decision(Verdict.VIOLATION, (*licence.reasons, *why), (*licence.evidence, *unread))
        return Decision(Verdict.UNKNOWN, (*why, *noted_reasons), (*unread, *licence.evidence))

    def _failure(self, deal: Deal, item: ItemEvent) -> str | None:
        """Why ``deal`` grants nothing to the item (``<why>:<deal id>``), or ``None``."""
        key = (id(deal), item.purpose, item.territory)
        failure = self._failures.get(key, _MISSING)
        if failure is _MISSING:
            self._alive.append(deal)
            why = self._deal_failure(deal, item.purpose, item.territory)
            failure = self._failures[key] = None if why is None else f"{why}:{deal.id}"
        assert failure is None or isinstance(failure, str)
        return failure

    def _deal_facts(self, deal: Deal) -> _Facts:
        facts = self._kept.facts.get(("deal", deal.id))
        if facts is None:
            facts = self._kept.keep_facts(("deal", deal.id), _facts(deal, _deal_value(deal)))
        return facts

    def _reservation_facts(self, reservation: Reservation) -> _Facts:
        facts = self._kept.facts.get(("reservation", reservation.id))
        if facts is None:
            value = _reservation_value(reservation)
            facts = self._kept.keep_facts(("reservation", reservation.id), _facts(reservation, value))
        return facts

    def _deal_failure(self, deal: Deal, purpose: Purpose, territory: str | None) -> str | None:
        """:func:`~.decide._deal_failure`, the same tests in the same order, from kept facts."""
        facts = self._deal_facts(deal)
        at = self._at
        if purpose not in facts.covered:
            return "deal-purpose"
        if deal.revoked_at is not None and deal.revoked_at <= at:
            return "deal-revoked"
        if at < deal.valid_from:
            return "deal-not-yet-valid"
        if at >= deal.valid_until:
            return "deal-expired"
        if facts.everywhere:
            return None
        if territory is None or territory.strip().upper() not in facts.territories:
            return "deal-territory"
        return None

    def _decide(
        self,
        item: ItemEvent,
        url: str,
        sha256: str | None,
        md5: str | None,
        identifiers: tuple[str, ...],
        matched: _Matched | None = None,
    ) -> Decision:
        purpose = item.purpose
        if matched is None:
            matched = self._matcher.matches(item.platform, url, sha256, md5, identifiers)
        deals, reservations = matched
        noted_reasons: list[str] | tuple[()] = ()  # lists only when there are deals to note
        noted_evidence: list[Evidence] | tuple[()] = ()
        if deals:
            noted_reasons, noted_evidence = [], []
            for deal in deals:
                failure = self._failure(deal, item)
                if failure is None:
                    return self._consent(deal)
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
            value = self._deal_facts(deal).value
            found = Evidence(signal="registry.deal", ref=deal.id, value=value, seen_at=self._at)
            self._evidence[id(deal)] = found
        return found

    def _bound(self, reservation: Reservation, purpose: Purpose, territory: str | None) -> bool:
        key = (id(reservation), purpose, territory)
        found = self._binds.get(key)
        if found is None:
            self._alive.append(reservation)
            # _reservation_in_force, purpose_covers and _reservation_covers_territory, in order.
            at = self._at
            facts = self._reservation_facts(reservation)
            found = self._binds[key] = (
                reservation.valid_from <= at
                and (reservation.valid_until is None or at < reservation.valid_until)
                and purpose in facts.covered
                and (
                    territory is None
                    or not territory.strip()
                    or facts.everywhere
                    or territory.strip().upper() in facts.territories
                )
            )
        return found

    def _reservation_evidence(self, reservation: Reservation) -> Evidence:
        found = self._evidence.get(id(reservation))
        if found is None:
            found = Evidence(
                signal="registry.reservation",
                ref=reservation.id,
                value=self._reservation_facts(reservation).value,
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
        if len(works) == 1:
            return self._one_work(item, works[0])
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
        applied = self._applied_claim(item, governing)
        return Decision(applied.verdict, (*applied.reasons, *context), (*evidence, *applied.evidence))

    def _one_work(self, item: ItemEvent, work: Work) -> Decision:
        """:meth:`_work_licence` for one registered work (the usual case): everything but the
        work's id and evidence is kept per (its licence, the item's fields the rule reads)."""
        key = (
            work.license,
            item.license,
            item.commercial,
            item.purpose,
            item.jurisdiction,
            item.territory,
            item.manifest_id,
        )
        shape = self._work_shapes.get(key)
        if shape is None:
            kept = self._kept.shapes.get(key)
            if kept is not None:
                shape = self._work_shapes[key] = _restamped_shape(*kept, self._at)
        if shape is None:
            commercial, derivative = item.commercial, item.purpose in _TRAINING
            governing = _read_claim(work.license, commercial=commercial, derivative=derivative)
            declared = item.license.strip() if item.license is not None else ""
            laundering: tuple[str, ...] = ()
            manifest: tuple[Evidence, ...] = ()
            if declared:
                if _laundering(declared, governing.text, commercial=commercial, derivative=derivative):
                    laundering = ("licence-laundering",)
                manifest = (self._manifest_evidence(item.manifest_id, item.license),)
            applied = self._applied_claim(item, governing)
            shape = self._work_shapes[key] = (
                applied.verdict,
                applied.reasons,
                laundering,
                (*manifest, *applied.evidence),
            )
            if len(self._kept.shapes) >= _MAX_KEPT:
                self._kept.shapes.clear()
            self._kept.shapes[key] = (shape, self._at)
        verdict, reasons, laundering, evidence = shape
        return Decision(
            verdict,
            (*reasons, f"work-licence:{work.id}", *laundering),
            (self._work_evidence(work), *evidence),
        )

    def _applied_claim(self, item: ItemEvent, governing: _Claim) -> Decision:
        """``_apply_claim`` of the governing claim with nothing around it, memoised per (claim,
        use, jurisdiction): it puts its own reasons before the context it is given and its own
        evidence after the evidence, so applying it to empty ones gives what to wrap."""
        key = (governing.text, item.commercial, item.purpose, item.jurisdiction, item.territory)
        applied = self._applied.get(key)
        if applied is None:
            kept = self._kept.applied.get(key)
            if kept is None:
                case = _Case(item, self._registry, self._policy, self._at, "")
                applied = _apply_claim(case, governing, [], [])
                self._kept.keep(self._kept.applied, key, applied, self._at)
            else:
                applied = _restamped(*kept, self._at)
            self._applied[key] = applied
        return applied

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
