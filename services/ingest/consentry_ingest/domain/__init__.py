"""The ingest domain: pure manifest parsing, validation, normalisation and event building.

No I/O and no clock: the parser is handed bytes, and the time an event was submitted is handed
in. Adapters (HTTP upload, CLI, Kafka ``manifests.v1``) read the bytes, publish the events and
apply the policy of :mod:`.policy`: a manifest with any bad line is rejected whole (HTTP 422
with up to 100 errors, each with its line and field) and nothing of it is published.

Errors are drawn in :mod:`.errors`. The formats beyond JSONL and CSV (Parquet, Croissant, CDXJ,
Hugging Face dataset cards) live in :mod:`.formats`, with their own public surface.
"""

from .errors import IngestDomainError, InvalidURLError, ParserClosedError, UnsupportedFormatError
from .items import ITEM_EVENT_NAMESPACE, item_event_id, item_event_ids, manifest_id_for, to_event
from .manifest import (
    EVIDENCE_FIELDS,
    IDENTIFIER_FIELDS,
    ITEM_FIELDS,
    MAX_EVIDENCE_CHARS,
    MAX_ID_CHARS,
    MAX_LINE_BYTES,
    MAX_URL_CHARS,
    LineError,
    ManifestFormat,
    ManifestParser,
    ParsedLine,
    RawItem,
    detect_format,
    normalise_url,
)
from .policy import MAX_REPORTED_ERRORS, ManifestErrors

__all__ = [
    "EVIDENCE_FIELDS",
    "IDENTIFIER_FIELDS",
    "ITEM_EVENT_NAMESPACE",
    "ITEM_FIELDS",
    "MAX_EVIDENCE_CHARS",
    "MAX_ID_CHARS",
    "MAX_LINE_BYTES",
    "MAX_REPORTED_ERRORS",
    "MAX_URL_CHARS",
    "IngestDomainError",
    "InvalidURLError",
    "LineError",
    "ManifestErrors",
    "ManifestFormat",
    "ManifestParser",
    "ParsedLine",
    "ParserClosedError",
    "RawItem",
    "UnsupportedFormatError",
    "detect_format",
    "item_event_id",
    "item_event_ids",
    "manifest_id_for",
    "normalise_url",
    "to_event",
]
