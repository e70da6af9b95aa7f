"""``X-Robots-Tag`` response headers and HTML ``<meta name="robots">``: ``noai`` and ``noimageai``.

``noai`` / ``noimageai`` (introduced by DeviantArt and read by Spawning's tools and img2dataset)
ask that content not be used for AI; ``noimageai`` only for images. Every ``X-Robots-Tag``
header instance is read; each holds a comma list of directives, optionally scoped by a leading
``<user agent>:`` (``googlebot: noindex, nofollow``): the scope lasts until the next one within
that header instance and is a product token (letters, digits, ``-``, ``_``, ``.``), so the
colon inside ``unavailable_after: 25 Jun 2010 15:00:00 PST`` or ``max-snippet: 20`` is not
mistaken for a scope. In HTML, ``<meta name="robots">`` is unscoped and ``<meta name="<agent>">``
is scoped to that agent.

A directive applies when it is unscoped or scoped to the platform's token or to one of
``agents`` (by default the AI crawler tokens of :data:`.robots.AI_USER_AGENTS`, treated as in
robots.txt: an opt-out addressed to an AI crawler is an opt-out of that use). Directives
scoped to other agents (``googlebot: noai``) are reported in ``detail`` and ignored.

Decision table (signal ``x-robots-tag`` or ``meta-robots``):

========================================  ===============================================
applicable directives                      readings
========================================  ===============================================
``noai``                                   ``reserved`` for training and inference
``noimageai`` and the item is an image     ``reserved`` for training and inference
(media type ``image/*``; unknown media
type: assumed to be one)
``noindex`` or ``none``                    ``reserved`` for search
none of these                              one ``unset`` reading for every purpose
========================================  ===============================================

Nothing here yields ``not-reserved``: these vocabularies only restrict.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from ._markup import meta_tags
from .base import (
    AI_PURPOSES,
    ALL_PURPOSES,
    SEARCH,
    Headers,
    SignalParseError,
    SignalReading,
    clip,
    header_values,
    unknown,
)
from .robots import AI_USER_AGENTS

__all__ = ["parse_robots_directives", "read_meta_robots", "read_meta_robots_tags", "read_x_robots_tag"]

HEADER_SIGNAL: Final = "x-robots-tag"
META_SIGNAL: Final = "meta-robots"

# Directives whose own value follows a colon: "max-snippet: 20", "unavailable_after: <date>".
_VALUED: Final = frozenset(
    {"max-snippet", "max-image-preview", "max-video-preview", "unavailable_after", "unavailable-after"}
)
_AGENT: Final = re.compile(r"[A-Za-z0-9_.\-]+")


@dataclass(frozen=True, slots=True)
class Directive:
    """One robots directive: ``name`` lower-cased, ``scope`` the agent it addresses (or ``None``)."""

    scope: str | None
    name: str


def parse_robots_directives(value: str, *, scope: str | None = None) -> list[Directive]:
    """The directives of one ``X-Robots-Tag`` value (or one meta ``content``), scopes resolved."""
    directives: list[Directive] = []
    for part in value.split(","):
        text = part.strip()
        if not text:
            continue
        head, colon, rest = text.partition(":")
        head = head.strip()
        if colon and head.lower() not in _VALUED and _AGENT.fullmatch(head):
            scope = head.lower()
            text = rest.strip()
            if not text:
                continue
        name = text.partition(":")[0].strip().lower()
        if name:
            directives.append(Directive(scope, name))
    return directives


def _readings(
    signal: str,
    source: str | None,
    raw: str,
    directives: list[Directive],
    *,
    media_type: str | None,
    wanted: frozenset[str],
) -> list[SignalReading]:
    applicable = [d for d in directives if d.scope is None or d.scope in wanted]
    ignored = sorted({f"{d.scope}: {d.name}" for d in directives if d not in applicable})
    names = {d.name for d in applicable}
    notes = [f"ignored (addressed to other agents): {', '.join(ignored)}"] if ignored else []
    readings: list[SignalReading] = []
    ai_reasons = ["noai"] if "noai" in names else []
    if "noimageai" in names:
        if media_type is None:
            ai_reasons.append("noimageai (media type unknown: assumed to be an image)")
        elif media_type.strip().lower().startswith("image/"):
            ai_reasons.append(f"noimageai ({media_type.strip().lower()})")
        else:
            notes.append(f"noimageai does not apply to {media_type.strip().lower()}")
    if ai_reasons:
        detail = "; ".join([", ".join(ai_reasons), *notes])
        readings.append(SignalReading(signal, source, clip(raw), "reserved", AI_PURPOSES, clip(detail)))
    search_reasons = sorted(names & {"noindex", "none"})
    if search_reasons:
        detail = "; ".join([", ".join(search_reasons), *notes])
        readings.append(
            SignalReading(signal, source, clip(raw), "reserved", frozenset({SEARCH}), clip(detail))
        )
    if not readings:
        detail = "; ".join(["no noai, noimageai, noindex or none", *notes])
        readings.append(SignalReading(signal, source, clip(raw) or None, "unset", ALL_PURPOSES, clip(detail)))
    return readings


_AI_TOKENS: Final = frozenset(agent.lower() for agent in AI_USER_AGENTS)


def _wanted(platform_token: str | None, agents: Iterable[str]) -> frozenset[str]:
    tokens = _AI_TOKENS if agents is AI_USER_AGENTS else frozenset(agent.lower() for agent in agents)
    return tokens | {platform_token.lower()} if platform_token else tokens


def read_x_robots_tag(
    headers: Headers,
    *,
    media_type: str | None = None,
    platform_token: str | None = None,
    agents: Iterable[str] = AI_USER_AGENTS,
    source: str | None = None,
) -> list[SignalReading]:
    """Readings from every ``X-Robots-Tag`` header instance (see the module table)."""
    values = header_values(headers, "x-robots-tag")
    directives = [directive for value in values for directive in parse_robots_directives(value)]
    raw = " | ".join(value.strip() for value in values)
    return _readings(
        HEADER_SIGNAL, source, raw, directives, media_type=media_type, wanted=_wanted(platform_token, agents)
    )


def read_meta_robots(
    html: str | bytes,
    *,
    media_type: str | None = None,
    platform_token: str | None = None,
    agents: Iterable[str] = AI_USER_AGENTS,
    source: str | None = None,
) -> list[SignalReading]:
    """Readings from ``<meta name="robots">`` and agent-named meta tags of ``html``.

    ``media_type`` is the item's (an HTML page embedding images is read for the page's own
    media type unless the caller passes the image's).
    """
    try:
        tags = meta_tags(html)
    except SignalParseError as error:
        return [unknown(META_SIGNAL, source, None, str(error))]
    return read_meta_robots_tags(
        tags, media_type=media_type, platform_token=platform_token, agents=agents, source=source
    )


def read_meta_robots_tags(
    tags: Iterable[tuple[str, str]],
    *,
    media_type: str | None = None,
    platform_token: str | None = None,
    agents: Iterable[str] = AI_USER_AGENTS,
    source: str | None = None,
) -> list[SignalReading]:
    """As :func:`read_meta_robots`, from meta tags already extracted as (lower-case name, content)
    pairs (crawl-time evidence often carries them so, without the page)."""
    wanted = _wanted(platform_token, agents)
    directives: list[Directive] = []
    raws: list[str] = []
    for name, content in tags:
        if name == "robots":
            directives.extend(parse_robots_directives(content))
        elif name in wanted:
            directives.extend(parse_robots_directives(content, scope=name))
        else:
            continue
        raws.append(f'<meta name="{name}" content="{content}">')
    return _readings(META_SIGNAL, source, " ".join(raws), directives, media_type=media_type, wanted=wanted)
