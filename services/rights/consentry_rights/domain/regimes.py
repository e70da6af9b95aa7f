"""Which regime governs a use where nobody said anything: the jurisdiction -> regime table.

``opt-in`` (no licence, no consent) is the rule almost everywhere. ``opt-out`` is the text and
data mining exception of the EU DSM directive (Art. 4: mining is allowed unless the rights holder
reserved it in a machine-readable way) and of Japan's Copyright Act (Art. 30-4). A table maps
ISO 3166-1 alpha-2 codes to a regime; the groups ``EU`` (the 27 member states) and ``EEA`` (the
EU plus Iceland, Liechtenstein and Norway, where the directive applies too) expand to their
members, and a country named on its own beats its group (``{"EU": "opt-out", "DE": "opt-in"}``);
two groups that disagree on a member are an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal, TypeAlias

__all__ = ["DEFAULT_REGIMES", "EU_MEMBER_STATES", "REGIMES", "REGIME_GROUPS", "Regime", "regime_table"]

Regime: TypeAlias = Literal["opt-in", "opt-out"]
REGIMES: Final[tuple[Regime, ...]] = ("opt-in", "opt-out")

EU_MEMBER_STATES: Final = frozenset(
    {
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
    }
)  # fmt: skip
REGIME_GROUPS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {"EU": EU_MEMBER_STATES, "EEA": EU_MEMBER_STATES | {"IS", "LI", "NO"}}
)


def regime_table(spec: Mapping[str, str]) -> Mapping[str, Regime]:
    """The table ``spec`` (codes or groups -> ``opt-in`` / ``opt-out``) with groups expanded.

    Codes are upper-cased; a country named on its own beats its group. Raises ``ValueError`` for
    a key that is neither a two-letter code nor a known group, or an unknown regime: a typo must
    not quietly become the lax regime.
    """
    countries: dict[str, Regime] = {}
    grouped: dict[str, tuple[Regime, str]] = {}
    for key, value in spec.items():
        code = key.strip().upper()
        if value not in REGIMES:
            raise ValueError(f"regime for {key!r} must be one of {REGIMES}, not {value!r}")
        regime: Regime = "opt-out" if value == "opt-out" else "opt-in"
        if code in REGIME_GROUPS:
            for member in sorted(REGIME_GROUPS[code]):
                earlier = grouped.setdefault(member, (regime, code))
                if earlier[0] != regime:
                    raise ValueError(
                        f"groups {earlier[1]} and {code} give {member} different regimes: "
                        f"name {member} itself"
                    )
        elif len(code) == 2 and code.isascii() and code.isalpha():
            countries[code] = regime
        else:
            known = ", ".join(sorted(REGIME_GROUPS))
            raise ValueError(f"{key!r} is not an ISO 3166 alpha-2 code or a group ({known})")
    table = {member: regime for member, (regime, _group) in grouped.items()}
    table.update(countries)
    return MappingProxyType(dict(sorted(table.items())))


DEFAULT_REGIMES: Final[Mapping[str, Regime]] = regime_table({"EU": "opt-out", "JP": "opt-out"})
"""The default table: EU member states and Japan opt-out; everything else falls to the policy's
default regime (``opt-in`` unless configured)."""
