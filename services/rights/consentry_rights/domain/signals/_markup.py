"""XML and HTML reading shared by the parsers: hardened, and translating every failure.

XML goes through defusedxml with DTDs forbidden (no entity expansion, no external resources),
so a hostile XMP packet or RSL file cannot make the parser fetch or explode. Any failure
becomes :class:`SignalParseError`, which the ``read_*`` functions turn into ``unknown``.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Final
from xml.etree.ElementTree import Element

from defusedxml.ElementTree import fromstring as _defused_fromstring  # type: ignore[import-untyped]

from .base import SignalParseError, decode_text

__all__ = ["meta_tags", "parse_xml"]

# An XML body larger than this is not a signal file; refusing it bounds memory and time.
MAX_XML_BYTES: Final = 8 * 1024 * 1024


def parse_xml(body: str | bytes) -> Element:
    """The root element of ``body``; raises :class:`SignalParseError` for anything unreadable."""
    if len(body) > MAX_XML_BYTES:
        raise SignalParseError(f"XML body larger than {MAX_XML_BYTES} bytes")
    try:
        root = _defused_fromstring(body, forbid_dtd=True)
    except Exception as error:  # expat, defusedxml and codec errors alike: all mean unreadable
        raise SignalParseError(f"XML: {type(error).__name__}: {error}") from None
    if not isinstance(root, Element):
        raise SignalParseError("XML: no root element")
    return root


class _MetaCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "meta":
            return
        name = content = None
        for key, value in attrs:
            if key == "name":
                name = value
            elif key == "content":
                content = value
        if name is not None:
            self.found.append((name.strip().lower(), (content or "").strip()))


def meta_tags(html: str | bytes) -> list[tuple[str, str]]:
    """Every ``<meta name=... content=...>`` of ``html`` as (lower-cased name, content), in order.

    Raises :class:`SignalParseError` if the HTML tokenizer gives up (it rarely does: it is
    lenient, like browsers).
    """
    collector = _MetaCollector()
    try:
        collector.feed(decode_text(html))
        collector.close()
    except Exception as error:  # HTMLParser raises AssertionError on some malformed markup
        raise SignalParseError(f"HTML: {type(error).__name__}: {error}") from None
    return collector.found
