"""Audit replay: decide a logged decision again from what its ledger entry recorded.

An auditor holds the ledger (an export, the API or ``ledger.entries.v1``) and the registry as it
stood at each decision's ``registry_version``. :func:`replay_decision` rebuilds the decision's
inputs from the entry and runs the same :func:`~.decide.decide`, so a verdict that differs
means the engine, the registry snapshot or the policy given to the replay is not what produced
the entry.

What a replay reproduces:

- the item's own inputs, recorded on the entry since decisions carry them (``url``, ``sha256``,
  the declared ``license``, ``territory``, ``jurisdiction``, ``commercial``, platform, purpose),
  and the item's md5 and work identifiers that the registry named when it was decided, recorded
  in the evidence (``manifest.md5``, ``manifest.identifier``; one the registry did not name then
  is not recorded, so a replay against a later registry cannot match it);
- the decision time (``decided_at``), so deals and reservations are judged in force or not at
  the same instant;
- the web signals, *as read then*: every signal reading is recorded in the entry's evidence
  (status, purposes, raw value, detail, payment flag; crawl-time and fetched alike, with their
  ``@crawl`` / ``@fetch`` labels), and those readings are fed back to the engine unchanged.

What it cannot reproduce:

- the signal *parsing*: the bodies (robots.txt, headers, XMP, C2PA...) are not in the log, only
  their hashes and readings, so a parser fixed since is not re-applied: the recorded reading of
  each signal is taken as given;
- entries logged before decisions recorded their item inputs (no ``commercial`` field): they are
  refused with :class:`NotReplayable`, not guessed;
- a policy other than the one given: the entry names only its policy *version*; the caller
  supplies the :class:`~.decide.Policy` of that version (a mismatch is :class:`NotReplayable`);
- a live-revocation entry's leading ``consent-revoked`` / ``consent-granted`` reason (it says
  how the verdict moved from the one before, which a single entry does not know).

Replay compares verdicts. Otherwise, with the same registry and policy, the replayed reasons and
evidence equal the logged ones, in order (``tests/unit/test_rights_replay.py`` holds every kind
of signal to that).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from pydantic import HttpUrl

from consentry_shared.contracts.v1 import Evidence, ItemEvent, LedgerEntry, Verdict

from .decide import Decision, Policy, decide
from .registry import RegistryView
from .signals import SignalReading, combine
from .web_signals import WebSignals

__all__ = ["NotReplayable", "ReplayedEntry", "recorded_signals", "replay_decision", "replay_entry"]

# Evidence the engine writes itself about the registry, the manifest and the policy; every
# other evidence record is a signal reading (see signals.base.reading_to_evidence).
_NON_SIGNAL_PREFIXES: Final = ("registry.", "manifest.", "policy.")


class NotReplayable(ValueError):
    """The entry lacks what a replay needs (its item inputs, a readable signal, its policy)."""


@dataclass(frozen=True, slots=True)
class ReplayedEntry:
    """A logged decision and the decision the replay reached."""

    entry: LedgerEntry
    replayed: Decision

    @property
    def differs(self) -> bool:
        """Whether the replayed verdict is not the logged one."""
        return self.replayed.verdict is not Verdict(self.entry.verdict)


def recorded_signals(evidence: Sequence[Evidence], *, index: int | None = None) -> WebSignals | None:
    """The signal readings recorded in ``evidence``, combined as the engine combined them.

    ``None`` when the entry records no signal (the engine then read none). The evidence objects
    are kept as they are, so a replayed decision cites the very evidence of the entry.

    Raises:
        NotReplayable: a signal evidence whose value is not a recorded reading.
    """
    readings: list[SignalReading] = []
    kept: list[Evidence] = []
    for position, item in enumerate(evidence):
        if item.signal.startswith(_NON_SIGNAL_PREFIXES):
            continue
        readings.append(_reading(item, position, index))
        kept.append(item)
    if not readings:
        return None
    return WebSignals(tuple(readings), tuple(kept), combine(readings))


def _reading(item: Evidence, position: int, index: int | None) -> SignalReading:
    where = f"entry {index} " if index is not None else ""
    try:
        value = json.loads(item.value or "")
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
        purposes = value["purposes"]
        if not isinstance(purposes, list):
            raise ValueError("purposes is not a list")
        return SignalReading(
            signal=item.signal,
            source=item.ref,
            raw=value.get("raw"),
            status=value["status"],
            purposes=frozenset(purposes),
            detail=value.get("detail"),
            policy_url=value.get("policy_url"),
            requires_payment=bool(value.get("requires_payment", False)),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise NotReplayable(
            f"{where}evidence[{position}] ({item.signal}): not a recorded signal reading: {error}"
        ) from None


def _item_of(entry: LedgerEntry, commercial: bool) -> ItemEvent:
    # Not validated again: every value comes from a validated entry, and the engine reads only
    # these fields (crawl evidence is replaced by the recorded readings).
    md5 = next((e.value for e in entry.evidence if e.signal == "manifest.md5"), None)
    identifiers = [e.value for e in entry.evidence if e.signal == "manifest.identifier" and e.value]
    return ItemEvent.model_construct(
        event_id=entry.event_id,
        manifest_id=entry.manifest_id,
        item_id=entry.item_id,
        line=1,
        platform=entry.platform,
        purpose=entry.purpose,
        territory=entry.territory,
        jurisdiction=entry.jurisdiction,
        commercial=commercial,
        url=HttpUrl(entry.url),
        sha256=entry.sha256,
        md5=md5,
        identifiers=identifiers or None,
        license=entry.license,
        creator=None,
        title=None,
        media_type=None,
        submitted_at=entry.decided_at,
        evidence={},
        extra={},
    )


def replay_decision(entry: LedgerEntry, registry: RegistryView, policy: Policy) -> Decision:
    """Decide ``entry``'s item again with ``registry`` and ``policy`` at its ``decided_at``.

    ``registry`` SHOULD be the registry as of ``entry.registry_version`` (the caller chooses:
    an auditor may replay against a later registry on purpose). ``policy.version`` MUST be the
    entry's ``policy_version``.

    Raises:
        NotReplayable: the entry predates recorded item inputs, a signal evidence cannot be read
            back, or ``policy`` is not the entry's policy version.
    """
    commercial = entry.commercial
    if commercial is None:
        raise NotReplayable(
            f"entry {entry.index} was logged before decisions recorded their item inputs "
            "(sha256, licence, territory, jurisdiction, commercial)"
        )
    if policy.version != entry.policy_version:
        raise NotReplayable(
            f"entry {entry.index} was decided under policy {entry.policy_version!r}; "
            f"the replay has {policy.version!r}"
        )
    signals = recorded_signals(entry.evidence, index=entry.index)
    return decide(_item_of(entry, commercial), registry, policy, entry.decided_at, signals=signals)


def replay_entry(entry: LedgerEntry, registry: RegistryView, policy: Policy) -> ReplayedEntry:
    """:func:`replay_decision`, paired with the entry for comparison."""
    return ReplayedEntry(entry, replay_decision(entry, registry, policy))
