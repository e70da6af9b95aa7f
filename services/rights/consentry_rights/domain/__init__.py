"""The rights domain: pure decision logic, no I/O, no clock (time is always passed in).

- :mod:`.spdx` parses SPDX licence expressions and maps them to :class:`LicenceTerms`.
- :mod:`.registry` holds :class:`RegistryView`, an immutable indexed registry snapshot.
- :mod:`.signals` parses each machine-readable reservation signal; :mod:`.web_signals` reads
  them all from a :class:`SignalCapture` (an item's crawl-time evidence, or a fetch) and
  combines them per purpose.
- :mod:`.regimes` holds the jurisdiction -> regime table (EU and JP opt-out by default).
- :mod:`.decide` holds :func:`decide`, which turns an item, a registry view, a
  :class:`Policy`, a time (and optionally a fetched capture) into a :class:`Decision`.

Errors: :class:`LicenceExpressionError` (a ``ValueError``) for a malformed licence expression;
``ValueError`` for an invalid :class:`Policy` or a naive decision time. :func:`decide` itself
never raises on a bad licence: it decides (never in the platform's favour).
"""

from .decide import Decision, Policy, Regime, decide, purpose_covers
from .regimes import DEFAULT_REGIMES, regime_table
from .registry import RegistryView, normalise_url
from .spdx import (
    UNKNOWN_TERMS,
    AllOf,
    AnyOf,
    LicenceExpression,
    LicenceExpressionError,
    LicenceId,
    LicenceTerms,
    LicenceUse,
    licence_terms,
    parse_licence,
    permissiveness,
)
from .web_signals import (
    OriginDocument,
    ParsedDocuments,
    SignalCapture,
    WebSignals,
    body_sha256,
    capture_from_evidence,
    origin_of,
    read_signals,
)

__all__ = [
    "DEFAULT_REGIMES",
    "UNKNOWN_TERMS",
    "AllOf",
    "AnyOf",
    "Decision",
    "LicenceExpression",
    "LicenceExpressionError",
    "LicenceId",
    "LicenceTerms",
    "LicenceUse",
    "OriginDocument",
    "ParsedDocuments",
    "Policy",
    "Regime",
    "RegistryView",
    "SignalCapture",
    "WebSignals",
    "body_sha256",
    "capture_from_evidence",
    "decide",
    "licence_terms",
    "normalise_url",
    "origin_of",
    "parse_licence",
    "permissiveness",
    "purpose_covers",
    "read_signals",
    "regime_table",
]
