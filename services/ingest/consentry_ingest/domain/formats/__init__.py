"""Manifest formats beyond JSONL and CSV, each read into the same ``RawItem`` / ``LineError`` stream.

Pure like the rest of the domain: every reader is handed bytes or an open binary file and reads
nothing else itself (a Croissant's data files come through a caller-given resolver).

=================  ==========================================  ===================================
format             read with                                   records and ``line``
=================  ==========================================  ===================================
``parquet``        :func:`read_parquet` (seekable file)        1-based data rows
``croissant``      :func:`read_croissant` or                   see :mod:`.croissant`
                   :class:`CroissantReader` (+ ``.dataset``)
``cdxj``           :class:`CdxjParser` (streamed) or           physical lines
                   :func:`read_cdxj`
``hf-card``        :func:`read_hf_card` -> :class:`CardLicence` no items: a licence for the items
                   then :func:`apply_card_licence`             of the data files it describes
``jsonl``/``csv``  :class:`~..manifest.ManifestParser`         physical lines
=================  ==========================================  ===================================

:func:`detect_any_format` tells them apart; :func:`read_manifest` dispatches to the right reader.
Errors about a file as a whole (not the format it claims, a missing column, a Croissant document
that does not validate) carry line 0 (:data:`FILE_LINE`). Licences are mapped to SPDX by
:mod:`.licences`.

Exceptions (all :class:`~..errors.IngestDomainError`, raised only for the caller's mistakes)::

    IngestDomainError
    ├── UnsupportedFormatError        detect_any_format / read_manifest: not a format read here
    └── ColumnMappingError (ValueError)  a Parquet column mapping names a field items lack
"""

from ._items import FILE_LINE, MAX_TITLE_CHARS
from .cdxj import CdxjIdSource, CdxjParser, read_cdxj
from .croissant import (
    MAX_CROISSANT_BYTES,
    CroissantDataset,
    CroissantReader,
    ListFiles,
    OpenFile,
    read_croissant,
)
from .detect import FORMATS, AnyManifestFormat, detect_any_format
from .hf_card import MAX_CARD_HEADER_BYTES, CardLicence, DataFiles, apply_card_licence, read_hf_card
from .licences import HF_LICENCES, all_of, licence_from_declared, licence_from_hf, licence_ref
from .parquet import PARQUET_COLUMNS, ColumnMappingError, read_parquet
from .read import ReadOptions, read_manifest

__all__ = [
    "FILE_LINE",
    "FORMATS",
    "HF_LICENCES",
    "MAX_CARD_HEADER_BYTES",
    "MAX_CROISSANT_BYTES",
    "MAX_TITLE_CHARS",
    "PARQUET_COLUMNS",
    "AnyManifestFormat",
    "CardLicence",
    "CdxjIdSource",
    "CdxjParser",
    "ColumnMappingError",
    "CroissantDataset",
    "CroissantReader",
    "DataFiles",
    "ListFiles",
    "OpenFile",
    "ReadOptions",
    "all_of",
    "apply_card_licence",
    "detect_any_format",
    "licence_from_declared",
    "licence_from_hf",
    "licence_ref",
    "read_cdxj",
    "read_croissant",
    "read_hf_card",
    "read_manifest",
    "read_parquet",
]
