"""Usage-preference vocabularies: IETF AIPREF ``Content-Usage`` and Cloudflare ``Content-Signal``.

**Content-Usage** (draft-ietf-aipref-vocab, draft-ietf-aipref-attach) is an RFC 9651 structured
field *Dictionary* whose keys are usage categories and whose values are the tokens ``y`` (allow)
and ``n`` (disallow). It is carried by the HTTP ``Content-Usage`` header (read here) and by
``Content-Usage`` rules in robots.txt (read by :mod:`.robots`). Labels and the purposes they
decide (the most specific label present wins; its absence defers to the broader one, as the
drafts' "check the parent" processing does):

=================  ==========================================================================
purpose            labels, most specific first
=================  ==========================================================================
generative train.  ``train-genai`` (drafts -01..-05), ``train-ai``, ``all`` (drafts -01..-03)
other training     ``train-ai``, ``all``
inference / RAG    ``ai-use`` (drafts -06 and later), ``all``
search             ``search``, ``all``
=================  ==========================================================================

``y`` gives ``not-reserved``, ``n`` ``reserved``. A label that is present with any other value
(a string ``"n"``, a boolean, a token ``no``) gives ``unknown``: the drafts call that "no
preference", but a creator who wrote ``train-ai="n"`` meant something, so it is not read as
silence. A value that does not parse as a Dictionary makes the whole statement ``unknown``
(the drafts: "if the parsing of the Dictionary fails, preferences are unknown"). Unknown labels
and all parameters are ignored, as the drafts require.

**Content-Signal** (Cloudflare's Content Signals Policy, contentsignals.org) is a comma list of
``key=yes|no``: ``ai-train`` decides both training purposes, ``ai-input`` inference, ``search``
search. Other keys (``use=...``) are ignored; a known key with another value is ``unknown``.
Repeated keys combine most-restrictively.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from .base import (
    ALL_PURPOSES,
    GENERATIVE,
    INFERENCE,
    SEARCH,
    STATUS_ORDER,
    TRAINING,
    TRAINING_PURPOSES,
    Headers,
    SignalParseError,
    SignalReading,
    Status,
    clip,
    header_values,
    unknown,
)

__all__ = [
    "parse_content_signal",
    "parse_content_usage",
    "parse_sf_dictionary",
    "preference_readings",
    "read_content_usage_header",
]

_RANK: Final = {status: rank for rank, status in enumerate(STATUS_ORDER)}

_AIPREF_CHAINS: Final[dict[str, tuple[str, ...]]] = {
    GENERATIVE: ("train-genai", "train-ai", "all"),
    TRAINING: ("train-ai", "all"),
    INFERENCE: ("ai-use", "all"),
    SEARCH: ("search", "all"),
}

_CONTENT_SIGNAL_KEYS: Final[dict[str, frozenset[str]]] = {
    "ai-train": TRAINING_PURPOSES,
    "ai-input": frozenset({INFERENCE}),
    "search": frozenset({SEARCH}),
}

# A decision for each purpose: (status, the member that decided it).
Preferences = dict[str, tuple[Status, str]]


def _stricter(current: tuple[Status, str] | None, candidate: tuple[Status, str]) -> tuple[Status, str]:
    if current is None or _RANK[candidate[0]] < _RANK[current[0]]:
        return candidate
    return current


# --- RFC 9651 Dictionary --------------------------------------------------------------------------

_LCALPHA: Final = frozenset("abcdefghijklmnopqrstuvwxyz")
_DIGITS: Final = frozenset("0123456789")
_KEY_FIRST: Final = _LCALPHA | {"*"}
_KEY_REST: Final = _LCALPHA | _DIGITS | frozenset("_-.*")
_ALPHA: Final = _LCALPHA | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TCHAR: Final = _ALPHA | _DIGITS | frozenset("!#$%&'*+-.^_`|~")
_TOKEN_REST: Final = _TCHAR | {":", "/"}
_BASE64: Final = _ALPHA | _DIGITS | frozenset("+/=")


class _Fields:
    """A cursor over one structured-field value (RFC 9651 §4.2)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> SignalParseError:
        return SignalParseError(f"structured field: {what} at offset {self.pos}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def key(self) -> str:
        start = self.pos
        if self.peek() not in _KEY_FIRST or not self.peek():
            raise self.fail("expected a key")
        self.pos += 1
        while self.peek() and self.peek() in _KEY_REST:
            self.pos += 1
        return self.text[start : self.pos]

    def bare_item(self) -> tuple[str, str]:
        char = self.peek()
        if not char:
            raise self.fail("expected a value")
        if char == "-" or char in _DIGITS:
            return self.number()
        if char == '"':
            return "string", self.string()
        if char in _ALPHA or char == "*":
            start = self.pos
            self.pos += 1
            while self.peek() and self.peek() in _TOKEN_REST:
                self.pos += 1
            return "token", self.text[start : self.pos]
        if char == ":":
            end = self.text.find(":", self.pos + 1)
            if end == -1 or any(c not in _BASE64 for c in self.text[self.pos + 1 : end]):
                raise self.fail("bad byte sequence")
            value, self.pos = self.text[self.pos : end + 1], end + 1
            return "bytes", value
        if char == "?":
            value = self.text[self.pos : self.pos + 2]
            if value not in ("?0", "?1"):
                raise self.fail("bad boolean")
            self.pos += 2
            return "boolean", value
        if char == "@":
            self.pos += 1
            kind, value = self.number()
            if kind != "integer":
                raise self.fail("bad date")
            return "date", "@" + value
        if char == "%":
            return "display", self.display_string()
        raise self.fail(f"unexpected {char!r}")

    def number(self) -> tuple[str, str]:
        start = self.pos
        if self.peek() == "-":
            self.pos += 1
        digits_start = self.pos
        while self.peek() and self.peek() in _DIGITS:
            self.pos += 1
        whole = self.pos - digits_start
        if whole == 0:
            raise self.fail("expected a digit")
        if self.peek() != ".":
            if whole > 15:
                raise self.fail("integer too long")
            return "integer", self.text[start : self.pos]
        self.pos += 1
        fraction_start = self.pos
        while self.peek() and self.peek() in _DIGITS:
            self.pos += 1
        fraction = self.pos - fraction_start
        if whole > 12 or not 1 <= fraction <= 3:
            raise self.fail("bad decimal")
        return "decimal", self.text[start : self.pos]

    def string(self) -> str:
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == "\\":
                escaped = self.peek()
                if escaped not in ('"', "\\") or not escaped:
                    raise self.fail("bad escape in string")
                chars.append(escaped)
                self.pos += 1
            elif char == '"':
                return "".join(chars)
            elif not " " <= char <= "~":
                raise self.fail("bad character in string")
            else:
                chars.append(char)
        raise self.fail("unterminated string")

    def display_string(self) -> str:
        if self.text[self.pos : self.pos + 2] != '%"':
            raise self.fail("bad display string")
        end = self.text.find('"', self.pos + 2)
        if end == -1:
            raise self.fail("unterminated display string")
        value, self.pos = self.text[self.pos : end + 1], end + 1
        return value

    def parameters(self) -> None:
        while self.peek() == ";":
            self.pos += 1
            self.skip(" ")
            self.key()
            if self.peek() == "=":
                self.pos += 1
                self.bare_item()

    def item_or_inner_list(self) -> tuple[str, str]:
        start = self.pos
        if self.peek() != "(":
            kind, value = self.bare_item()
            self.parameters()
            return kind, value
        self.pos += 1
        while True:
            self.skip(" ")
            if self.peek() == ")":
                self.pos += 1
                break
            self.bare_item()
            self.parameters()
            if self.peek() not in (" ", ")") or not self.peek():
                raise self.fail("bad inner list")
        value = self.text[start : self.pos]
        self.parameters()
        return "inner-list", value


def parse_sf_dictionary(text: str) -> dict[str, tuple[str, str]]:
    """Parse an RFC 9651 Dictionary: each key to (value type, value).

    Value types: ``token``, ``string``, ``integer``, ``decimal``, ``boolean`` (a key without a
    value is ``?1``), ``bytes``, ``date``, ``display``, ``inner-list``. Parameters are checked
    and dropped. A repeated key keeps its last value. Raises :class:`SignalParseError`.
    """
    if not text.isascii():
        raise SignalParseError("structured field: non-ASCII character")
    fields = _Fields(text.strip(" \t"))
    members: dict[str, tuple[str, str]] = {}
    if not fields.text:
        return members
    while True:
        key = fields.key()
        if fields.peek() == "=":
            fields.pos += 1
            members[key] = fields.item_or_inner_list()
        else:
            fields.parameters()
            members[key] = ("boolean", "?1")
        fields.skip(" \t")
        if not fields.peek():
            return members
        if fields.peek() != ",":
            raise fields.fail("expected a comma")
        fields.pos += 1
        fields.skip(" \t")
        if not fields.peek():
            raise fields.fail("trailing comma")


# --- the two vocabularies ---------------------------------------------------------------------------


def parse_content_usage(value: str) -> Preferences:
    """Decide each purpose from an AIPREF ``Content-Usage`` value (see the module table).

    Purposes the value says nothing about are absent from the result. Raises
    :class:`SignalParseError` when the value is not a Dictionary.
    """
    members = parse_sf_dictionary(value)
    decided: Preferences = {}
    for purpose, chain in _AIPREF_CHAINS.items():
        outcome: tuple[Status, str] | None = None
        for label in chain:
            if label not in members:
                continue
            kind, text = members[label]
            if kind == "token" and text in ("y", "n"):
                status: Status = "not-reserved" if text == "y" else "reserved"
                outcome = _stricter(outcome, (status, f"{label}={text}"))
                break
            shown = text if kind != "string" else f'"{text}"'
            outcome = _stricter(outcome, ("unknown", f"{label}={shown} is not y or n"))
        if outcome is not None:
            decided[purpose] = outcome
    return decided


def parse_content_signal(value: str) -> Preferences:
    """Decide each purpose from a Cloudflare ``Content-Signal`` value (``search=yes, ai-train=no``)."""
    decided: Preferences = {}
    for member in value.split(","):
        key, separator, answer = member.partition("=")
        key, answer = key.strip().lower(), answer.strip().lower()
        purposes = _CONTENT_SIGNAL_KEYS.get(key)
        if purposes is None:
            continue
        status: Status
        if separator and answer in ("yes", "no"):
            status = "not-reserved" if answer == "yes" else "reserved"
            why = f"{key}={answer}"
        else:
            status, why = "unknown", f"{member.strip()!r} is not {key}=yes or {key}=no"
        for purpose in purposes:
            decided[purpose] = _stricter(decided.get(purpose), (status, why))
    return decided


def preference_readings(
    signal: str, source: str | None, raw: str, decided: Mapping[str, tuple[Status, str]], note: str = ""
) -> list[SignalReading]:
    """One reading per status found in ``decided`` (purposes it does not decide are left out).

    With nothing decided, one ``unset`` reading for every purpose records that the statement
    was seen and says nothing.
    """
    if not decided:
        detail = f"{note}no known usage category" if note else "no known usage category"
        return [SignalReading(signal, source, clip(raw), "unset", ALL_PURPOSES, detail)]
    by_status: dict[Status, tuple[set[str], set[str]]] = {}
    for purpose, (status, why) in decided.items():
        purposes, reasons = by_status.setdefault(status, (set(), set()))
        purposes.add(purpose)
        reasons.add(why)
    return [
        SignalReading(
            signal, source, clip(raw), status, frozenset(purposes), note + ", ".join(sorted(reasons))
        )
        for status, (purposes, reasons) in sorted(by_status.items(), key=lambda item: _RANK[item[0]])
    ]


def read_content_usage_header(headers: Headers, *, source: str | None = None) -> list[SignalReading]:
    """Readings (signal ``http.content-usage``) from the HTTP ``Content-Usage`` header(s).

    Several header lines form one field value joined by commas, as HTTP says; a value that does
    not parse makes every purpose ``unknown``. Without the header: one ``unset`` reading.
    """
    values = header_values(headers, "content-usage")
    signal = "http.content-usage"
    if not values:
        return [SignalReading(signal, source, None, "unset", ALL_PURPOSES, "no Content-Usage header")]
    raw = ", ".join(value.strip() for value in values)
    try:
        decided = parse_content_usage(raw)
    except SignalParseError as error:
        return [unknown(signal, source, raw, str(error))]
    return preference_readings(signal, source, raw, decided)
