"""robots.txt (RFC 9309) read for AI crawlers, with its AIPREF, Content-Signal and RSL lines.

Parsing follows RFC 9309: a group is one or more ``User-agent`` lines followed by rules; later
``User-agent`` lines after a rule start a new group; groups naming the same product token are
merged; a crawler without a group of its own obeys the ``*`` group(s); with neither, no rule
applies. Product tokens match case-insensitively (the token is the value up to the first blank
or ``/``, so ``Googlebot/2.1`` names ``googlebot``). The longest matching pattern wins, an
``Allow`` wins a tie, an empty ``Disallow`` is no rule, ``/robots.txt`` is always allowed, ``*``
and a final ``$`` are special (see :mod:`._patterns` for the percent-encoding rules). Lines
outside a group other than the extensions below are ignored. The whole file is read (no
500 KiB cut-off: a reservation after the cut-off would be lost).

Decision table for one crawler token (signal ``robots.txt``):

==============================================  ===============================================
the token's group (named, else ``*``)           status for the token's purposes
==============================================  ===============================================
disallows the item's path                       ``reserved`` (raw: the deciding rule)
allows it (a rule, or no rule matches)          ``not-reserved``
no group applies (neither named nor ``*``)      ``unset``
==============================================  ===============================================

Tokens evaluated and the purposes their rules stand for (:data:`AI_USER_AGENTS`; a disallow for
an AI training crawler is a creator's reservation of that use, whoever later trains):

=====================  ======================================================================
``GPTBot``             training (OpenAI's crawler for model training)
``Google-Extended``    training and inference (Gemini training and grounding, per Google)
``CCBot``              training (Common Crawl, the most used training corpus)
``ClaudeBot``          training (Anthropic's training crawler)
``Applebot-Extended``  training (Apple foundation models)
``Bytespider``         training (ByteDance)
``img2dataset``        training (the dataset downloader; image-text training sets)
the platform's token   every purpose (the platform itself is the user)
=====================  ======================================================================

Extensions, each scoped to the group selected for a token (lines before any ``User-agent``
line are site-wide, as RSL reads its ``License:`` line, and apply to every token):

- ``Content-Usage: <path> <preference>`` (draft-ietf-aipref-attach): the longest matching path
  decides, rules with the same path combine most-restrictively, and (as the draft says) no
  preference applies to a path the group disallows. A value that does not start with ``/`` is
  read as a preference for ``/`` (the -00 draft form). Signal ``robots.content-usage``; the
  vocabulary is in :mod:`.aipref`.
- ``Content-Signal: [<path>] search=yes, ai-train=no, ai-input=...`` (Cloudflare): same scoping.
  Signal ``robots.content-signal``.
- ``License: <url>`` (RSL 1.0): returned in :attr:`RobotsReport.licences`, resolved against the
  robots.txt URL, for the caller to fetch and read with :mod:`.rsl`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal
from urllib.parse import urljoin

from ._patterns import PathPattern, url_path
from .aipref import parse_content_signal, parse_content_usage, preference_readings
from .base import (
    ALL_PURPOSES,
    INFERENCE,
    TRAINING_PURPOSES,
    SignalParseError,
    SignalReading,
    Status,
    clip,
    decode_text,
    unknown,
)

__all__ = ["AI_USER_AGENTS", "RobotsReport", "RobotsTxt", "read_robots", "robots_unavailable"]

AI_USER_AGENTS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "GPTBot": TRAINING_PURPOSES,
        "Google-Extended": TRAINING_PURPOSES | {INFERENCE},
        "CCBot": TRAINING_PURPOSES,
        "ClaudeBot": TRAINING_PURPOSES,
        "Applebot-Extended": TRAINING_PURPOSES,
        "Bytespider": TRAINING_PURPOSES,
        "img2dataset": TRAINING_PURPOSES,
    }
)

SIGNAL: Final = "robots.txt"
_USAGE_SIGNALS: Final = {"content-usage": "robots.content-usage", "content-signal": "robots.content-signal"}


@dataclass(frozen=True, slots=True)
class _Rule:
    allow: bool
    pattern: PathPattern
    line: str


@dataclass(frozen=True, slots=True)
class _UsageRule:
    kind: Literal["content-usage", "content-signal"]
    pattern: PathPattern
    line: str
    preference: str
    note: str


@dataclass(slots=True)
class _Group:
    agents: list[str] = field(default_factory=list)
    rules: list[_Rule] = field(default_factory=list)
    usage: list[_UsageRule] = field(default_factory=list)
    licences: list[str] = field(default_factory=list)
    has_rules: bool = False


@dataclass(frozen=True, slots=True)
class _Selection:
    """The merged group a token obeys, its rules sorted so the first match is the winner."""

    label: str
    rules: tuple[_Rule, ...]
    usage: tuple[_UsageRule, ...]
    licences: tuple[str, ...]

    def check(self, path: str) -> tuple[bool, _Rule | None]:
        if path == "/robots.txt":
            return True, None
        for rule in self.rules:
            if rule.pattern.matches(path):
                return rule.allow, rule
        return True, None


def _sorted_rules(rules: Iterable[_Rule]) -> tuple[_Rule, ...]:
    # Longest first; on equal length an Allow comes first (RFC 9309: Allow SHOULD win a tie).
    return tuple(sorted(rules, key=lambda rule: (-rule.pattern.length, not rule.allow)))


def _matching_usage(rules: Iterable[_UsageRule], path: str) -> list[_UsageRule]:
    """The usage rules with the longest matching path (several if they share it)."""
    best: list[_UsageRule] = []
    best_length = -1
    for rule in rules:
        if rule.pattern.length < best_length or not rule.pattern.matches(path):
            continue
        if rule.pattern.length > best_length:
            best, best_length = [], rule.pattern.length
        best.append(rule)
    return best


def _product_token(value: str) -> str:
    token = value.split(None, 1)[0] if value.strip() else ""
    return token.split("/", 1)[0].lower()


def _usage_rule(kind: Literal["content-usage", "content-signal"], value: str, line: str) -> _UsageRule:
    if value.startswith("/"):
        path, _, preference = value.replace("\t", " ").partition(" ")
        return _UsageRule(kind, PathPattern.compile(path), line, preference.strip(), "")
    # Content-Signal has no path by default; a path-less Content-Usage is the -00 draft form.
    note = "no path, read as '/'; " if kind == "content-usage" else ""
    return _UsageRule(kind, PathPattern.compile("/"), line, value, note)


@dataclass(frozen=True, slots=True)
class _Plan:
    steps: tuple[tuple[_Selection | None, str, frozenset[str]], ...]  # (selection, tokens, purposes)
    licences: tuple[str, ...]


_DEFAULT_AGENTS: Final = object()


@dataclass(frozen=True, slots=True)
class RobotsReport:
    """What a robots.txt says about one item: readings, and the RSL licences it points to."""

    readings: tuple[SignalReading, ...]
    licences: tuple[str, ...] = ()


class RobotsTxt:
    """A parsed robots.txt. Parse once per origin (:meth:`parse`), evaluate per item."""

    __slots__ = (
        "_global_licences",
        "_global_usage",
        "_groups",
        "_plans",
        "_readings",
        "_selections",
        "_shared",
        "_usage_cache",
        "source",
    )

    def __init__(
        self,
        groups: list[_Group],
        global_usage: list[_UsageRule],
        global_licences: list[str],
        source: str | None,
    ) -> None:
        self._groups = groups
        self._global_usage = tuple(global_usage)
        self._global_licences = tuple(global_licences)
        self._selections: dict[str, _Selection | None] = {}
        self._shared: dict[tuple[int, ...], _Selection] = {}
        self._plans: dict[tuple[str | None, object], _Plan] = {}
        self._readings: dict[tuple[object, ...], SignalReading] = {}
        self._usage_cache: dict[int, tuple[SignalReading, ...]] = {}
        self.source = source

    @classmethod
    def parse(cls, body: str | bytes, *, source: str | None = None) -> RobotsTxt:
        """Parse ``body`` (the fetched robots.txt); never raises. ``source`` is its URL."""
        groups: list[_Group] = []
        global_usage: list[_UsageRule] = []
        global_licences: list[str] = []
        current: _Group | None = None
        for raw_line in decode_text(body).splitlines():
            line = raw_line.split("#", 1)[0]
            name, separator, value = line.partition(":")
            if not separator:
                continue
            name, value = name.strip().lower(), value.strip()
            if name in ("user-agent", "useragent", "user agent"):
                if current is None or current.has_rules:
                    current = _Group()
                    groups.append(current)
                token = _product_token(value)
                if token:
                    current.agents.append(token)
            elif name in ("allow", "disallow"):
                if current is None:
                    continue  # RFC 9309: rules outside a group are ignored
                current.has_rules = True
                if value:
                    rule_line = f"{name.capitalize()}: {value}"
                    current.rules.append(_Rule(name == "allow", PathPattern.compile(value), rule_line))
            elif name in _USAGE_SIGNALS:
                kind: Literal["content-usage", "content-signal"] = (
                    "content-usage" if name == "content-usage" else "content-signal"
                )
                rule = _usage_rule(kind, value, clip(raw_line.strip()) or "")
                if current is None:
                    global_usage.append(rule)
                else:
                    current.has_rules = True
                    current.usage.append(rule)
            elif name == "license" and value:
                (global_licences if current is None else current.licences).append(value)
        return cls(groups, global_usage, global_licences, source)

    def _select(self, token: str) -> _Selection | None:
        key = token.lower()
        if key in self._selections:
            return self._selections[key]
        named = [group for group in self._groups if key in group.agents]
        chosen = named or [group for group in self._groups if "*" in group.agents]
        selection = None
        if chosen:
            # Tokens that obey the same groups share one selection (and so one reading).
            shared = tuple(id(group) for group in chosen)
            selection = self._shared.get(shared)
            if selection is None:
                selection = _Selection(
                    key if named else "*",
                    _sorted_rules(rule for group in chosen for rule in group.rules),
                    tuple(rule for group in chosen for rule in group.usage) + self._global_usage,
                    tuple(licence for group in chosen for licence in group.licences),
                )
                self._shared[shared] = selection
        self._selections[key] = selection
        return selection

    def is_allowed(self, url: str, token: str) -> bool:
        """Whether the crawler ``token`` may fetch ``url`` (RFC 9309; no group: allowed)."""
        selection = self._select(token)
        return True if selection is None else selection.check(url_path(url))[0]

    def licences(self, tokens: Iterable[str] = ()) -> tuple[str, ...]:
        """RSL ``License:`` URLs for ``tokens``: site-wide ones, then those of their groups."""
        found = list(self._global_licences)
        for token in tokens:
            selection = self._select(token)
            if selection is not None:
                found.extend(selection.licences)
        resolved = (urljoin(self.source, url) if self.source else url for url in found)
        return tuple(dict.fromkeys(resolved))

    def _plan(self, platform_token: str | None, agents: Mapping[str, frozenset[str]]) -> _Plan:
        """Which tokens obey which selection, for one set of tokens; computed once per set."""
        agents_key: object = _DEFAULT_AGENTS if agents is AI_USER_AGENTS else tuple(agents.items())
        key = (platform_token.lower() if platform_token else None, agents_key)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        tokens: dict[str, tuple[str, frozenset[str]]] = {}
        for token, purposes in agents.items():
            tokens[token.lower()] = (token, purposes)
        if platform_token:
            previous = tokens.get(platform_token.lower(), (platform_token, frozenset()))
            tokens[platform_token.lower()] = (previous[0], previous[1] | ALL_PURPOSES)
        if not tokens:  # no crawler named: read the file as it speaks to any crawler
            tokens["*"] = ("*", ALL_PURPOSES)
        grouped: dict[int, tuple[_Selection | None, list[str], set[str]]] = {}
        for key_token, (token, purposes) in tokens.items():
            selection = self._select(key_token)
            _, names, union = grouped.setdefault(id(selection), (selection, [], set()))
            names.append(token)
            union.update(purposes)
        steps = tuple(
            (selection, ", ".join(names), frozenset(union)) for selection, names, union in grouped.values()
        )
        plan = _Plan(steps, self.licences(token for token, _ in tokens.values()))
        self._plans[key] = plan
        return plan

    def evaluate(
        self,
        url: str,
        *,
        platform_token: str | None = None,
        agents: Mapping[str, frozenset[str]] = AI_USER_AGENTS,
    ) -> RobotsReport:
        """Readings for ``url``: crawl rules per token, then the usage lines that apply.

        ``agents`` maps crawler tokens to the purposes their rules stand for; the platform's own
        token, if given, stands for every purpose; with neither, the file is read for any crawler
        (``*``). Tokens that obey the same group share one reading. Readings depend only on the
        rule that decided, so they are built once per rule and reused for every item.
        """
        plan = self._plan(platform_token, agents)
        path = url_path(url)
        readings: list[SignalReading] = []
        usage_rules: dict[int, _UsageRule] = {}
        for selection, who, purposes in plan.steps:
            rule: _Rule | None = None
            if selection is None:
                allowed = True
                usage = _matching_usage(self._global_usage, path) if self._global_usage else []
            else:
                allowed, rule = selection.check(path)
                # The attach draft: no usage preference applies to a path the group disallows.
                usage = _matching_usage(selection.usage, path) if allowed and selection.usage else []
            key = (id(selection), id(rule), allowed, who, purposes)
            reading = self._readings.get(key)
            if reading is None:
                reading = self._crawl_reading(who, purposes, selection, allowed, rule)
                self._readings[key] = reading
            readings.append(reading)
            for found in usage:
                usage_rules[id(found)] = found
        for rule_id, usage_rule in usage_rules.items():
            found_readings = self._usage_cache.get(rule_id)
            if found_readings is None:
                found_readings = self._usage_cache[rule_id] = tuple(self._usage_readings(usage_rule))
            readings.extend(found_readings)
        return RobotsReport(tuple(readings), plan.licences)

    def _crawl_reading(
        self,
        who: str,
        purposes: frozenset[str],
        selection: _Selection | None,
        allowed: bool,
        rule: _Rule | None,
    ) -> SignalReading:
        if selection is None:
            return SignalReading(SIGNAL, self.source, None, "unset", purposes, f"{who}: no group applies")
        status: Status = "not-reserved" if allowed else "reserved"
        verdict = "allowed" if allowed else "disallowed"
        how = "" if rule is not None else " (no rule matches)"
        detail = f"{who}: {verdict} by the group for '{selection.label}'{how}"
        return SignalReading(SIGNAL, self.source, rule.line if rule else None, status, purposes, detail)

    def _usage_readings(self, rule: _UsageRule) -> list[SignalReading]:
        signal = _USAGE_SIGNALS[rule.kind]
        try:
            if rule.kind == "content-usage":
                if not rule.preference:
                    raise SignalParseError("Content-Usage rule without a preference")
                decided = parse_content_usage(rule.preference)
            else:
                decided = parse_content_signal(rule.preference)
        except SignalParseError as error:
            return [unknown(signal, self.source, rule.line, rule.note + str(error))]
        return preference_readings(signal, self.source, rule.line, decided, rule.note)


def read_robots(
    body: str | bytes,
    url: str,
    *,
    platform_token: str | None = None,
    source: str | None = None,
    agents: Mapping[str, frozenset[str]] = AI_USER_AGENTS,
) -> RobotsReport:
    """Parse ``body`` and evaluate it for ``url`` in one call (see :meth:`RobotsTxt.evaluate`).

    For many items of one origin, parse once with :meth:`RobotsTxt.parse` instead.
    """
    return RobotsTxt.parse(body, source=source).evaluate(url, platform_token=platform_token, agents=agents)


def robots_unavailable(
    status_code: int | None, *, source: str | None = None, error: str | None = None
) -> RobotsReport:
    """The report when robots.txt could not be fetched.

    RFC 9309 §2.3.1: a 4xx (other than 429) means the file is *unavailable* and no rules apply,
    so the reading is ``unset``. A 5xx, a 429, a timeout or a network error (``status_code``
    ``None``) means *unreachable*: crawlers must assume a complete disallow, and Consentry
    records that it could not read the site's choice: ``unknown``, never permission.
    """
    if status_code is not None and 400 <= status_code < 500 and status_code != 429:
        detail = f"robots.txt unavailable (HTTP {status_code}): no rules apply (RFC 9309 §2.3.1.3)"
        return RobotsReport((SignalReading(SIGNAL, source, None, "unset", ALL_PURPOSES, detail),))
    what = f"HTTP {status_code}" if status_code is not None else (error or "fetch failed")
    return RobotsReport((unknown(SIGNAL, source, None, f"robots.txt unreachable ({what})"),))
