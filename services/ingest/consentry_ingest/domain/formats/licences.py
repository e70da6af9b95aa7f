"""Declared licences as datasets write them, mapped to SPDX expressions for ``RawItem.license``.

Datasets rarely write SPDX: LAION's ``LICENSE`` column holds Creative Commons deed URLs or ``?``,
Croissant recommends licence URLs, Hugging Face cards use their own lower-case ids. Rights reads
SPDX expressions (and calls anything it cannot parse ``licence-invalid``), so ingest maps what it
recognises and keeps everything else as written: a guess would be worse than an unverified claim.

- :func:`licence_from_declared` -- one declared value (an SPDX expression, a licence URL, a
  placeholder for "unknown");
- :func:`licence_from_hf` -- a Hugging Face card's ``license`` ids plus ``license_name``;
- :func:`all_of` -- several licences that all apply (a dataset listing two licences).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Final

__all__ = ["HF_LICENCES", "all_of", "licence_from_declared", "licence_from_hf", "licence_ref"]

_UNKNOWN: Final = frozenset(
    {"", "?", "-", "unknown", "n/a", "na", "null", "none", "none given", "not specified", "noassertion"}
)
"""Placeholders that mean "no licence declared" (LAION writes ``?``, Croissant's own examples
``"None"``, SPDX documents ``NOASSERTION``). Rights then judges the item as one without a licence,
which it never treats more leniently than an unknown licence."""

_CC_DEED: Final = re.compile(
    r"(?:https?://)?(?:www\.)?creativecommons\.org/licenses/"
    r"(?P<kind>by|by-sa|by-nd|by-nc|by-nc-sa|by-nc-nd|by-nd-nc)/(?P<version>[0-9]\.[0-9])"
    r"(?:/(?P<port>[a-z]{2,3}))?(?=/|$)(?:/.*)?",
    re.IGNORECASE,
)
_CC_PUBLIC_DOMAIN: Final = re.compile(
    r"(?:https?://)?(?:www\.)?creativecommons\.org/publicdomain/(?P<kind>zero|mark)/1\.0(?:/.*)?",
    re.IGNORECASE,
)
_CHOOSEALICENSE: Final = re.compile(
    r"(?:https?://)?(?:www\.)?choosealicense\.com/licenses/(?P<id>[A-Za-z0-9.+-]+)/?", re.IGNORECASE
)
"""The licence URL of Hugging Face's Croissant files: ``https://choosealicense.com/licenses/<hub id>/``."""
_CHOOSEALICENSE_ONLY: Final[dict[str, str]] = {
    # choosealicense.com slugs that are not Hub ids (the Hub's are read through HF_LICENCES)
    "odbl-1.0": "ODbL-1.0",
    "0bsd": "0BSD",
    "bsd-4-clause": "BSD-4-Clause",
    "ms-rl": "MS-RL",
    "upl-1.0": "UPL-1.0",
    "mit-0": "MIT-0",
}
_SPDX_PAGE: Final = re.compile(
    r"(?:https?://)?(?:www\.)?spdx\.org/licenses/(?P<id>[A-Za-z0-9.+-]+?)(?:\.html|\.json)?/?", re.IGNORECASE
)
_OTHER_URLS: Final[dict[str, str]] = {
    "apache.org/licenses/license-2.0": "Apache-2.0",
    "opensource.org/licenses/mit": "MIT",
    "opensource.org/license/mit": "MIT",
    "opensource.org/licenses/apache-2.0": "Apache-2.0",
    "opensource.org/license/apache-2-0": "Apache-2.0",
    "opensource.org/licenses/bsd-2-clause": "BSD-2-Clause",
    "opensource.org/licenses/bsd-3-clause": "BSD-3-Clause",
    "opendatacommons.org/licenses/odbl": "ODbL-1.0",
    "opendatacommons.org/licenses/odbl/1-0": "ODbL-1.0",
    "opendatacommons.org/licenses/by": "ODC-By-1.0",
    "opendatacommons.org/licenses/by/1-0": "ODC-By-1.0",
    "opendatacommons.org/licenses/pddl": "PDDL-1.0",
    "opendatacommons.org/licenses/pddl/1-0": "PDDL-1.0",
    "opendatacommons.org/licenses/odbl/1.0": "ODbL-1.0",
    "opendatacommons.org/licenses/by/1.0": "ODC-By-1.0",
    "opendatacommons.org/licenses/pddl/1.0": "PDDL-1.0",
    "opendatacommons.org/licenses/dbcl/1-0": "DbCL-1.0",
    "opendatacommons.org/licenses/dbcl/1.0": "DbCL-1.0",
    "gnu.org/licenses/gpl-3.0": "GPL-3.0-only",
    "gnu.org/licenses/agpl-3.0": "AGPL-3.0-only",
    "gnu.org/licenses/lgpl-3.0": "LGPL-3.0-only",
    "gnu.org/licenses/fdl-1.3": "GFDL-1.3-only",
    "gnu.org/licenses/old-licenses/gpl-2.0": "GPL-2.0-only",
    "gnu.org/licenses/old-licenses/lgpl-2.1": "LGPL-2.1-only",
    "cdla.io/sharing-1-0": "CDLA-Sharing-1.0",
    "cdla.io/permissive-1-0": "CDLA-Permissive-1.0",
    "cdla.io/permissive-2-0": "CDLA-Permissive-2.0",
    # Kaggle's Croissant files link its "MIT" licence choice to this copy of the MIT text
    "mit.edu/~amini/license.md": "MIT",
}
_CC_NAME: Final = re.compile(
    r"(?:creative\s+commons\s+|cc[\s-]*)(?P<kind>by(?:[\s-]*nc)?(?:[\s-]*(?:sa|nd))?)"
    r"[\s-]*v?(?P<version>[1-4]\.[05])(?:\s+international)?",
    re.IGNORECASE,
)
"""Creative Commons licences written as names: ``CC BY 4.0``, ``CC BY-NC-SA 4.0``, ``cc-by 4.0``."""
_NAMES: Final[dict[str, str]] = {
    # unambiguous licence names as datasets write them (Kaggle's choices, free-text columns)
    "cc0": "CC0-1.0",
    "cc0 1.0": "CC0-1.0",
    "cc0: public domain": "CC0-1.0",
    "apache 2.0": "Apache-2.0",
    "apache-2": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "mit license": "MIT",
    "the mit license": "MIT",
}
_IDSTRING_BAD: Final = re.compile(r"[^A-Za-z0-9.-]+")
_MAX_REF_CHARS: Final = 64

HF_LICENCES: Final[dict[str, str | None]] = {
    # Hugging Face card ids (hub-docs "Licenses") -> SPDX. Only unambiguous SPDX ids are used;
    # families, RAIL licences and vendor terms become LicenseRef-hf-<id> (rights: unverified).
    # Unversioned GNU ids map to "-only", the narrower reading.
    "apache-2.0": "Apache-2.0",
    "mit": "MIT",
    "afl-3.0": "AFL-3.0",
    "artistic-2.0": "Artistic-2.0",
    "bsl-1.0": "BSL-1.0",
    "bsd-2-clause": "BSD-2-Clause",
    "bsd-3-clause": "BSD-3-Clause",
    "bsd-3-clause-clear": "BSD-3-Clause-Clear",
    "cc0-1.0": "CC0-1.0",
    "cc-by-2.0": "CC-BY-2.0",
    "cc-by-2.5": "CC-BY-2.5",
    "cc-by-3.0": "CC-BY-3.0",
    "cc-by-4.0": "CC-BY-4.0",
    "cc-by-sa-3.0": "CC-BY-SA-3.0",
    "cc-by-sa-4.0": "CC-BY-SA-4.0",
    "cc-by-nc-2.0": "CC-BY-NC-2.0",
    "cc-by-nc-3.0": "CC-BY-NC-3.0",
    "cc-by-nc-4.0": "CC-BY-NC-4.0",
    "cc-by-nd-4.0": "CC-BY-ND-4.0",
    "cc-by-nc-nd-3.0": "CC-BY-NC-ND-3.0",
    "cc-by-nc-nd-4.0": "CC-BY-NC-ND-4.0",
    "cc-by-nc-sa-2.0": "CC-BY-NC-SA-2.0",
    "cc-by-nc-sa-3.0": "CC-BY-NC-SA-3.0",
    "cc-by-nc-sa-4.0": "CC-BY-NC-SA-4.0",
    "cdla-sharing-1.0": "CDLA-Sharing-1.0",
    "cdla-permissive-1.0": "CDLA-Permissive-1.0",
    "cdla-permissive-2.0": "CDLA-Permissive-2.0",
    "wtfpl": "WTFPL",
    "ecl-2.0": "ECL-2.0",
    "epl-1.0": "EPL-1.0",
    "epl-2.0": "EPL-2.0",
    "etalab-2.0": "etalab-2.0",
    "eupl-1.1": "EUPL-1.1",
    "eupl-1.2": "EUPL-1.2",
    "agpl-3.0": "AGPL-3.0-only",
    "gpl-2.0": "GPL-2.0-only",
    "gpl-3.0": "GPL-3.0-only",
    "lgpl-2.1": "LGPL-2.1-only",
    "lgpl-3.0": "LGPL-3.0-only",
    "isc": "ISC",
    "lppl-1.3c": "LPPL-1.3c",
    "ms-pl": "MS-PL",
    "mpl-2.0": "MPL-2.0",
    "odc-by": "ODC-By-1.0",
    "odbl": "ODbL-1.0",
    "osl-3.0": "OSL-3.0",
    "postgresql": "PostgreSQL",
    "ofl-1.1": "OFL-1.1",
    "ncsa": "NCSA",
    "unlicense": "Unlicense",
    "zlib": "Zlib",
    "pddl": "PDDL-1.0",
    "unknown": None,
}
"""Hugging Face licence id -> SPDX id; ``None`` for ``unknown`` (no licence declared). Ids not
listed (``openrail``, ``llama2``, ``gemma``, ``cc``, ``gpl``...) map to ``LicenseRef-hf-<id>``."""


def licence_ref(name: str, *, prefix: str = "") -> str:
    """A ``LicenseRef-`` SPDX id naming a licence SPDX does not list (rights: unverified).

    The SPDX idstring allows letters, digits, ``.`` and ``-`` only: other runs become ``-``, and
    the name is cut to 64 characters.
    """
    cleaned = _IDSTRING_BAD.sub("-", name).strip("-.")[:_MAX_REF_CHARS].strip("-.")
    return f"LicenseRef-{prefix}{cleaned or 'unnamed'}"


@lru_cache(maxsize=4096)
def licence_from_declared(value: str) -> str | None:
    """The SPDX expression for a declared licence, ``None`` for "none declared".

    Recognised: placeholders for unknown (``?``, ``unknown``, ``None``, ``n/a``... -> ``None``);
    Hugging Face licence ids (``odc-by`` -> ``ODC-By-1.0``, ``other`` -> ``LicenseRef-hf-other``),
    unambiguous names (``CC BY-SA 4.0``, ``CC0``, ``Apache 2.0``, ``MIT License``),
    also as the ``choosealicense.com/licenses/<id>/`` URLs of Hub-made Croissant files; Creative
    Commons deed and legal-code URLs, national ports included (``.../by-nc-sa/2.0/fr/`` ->
    ``CC-BY-NC-SA-2.0-FR``), CC0 and the Public Domain Mark; ``spdx.org/licenses/<id>`` pages;
    a few other licence pages (Apache, OSI, Open Data Commons, GNU, CDLA, and the MIT text Kaggle
    links to). Anything else is returned stripped, as declared: an SPDX expression goes through
    unchanged, and text rights cannot parse is its to flag. Memoised: datasets repeat a handful of
    values.
    """
    text = value.strip()
    lowered = text.lower()
    if lowered in _UNKNOWN:
        return None
    if lowered in HF_LICENCES:  # Hub ids ("cc-by-4.0", "odc-by") appear in Croissant files too
        return HF_LICENCES[lowered]
    if lowered == "other":  # the Hub's "other" (bigcode/the-stack's Croissant): named, unverified
        return licence_from_hf(["other"])
    if lowered in _NAMES:
        return _NAMES[lowered]
    if (named := _CC_NAME.fullmatch(text)) is not None:
        kind = re.sub(r"[\s-]+", "-", named.group("kind").upper())
        return f"CC-{kind}-{named.group('version')}"
    if "://" not in text and "." not in text.partition("/")[0]:
        return text
    if (deed := _CC_DEED.fullmatch(text)) is not None:
        kind = deed.group("kind").upper()
        kind = "BY-NC-ND" if kind == "BY-ND-NC" else kind
        port = deed.group("port")
        return f"CC-{kind}-{deed.group('version')}" + (f"-{port.upper()}" if port else "")
    if (public := _CC_PUBLIC_DOMAIN.fullmatch(text)) is not None:
        return "CC0-1.0" if public.group("kind").lower() == "zero" else "CC-PDM-1.0"
    if (page := _SPDX_PAGE.fullmatch(text)) is not None:
        return page.group("id")
    if (chosen := _CHOOSEALICENSE.fullmatch(text)) is not None:
        slug = chosen.group("id").lower()
        return _CHOOSEALICENSE_ONLY.get(slug) or licence_from_hf([slug])
    bare = text.lower().removeprefix("https://").removeprefix("http://").removeprefix("www.").rstrip("/")
    for suffix in (".html", ".txt", ".php"):
        bare = bare.removesuffix(suffix)
    bare = bare.removesuffix(".en")  # gnu.org's gpl-2.0.en.html
    return _OTHER_URLS.get(bare, text)


def all_of(licences: Iterable[str | None]) -> str | None:
    """Several licences that all apply, as one SPDX ``AND`` expression; ``None`` parts (nothing
    declared) are left out, repeats dropped, compound parts parenthesised."""
    parts: list[str] = []
    for licence in licences:
        if licence is not None and licence.strip() and licence.strip() not in parts:
            parts.append(licence.strip())
    if len(parts) <= 1:
        return parts[0] if parts else None
    return " AND ".join(f"({part})" if " " in part else part for part in parts)


def licence_from_hf(ids: Iterable[str], license_name: str | None = None) -> str | None:
    """The SPDX expression for a Hugging Face card's ``license`` ids (one or a list).

    Each id maps through :data:`HF_LICENCES`; ``other`` becomes ``LicenseRef-<license_name>``
    (``LicenseRef-hf-other`` without a name); an id the table does not list becomes
    ``LicenseRef-hf-<id>``; ``unknown`` means none declared. Several ids all apply (``AND``):
    the card does not say the data may be taken under either one alone.
    """
    mapped: list[str | None] = []
    for raw in ids:
        hf_id = raw.strip().lower()
        if hf_id == "other":
            name = (license_name or "").strip()
            mapped.append(licence_ref(name) if name else "LicenseRef-hf-other")
        elif hf_id in HF_LICENCES:
            mapped.append(HF_LICENCES[hf_id])
        elif hf_id:
            mapped.append(licence_ref(hf_id, prefix="hf-"))
    return all_of(mapped)
