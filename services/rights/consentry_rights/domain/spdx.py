"""SPDX licence expressions: parse them, and say what they let a platform do.

Grammar (SPDX 2.3 Annex D; operators are matched case-insensitively, ``WITH`` binds tighter than
``AND``, which binds tighter than ``OR``)::

    expression := and-expr ("OR" and-expr)*
    and-expr   := with-expr ("AND" with-expr)*
    with-expr  := simple ["WITH" exception-id]
    simple     := licence-id ["+"] | licence-ref | "(" expression ")"
    licence-ref := ["DocumentRef-" idstring ":"] "LicenseRef-" idstring
    idstring   := 1*(ALPHA / DIGIT / "-" / ".")

A grammar error raises :class:`LicenceExpressionError` (a ``ValueError``). Licence ids are matched
case-insensitively against a table of the licences that matter for training data; any other id
parses fine but maps to :data:`UNKNOWN_TERMS` (``known=False``): the caller decides what an
unverifiable licence means under its regime, this module never guesses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal, TypeAlias

__all__ = [
    "UNKNOWN_TERMS",
    "AllOf",
    "AnyOf",
    "LicenceExpression",
    "LicenceExpressionError",
    "LicenceId",
    "LicenceTerms",
    "LicenceUse",
    "licence_terms",
    "parse_licence",
    "permissiveness",
]

LicenceUse: TypeAlias = Literal["all", "non-commercial", "none", "unknown"]

# Deeper nesting than this is no real licence; the cap keeps a hostile manifest from
# exhausting the interpreter stack (a RecursionError is not a ValueError and would escape).
_MAX_DEPTH: Final = 32


class LicenceExpressionError(ValueError):
    """The text is not an SPDX licence expression. ``position`` is a 0-based character offset."""

    def __init__(self, message: str, expression: str, position: int) -> None:
        super().__init__(f"{message} at position {position} in {expression!r}")
        self.expression = expression
        self.position = position


# --- the syntax tree --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LicenceId:
    """One licence: an SPDX id (``+`` = "or later") or a ``LicenseRef-``, optionally ``WITH``."""

    id: str
    or_later: bool = False
    exception: str | None = None

    def __str__(self) -> str:
        text = _canonical_id(self.id) + ("+" if self.or_later else "")
        return text if self.exception is None else f"{text} WITH {self.exception}"


@dataclass(frozen=True, slots=True)
class AllOf:
    """``A AND B``: the user must comply with every part."""

    parts: tuple[LicenceExpression, ...]

    def __str__(self) -> str:
        return " AND ".join(f"({part})" if isinstance(part, AnyOf) else str(part) for part in self.parts)


@dataclass(frozen=True, slots=True)
class AnyOf:
    """``A OR B``: the user may pick whichever option suits the use."""

    options: tuple[LicenceExpression, ...]

    def __str__(self) -> str:
        return " OR ".join(str(option) for option in self.options)


LicenceExpression: TypeAlias = LicenceId | AllOf | AnyOf


# --- parsing ----------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:([()])|([^\s()]+))")
_IDSTRING = r"[A-Za-z0-9.\-]+"
_LICENCE_ID = re.compile(rf"({_IDSTRING})(\+?)")
_LICENCE_REF = re.compile(rf"(?:DocumentRef-{_IDSTRING}:)?LicenseRef-{_IDSTRING}", re.IGNORECASE)
_EXCEPTION_ID = re.compile(_IDSTRING)
_OPERATORS: Final = frozenset({"AND", "OR", "WITH"})

# (kind, text, position); kind is "(", ")", an operator or "ID"
_Token: TypeAlias = tuple[str, str, int]


def _tokenise(expression: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    end = len(expression.rstrip())
    while position < end:
        found = _TOKEN.match(expression, position)
        if found is None:  # pragma: no cover - the pattern matches any non-blank rest
            raise LicenceExpressionError("unexpected text", expression, position)
        paren, word = found.group(1), found.group(2)
        start = found.start(1) if paren else found.start(2)
        if paren:
            tokens.append((paren, paren, start))
        elif word.upper() in _OPERATORS:
            tokens.append((word.upper(), word, start))
        else:
            tokens.append(("ID", word, start))
        position = found.end()
    return tokens


class _Parser:
    __slots__ = ("_expression", "_index", "_tokens")

    def __init__(self, expression: str) -> None:
        self._expression = expression
        self._tokens = _tokenise(expression)
        self._index = 0

    def parse(self) -> LicenceExpression:
        if not self._tokens:
            raise LicenceExpressionError("empty licence expression", self._expression, 0)
        tree = self._or(0)
        if self._index < len(self._tokens):
            _kind, text, position = self._tokens[self._index]
            raise LicenceExpressionError(f"unexpected {text!r}", self._expression, position)
        return tree

    def _peek(self) -> str | None:
        return self._tokens[self._index][0] if self._index < len(self._tokens) else None

    def _fail_at_end_or_token(self, what: str) -> LicenceExpressionError:
        if self._index < len(self._tokens):
            _kind, text, position = self._tokens[self._index]
            return LicenceExpressionError(f"expected {what}, found {text!r}", self._expression, position)
        return LicenceExpressionError(
            f"expected {what}, found the end", self._expression, len(self._expression)
        )

    def _or(self, depth: int) -> LicenceExpression:
        options = [self._and(depth)]
        while self._peek() == "OR":
            self._index += 1
            options.append(self._and(depth))
        return options[0] if len(options) == 1 else AnyOf(_flatten(options, AnyOf))

    def _and(self, depth: int) -> LicenceExpression:
        parts = [self._with(depth)]
        while self._peek() == "AND":
            self._index += 1
            parts.append(self._with(depth))
        return parts[0] if len(parts) == 1 else AllOf(_flatten(parts, AllOf))

    def _with(self, depth: int) -> LicenceExpression:
        kind = self._peek()
        if kind == "(":
            if depth >= _MAX_DEPTH:
                position = self._tokens[self._index][2]
                raise LicenceExpressionError("parentheses nested too deeply", self._expression, position)
            self._index += 1
            inner = self._or(depth + 1)
            if self._peek() != ")":
                raise self._fail_at_end_or_token("')'")
            self._index += 1
            if self._peek() == "WITH":
                position = self._tokens[self._index][2]
                raise LicenceExpressionError("WITH must follow a single licence", self._expression, position)
            return inner
        if kind != "ID":
            raise self._fail_at_end_or_token("a licence id")
        licence = self._licence()
        if self._peek() != "WITH":
            return licence
        self._index += 1
        if self._peek() != "ID":
            raise self._fail_at_end_or_token("an exception id")
        _kind, text, position = self._tokens[self._index]
        if not _EXCEPTION_ID.fullmatch(text):
            raise LicenceExpressionError(f"invalid exception id {text!r}", self._expression, position)
        self._index += 1
        return LicenceId(licence.id, licence.or_later, text)

    def _licence(self) -> LicenceId:
        _kind, text, position = self._tokens[self._index]
        self._index += 1
        if _LICENCE_REF.fullmatch(text):
            return LicenceId(text)
        found = _LICENCE_ID.fullmatch(text)
        if found is None:
            raise LicenceExpressionError(f"invalid licence id {text!r}", self._expression, position)
        return LicenceId(found.group(1), or_later=bool(found.group(2)))


def _flatten(
    nodes: list[LicenceExpression], kind: type[AllOf] | type[AnyOf]
) -> tuple[LicenceExpression, ...]:
    # "(A OR B) OR C" is "A OR B OR C"; flattening makes equal meanings render (and compare) equal.
    flat: list[LicenceExpression] = []
    for node in nodes:
        if isinstance(node, AllOf) and kind is AllOf:
            flat.extend(node.parts)
        elif isinstance(node, AnyOf) and kind is AnyOf:
            flat.extend(node.options)
        else:
            flat.append(node)
    return tuple(flat)


@lru_cache(maxsize=4096)
def parse_licence(expression: str) -> LicenceExpression:
    """Parse an SPDX licence expression into its syntax tree.

    Leading and trailing blanks are ignored; operators may be written in any case. ``str()`` of
    the result is the canonical spelling (known ids in their SPDX case, operators upper-case).
    Raises :class:`LicenceExpressionError` on any grammar error, including an empty string.
    The result is immutable, so parses are memoised: manifests repeat a handful of licences.
    """
    return _Parser(expression).parse()


# --- terms ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LicenceTerms:
    """What a licence allows and what it asks in return.

    ``use`` is who may use the work: ``all`` (including commercially), ``non-commercial``,
    ``none`` (all rights reserved) or ``unknown`` (the licence is not one this table knows;
    then ``known`` is false).
    """

    use: LicenceUse
    attribution: bool = False
    share_alike: bool = False
    no_derivatives: bool = False
    known: bool = True


UNKNOWN_TERMS: Final = LicenceTerms("unknown", known=False)
_PUBLIC_DOMAIN: Final = LicenceTerms("all")
_PERMISSIVE: Final = LicenceTerms("all", attribution=True)
_COPYLEFT: Final = LicenceTerms("all", share_alike=True)
_OPEN_DATA_SHARE_ALIKE: Final = LicenceTerms("all", attribution=True, share_alike=True)
_RESERVED: Final = LicenceTerms("none")

_TABLE_SOURCE: Final[dict[LicenceTerms, tuple[str, ...]]] = {
    _PUBLIC_DOMAIN: (
        "CC0-1.0", "PDDL-1.0", "Unlicense", "CC-PDDC", "CC-PDM-1.0", "0BSD", "MIT-0", "WTFPL",
        "LicenseRef-Public-Domain", "LicenseRef-PublicDomain", "public-domain", "PublicDomain",
    ),
    _PERMISSIVE: (
        "MIT", "Apache-2.0", "Apache-1.1", "BSD-2-Clause", "BSD-3-Clause", "ISC", "Zlib",
        "BSL-1.0", "X11", "PostgreSQL", "Python-2.0",
        # Open-data and academic licences that datasets declare (OpenML, Kaggle, the Hub).
        "ODC-By-1.0", "CDLA-Permissive-1.0", "CDLA-Permissive-2.0", "DbCL-1.0",
        "AFL-1.1", "AFL-1.2", "AFL-2.0", "AFL-2.1", "AFL-3.0",
        "OGL-UK-3.0", "etalab-2.0",
    ),
    _OPEN_DATA_SHARE_ALIKE: ("ODbL-1.0", "CDLA-Sharing-1.0"),
    _COPYLEFT: (
        "GPL-1.0", "GPL-1.0-only", "GPL-1.0-or-later",
        "GPL-2.0", "GPL-2.0-only", "GPL-2.0-or-later",
        "GPL-3.0", "GPL-3.0-only", "GPL-3.0-or-later",
        "LGPL-2.0", "LGPL-2.0-only", "LGPL-2.0-or-later",
        "LGPL-2.1", "LGPL-2.1-only", "LGPL-2.1-or-later",
        "LGPL-3.0", "LGPL-3.0-only", "LGPL-3.0-or-later",
        "AGPL-1.0", "AGPL-1.0-only", "AGPL-1.0-or-later",
        "AGPL-3.0", "AGPL-3.0-only", "AGPL-3.0-or-later",
        "MPL-1.0", "MPL-1.1", "MPL-2.0", "MPL-2.0-no-copyleft-exception",
    ),
    _RESERVED: (
        "LicenseRef-All-Rights-Reserved", "LicenseRef-AllRightsReserved", "All-Rights-Reserved",
        "LicenseRef-Proprietary",
    ),
}  # fmt: skip

# lower-cased id -> (canonical spelling, terms)
_TABLE: Final[dict[str, tuple[str, LicenceTerms]]] = {
    licence.lower(): (licence, terms) for terms, licences in _TABLE_SOURCE.items() for licence in licences
}

# Creative Commons: every version and national port SPDX lists follows one pattern. Versions are
# spelled out so that "CC-BY-9.0" stays unknown rather than being guessed.
_CREATIVE_COMMONS = re.compile(
    r"cc-by(?P<nc>-nc)?(?P<variant>-sa|-nd)?-(?:1\.0|2\.0|2\.1|2\.5|3\.0|4\.0)(?:-[a-z]{2,3})?"
)


def _lookup(licence_id: str) -> tuple[str, LicenceTerms] | None:
    lowered = licence_id.lower()
    entry = _TABLE.get(lowered)
    if entry is not None:
        return entry
    found = _CREATIVE_COMMONS.fullmatch(lowered)
    if found is None:
        return None
    variant = found.group("variant")
    terms = LicenceTerms(
        "non-commercial" if found.group("nc") else "all",
        attribution=True,
        share_alike=variant == "-sa",
        no_derivatives=variant == "-nd",
    )
    return licence_id.upper(), terms


def _canonical_id(licence_id: str) -> str:
    entry = _lookup(licence_id)
    return licence_id if entry is None else entry[0]


# "none" must win any AND, and an unknown part makes the whole unverifiable unless one part
# already forbids everything.
_BREADTH: Final[dict[LicenceUse, int]] = {"none": 0, "unknown": 1, "non-commercial": 2, "all": 3}


def permissiveness(terms: LicenceTerms, *, commercial: bool, derivative: bool) -> tuple[int, int, int]:
    """A sort key: higher means more permissive *for this use*.

    Ranks first whether the use is allowed (2), unverifiable (1) or forbidden (0), then how broad
    the licence is in general, then how few duties it imposes. Used to pick the best option of an
    ``OR`` and to tell whether one licence claim is more permissive than another.
    """
    if terms.use == "unknown":
        allowed = 1
    elif terms.use == "none" or (terms.no_derivatives and derivative):
        allowed = 0
    elif terms.use == "non-commercial":
        allowed = 0 if commercial else 2
    else:
        allowed = 2
    duties = int(terms.attribution) + int(terms.share_alike) + int(terms.no_derivatives)
    return allowed, _BREADTH[terms.use], -duties


def licence_terms(
    expression: str | LicenceExpression, *, commercial: bool = True, derivative: bool = True
) -> LicenceTerms:
    """The terms an expression grants for a use.

    ``commercial`` and ``derivative`` describe the use; they only matter for ``OR``, where the
    most permissive option *for that use* is taken (ties: the first written). ``AND`` requires
    every part: the narrowest ``use`` and the union of the duties; ``known`` only if every part
    is known. ``+`` and ``WITH`` keep the base licence's terms (an exception only ever relaxes
    them, so this errs on the strict side). A string is parsed first and may raise
    :class:`LicenceExpressionError`.
    """
    tree = parse_licence(expression) if isinstance(expression, str) else expression
    return _terms(tree, commercial, derivative)


def _terms(tree: LicenceExpression, commercial: bool, derivative: bool) -> LicenceTerms:
    if isinstance(tree, LicenceId):
        entry = _lookup(tree.id)
        return UNKNOWN_TERMS if entry is None else entry[1]
    if isinstance(tree, AnyOf):
        options = [_terms(option, commercial, derivative) for option in tree.options]
        # max() keeps the first of equal keys, so ties go to the option written first.
        return max(
            options,
            key=lambda terms: permissiveness(terms, commercial=commercial, derivative=derivative),
        )
    parts = [_terms(part, commercial, derivative) for part in tree.parts]
    return LicenceTerms(
        min((part.use for part in parts), key=_BREADTH.__getitem__),
        attribution=any(part.attribution for part in parts),
        share_alike=any(part.share_alike for part in parts),
        no_derivatives=any(part.no_derivatives for part in parts),
        known=all(part.known for part in parts),
    )
