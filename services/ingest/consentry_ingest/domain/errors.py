"""Exceptions raised by the ingest domain.

A *bad manifest line* is never an exception: the parser reports it as a
:class:`~consentry_ingest.domain.manifest.LineError` value, so one bad line cannot abort a
stream. Exceptions are kept for the caller's mistakes and for inputs that cannot be read at all::

    IngestDomainError                 base of everything raised here
    ├── UnsupportedFormatError        the upload is not a format ingest reads (HTTP 415)
    ├── InvalidURLError (ValueError)  normalise_url() was given something that is not http(s)
    └── ParserClosedError             feed() after close(): a bug in the caller, not the input
"""

from __future__ import annotations

__all__ = ["IngestDomainError", "InvalidURLError", "ParserClosedError", "UnsupportedFormatError"]


class IngestDomainError(Exception):
    """Base of every exception the ingest domain raises."""


class UnsupportedFormatError(IngestDomainError):
    """The manifest is in a format ingest does not read. Adapters answer HTTP 415."""


class InvalidURLError(IngestDomainError, ValueError):
    """A URL that is not an absolute ``http``/``https`` URL with a host. ``str()`` says why."""


class ParserClosedError(IngestDomainError):
    """:meth:`ManifestParser.feed` after :meth:`~ManifestParser.close`: a bug in the caller."""
