"""detect_any_format, read_manifest, the licence mapping, and the formats package's public surface."""

from __future__ import annotations

import importlib
import inspect
import io
import json
import pkgutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from consentry_ingest.domain import RawItem, UnsupportedFormatError, detect_format, formats
from consentry_ingest.domain.formats import (
    FORMATS,
    ColumnMappingError,
    ReadOptions,
    all_of,
    detect_any_format,
    licence_from_declared,
    licence_ref,
    read_manifest,
)

DATA = Path(__file__).parent / "data" / "formats"
CROISSANT_HEAD = (DATA / "croissant-photos" / "metadata.json").read_bytes()[:4096]
CDXJ_HEAD = (DATA / "cc-main-2025-21-excerpt.cdxj").read_bytes()[:4096]
CARD_HEAD = (DATA / "hf-dataset-card.md").read_bytes()[:4096]


def parquet_bytes() -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"url": ["http://x.org/"]}), buffer)
    return buffer.getvalue()


# --- detection -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "first_bytes", "expected"),
    [
        (None, parquet_bytes()[:4096], "parquet"),
        ("upload", b"PAR1\x15\x04", "parquet"),
        ("laion-part-00000.parquet", b"", "parquet"),
        ("data.PQ", b"", "parquet"),
        (None, CROISSANT_HEAD, "croissant"),
        ("croissant.json", CROISSANT_HEAD, "croissant"),
        ("metadata.jsonld", b"", "croissant"),
        (None, b'{"@context": {"@vocab": "https://schema.org/"}, "@type": "sc:Dataset"}', "croissant"),
        (None, CDXJ_HEAD, "cdxj"),
        (None, CDXJ_HEAD.split(b"\n", 1)[1], "cdxj"),
        ("index.cdxj.gz", b"\x1f\x8b", "cdxj"),
        ("cdx-00000", b'org,x)/ 20250512054001 {"url": "https://x.org/"}\n', "cdxj"),
        (None, b'{"urlkey": "org,x)/", "timestamp": "20250512054001", "url": "https://x.org/"}\n', "cdxj"),
        # an index server's rows without urlkey (a Wayback server's JSON output), named .json
        (
            "index-rows.json",
            b'{"url": "http://x.org/", "timestamp": "20191022145707", "status": "200", "mime": "a/b"}\n',
            "cdxj",
        ),
        (None, b'{"id": "a", "url": "https://x.org/", "timestamp": "2019"}\n', "jsonl"),
        # the Wayback CDX server: classic lines, a CDX file's header, its JSON array
        (None, b"com,example)/ 20020120142510 http://example.com:80/ text/html 200 AB 1792\n", "cdxj"),
        (None, b" CDX N b a m s k r M S V g\ncom,example)/ 20020120142510 http://example.com/ x", "cdxj"),
        (None, b'[["urlkey","timestamp","original"],\n["com,example)/"', "cdxj"),
        ("wayback.cdx", b"", "cdxj"),
        # the Hub's Croissant 0.8: ml: http://mlcommons.org/schema/, no conformsTo
        (None, b'{"@context": {"ml": "http://mlcommons.org/schema/"}, "@type": "Dataset"}', "croissant"),
        (None, CARD_HEAD, "hf-card"),
        ("README.md", b"# no front matter yet", "hf-card"),
        ("datasets/acme/README.md", b"", "hf-card"),
        (None, b"\xef\xbb\xbf---\r\nlicense: mit\r\n---\r\n", "hf-card"),
        # JSONL and CSV as before
        (None, b'{"id": "a", "url": "https://x.org/"}\n', "jsonl"),
        (None, b'{"manifest": {"id": "m"}}\n{"@context": 1}', "jsonl"),
        (None, b"id,url\na,https://x.org/\n", "csv"),
        ("items.jsonl", b"PAR1", "jsonl"),  # the name beats the content
        ("items.csv", b"---\n", "csv"),
        ("upload.bin", b'{"id": "a"}', "jsonl"),
        (None, b"", "jsonl"),
    ],
)
def test_formats_from_name_then_content(filename: str | None, first_bytes: bytes, expected: str) -> None:
    assert detect_any_format(filename, first_bytes) == expected


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("parquet", "parquet"),
        (" Croissant ", "croissant"),
        ("jsonld", "croissant"),
        ("CDXJ", "cdxj"),
        ("hf-card", "hf-card"),
        ("hf", "hf-card"),
        ("ndjson", "jsonl"),
        ("csv", "csv"),
    ],
)
def test_an_explicit_format_wins(override: str, expected: str) -> None:
    assert detect_any_format("items.jsonl", b"id,url\n", override=override) == expected


def test_unknown_and_unsupported_formats_are_refused() -> None:
    with pytest.raises(
        UnsupportedFormatError, match="use one of jsonl, csv, parquet, croissant, cdxj, hf-card"
    ):
        detect_any_format(None, b"", override="xlsx")
    for filename, first_bytes in [("data.tsv", b"id\turl"), (None, b' [{"id": "a"}]'), ("a.xlsx", b"PK")]:
        with pytest.raises(UnsupportedFormatError):
            detect_any_format(filename, first_bytes)


def test_the_jsonl_csv_detector_is_unchanged() -> None:
    """detect_format stays what ManifestParser reads: the new formats go through detect_any_format."""
    with pytest.raises(UnsupportedFormatError):
        detect_format("data.parquet", b"PAR1")
    assert detect_format(None, CDXJ_HEAD) == "csv"


# --- read_manifest -------------------------------------------------------------------------------


def test_read_manifest_dispatches_every_format() -> None:
    def count(fmt: str, data: bytes, options: ReadOptions | None = None) -> int:
        batches = read_manifest(fmt, io.BytesIO(data), options)  # type: ignore[arg-type]
        return sum(isinstance(r, RawItem) for batch in batches for r in batch)

    assert count("parquet", parquet_bytes()) == 1
    assert count("cdxj", (DATA / "cc-main-2025-21-excerpt.cdxj").read_bytes()) == 5
    assert count("jsonl", b'{"id": "a", "url": "http://x.org/"}\n') == 1
    assert count("csv", b"id,url\na,http://x.org/\n") == 1
    croissant = json.dumps(
        {
            "@context": {"cr": "http://mlcommons.org/croissant/"},
            "@type": "sc:Dataset",
            "distribution": [{"@type": "cr:FileObject", "@id": "f", "contentUrl": "https://x.org/f.zip"}],
        }
    ).encode()
    assert count("croissant", croissant) == 1
    assert count("parquet", parquet_bytes(), ReadOptions(parquet_columns={"title": None})) == 1


def test_read_manifest_refuses_a_card_and_bad_options_at_once() -> None:
    with pytest.raises(UnsupportedFormatError, match="read_hf_card"):
        read_manifest("hf-card", io.BytesIO(b""))
    with pytest.raises(UnsupportedFormatError, match="unknown manifest format"):
        read_manifest("xml", io.BytesIO(b""))  # type: ignore[arg-type]
    with pytest.raises(ColumnMappingError):
        read_manifest("parquet", io.BytesIO(b""), ReadOptions(parquet_columns={"caption": "TEXT"}))


# --- licences ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("?", None),
        ("  Unknown ", None),
        ("", None),
        ("MIT", "MIT"),
        ("CC-BY-4.0 OR MIT", "CC-BY-4.0 OR MIT"),
        ("cc-by-4.0", "CC-BY-4.0"),
        ("odc-by", "ODC-By-1.0"),
        ("https://creativecommons.org/licenses/by-nc-sa/2.0/", "CC-BY-NC-SA-2.0"),
        ("http://creativecommons.org/licenses/by/2.0/", "CC-BY-2.0"),
        ("https://creativecommons.org/licenses/by/4.0/deed.en", "CC-BY-4.0"),
        ("https://creativecommons.org/licenses/by/4.0/legalcode", "CC-BY-4.0"),
        ("https://creativecommons.org/licenses/by-sa/3.0/de/", "CC-BY-SA-3.0-DE"),
        ("creativecommons.org/licenses/by-nd-nc/1.0", "CC-BY-NC-ND-1.0"),
        ("https://creativecommons.org/publicdomain/zero/1.0/", "CC0-1.0"),
        ("https://creativecommons.org/publicdomain/mark/1.0/", "CC-PDM-1.0"),
        ("https://spdx.org/licenses/Apache-2.0.html", "Apache-2.0"),
        ("https://www.apache.org/licenses/LICENSE-2.0.txt", "Apache-2.0"),
        ("https://opensource.org/license/mit/", "MIT"),
        ("https://www.gnu.org/licenses/gpl-3.0.html", "GPL-3.0-only"),
        ("https://example.org/my-licence", "https://example.org/my-licence"),
        # Croissant's own examples (pass-mini, coco2014-mini) write "None"; SPDX writes NOASSERTION
        ("None", None),
        ("NOASSERTION", None),
        # Hugging Face's Croissant files: the licence as a choosealicense.com URL of the Hub id
        ("https://choosealicense.com/licenses/mit/", "MIT"),
        ("https://choosealicense.com/licenses/apache-2.0/", "Apache-2.0"),
        ("https://choosealicense.com/licenses/odc-by/", "ODC-By-1.0"),
        ("https://choosealicense.com/licenses/cc-by-nc-sa-4.0/", "CC-BY-NC-SA-4.0"),
        ("https://choosealicense.com/licenses/other/", "LicenseRef-hf-other"),
        ("https://choosealicense.com/licenses/unknown/", None),
        ("https://choosealicense.com/licenses/openrail/", "LicenseRef-hf-openrail"),
        ("https://choosealicense.com/licenses/odbl-1.0/", "ODbL-1.0"),
        ("other", "LicenseRef-hf-other"),
        # the links of Kaggle's licence choices
        ("https://www.mit.edu/~amini/LICENSE.md", "MIT"),
        ("http://www.gnu.org/licenses/old-licenses/gpl-2.0.en.html", "GPL-2.0-only"),
        ("https://www.gnu.org/licenses/lgpl-3.0.html", "LGPL-3.0-only"),
        ("http://opendatacommons.org/licenses/odbl/1.0/", "ODbL-1.0"),
        ("https://cdla.io/sharing-1-0/", "CDLA-Sharing-1.0"),
        ("Other (specified in description)", "Other (specified in description)"),
        # licence names as datasets write them
        ("CC BY 4.0", "CC-BY-4.0"),
        ("CC BY-NC-SA 4.0", "CC-BY-NC-SA-4.0"),
        ("cc-by 2.0", "CC-BY-2.0"),
        ("Creative Commons BY-SA 3.0", "CC-BY-SA-3.0"),
        ("CC BY 4.0 International", "CC-BY-4.0"),
        ("CC0: Public Domain", "CC0-1.0"),
        ("Apache 2.0", "Apache-2.0"),
        ("MIT License", "MIT"),
        ("CC BY 9.0", "CC BY 9.0"),
        ("CC BY", "CC BY"),
        ("Creative Commons Attribution", "Creative Commons Attribution"),
    ],
)
def test_declared_licences_map_to_spdx(declared: str, expected: str | None) -> None:
    assert licence_from_declared(declared) == expected


def test_licence_helpers() -> None:
    assert all_of([None, "MIT", "MIT", "CC-BY-4.0 OR MIT"]) == "MIT AND (CC-BY-4.0 OR MIT)"
    assert all_of([None]) is None
    assert all_of(["A OR B"]) == "A OR B"
    assert licence_ref("Acme Data Licence (v2)!") == "LicenseRef-Acme-Data-Licence-v2"
    assert licence_ref("???") == "LicenseRef-unnamed"
    assert len(licence_ref("x" * 500)) == len("LicenseRef-") + 64


# --- the public surface --------------------------------------------------------------------------


def test_the_package_exports_its_modules_public_names_and_documents_them() -> None:
    declared = {"FILE_LINE", "MAX_TITLE_CHARS"}  # the shared constants of the private _items module
    for module in pkgutil.iter_modules(formats.__path__):
        if not module.name.startswith("_"):
            declared |= set(importlib.import_module(f"{formats.__name__}.{module.name}").__all__)
    assert set(formats.__all__) == declared
    for name in formats.__all__:
        value = getattr(formats, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert inspect.getdoc(value), name
    assert FORMATS == ("jsonl", "csv", "parquet", "croissant", "cdxj", "hf-card")
