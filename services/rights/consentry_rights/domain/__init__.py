"""The rights domain: pure decision logic, no I/O, no clock (time is always passed in).

- :mod:`.spdx` parses SPDX licence expressions and maps them to :class:`LicenceTerms`.
- :mod:`.registry` holds :class:`RegistryView`, an immutable indexed registry snapshot.
- :mod:`.decide` holds :func:`decide`, which turns an item, a registry view, a
  :class:`Policy` and a time into a :class:`Decision`.

Errors: :class:`LicenceExpressionError` (a ``ValueError``) for a malformed licence expression;
``ValueError`` for an invalid :class:`Policy` or a naive decision time. :func:`decide` itself
never raises on a bad licence: it decides (never in the platform's favour).
"""

from .decide import Decision, Policy, Regime, decide, purpose_covers
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

__all__ = [
    "UNKNOWN_TERMS",
    "AllOf",
    "AnyOf",
    "Decision",
    "LicenceExpression",
    "LicenceExpressionError",
    "LicenceId",
    "LicenceTerms",
    "LicenceUse",
    "Policy",
    "Regime",
    "RegistryView",
    "decide",
    "licence_terms",
    "normalise_url",
    "parse_licence",
    "permissiveness",
    "purpose_covers",
]
