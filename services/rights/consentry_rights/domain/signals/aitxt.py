"""Spawning's ``ai.txt``: which files of a site AI may use.

The file has robots.txt syntax (``User-Agent`` groups with ``Allow`` / ``Disallow`` lines); its
patterns name files rather than crawl paths. Spawning's generator writes ``User-Agent: *``
followed by ``Disallow: /`` or ``Disallow: *`` (everything) or one glob per file type
(``Disallow: *.jpg``). Matching:

- a pattern starting with ``/`` is a robots.txt pattern against the item's path (prefix match,
  ``*`` and a final ``$``);
- any other pattern is a glob against the file path, anchored at both ends, with an implicit
  ``(any directories)/`` in front: ``*.jpg`` matches ``/a/b/photo.jpg``, ``photo.jpg`` matches
  ``/x/photo.jpg`` but not ``/x/myphoto.jpg``. Globs ignore case (``IMG.JPG`` is a ``*.jpg``) and
  never see the query string;
- the longest pattern wins, ``Allow`` wins a tie (as in robots.txt).

The group for the platform's token is used, else the ``*`` group. Decision table (signal
``ai.txt``, purposes: generative and other training and inference; ai.txt does not speak about
search):

========================================  ==============================================
the group (platform token, else ``*``)    status
========================================  ==============================================
a ``Disallow`` decides for the file        ``reserved``
an ``Allow`` decides, or no rule matches   ``not-reserved`` (the file lists what it refuses)
no group applies, or no groups at all      ``unset``
========================================  ==============================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from ._patterns import PathPattern, match_path, normalise_pattern, url_path
from .base import AI_PURPOSES, SignalReading, Status, clip, decode_text

__all__ = ["AiTxt", "read_ai_txt"]

SIGNAL: Final = "ai.txt"


@dataclass(frozen=True, slots=True)
class _FileRule:
    allow: bool
    line: str
    length: int
    pattern: PathPattern | None  # a path pattern ("/...")
    glob: re.Pattern[str] | None  # a file glob

    @classmethod
    def compile(cls, allow: bool, value: str, line: str) -> _FileRule:
        if value.startswith("/"):
            pattern = PathPattern.compile(value)
            return cls(allow, line, pattern.length, pattern, None)
        text = normalise_pattern(value)
        text = text[:-1] if text.endswith("$") else text
        expression = "(?:.*/)?" + ".*".join(re.escape(part) for part in text.split("*"))
        return cls(allow, line, len(value), None, re.compile(expression, re.DOTALL | re.IGNORECASE))

    def matches(self, path: str, file_path: str) -> bool:
        if self.pattern is not None:
            return self.pattern.matches(path)
        assert self.glob is not None
        return self.glob.fullmatch(file_path) is not None


class AiTxt:
    """A parsed ai.txt. Parse once per origin (:meth:`parse`), evaluate per item."""

    __slots__ = ("_chosen", "groups", "source")

    def __init__(self, groups: list[tuple[list[str], list[_FileRule]]], source: str | None) -> None:
        self.groups = groups
        self.source = source
        self._chosen: dict[str | None, tuple[str | None, tuple[_FileRule, ...]]] = {}

    def _rules_for(self, platform_token: str | None) -> tuple[str | None, tuple[_FileRule, ...]]:
        """The label of the group that applies and its rules, best first (once per token)."""
        found = self._chosen.get(platform_token)
        if found is not None:
            return found
        named = [
            rules for agents, rules in self.groups if platform_token and platform_token.lower() in agents
        ]
        chosen = named or [rules for agents, rules in self.groups if "*" in agents]
        label = (platform_token if named else "*") if chosen else None
        candidates = sorted(
            (rule for rules in chosen for rule in rules), key=lambda rule: (-rule.length, not rule.allow)
        )
        found = self._chosen[platform_token] = (label, tuple(candidates))
        return found

    @classmethod
    def parse(cls, body: str | bytes, *, source: str | None = None) -> AiTxt:
        """Parse ``body``; never raises (lines that are not ``key: value`` are ignored)."""
        groups: list[tuple[list[str], list[_FileRule]]] = []
        agents: list[str] | None = None
        rules: list[_FileRule] = []
        for raw_line in decode_text(body).splitlines():
            name, separator, value = raw_line.split("#", 1)[0].partition(":")
            if not separator:
                continue
            name, value = name.strip().lower(), value.strip()
            if name in ("user-agent", "useragent"):
                if agents is None or rules:
                    agents, rules = [], []
                    groups.append((agents, rules))
                token = value.split(None, 1)[0].split("/", 1)[0].lower() if value else ""
                if token:
                    agents.append(token)
            elif name in ("allow", "disallow") and agents is not None and value:
                rules.append(_FileRule.compile(name == "allow", value, f"{name.capitalize()}: {value}"))
        for _, group_rules in groups:
            group_rules.sort(key=lambda rule: (-rule.length, not rule.allow))
        return cls(groups, source)

    def evaluate(self, url: str, *, platform_token: str | None = None) -> SignalReading:
        """The reading for the file at ``url``."""
        label, candidates = self._rules_for(platform_token)
        if label is None:
            why = "no groups" if not self.groups else "no group for this agent or '*'"
            return SignalReading(SIGNAL, self.source, None, "unset", AI_PURPOSES, why)
        path = url_path(url)
        try:
            file_path = match_path(urlsplit(url).path or "/")
        except ValueError:
            file_path = path.split("?", 1)[0]
        for rule in candidates:
            if rule.matches(path, file_path):
                status: Status = "not-reserved" if rule.allow else "reserved"
                verdict = "allowed" if rule.allow else "disallowed"
                return SignalReading(
                    SIGNAL,
                    self.source,
                    clip(rule.line),
                    status,
                    AI_PURPOSES,
                    f"{verdict} by the group for '{label}'",
                )
        return SignalReading(
            SIGNAL,
            self.source,
            None,
            "not-reserved",
            AI_PURPOSES,
            f"no rule of the group for '{label}' matches the file",
        )


def read_ai_txt(
    body: str | bytes, url: str, *, platform_token: str | None = None, source: str | None = None
) -> SignalReading:
    """Parse ``body`` and evaluate it for ``url`` (for many items, parse once with :meth:`AiTxt.parse`)."""
    return AiTxt.parse(body, source=source).evaluate(url, platform_token=platform_token)
