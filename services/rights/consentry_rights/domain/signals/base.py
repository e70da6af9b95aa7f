"""The common result of every signal parser: :class:`SignalReading`.

A reading says what one machine-readable signal states about one item, for a set of purposes:

- ``reserved``: the signal reserves the purposes (an opt-out, a prohibition);
- ``constrained``: use is possible only on conditions (a licence to take, a payment, a duty);
  it grants nothing until a deal covers it;
- ``unknown``: the signal was present but could not be read (a parse error, a value outside the
  vocabulary, an unreadable policy). It is never permission;
- ``not-reserved``: the signal explicitly leaves the purposes unreserved or allows them;
- ``unset``: the signal says nothing about these purposes (absent, or no rule matches).

Contract shared by every parser in this package: parsing is pure (no network, no clock, no file
access; times and fetched bodies are passed in) and never raises on bad input. A malformed body,
header or value becomes an ``unknown`` reading with the error in ``detail``; nothing in this
package turns an error into ``not-reserved``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Final, Literal, TypeAlias

from consentry_shared.contracts.v1 import Evidence, Purpose

__all__ = [
    "AI_PURPOSES",
    "ALL_PURPOSES",
    "STATUS_ORDER",
    "TRAINING_PURPOSES",
    "Headers",
    "SignalParseError",
    "SignalReading",
    "Status",
    "reading_to_evidence",
]

Status: TypeAlias = Literal["reserved", "not-reserved", "constrained", "unset", "unknown"]

# Most restrictive first: the order combine() ranks statuses by.
STATUS_ORDER: Final[tuple[Status, ...]] = ("reserved", "constrained", "unknown", "not-reserved", "unset")
_STATUSES: Final = frozenset(STATUS_ORDER)

GENERATIVE: Final = Purpose.AI_GENERATIVE_TRAINING.value
TRAINING: Final = Purpose.AI_TRAINING.value
INFERENCE: Final = Purpose.AI_INFERENCE.value
SEARCH: Final = Purpose.SEARCH.value

ALL_PURPOSES: Final = frozenset(purpose.value for purpose in Purpose)
AI_PURPOSES: Final = frozenset({GENERATIVE, TRAINING, INFERENCE})
TRAINING_PURPOSES: Final = frozenset({GENERATIVE, TRAINING})

# A raw value kept as evidence is the line or field that decided, not a whole body: the body is
# identified by its hash in the Evidence. Long values are clipped so one evidence stays small.
MAX_RAW: Final = 1024

# HTTP response headers as callers hold them: a mapping (one value, or a list of values, per
# name) or a sequence of (name, value) pairs, which keeps repeated fields apart.
Headers: TypeAlias = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]


class SignalParseError(ValueError):
    """A signal body or value could not be parsed.

    Only the lower-level ``parse_*`` helpers raise it; every ``read_*`` function catches it and
    returns an ``unknown`` reading instead.
    """


@dataclass(frozen=True, slots=True)
class SignalReading:
    """What one signal says about one item, for ``purposes``.

    ``signal`` names the signal (``tdmrep.header``, ``robots.txt``, ``iptc.data-mining``, ...),
    ``source`` where it was read (a URL, when known), ``raw`` the value or line that decided
    (clipped to :data:`MAX_RAW` characters), ``detail`` the parser's explanation (the error for
    ``unknown``), ``policy_url`` a licence or policy the signal points to, and
    ``requires_payment`` whether the way to use the item passes through a paid licence or some
    other deal (a licence server, an ODRL ``compensate`` duty, a non-free RSL payment).
    """

    signal: str
    source: str | None
    raw: str | None
    status: Status
    purposes: frozenset[str]
    detail: str | None = None
    policy_url: str | None = None
    requires_payment: bool = False

    def __post_init__(self) -> None:
        if not self.signal:
            raise ValueError("a reading needs a signal name")
        if self.status not in _STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        if not self.purposes <= ALL_PURPOSES:
            raise ValueError(f"unknown purposes {sorted(self.purposes - ALL_PURPOSES)}")

    def to_evidence(self, *, seen_at: datetime | None = None, body_sha256: str | None = None) -> Evidence:
        """This reading as the shared :class:`Evidence` model; see :func:`reading_to_evidence`."""
        return reading_to_evidence(self, seen_at=seen_at, body_sha256=body_sha256)


def reading_to_evidence(
    reading: SignalReading, *, seen_at: datetime | None = None, body_sha256: str | None = None
) -> Evidence:
    """Record ``reading`` as evidence: ``signal`` and ``ref`` (the source) as they are.

    ``value`` is a compact JSON object with sorted keys (``status``, ``purposes``, and ``raw``,
    ``detail``, ``policy_url``, ``requires_payment`` when set), so the same reading always gives
    the same bytes in the ledger. ``seen_at`` (the fetch time) MUST be timezone-aware and
    ``body_sha256`` is the hash of the fetched body; both come from the caller.
    """
    return Evidence(
        signal=reading.signal,
        ref=reading.source,
        value=_evidence_value(
            reading.status,
            reading.purposes,
            reading.raw,
            reading.detail,
            reading.policy_url,
            reading.requires_payment,
        ),
        body_sha256=body_sha256,
        seen_at=seen_at,
    )


@lru_cache(maxsize=4096)
def _evidence_value(
    status: Status,
    purposes: frozenset[str],
    raw: str | None,
    detail: str | None,
    policy_url: str | None,
    requires_payment: bool,
) -> str:
    # Memoised: an item's readings repeat those of other items but for their source, which
    # the value leaves out.
    value: dict[str, object] = {"status": status, "purposes": sorted(purposes)}
    if raw is not None:
        value["raw"] = raw
    if detail is not None:
        value["detail"] = detail
    if policy_url is not None:
        value["policy_url"] = policy_url
    if requires_payment:
        value["requires_payment"] = True
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- helpers shared by the parsers ----------------------------------------------------------------


def clip(text: str | None, limit: int = MAX_RAW) -> str | None:
    """``text`` cut to ``limit`` characters (with a marker), or ``None``."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def decode_text(body: str | bytes) -> str:
    """A fetched text body as ``str``: UTF-8 (a BOM dropped), undecodable bytes replaced."""
    if isinstance(body, bytes):
        return body.decode("utf-8-sig", errors="replace")
    return body.removeprefix("\ufeff")


def unknown(
    signal: str,
    source: str | None,
    raw: str | None,
    error: str,
    purposes: frozenset[str] = ALL_PURPOSES,
) -> SignalReading:
    """The reading for a signal that was present but could not be read."""
    return SignalReading(signal, source, clip(raw), "unknown", purposes, clip(error))


def header_values(headers: Headers, name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive), in order; repeated fields kept apart."""
    wanted = name.lower()
    found: list[str] = []
    pairs: Iterable[tuple[str, str | Sequence[str]]]
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in pairs:
        if not isinstance(key, str) or key.lower() != wanted:
            continue
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found.extend(item for item in value if isinstance(item, str))
        # anything else (None, a number, bytes) is not a header value and is skipped
    return found
