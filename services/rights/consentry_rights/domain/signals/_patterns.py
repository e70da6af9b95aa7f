"""Robots-style path patterns (RFC 9309 §2.2.2-2.2.3), shared by robots.txt, tdmrep.json, ai.txt, RSL.

Both sides are normalised before comparison, as RFC 9309 asks: characters outside printable
US-ASCII are percent-encoded as UTF-8, a percent-encoded *unreserved* character (RFC 3986:
letters, digits, ``-._~``) is decoded, and other escapes are upper-cased. In a pattern ``*``
matches any run of characters and a final ``$`` anchors the end; to match a literal ``*`` or
``$`` a pattern spells it ``%2A`` / ``%24``, so in a URL path both characters are encoded before
matching. The specificity of a pattern is its length in octets after normalisation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final
from urllib.parse import quote

__all__ = ["PathPattern", "match_path", "normalise_pattern", "url_path"]

_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE: Final = re.compile(r"%([0-9A-Fa-f]{2})")
# Characters kept as they are. A URL path also encodes "*" and "$" (they are special in patterns).
_PATTERN_SAFE: Final = "!#$&'()*+,/:;=?@[]~%"
_PATH_SAFE: Final = "!#&'()+,/:;=?@[]~%"
_PLAIN_PATH: Final = re.compile(r"[A-Za-z0-9\-._~!#&'()+,/:;=?@\[\]]*")


def _fix_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _normalise(text: str, safe: str) -> str:
    encoded = quote(text, safe=safe, errors="surrogatepass")
    return _ESCAPE.sub(_fix_escape, encoded) if "%" in encoded else encoded


@lru_cache(maxsize=65536)
def _normalise_path(path: str) -> str:
    return _normalise(path, _PATH_SAFE)


def normalise_pattern(pattern: str) -> str:
    """``pattern`` percent-normalised like a path, ``*`` and ``$`` left as they are."""
    return _normalise(pattern, _PATTERN_SAFE)


def match_path(path: str) -> str:
    """``path`` (path and query of a URL) in the form patterns are compared with."""
    if _PLAIN_PATH.fullmatch(path):
        return path
    return _normalise_path(path)


# scheme://authority, then the path and query (group 1), then an optional fragment.
_URL: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^/?#]*([^#]*)")


def url_path(url: str) -> str:
    """The path (``/`` when empty) and query of ``url``, normalised for matching.

    Never raises: a string that is not an absolute URL is treated as a path.
    """
    found = _URL.match(url)
    if found is None:
        path = url.partition("#")[0]
        return match_path(path if path.startswith("/") else "/" + path)
    path = found.group(1)
    if not path.startswith("/"):
        path = "/" + path
    return match_path(path)


@dataclass(frozen=True, slots=True)
class PathPattern:
    """One compiled pattern. ``length`` is its specificity (longest match wins)."""

    text: str
    length: int
    prefix: str | None  # the pattern when it has no special characters: a plain prefix test
    regex: re.Pattern[str] | None

    @classmethod
    def compile(cls, pattern: str, *, case_insensitive: bool = False) -> PathPattern:
        if not pattern.startswith(("/", "*")):
            pattern = "/" + pattern  # RFC 9309 patterns start with "/"; "private/" means "/private/"
        normalised = _normalise(pattern, _PATTERN_SAFE)
        anchored = normalised.endswith("$")
        # Only a final "$" anchors; elsewhere it is a literal, which URL paths carry as %24.
        body = (normalised[:-1] if anchored else normalised).replace("$", "%24")
        text = body + "$" if anchored else body
        if "*" not in body and not anchored and not case_insensitive:
            return cls(text, len(text), text, None)
        expression = ".*".join(re.escape(part) for part in body.split("*"))
        if anchored:
            expression += r"\Z"
        flags = re.DOTALL | (re.IGNORECASE if case_insensitive else 0)
        return cls(text, len(text), None, re.compile(expression, flags))

    def matches(self, path: str) -> bool:
        """Whether the normalised ``path`` (see :func:`match_path`) matches from its start."""
        if self.prefix is not None:
            return path.startswith(self.prefix)
        assert self.regex is not None
        return self.regex.match(path) is not None
