"""One entry point for every format: a binary file in, batches of items and errors out."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Final

from consentry_ingest.domain.errors import UnsupportedFormatError
from consentry_ingest.domain.id_index import DuplicateIds
from consentry_ingest.domain.manifest import MAX_LINE_BYTES, ManifestParser, ParsedLine

from .cdxj import CdxjIdSource, read_cdxj
from .croissant import MAX_CROISSANT_BYTES, ListFiles, OpenFile, read_croissant
from .detect import FORMATS, AnyManifestFormat
from .parquet import read_parquet

__all__ = ["ReadOptions", "read_manifest"]

_READ_CHUNK: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """What a reader may need besides the file; each format uses its own and ignores the rest.

    ``parquet_columns`` maps item fields to Parquet columns (see :mod:`.parquet`);
    ``cdxj_id_from`` chooses CDXJ item ids (see :mod:`.cdxj`); ``open_file`` and ``list_files``
    hand a Croissant reader the dataset's data files (see :mod:`.croissant`);
    ``duplicate_ids`` tracks the manifest's ids (give one with a spill store to keep a huge
    manifest's memory bounded, or one with ``check=False`` for a pass over ids already proven
    unique; Croissant always checks in memory).
    """

    parquet_columns: Mapping[str, str | None] | None = None
    cdxj_id_from: CdxjIdSource = "capture"
    open_file: OpenFile | None = None
    list_files: ListFiles | None = None
    max_line_bytes: int = MAX_LINE_BYTES
    max_croissant_bytes: int = MAX_CROISSANT_BYTES
    duplicate_ids: DuplicateIds | None = None


def read_manifest(
    fmt: AnyManifestFormat, source: IO[bytes], options: ReadOptions | None = None
) -> Iterator[list[ParsedLine]]:
    """The items and errors of the manifest in ``source``, in batches, in file order.

    ``source`` is a binary file positioned at the start (seekable for Parquet). Bad input is
    reported as ``LineError`` values, never raised. Raises
    :class:`~consentry_ingest.domain.errors.UnsupportedFormatError` now (not when iterating)
    for ``hf-card`` -- a card has no items of its own: read it with
    :func:`~.hf_card.read_hf_card` and apply it to the batches of its data files -- and for an
    unknown format; :class:`~.parquet.ColumnMappingError` for a bad Parquet column mapping.

    JSONL's optional header line is validated but not returned here: a caller that needs it
    uses :class:`~consentry_ingest.domain.manifest.ManifestParser` directly.
    """
    options = options or ReadOptions()
    if fmt == "parquet":
        return read_parquet(source, columns=options.parquet_columns, ids=options.duplicate_ids)
    if fmt == "cdxj":
        return read_cdxj(
            source,
            id_from=options.cdxj_id_from,
            max_line_bytes=options.max_line_bytes,
            ids=options.duplicate_ids,
        )
    if fmt == "croissant":
        return read_croissant(
            source,
            open_file=options.open_file,
            list_files=options.list_files,
            max_document_bytes=options.max_croissant_bytes,
        )
    if fmt in ("jsonl", "csv"):
        parser = ManifestParser(fmt, max_line_bytes=options.max_line_bytes, ids=options.duplicate_ids)
        return _read_lines(parser, source)
    if fmt == "hf-card":
        raise UnsupportedFormatError(
            "a dataset card has no items of its own: read it with read_hf_card and apply its licence "
            "to the items of the data files it describes"
        )
    raise UnsupportedFormatError(f"unknown manifest format {fmt!r}: use one of {', '.join(FORMATS)}")


def _read_lines(parser: ManifestParser, source: IO[bytes]) -> Iterator[list[ParsedLine]]:
    while chunk := source.read(_READ_CHUNK):
        yield parser.feed(chunk)
    yield parser.close()
