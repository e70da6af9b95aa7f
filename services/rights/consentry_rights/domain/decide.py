"""The decision engine: may this platform use this item for this purpose?

:func:`decide` applies rules in a fixed order; the first rule that reaches a verdict wins:

1. **Deals.** A deal for ``item.platform`` that matches the item, covers the purpose, is in force
   at ``at`` (``valid_from <= at < valid_until``, not revoked at or before ``at``) and covers the
   item's territory (or is worldwide, ``*``; an item without a territory needs a worldwide deal)
   gives CONSENT. A matching deal that fails one condition grants nothing but is reported. A deal
   beats every reservation below it; the signals it overrides are kept as evidence, and so are
   the deal's attribution and compensation terms (``registry.deal.attribution``,
   ``registry.deal.compensation``), so the ledger shows under which terms the use was granted.
2. **Reservations.** Reservations in force at ``at`` that match, cover the purpose and cover the
   item's territory give VIOLATION, all listed, most specific first; web signals that reserve too
   follow them. An item without a territory is covered by every reservation (never fail open).

Records match an item by its sha256, md5 or work identifiers (``isbn:``, ``doi:``...) as well as
by its URL; a registered work is found the same ways. The item's md5 and identifiers that some
record names are listed last in the evidence (``manifest.md5``, ``manifest.identifier``): they are
inputs of the decision that the ledger entry has no field for, and an audit replay reads them back.
3. **Web signals** (:mod:`.web_signals`): what the item's crawl-time evidence (and, when given,
   a fresh fetch) says, combined per purpose, most restrictive first. ``reserved``, or
   ``constrained`` (a licence on offer, which nobody took) gives VIOLATION; ``unknown`` (a body
   that could not be read) gives UNKNOWN under either regime unless the licence refuses anyway.
   ``not-reserved`` and ``unset`` readings are evidence only: the licence rule decides.
4. **Licence.** The registry's licence for the item's hash beats the manifest's claim (a more
   permissive claim is flagged as laundering); the terms then decide. Without any licence the
   regime decides: ``opt-in`` refuses, ``opt-out`` (EU DSM Art. 4 style) allows what nobody
   reserved. The regime is the :class:`Policy`'s for the item's jurisdiction (its territory).

The engine never fails open: an unparseable or unknown licence never yields CONSENT under
``opt-in``, an unparseable one never does under either regime, and neither does a signal that
could not be read.

Reason codes (``reasons[0]`` is the one that settled the verdict; facts seen on the way, such as
a deal that failed, follow)::

    deal:<id>                      deal-purpose:<id>  deal-revoked:<id>  deal-expired:<id>
    deal-not-yet-valid:<id>        deal-territory:<id>
    reservation:<id>
    signal:<signal>                signal-payment-required:<signal>  signal-unreadable:<signal>
    licence:<expr>                 duty:attribution  duty:share-alike  duty:non-commercial
    licence-non-commercial:<expr>  licence-no-derivatives:<expr>  all-rights-reserved:<expr>
    licence-unverified:<expr>      licence-invalid    no-licence  no-reservation
    work-licence:<work id>         licence-laundering

``<signal>`` is a signal name of :mod:`.signals` (``tdmrep.header``, ``robots.txt``,
``x-robots-tag``, ``iptc.data-mining``, ``c2pa.training-mining``, ``rsl``, ...), suffixed with
``@crawl`` or ``@fetch`` when a fetched capture was read beside the crawl-time one, so the
reason says which decided.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Final, TypeAlias

from consentry_shared.contracts.v1 import (
    Deal,
    Evidence,
    ItemEvent,
    Purpose,
    Reservation,
    Verdict,
    Work,
)

from .regimes import DEFAULT_REGIMES, REGIMES, Regime, regime_table
from .registry import RegistryView
from .signals import SignalReading
from .spdx import (
    LicenceExpression,
    LicenceExpressionError,
    LicenceTerms,
    licence_terms,
    parse_licence,
    permissiveness,
)
from .web_signals import (
    DEFAULT_DOCUMENTS,
    ParsedDocuments,
    SignalCapture,
    WebSignals,
    capture_from_evidence,
    read_signals,
)

__all__ = ["Decision", "Policy", "Regime", "decide", "purpose_covers", "with_identity"]

# Each purpose a record may name, and the broader purpose that contains it.
_PARENT: Final[dict[str, str]] = {
    "ai-generative-training": "ai-training",
    "ai-training": "ai-all",
    "ai-inference": "ai-all",
    "ai-all": "all",
    "search": "all",
}


def _covering(purpose: str) -> frozenset[str]:
    chain = [purpose]
    while chain[-1] in _PARENT:
        chain.append(_PARENT[chain[-1]])
    return frozenset(chain)


_COVERING: Final[dict[Purpose, frozenset[str]]] = {purpose: _covering(purpose) for purpose in Purpose}
# Training produces a derivative (a model) of the work; inference and search do not.
_TRAINING: Final = frozenset({Purpose.AI_TRAINING, Purpose.AI_GENERATIVE_TRAINING})


def purpose_covers(record_purposes: Iterable[str], purpose: Purpose) -> bool:
    """Whether any purpose a record lists covers ``purpose``.

    ``all`` ⊃ ``ai-all`` ⊃ {``ai-training`` ⊃ ``ai-generative-training``, ``ai-inference``};
    ``all`` also covers ``search``.
    """
    covering = _COVERING[purpose]
    return any(listed in covering for listed in record_purposes)


def _default_regimes() -> Mapping[str, Regime]:
    return DEFAULT_REGIMES


@dataclass(frozen=True, slots=True)
class Policy:
    """How to decide when the registry, the signals and the licence leave the question open.

    ``regimes`` maps jurisdictions (ISO 3166 alpha-2 codes, or the groups ``EU`` and ``EEA``,
    expanded on construction; see :mod:`.regimes`) to a regime; ``regime`` applies everywhere
    else and to items without a jurisdiction. By default the EU member states and Japan are
    ``opt-out``, everything else ``opt-in``. ``version`` is recorded with every decision so
    auditors can replay it: a changed table MUST come with a new version.
    """

    version: str
    regime: Regime = "opt-in"
    regimes: Mapping[str, Regime] = field(default_factory=_default_regimes, hash=False)

    def __post_init__(self) -> None:
        if not self.version:
            raise ValueError("policy version must not be empty")
        if self.regime not in REGIMES:  # a typo must not quietly become the lax regime
            raise ValueError(f"regime must be one of {REGIMES}, not {self.regime!r}")
        if self.regimes is not DEFAULT_REGIMES:
            object.__setattr__(self, "regimes", regime_table(self.regimes))

    def regime_for(self, jurisdiction: str | None) -> Regime:
        """The regime for ``jurisdiction`` (case and blanks ignored); ``regime`` if not listed."""
        if jurisdiction is None:
            return self.regime
        return self.regimes.get(jurisdiction.strip().upper(), self.regime)


@dataclass(frozen=True, slots=True)
class Decision:
    """A verdict, the reason codes behind it (the settling one first) and the evidence used."""

    verdict: Verdict
    reasons: tuple[str, ...]
    evidence: tuple[Evidence, ...]


@dataclass(slots=True)
class _Case:
    """One item under decision, plus what earlier rules noticed without settling it."""

    item: ItemEvent
    registry: RegistryView
    policy: Policy
    at: datetime
    url: str
    signals: WebSignals | None = None
    unreadable: tuple[SignalReading, ...] = ()
    noted_reasons: list[str] = field(default_factory=list)
    noted_evidence: list[Evidence] = field(default_factory=list)

    def settle(self, verdict: Verdict, reasons: Iterable[str], evidence: Iterable[Evidence]) -> Decision:
        return Decision(
            verdict,
            (*reasons, *self.noted_reasons),
            (*evidence, *self.noted_evidence),
        )

    def evidence(self, signal: str, ref: str | None, value: str | None) -> Evidence:
        return Evidence(signal=signal, ref=ref, value=value, seen_at=self.at)

    def regime(self) -> tuple[Regime, Evidence]:
        """The regime for the item's jurisdiction, and the evidence saying so."""
        jurisdiction = _jurisdiction(self.item)
        regime = self.policy.regime_for(jurisdiction)
        value = regime if jurisdiction is None else f"{regime};jurisdiction={jurisdiction}"
        return regime, self.evidence("policy.regime", self.policy.version, value)


def _jurisdiction(item: ItemEvent) -> str | None:
    """Whose law governs the use: the manifest's ``jurisdiction``, else its territory."""
    chosen = item.jurisdiction or item.territory
    if chosen is None or not chosen.strip():
        return None
    return chosen.strip().upper()


def decide(
    item: ItemEvent,
    registry: RegistryView,
    policy: Policy,
    at: datetime,
    *,
    fetched: SignalCapture | None = None,
    documents: ParsedDocuments = DEFAULT_DOCUMENTS,
    signals: WebSignals | None = None,
) -> Decision:
    """Decide whether ``item.platform`` may use ``item`` for ``item.purpose`` at time ``at``.

    The web signals read are those of the item's crawl-time ``evidence`` and, when given, the
    ``fetched`` capture (then every signal name says ``@crawl`` or ``@fetch``). ``documents``
    memoises parsed origin files (see :class:`~.web_signals.ParsedDocuments`). ``signals``,
    when given, are readings already made (a replay's recorded ones, see :mod:`.replay`): they
    are used as they are and nothing is read from ``item.evidence`` or ``fetched``.

    Pure and deterministic: the same item, fetched capture, registry snapshot, policy and ``at``
    give an equal Decision. ``at`` MUST be timezone-aware (a naive time raises ``ValueError``).
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("decision time must be timezone-aware")
    url = str(item.url)
    case = _Case(item, registry, policy, at, url, signals)
    if signals is None and (item.evidence or fetched is not None):
        case.signals = read_signals(
            (capture_from_evidence(item.evidence, url), fetched),
            url,
            media_type=item.media_type,
            platform_token=item.platform,
            user="commercial" if item.commercial else "non-commercial",
            territory=item.territory,
            label=fetched is not None,
            documents=documents,
        )
    decision = _decide(case)
    if item.md5 is None and not item.identifiers:
        return decision
    matcher = registry.matcher()
    md5 = item.md5 if item.md5 in matcher.md5s else None
    known = tuple(identifier for identifier in item.identifiers or () if identifier in matcher.identifiers)
    return with_identity(decision, item.manifest_id, md5, known, at)


def _decide(case: _Case) -> Decision:
    for rule in _OVERRIDING_RULES:
        decision = rule(case)
        if decision is not None:
            return decision
    decision = _licence_rule(case)
    if case.unreadable:
        return _unreadable(case, decision)
    return decision


def with_identity(
    decision: Decision, manifest_id: str, md5: str | None, identifiers: tuple[str, ...], at: datetime
) -> Decision:
    """``decision`` with the item's md5 and identifiers that the registry names appended to its
    evidence (those that matched nothing are left out: they cannot have mattered)."""
    if md5 is None and not identifiers:
        return decision
    found = [Evidence(signal="manifest.md5", ref=manifest_id, value=md5, seen_at=at)] if md5 else []
    found.extend(
        Evidence(signal="manifest.identifier", ref=manifest_id, value=identifier, seen_at=at)
        for identifier in identifiers
    )
    return Decision(decision.verdict, decision.reasons, (*decision.evidence, *found))


# --- rule 1: deals ----------------------------------------------------------------------------


def _deal_failure(deal: Deal, item: ItemEvent, at: datetime) -> str | None:
    """Why a matching deal does not grant this use, or ``None`` if it does."""
    if not purpose_covers(deal.purposes, item.purpose):
        return "deal-purpose"
    if deal.revoked_at is not None and deal.revoked_at <= at:
        return "deal-revoked"
    if at < deal.valid_from:
        return "deal-not-yet-valid"
    if at >= deal.valid_until:
        return "deal-expired"
    territories = {territory.strip().upper() for territory in deal.territories}
    if "*" in territories:
        return None
    if item.territory is None or item.territory.strip().upper() not in territories:
        return "deal-territory"
    return None


def _deal_value(deal: Deal) -> str:
    value = (
        f"purposes={','.join(deal.purposes)};territories={','.join(deal.territories)};"
        f"from={deal.valid_from.isoformat()};until={deal.valid_until.isoformat()}"
    )
    if deal.revoked_at is not None:
        value += f";revoked={deal.revoked_at.isoformat()}"
    return value


def _deal_terms(deal: Deal, at: datetime) -> tuple[Evidence, ...]:
    """The terms a granting deal sets, as evidence: recorded, not interpreted."""
    terms: list[Evidence] = []
    if deal.attribution is not None:
        attribution = deal.attribution
        if isinstance(attribution, bool):
            attribution = "required" if attribution else "not-required"
        terms.append(Evidence(signal="registry.deal.attribution", ref=deal.id, value=attribution, seen_at=at))
    if deal.compensation is not None:
        terms.append(
            Evidence(
                signal="registry.deal.compensation",
                ref=deal.id,
                value=deal.compensation.describe(),
                seen_at=at,
            )
        )
    return tuple(terms)


def _deal_rule(case: _Case) -> Decision | None:
    item = case.item
    for deal in case.registry.deals_for(item.platform, case.url, item.sha256, item.md5, item.identifiers):
        evidence = case.evidence("registry.deal", deal.id, _deal_value(deal))
        failure = _deal_failure(deal, item, case.at)
        if failure is None:
            # The deal beats every signal; the ones it overrides stay on the record.
            overridden = case.signals.evidence if case.signals is not None else ()
            terms = _deal_terms(deal, case.at)
            return Decision(Verdict.CONSENT, (f"deal:{deal.id}",), (evidence, *terms, *overridden))
        case.noted_reasons.append(f"{failure}:{deal.id}")
        case.noted_evidence.append(evidence)
    return None


# --- rule 2: reservations ---------------------------------------------------------------------


def _reservation_in_force(reservation: Reservation, at: datetime) -> bool:
    return reservation.valid_from <= at and (reservation.valid_until is None or at < reservation.valid_until)


def _reservation_covers_territory(reservation: Reservation, territory: str | None) -> bool:
    """Whether the reservation applies where the item is used. Without a territory the item could
    be used anywhere, so every reservation covers it."""
    if territory is None or not territory.strip():
        return True
    territories = {listed.strip().upper() for listed in reservation.territories}
    return "*" in territories or territory.strip().upper() in territories


def _reservation_value(reservation: Reservation) -> str:
    value = f"purposes={','.join(reservation.purposes)};from={reservation.valid_from.isoformat()}"
    if reservation.valid_until is not None:
        value += f";until={reservation.valid_until.isoformat()}"
    if "*" not in reservation.territories:
        value += f";territories={','.join(reservation.territories)}"
    return value


def _reservation_rule(case: _Case) -> Decision | None:
    item = case.item
    binding = [
        reservation
        for reservation in case.registry.reservations_for(case.url, item.sha256, item.md5, item.identifiers)
        if _reservation_in_force(reservation, case.at)
        and purpose_covers(reservation.purposes, item.purpose)
        and _reservation_covers_territory(reservation, item.territory)
    ]
    if not binding:
        return None
    reasons = [f"reservation:{reservation.id}" for reservation in binding]
    evidence = [
        case.evidence("registry.reservation", reservation.id, _reservation_value(reservation))
        for reservation in binding
    ]
    signals = case.signals
    if signals is not None:
        # Registry and web reservations both count: the signals that reserve too are listed.
        outcome = signals.outcome(item.purpose.value)
        if outcome.status in _RESTRICTING:
            reasons.extend(_signal_reasons(outcome.deciding))
        evidence.extend(signals.evidence_of(outcome.deciding))
    return case.settle(Verdict.VIOLATION, reasons, evidence)


# --- rule 3: web signals ----------------------------------------------------------------------

_RESTRICTING: Final = frozenset({"reserved", "constrained"})


def _signal_reasons(deciding: Iterable[SignalReading]) -> list[str]:
    reasons = (
        f"signal-payment-required:{reading.signal}"
        if reading.requires_payment
        else f"signal:{reading.signal}"
        for reading in deciding
    )
    return list(dict.fromkeys(reasons))


def _signal_rule(case: _Case) -> Decision | None:
    signals = case.signals
    if signals is None:
        return None
    outcome = signals.outcome(case.item.purpose.value)
    if outcome.status in _RESTRICTING:
        # Constrained: a licence is on offer (perhaps for payment); without a deal nobody took it.
        return case.settle(
            Verdict.VIOLATION, _signal_reasons(outcome.deciding), signals.evidence_of(outcome.deciding)
        )
    if outcome.status == "unknown":
        case.unreadable = outcome.deciding  # settled after the licence rule: it may refuse anyway
        return None
    case.noted_evidence.extend(signals.evidence)  # not reserved or unset: evidence only
    return None


def _unreadable(case: _Case, licence: Decision) -> Decision:
    """A signal could not be read: never consent. A licence that refuses anyway still refuses
    (the most restrictive verdict wins); otherwise the verdict is UNKNOWN."""
    assert case.signals is not None
    reasons = list(dict.fromkeys(f"signal-unreadable:{reading.signal}" for reading in case.unreadable))
    evidence = case.signals.evidence_of(case.unreadable)
    if licence.verdict is Verdict.VIOLATION:
        return Decision(Verdict.VIOLATION, (*licence.reasons, *reasons), (*licence.evidence, *evidence))
    return Decision(Verdict.UNKNOWN, (*reasons, *case.noted_reasons), (*evidence, *licence.evidence))


_Rule: TypeAlias = Callable[[_Case], Decision | None]
_OVERRIDING_RULES: Final[tuple[_Rule, ...]] = (_deal_rule, _reservation_rule, _signal_rule)


# --- rule 4: the licence ----------------------------------------------------------------------


# Below every parseable licence: an unparseable one proves nothing.
_INVALID_RANK: Final = (-1, 0, 0)


@dataclass(frozen=True, slots=True)
class _Claim:
    """A licence as stated by one source, read for this item's use."""

    text: str
    tree: LicenceExpression | None  # None: the text does not parse
    terms: LicenceTerms | None
    rank: tuple[int, int, int]  # permissiveness() for this use

    @property
    def spelling(self) -> str:
        return self.text if self.tree is None else str(self.tree)


@lru_cache(maxsize=4096)
def _read_claim(text: str, *, commercial: bool, derivative: bool) -> _Claim:
    # Memoised: manifests repeat a handful of licences, and a _Claim is immutable.
    try:
        tree = parse_licence(text.strip())
    except LicenceExpressionError:
        return _Claim(text, None, None, _INVALID_RANK)
    terms = licence_terms(tree, commercial=commercial, derivative=derivative)
    return _Claim(text, tree, terms, permissiveness(terms, commercial=commercial, derivative=derivative))


def _licence_rule(case: _Case) -> Decision:
    item = case.item
    commercial, derivative = item.commercial, item.purpose in _TRAINING
    declared = item.license.strip() if item.license is not None else ""
    manifest = _read_claim(declared, commercial=commercial, derivative=derivative) if declared else None
    manifest_evidence = (
        [case.evidence("manifest.license", item.manifest_id, item.license)] if manifest else []
    )

    works = case.registry.works_for(item.sha256, item.md5, item.identifiers)
    if works:
        claims = [
            (_read_claim(work.license, commercial=commercial, derivative=derivative), work) for work in works
        ]
        # Several holders registered the same bytes: the strictest registration governs.
        governing, work = min(claims, key=lambda pair: (pair[0].rank, pair[1].id))
        context = [f"work-licence:{work.id}"]
        evidence = [_work_evidence(case, found) for found in works]
        # Laundering needs a readable registry licence to compare the claim against.
        if (
            manifest is not None
            and governing.terms is not None
            and manifest.spelling.casefold() != governing.spelling.casefold()
            and manifest.rank > governing.rank
        ):
            context.append("licence-laundering")
        return _apply_claim(case, governing, context, [*evidence, *manifest_evidence])

    if manifest is not None:
        return _apply_claim(case, manifest, [], manifest_evidence)

    regime, regime_evidence = case.regime()
    if regime == "opt-out":
        return case.settle(Verdict.CONSENT, ["no-reservation"], [regime_evidence])
    return case.settle(Verdict.VIOLATION, ["no-licence"], [regime_evidence])


def _work_evidence(case: _Case, work: Work) -> Evidence:
    return case.evidence("registry.work", work.id, work.license)


def _apply_claim(case: _Case, claim: _Claim, context: list[str], evidence: list[Evidence]) -> Decision:
    terms, spelling = claim.terms, claim.spelling
    if terms is None:
        return case.settle(Verdict.VIOLATION, ["licence-invalid", *context], evidence)
    if terms.use == "none":
        return case.settle(Verdict.VIOLATION, [f"all-rights-reserved:{spelling}", *context], evidence)
    if terms.use == "unknown":
        regime, regime_evidence = case.regime()
        unverified = f"licence-unverified:{spelling}"
        if regime == "opt-out":
            return case.settle(
                Verdict.CONSENT, ["no-reservation", unverified, *context], [*evidence, regime_evidence]
            )
        return case.settle(Verdict.VIOLATION, [unverified, *context], [*evidence, regime_evidence])
    if terms.no_derivatives and case.item.purpose in _TRAINING:
        return case.settle(Verdict.VIOLATION, [f"licence-no-derivatives:{spelling}", *context], evidence)
    if terms.use == "non-commercial" and case.item.commercial:
        return case.settle(Verdict.VIOLATION, [f"licence-non-commercial:{spelling}", *context], evidence)
    duties = []
    if terms.attribution:
        duties.append("duty:attribution")
    if terms.share_alike:
        duties.append("duty:share-alike")
    if terms.use == "non-commercial":
        duties.append("duty:non-commercial")
    return case.settle(Verdict.CONSENT, [f"licence:{spelling}", *duties, *context], evidence)
