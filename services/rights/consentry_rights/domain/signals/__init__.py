"""Machine-readable reservation signals: one parser per signal, each with its own decision table.

Every parser is pure (bodies, headers and times are passed in) and returns
:class:`SignalReading` values; none raises on bad input and none turns an error into
permission (see :mod:`.base` for the statuses). :func:`combine` folds the readings of one item
into a status per purpose, the most restrictive first::

    reserved > constrained > unknown > not-reserved > unset

=========================  ================================================================
module                     signals (``SignalReading.signal``)
=========================  ================================================================
:mod:`.tdmrep`             ``tdmrep.well-known``, ``tdmrep.header``, ``tdmrep.meta``
:mod:`.robots`             ``robots.txt``, ``robots.content-usage``, ``robots.content-signal``
:mod:`.aipref`             ``http.content-usage`` (and the vocabularies robots.txt uses)
:mod:`.aitxt`              ``ai.txt``
:mod:`.robots_meta`        ``x-robots-tag``, ``meta-robots``
:mod:`.iptc`               ``iptc.data-mining``
:mod:`.c2pa`               ``c2pa.training-mining``
:mod:`.rsl`                ``rsl``
=========================  ================================================================

Errors: only the lower-level ``parse_*`` helpers raise, always :class:`SignalParseError` (a
``ValueError``); the ``read_*`` functions and the ``evaluate`` methods never raise on input.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from .aipref import parse_content_signal, parse_content_usage, parse_sf_dictionary, read_content_usage_header
from .aitxt import AiTxt, read_ai_txt
from .base import (
    AI_PURPOSES,
    ALL_PURPOSES,
    STATUS_ORDER,
    TRAINING_PURPOSES,
    Headers,
    SignalParseError,
    SignalReading,
    Status,
    reading_to_evidence,
)
from .c2pa import read_c2pa_training_mining
from .iptc import read_iptc_data_mining
from .robots import AI_USER_AGENTS, RobotsReport, RobotsTxt, read_robots, robots_unavailable
from .robots_meta import read_meta_robots, read_meta_robots_tags, read_x_robots_tag
from .rsl import RSL_NAMESPACE, RslDocument, read_rsl
from .tdmrep import (
    TDMREP_PROFILE,
    TdmDeclaration,
    TdmPermission,
    TdmPolicy,
    TdmRepFile,
    parse_tdm_policy,
    read_tdmrep,
    read_tdmrep_headers,
    read_tdmrep_meta,
    read_tdmrep_meta_tags,
    resolve_tdmrep,
)

__all__ = [
    "AI_PURPOSES",
    "AI_USER_AGENTS",
    "ALL_PURPOSES",
    "RSL_NAMESPACE",
    "STATUS_ORDER",
    "TDMREP_PROFILE",
    "TRAINING_PURPOSES",
    "AiTxt",
    "CombinedSignals",
    "Headers",
    "PurposeOutcome",
    "RobotsReport",
    "RobotsTxt",
    "RslDocument",
    "SignalParseError",
    "SignalReading",
    "Status",
    "TdmDeclaration",
    "TdmPermission",
    "TdmPolicy",
    "TdmRepFile",
    "combine",
    "parse_content_signal",
    "parse_content_usage",
    "parse_sf_dictionary",
    "parse_tdm_policy",
    "read_ai_txt",
    "read_c2pa_training_mining",
    "read_content_usage_header",
    "read_iptc_data_mining",
    "read_meta_robots",
    "read_meta_robots_tags",
    "read_robots",
    "read_rsl",
    "read_tdmrep",
    "read_tdmrep_headers",
    "read_tdmrep_meta",
    "read_tdmrep_meta_tags",
    "read_x_robots_tag",
    "reading_to_evidence",
    "resolve_tdmrep",
    "robots_unavailable",
]

_RANK: Final = {status: rank for rank, status in enumerate(STATUS_ORDER)}
_PURPOSE_ORDER: Final = tuple(sorted(ALL_PURPOSES))


@dataclass(frozen=True, slots=True)
class PurposeOutcome:
    """The combined status for one purpose and the readings that decided it.

    ``deciding`` holds every reading with that status for the purpose, in input order (empty for
    ``unset`` without any reading); ``requires_payment`` is true when one of them needs a paid
    licence or other deal.
    """

    status: Status
    deciding: tuple[SignalReading, ...]
    requires_payment: bool = False


@dataclass(frozen=True, slots=True)
class CombinedSignals:
    """The outcome per purpose (every purpose of :class:`Purpose` is present)."""

    by_purpose: Mapping[str, PurposeOutcome]

    def status(self, purpose: str) -> Status:
        """The combined status for ``purpose`` (a :class:`Purpose` value)."""
        return self.by_purpose[purpose].status

    def deciding(self, purpose: str) -> tuple[SignalReading, ...]:
        """The readings that decided ``purpose``."""
        return self.by_purpose[purpose].deciding


def combine(readings: Iterable[SignalReading]) -> CombinedSignals:
    """Most restrictive status per purpose over ``readings`` (reserved > constrained > unknown >
    not-reserved > unset), with the readings that decided it. Deterministic: the same readings in
    the same order give an equal result."""
    ranks = _RANK
    best = dict.fromkeys(_PURPOSE_ORDER, len(STATUS_ORDER) - 1)
    deciding: dict[str, list[SignalReading]] = {purpose: [] for purpose in _PURPOSE_ORDER}
    for reading in readings:
        rank = ranks[reading.status]
        for purpose in reading.purposes:
            current = best[purpose]
            if rank < current:
                best[purpose] = rank
                deciding[purpose] = [reading]
            elif rank == current:
                deciding[purpose].append(reading)
    outcomes = {
        purpose: PurposeOutcome(
            STATUS_ORDER[best[purpose]],
            tuple(deciding[purpose]),
            any(reading.requires_payment for reading in deciding[purpose]),
        )
        for purpose in _PURPOSE_ORDER
    }
    return CombinedSignals(MappingProxyType(outcomes))
