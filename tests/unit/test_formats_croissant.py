"""Croissant 1.0 documents: distribution files and URL records as items, invalid documents refused."""

from __future__ import annotations

import copy
import fnmatch
import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from consentry_ingest.domain import LineError, ParsedLine, RawItem
from consentry_ingest.domain.formats import CroissantDataset, CroissantReader, read_croissant

FIXTURE = Path(__file__).parent / "data" / "formats" / "croissant-photos"
DOCUMENT = json.loads((FIXTURE / "metadata.json").read_text())
CREATORS = "Ada Example; Example Photo Collective"
CONTEXT = DOCUMENT["@context"]


def shard(rows: dict[str, list[Any]]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table(rows), buffer)
    return buffer.getvalue()


FILES = {
    "data/images.csv": (FIXTURE / "data" / "images.csv").read_bytes(),
    "default/train/0000.parquet": shard(
        {"url": ["https://a.org/1.png", "https://a.org/2.png"], "caption": ["one", "two"]}
    ),
    "default/train/0001.parquet": shard({"url": ["https://a.org/3.png"], "caption": [None]}),
}


class Files:
    """The caller's side: local data files by name, and which of them were opened."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.asked: list[str] = []

    def open(self, name: str) -> io.BytesIO | None:
        self.asked.append(name)
        data = self.files.get(name)
        return None if data is None else io.BytesIO(data)

    def list(self, pattern: str) -> list[str]:
        return sorted(name for name in self.files if fnmatch.fnmatch(name, pattern))


def read(document: Any, files: dict[str, bytes] | None = None) -> list[ParsedLine]:
    given = Files(FILES if files is None else files)
    data = document if isinstance(document, bytes) else json.dumps(document).encode()
    return [r for batch in read_croissant(data, open_file=given.open, list_files=given.list) for r in batch]


def items(results: list[ParsedLine]) -> list[RawItem]:
    return [r for r in results if isinstance(r, RawItem)]


def errors(results: list[ParsedLine]) -> list[LineError]:
    return [r for r in results if isinstance(r, LineError)]


def minimal(**fields: Any) -> dict[str, Any]:
    return {"@context": CONTEXT, "@type": "sc:Dataset", "name": "d", **fields}


def file_object(id_: str, url: str, **fields: Any) -> dict[str, Any]:
    return {"@type": "cr:FileObject", "@id": id_, "name": id_, "contentUrl": url, **fields}


def test_the_photos_dataset() -> None:
    found = read(DOCUMENT)
    assert not errors(found), errors(found)
    extra = {"sd_license": "CC0-1.0"}
    images = {**extra, "record_set": "images"}
    default = {**extra, "record_set": "default"}
    assert [(i.line, i.id, i.url, i.license, i.title) for i in items(found)] == [
        (
            2,
            "images.zip",
            "https://datasets.example.org/lake-photos/images.zip",
            "CC-BY-SA-4.0",
            "images.zip",
        ),
        (
            1,
            "images/img-0001",
            "https://photos.example.org/2019/07/lake.jpg",
            "CC-BY-4.0",
            "A lake at dawn, with mist",
        ),
        (2, "images/img-0002", "https://photos.example.org/2019/07/heron.jpg", "CC-BY-SA-4.0", "A heron"),
        (
            3,
            "images/img-0003",
            "https://photos.example.org/2020/01/snow%20field.JPG",
            "CC-BY-NC-2.0",
            'Snow field, "first light"',
        ),
        (1, "default/default/train/0000.parquet/1", "https://a.org/1.png", "CC-BY-SA-4.0", "one"),
        (2, "default/default/train/0000.parquet/2", "https://a.org/2.png", "CC-BY-SA-4.0", "two"),
        (1, "default/default/train/0001.parquet/1", "https://a.org/3.png", "CC-BY-SA-4.0", None),
    ]
    archive, lake = items(found)[:2]
    assert (archive.sha256, archive.media_type, archive.creator, dict(archive.extra)) == (
        "9f2c7e0d6b5a4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b",
        "application/zip",
        CREATORS,
        extra,
    )
    assert (lake.sha256, lake.creator, dict(lake.extra)) == (
        "3b8e5b4f0a4c1a7f6a1c3e5d7f9b0a2c4e6f8a0b1c3d5e7f9a0b2c4d6e8f0a1b",
        CREATORS,
        images,
    )
    assert dict(items(found)[-1].extra) == default


def test_the_dataset_facts_and_what_the_resolver_is_asked() -> None:
    given = Files(FILES)
    reader = CroissantReader(json.dumps(DOCUMENT).encode(), open_file=given.open, list_files=given.list)
    assert reader.dataset is None
    batches = list(reader)
    assert sum(len(b) for b in batches) == 7
    assert reader.dataset == CroissantDataset(
        name="lake-photos",
        version="1.2.0",
        url="https://datasets.example.org/lake-photos",
        license="CC-BY-SA-4.0",
        sd_license="CC0-1.0",
        creator=CREATORS,
    )
    # The contentUrl first; the inline enumeration and the archive are never opened.
    assert given.asked == ["data/images.csv", "default/train/0000.parquet", "default/train/0001.parquet"]


def test_a_stream_reads_like_bytes() -> None:
    data = json.dumps(DOCUMENT).encode()
    given = Files(FILES)
    from_stream = [
        r for b in read_croissant(io.BytesIO(data), open_file=given.open, list_files=given.list) for r in b
    ]
    assert from_stream == read(data)


def test_without_its_data_files_a_record_set_is_an_error_not_a_silent_loss() -> None:
    found = read(DOCUMENT, files={})
    assert [(e.line, e.field) for e in errors(found)] == [
        (0, "$.recordSet[1].field[1].source.fileObject"),
        (0, "$.recordSet[2].field[0].source.fileSet"),
    ]
    assert "the data file 'data/images.csv' was not given" in errors(found)[0].message
    assert "no local file matches" in errors(found)[1].message


def test_a_file_set_needs_the_list_of_its_files() -> None:
    results = [
        r for b in read_croissant(json.dumps(DOCUMENT).encode(), open_file=Files(FILES).open) for r in b
    ]
    assert any(
        e.field == "$.recordSet[2].field[0].source.fileSet"
        and "the data files of this FileSet ('default/train/*.parquet') were not given" in e.message
        for e in errors(results)
    )


def test_data_file_errors_name_the_field_the_file_and_the_row() -> None:
    csv_data = (
        b"image_id,url,caption,license,sha256\n"
        b"a,https://x.org/a.jpg,,,\n"
        b"b,ftp://x.org/b.jpg,,,\n"
        b"c,https://x.org/c.jpg,,,beef\n"
        b"a,https://x.org/d.jpg,,,\n"
    )
    document = copy.deepcopy(DOCUMENT)
    del document["recordSet"][2]
    found = read(document, {"data/images.csv": csv_data})
    assert [(e.line, e.field, e.message) for e in errors(found)] == [
        (
            2,
            "$.recordSet[1].field[1]",
            "data/images.csv row 2: url 'ftp://x.org/b.jpg' must be an absolute http:// or https:// URL",
        ),
        (
            3,
            "$.recordSet[1].field[4]",
            "data/images.csv row 3: sha256 must be 64 hexadecimal characters, got 'beef'",
        ),
        (
            4,
            "$.recordSet[1].field[0]",
            "data/images.csv row 4: duplicate id 'images/a', first seen on record 1",
        ),
    ]


def test_a_missing_column_is_named() -> None:
    document = copy.deepcopy(DOCUMENT)
    del document["recordSet"][2]
    [error] = errors(read(document, {"data/images.csv": b"image_id,link\nx,https://x.org/\n"}))
    assert error.line == 0
    assert error.field == "$.recordSet[1].field[1].source.fileObject"
    assert "has no column" in error.message
    assert "'url'" in error.message


@pytest.mark.parametrize(
    ("document", "field", "message"),
    [
        ({"@type": "sc:Dataset", "name": "d"}, "$.@context", "missing @context"),
        (minimal(**{"@type": "sc:Organization"}), "$.@type", "must be sc:Dataset"),
        (minimal(**{"@type": None}), "$.@type", "must be sc:Dataset"),
        (
            minimal(**{"@context": {"@vocab": "https://schema.org/"}}),
            "$.@context",
            "not a Croissant document",
        ),
        (minimal(**{"@context": 5}), "$.@context", "must be an object"),
        (minimal(license=7), "$.license", "a licence is a URL"),
        (minimal(sdLicense=[{"@type": "CreativeWork"}]), "$.sdLicense[0]", "a licence is a URL"),
        (minimal(creator=["Ann", 3]), "$.creator[1]", "a creator is a name"),
        (minimal(name=["x"]), "$.name", "name must be a string"),
        (minimal(distribution=["x.csv"]), "$.distribution[0]", "must be a FileObject or FileSet"),
        (
            minimal(distribution=[{"@type": "sc:Dataset", "@id": "x"}]),
            "$.distribution[0].@type",
            "cr:FileObject",
        ),
        (
            minimal(distribution=[{"@type": "cr:FileObject", "@id": "x"}]),
            "$.distribution[0].contentUrl",
            "needs a contentUrl",
        ),
        (
            minimal(distribution=[{"@type": "cr:FileObject", "contentUrl": "https://x.org/"}]),
            "$.distribution[0]",
            "@id or a name",
        ),
        (
            minimal(distribution=[file_object("x", "https://x.org/x", sha256=5)]),
            "$.distribution[0].sha256",
            "must be a string",
        ),
        (
            minimal(distribution={"@type": "cr:FileSet", "@id": "s", "includes": [3]}),
            "$.distribution.includes",
            "glob",
        ),
        (minimal(recordSet=[{"@type": "cr:Field"}]), "$.recordSet[0].@type", "must be cr:RecordSet"),
        (
            minimal(recordSet=[{"@type": "cr:RecordSet", "field": [1]}]),
            "$.recordSet[0].field[0]",
            "must be a Field",
        ),
        (
            minimal(recordSet=[{"@type": "cr:RecordSet", "field": {"@type": "cr:Field", "dataType": 3}}]),
            "$.recordSet[0].field.dataType",
            "dataType must be",
        ),
        (
            minimal(
                recordSet=[
                    {
                        "@type": "cr:RecordSet",
                        "field": [
                            {
                                "@type": "cr:Field",
                                "name": "u",
                                "dataType": "sc:URL",
                                "source": {
                                    "fileObject": {"@id": "f"},
                                    "extract": {"column": "u"},
                                    "transform": {"regex": "(.*)"},
                                },
                            }
                        ],
                    }
                ]
            ),
            "$.recordSet[0].field[0].source",
            "come from a transform, which is not read",
        ),
        (
            minimal(recordSet=[{"@type": "cr:RecordSet", "field": [{"@type": "cr:Field", "source": "f"}]}]),
            "$.recordSet[0].field[0].source",
            "source must be an object",
        ),
    ],
)
def test_a_document_that_does_not_validate_gives_its_json_path_and_no_items(
    document: dict[str, Any], field: str, message: str
) -> None:
    found = read(document)
    assert not items(found)
    assert any(e.line == 0 and e.field == field and message in e.message for e in errors(found)), found


@pytest.mark.parametrize(
    ("data", "line", "message"),
    [
        (b'{\n  "@context": {},\n  "@type": \n}', 4, "invalid JSON"),
        (b"[1, 2]", 0, "a Croissant document is a JSON object, got an array"),
        (b"\xff{}", 1, "not valid UTF-8"),
        (b"[" * 100_000, 0, "nested too deeply"),
        (b'{"name": "\\udc80"}', 0, "unpaired surrogate"),
    ],
)
def test_unreadable_documents(data: bytes, line: int, message: str) -> None:
    [error] = read(data)
    assert isinstance(error, LineError)
    assert (error.line, error.field) == (line, "$")
    assert message in error.message


def test_a_document_larger_than_the_limit_is_refused() -> None:
    [error] = [r for b in read_croissant(b"{" + b" " * 100 + b"}", max_document_bytes=64) for r in b]
    assert error == LineError(0, "$", "the document is larger than 64 bytes")


def test_bad_checksums_of_a_file_object_name_their_path() -> None:
    """COCO's published metadata has ``"sha256": "sha256"`` placeholders: refused, with the path."""
    document = minimal(
        license="cc-by-4.0",
        distribution=[
            file_object(
                "train2014.zip", "http://images.cocodataset.org/zips/train2014.zip", sha256="ab" * 32
            ),
            file_object(
                "annotations.zip", "http://images.cocodataset.org/annotations/a.zip", sha256="sha256"
            ),
        ],
    )
    found = read(document)
    assert errors(found) == [
        LineError(2, "$.distribution[1].sha256", "sha256 must be 64 hexadecimal characters, got 'sha256'")
    ]
    assert [(i.line, i.id, i.license) for i in items(found)] == [(1, "train2014.zip", "CC-BY-4.0")]


def test_which_file_objects_are_items() -> None:
    document = minimal(
        distribution=[
            file_object("a.zip", "https://x.org/a.zip", md5="CD" * 16),
            file_object("local.csv", "data/local.csv"),
            file_object("inner.csv", "inner.csv", containedIn={"@id": "a.zip"}),
            file_object(
                "repo", "https://huggingface.co/datasets/x/y", encodingFormat="git+https", sha256="n/a"
            ),
            {"@type": "cr:FileSet", "@id": "images", "containedIn": {"@id": "a.zip"}, "includes": "*.jpg"},
            {"@type": "sc:FileObject", "name": "b.csv", "contentUrl": "HTTPS://X.org/b.csv"},
        ]
    )
    assert [(i.line, i.id, i.url, i.md5) for i in items(read(document))] == [
        (1, "a.zip", "https://x.org/a.zip", "cd" * 16),
        (6, "b.csv", "https://x.org/b.csv", None),
    ]


def test_inline_enumerations_are_not_read() -> None:
    document = minimal(
        recordSet=[
            {
                "@type": "cr:RecordSet",
                "name": "split_enums",
                "field": [{"@type": "cr:Field", "name": "url", "dataType": ["sc:URL", "wd:Q3985153"]}],
                "data": [{"url": "https://mlcommons.org/definitions/training_split"}],
            }
        ]
    )
    [error] = read(document)
    assert (error.line, error.field) == (0, "$.distribution")
    assert error.message.startswith("no item to check")


def url_record_set(source: dict[str, Any], *fields: dict[str, Any], key: Any = None) -> dict[str, Any]:
    record_set: dict[str, Any] = {
        "@type": "cr:RecordSet",
        "@id": "rs",
        "name": "rs",
        "field": [
            {"@type": "cr:Field", "@id": "rs/link", "name": "link", "dataType": "sc:URL", "source": source},
            *fields,
        ],
    }
    if key is not None:
        record_set["key"] = key
    return record_set


def test_json_lines_data_with_json_paths_keys_and_several_url_fields() -> None:
    lines = [
        {"meta": {"link": "https://x.org/1.jpg", "page": "https://x.org/1"}, "lang": "en", "n": 1},
        {"meta": {"link": "https://x.org/2.jpg", "page": "https://x.org/2"}, "lang": "de", "n": 2},
    ]
    data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    source = {"fileObject": {"@id": "data.jsonl"}, "extract": {"jsonPath": "$.meta.link"}}
    document = minimal(
        distribution=[file_object("data.jsonl", "data.jsonl", encodingFormat="application/jsonlines")],
        recordSet=[
            url_record_set(
                source,
                {
                    "@type": "cr:Field",
                    "@id": "rs/page",
                    "name": "page",
                    "dataType": "https://schema.org/URL",
                    "source": {"fileObject": {"@id": "data.jsonl"}, "extract": {"jsonPath": "$.meta.page"}},
                },
                *(
                    {
                        "@type": "cr:Field",
                        "@id": f"rs/{n}",
                        "name": n,
                        "source": {"fileObject": "data.jsonl", "extract": {"column": n}},
                    }
                    for n in ("lang", "n")
                ),
                key=[{"@id": "rs/lang"}, "n"],
            )
        ],
    )
    found = read(document, {"data.jsonl": data})
    assert [(i.line, i.id, i.url) for i in items(found)] == [
        (1, "rs/en/1/link", "https://x.org/1.jpg"),
        (1, "rs/en/1/page", "https://x.org/1"),
        (2, "rs/de/2/link", "https://x.org/2.jpg"),
        (2, "rs/de/2/page", "https://x.org/2"),
    ]


def test_tsv_data_and_row_level_licence_creator_and_evidence() -> None:
    data = (
        b"link\tauthor\tlicence\trobots_txt\n"
        b"https://x.org/1\tAnn\thttps://creativecommons.org/licenses/by-nd/4.0/\tUser-agent: *\n"
        b"https://x.org/2\t\t?\t\n"
    )
    column = {"@type": "cr:Field"}
    document = minimal(
        license=[
            {"@type": "CreativeWork", "url": "https://spdx.org/licenses/MIT.html"},
            "https://www.apache.org/licenses/LICENSE-2.0",
        ],
        creator={"@type": "sc:Organization", "name": "Org"},
        distribution=[file_object("t", "https://x.org/t.tsv", encodingFormat="text/tab-separated-values")],
        recordSet=[
            url_record_set(
                {"fileObject": {"@id": "t"}, "extract": {"column": "link"}},
                *(
                    {**column, "name": n, "source": {"fileObject": {"@id": "t"}, "extract": {"column": n}}}
                    for n in ("author", "licence", "robots_txt")
                ),
            )
        ],
    )
    found = read(document, {"https://x.org/t.tsv": data})
    assert not errors(found)
    tsv_file, first, second = items(found)
    assert tsv_file.license == "MIT AND Apache-2.0"
    assert (first.id, first.creator, first.license, dict(first.evidence)) == (
        "rs/1",
        "Ann",
        "CC-BY-ND-4.0",
        {"robots_txt": "User-agent: *"},
    )
    assert (second.creator, second.license, dict(second.evidence)) == ("Org", "MIT AND Apache-2.0", {})


def test_hub_generated_documents_type_urls_as_text() -> None:
    """The Hub types every column sc:Text; a field named url is still read, from a FileSet."""
    document = copy.deepcopy(DOCUMENT)
    document["recordSet"] = [document["recordSet"][2]]
    found = read(document)
    assert [i.url for i in items(found)][1:] == [
        "https://a.org/1.png",
        "https://a.org/2.png",
        "https://a.org/3.png",
    ]


def test_unsupported_data_files_and_sources_are_errors() -> None:
    source = {"fileObject": {"@id": "x"}, "extract": {"column": "link"}}
    document = minimal(
        distribution=[file_object("x", "data/x.xml", encodingFormat="application/xml")],
        recordSet=[url_record_set(source)],
    )
    [error] = errors(read(document, {"data/x.xml": b"<x/>"}))
    assert (error.field, "only CSV, TSV, JSON Lines and Parquet" in error.message) == (
        "$.recordSet[0].field[0].source.fileObject",
        True,
    )
    missing = minimal(
        recordSet=[url_record_set({"fileObject": {"@id": "nowhere"}, "extract": {"column": "u"}})]
    )
    [error] = errors(read(missing))
    assert "no distribution entry 'nowhere'" in error.message
    by_path = minimal(
        distribution=[file_object("x", "x.jsonl")],
        recordSet=[url_record_set({"fileObject": {"@id": "x"}, "extract": {"jsonPath": "$.a[*].b"}})],
    )
    [error] = errors(read(by_path, {"x.jsonl": b"{}\n"}))
    assert "only $.a.b paths are read" in error.message


def test_broken_data_files_are_reported() -> None:
    source = {"fileObject": {"@id": "x"}, "extract": {"column": "link"}}
    for name, data, message in [
        ("x.csv", b'link\n"https://x.org/1\n', "invalid CSV"),
        ("x.csv", b"link\nhttps://x.org/\xff\n", "not valid UTF-8"),
        ("x.parquet", b"PAR1 not really", "cannot be read"),
        ("x.jsonl", b'{"link": "https://x.org/1"}\n[1]\n{oops\n', "expected a JSON object"),
    ]:
        document = minimal(distribution=[file_object("x", name)], recordSet=[url_record_set(source)])
        found = errors(read(document, {name: data}))
        assert found, name
        assert message in found[0].message, (name, found)


def test_an_empty_key_is_an_error() -> None:
    document = copy.deepcopy(DOCUMENT)
    del document["recordSet"][2]
    found = read(
        document,
        {
            "data/images.csv": b"image_id,url,caption,license,sha256\n,https://x.org/a,,,\nb,https://x.org/b,,,\n"
        },
    )
    assert [(i.line, i.id) for i in items(found)][1:] == [(2, "images/b")]
    assert errors(found) == [
        LineError(1, "$.recordSet[1].field[0]", "data/images.csv row 1: the key is empty")
    ]


# --- shapes of published Croissant files ----------------------------------------------------------
# Each document below is written for these tests with the structure (keys, types, nesting, the
# quirks) of files published by the producer named, not their content.


def csv_field(
    record_set: str, name: str, file: str, column: str, data_type: Any = "sc:Text"
) -> dict[str, Any]:
    return {
        "@type": "cr:Field",
        "@id": f"{record_set}/{name}",
        "name": name,
        "dataType": data_type,
        "source": {"fileObject": {"@id": file}, "extract": {"column": column}},
    }


def test_enumeration_record_sets_are_definitions_not_works() -> None:
    """OpenML's Titanic: two sc:Enumeration record sets map labels to Wikidata URLs from local CSV
    files; the Hub's cr:Split record sets; 0.8's isEnumeration. None of them is read (their data
    files are not needed) and the one remote file is the item."""
    document = minimal(
        license="afl-3.0",
        distribution=[
            file_object("passengers.csv", "https://data.example.org/get_csv/1/passengers", sha256=SHA_A),
            file_object("genders.csv", "data/genders.csv", encodingFormat="text/csv"),
        ],
        recordSet=[
            {
                "@type": "cr:RecordSet",
                "@id": "genders",
                "dataType": "sc:Enumeration",
                "key": {"@id": "genders/label"},
                "field": [
                    csv_field("genders", "label", "genders.csv", "label", ["sc:Text", "sc:name"]),
                    csv_field("genders", "url", "genders.csv", "url", ["sc:URL", "wd:Q48277"]),
                ],
            },
            {
                "@type": "cr:RecordSet",
                "@id": "default_splits",
                "dataType": "cr:Split",
                "field": [csv_field("default_splits", "url", "genders.csv", "url", "sc:URL")],
            },
            {
                "@type": "ml:RecordSet",
                "name": "labels",
                "isEnumeration": True,
                "field": [csv_field("labels", "url", "genders.csv", "url", "sc:URL")],
            },
        ],
    )
    found = read(document, files={})
    assert [(i.id, i.url, i.sha256, i.license) for i in found if isinstance(i, RawItem)] == [
        ("passengers.csv", "https://data.example.org/get_csv/1/passengers", SHA_A, "AFL-3.0")
    ]
    assert not errors(found)
    # The same record set without the enumeration type is read, and needs its file.
    del document["recordSet"][0]["dataType"]
    [error] = errors(read(document, files={}))
    assert error.field == "$.recordSet[0].field[1].source.fileObject"
    assert "'data/genders.csv' was not given" in error.message


SHA_A = "c6" * 32


def hub_document(**overrides: Any) -> dict[str, Any]:
    """What the Hugging Face Hub's /croissant endpoint answers (conformsTo 1.1): a git repo
    FileObject with a placeholder checksum, FileSets and record sets known only by @id, fields
    with only @id, a cr:Split record set, the licence as a choosealicense.com URL."""
    return {
        "@context": {**CONTEXT, "isArray": "cr:isArray", "arrayShape": "cr:arrayShape"},
        "@type": "sc:Dataset",
        "distribution": [
            {
                "@type": "cr:FileObject",
                "@id": "repo",
                "name": "repo",
                "contentUrl": "https://huggingface.co/datasets/acme/pics/tree/refs%2Fconvert%2Fparquet",
                "encodingFormat": "git+https",
                "sha256": "https://github.com/mlcommons/croissant/issues/80",
            },
            {
                "@type": "cr:FileSet",
                "@id": "parquet-files-for-config-default",
                "containedIn": {"@id": "repo"},
                "encodingFormat": "application/x-parquet",
                "includes": "default/*/*.parquet",
            },
        ],
        "recordSet": [
            {
                "@type": "cr:RecordSet",
                "dataType": "cr:Split",
                "key": {"@id": "default_splits/split_name"},
                "@id": "default_splits",
                "name": "default_splits",
                "field": [{"@type": "cr:Field", "@id": "default_splits/split_name", "dataType": "sc:Text"}],
                "data": [{"default_splits/split_name": "train"}],
            },
            {
                "@type": "cr:RecordSet",
                "@id": "default",
                "field": [
                    {
                        "@type": "cr:Field",
                        "@id": "default/split",
                        "dataType": "sc:Text",
                        "source": {
                            "fileSet": {"@id": "parquet-files-for-config-default"},
                            "extract": {"fileProperty": "fullpath"},
                            "transform": {"regex": "default/(?:partial-)?(train)/.+parquet$"},
                        },
                    },
                    {
                        "@type": "cr:Field",
                        "@id": "default/url",
                        "dataType": "sc:Text",
                        "source": {
                            "fileSet": {"@id": "parquet-files-for-config-default"},
                            "extract": {"column": "url"},
                        },
                    },
                ],
            },
        ],
        "conformsTo": "http://mlcommons.org/croissant/1.1",
        "name": "pics",
        "creator": {"@type": "Person", "name": "Ada Example", "url": "https://huggingface.co/ada"},
        "keywords": ["mit", "Croissant", "\U0001f1fa\U0001f1f8 Region: US"],
        "license": "https://choosealicense.com/licenses/mit/",
        "url": "https://huggingface.co/datasets/acme/pics",
        **overrides,
    }


def test_a_hub_croissant_reads_its_parquet_files_with_the_hub_licence() -> None:
    found = read(hub_document())
    assert not errors(found)
    assert [(i.id, i.url, i.license, i.creator) for i in items(found)] == [
        ("default/default/train/0000.parquet/1", "https://a.org/1.png", "MIT", "Ada Example"),
        ("default/default/train/0000.parquet/2", "https://a.org/2.png", "MIT", "Ada Example"),
        ("default/default/train/0001.parquet/1", "https://a.org/3.png", "MIT", "Ada Example"),
    ]


def test_a_hub_croissant_without_its_data_files_says_what_to_submit() -> None:
    """``consentry submit`` sends the metadata alone: the URLs are in the Parquet files."""
    results = [r for b in read_croissant(json.dumps(hub_document()).encode()) for r in b]
    [error] = results
    assert (error.line, error.field) == (0, "$.recordSet[1].field[1].source.fileSet")
    assert "('default/*/*.parquet') were not given" in error.message
    assert "submit the data files themselves" in error.message


def test_a_hub_croissant_of_images_in_parquet_has_nothing_to_check_and_says_why() -> None:
    document = hub_document()
    document["recordSet"][1]["field"][1] = {
        "@type": "cr:Field",
        "@id": "default/image",
        "dataType": "sc:ImageObject",
        "source": {
            "fileSet": {"@id": "parquet-files-for-config-default"},
            "extract": {"column": "image"},
            "transform": {"jsonPath": "bytes"},
        },
    }
    [error] = read(document)
    assert (error.line, error.field) == (0, "$.distribution")
    assert error.message == (
        "no item to check: no FileObject has an http(s) contentUrl and no record set has a field of "
        "URLs read from a data file (the distribution holds: git repositories: 1, FileSets: 1); submit "
        "the data files that list the works (Parquet, CSV, JSON Lines) instead"
    )


def test_the_hubs_croissant_0_8_vocabulary_is_read() -> None:
    """Before Croissant 1.0 the Hub wrote ``ml: http://mlcommons.org/schema/``, sc:FileObject,
    ml:RecordSet and ``source.distribution``; no licence."""
    context = {
        "@language": "en",
        "@vocab": "https://schema.org/",
        "ml": "http://mlcommons.org/schema/",
        "sc": "https://schema.org/",
        "field": "ml:field",
        "recordSet": "ml:recordSet",
        "source": "ml:source",
        "extract": "ml:extract",
        "dataType": {"@id": "ml:dataType", "@type": "@vocab"},
    }
    document = {
        "@context": context,
        "@type": "sc:Dataset",
        "name": "acme_pics",
        "url": "https://huggingface.co/datasets/acme/pics",
        "distribution": [
            {
                "@type": "sc:FileObject",
                "name": "repo",
                "contentUrl": "https://huggingface.co/x",
                "encodingFormat": "git+https",
            },
            {
                "@type": "sc:FileSet",
                "name": "parquet-files-for-config-default",
                "containedIn": "repo",
                "includes": "default/*/*.parquet",
            },
        ],
        "recordSet": [
            {
                "@type": "ml:RecordSet",
                "name": "default",
                "field": [
                    {
                        "@type": "ml:Field",
                        "name": "url",
                        "dataType": "sc:Text",
                        "source": {
                            "distribution": "parquet-files-for-config-default",
                            "extract": {"column": "url"},
                        },
                    }
                ],
            }
        ],
    }
    found = read(document)
    assert not errors(found)
    assert [(i.url, i.license) for i in items(found)] == [
        ("https://a.org/1.png", None),
        ("https://a.org/2.png", None),
        ("https://a.org/3.png", None),
    ]


def test_a_kaggle_croissant() -> None:
    """Kaggle: the archive's md5 in base64, the licence a CreativeWork with only a name (or a name
    and a url), an integer version, the creator's relative url, @type after everything else, the
    CSV files inside the archive (not items)."""
    document = {
        "@context": CONTEXT,
        "alternateName": "x",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "license": {"@type": "sc:CreativeWork", "name": "Other (specified in description)"},
        "distribution": [
            {
                "contentUrl": "https://www.kaggle.com/api/v1/datasets/download/acme/pics?datasetVersionNumber=4",
                "contentSize": "4.074 GB",
                "md5": "HCum2fdmoPkhtjie2rukYg==",
                "encodingFormat": "application/zip",
                "@id": "archive.zip",
                "@type": "cr:FileObject",
                "name": "archive.zip",
            },
            {
                "contentUrl": "pics list.csv",
                "containedIn": {"@id": "archive.zip"},
                "encodingFormat": "application/vnd.ms-excel",
                "@id": "pics\\u002Blist.csv_fileobject",
                "@type": "cr:FileObject",
                "name": "pics list.csv",
            },
            {
                "includes": "*.json",
                "containedIn": {"@id": "archive.zip"},
                "@id": "application-json_fileset",
                "@type": "cr:FileSet",
                "name": "application/json files",
            },
        ],
        "version": 4,
        "isAccessibleForFree": True,
        "creator": {"@type": "sc:Organization", "name": "Acme, Inc.", "url": "/organizations/acme"},
        "@type": "sc:Dataset",
        "name": "Pics",
        "url": "https://www.kaggle.com/datasets/acme/pics/versions/4",
    }
    [item] = read(document, files={})
    assert isinstance(item, RawItem)
    assert (item.id, item.md5, item.license, item.creator) == (
        "archive.zip",
        "1c2ba6d9f766a0f921b6389edabba462",
        "Other (specified in description)",
        "Acme, Inc.",
    )
    document["license"] = {
        "@type": "sc:CreativeWork",
        "name": "MIT",
        "url": "https://www.mit.edu/~amini/LICENSE.md",
    }
    [item] = read(document, files={})
    assert isinstance(item, RawItem) and item.license == "MIT"
    # a url that is no licence page beside a name that is a known licence: the name says which
    for work, expected in [
        ({"name": "MIT", "url": "https://github.com/acme/pics/blob/main/LICENSE"}, "MIT"),
        ({"name": "CC BY-SA 4.0", "url": "https://acme.example/terms"}, "CC-BY-SA-4.0"),
        ({"name": "Acme terms", "url": "https://acme.example/terms"}, "https://acme.example/terms"),
        ({"name": "Unknown", "url": "https://acme.example/terms"}, "https://acme.example/terms"),
    ]:
        document["license"] = {"@type": "sc:CreativeWork", **work}
        [item] = read(document, files={})
        assert isinstance(item, RawItem) and item.license == expected, work
    document["distribution"][0]["md5"] = "HCum2fdmoPkhtjie2ruk=="  # not 16 bytes: named, not guessed
    [error] = errors(read(document, files={}))
    assert error.field == "$.distribution[0].md5"


def test_croissants_own_placeholders_and_local_files() -> None:
    """MLCommons' pass-mini: ``license``, ``url`` and ``citeAs`` are the string "None", every file
    is local, the images are in tar files: no licence, and a reason instead of silence."""
    document = minimal(
        license="None",
        url="None",
        citeAs="None",
        sdLicense="https://www.apache.org/licenses/LICENSE-2.0",
        distribution=[
            {"@type": "cr:FileObject", "name": "pass0", "contentUrl": "data/PASS.0.tar", "sha256": SHA_A},
            {"@type": "cr:FileSet", "name": "image-files", "containedIn": ["pass0"], "includes": "*.jpg"},
        ],
    )
    reader = CroissantReader(json.dumps(document).encode())
    [error] = [r for batch in reader for r in batch]
    assert isinstance(error, LineError) and "local paths: 1, FileSets: 1" in error.message
    assert reader.dataset is not None and reader.dataset.license is None
    assert reader.dataset.sd_license == "Apache-2.0"
